"""THUMOS14 temporal annotation files (the ground truth the builder stores).

`<Class>_val.txt` / `<Class>_test.txt` hold one instance per line,
"video start end" in seconds, for each of the 20 detection classes
(`has_tf.metrics.detection_files.THUMOS14_CLASSES`, whose order gives the
class index); `Ambiguous_val.txt` / `Ambiguous_test.txt` hold the
intervals the kit ignores, in the same form.
"""

from __future__ import annotations

import os

from etils import epath

from has_tf.metrics import detection_files

__all__ = ["parse_intervals", "read_annotations"]


def parse_intervals(text: str, source: str = "<text>") -> list:
    """Rows `(video, start_s, end_s)` of annotation-file text.

    Args:
      text: lines "video start end" (THUMOS14 annotation files).
      source: the file's name, for error messages.

    Raises:
      ValueError: a line with fewer than three fields, non-numeric times
        or start > end (naming the line).
    """
    rows = []
    for number, f in detection_files.parse_rows(
        text, source, 3, "video start end"
    ):
        try:
            start, end = float(f[1]), float(f[2])
        except ValueError:
            raise ValueError(
                f"{source}:{number}: expected 'video start end' in seconds. "
                f"Received: {' '.join(f)!r}"
            ) from None
        if not start <= end:
            raise ValueError(
                f"{source}:{number}: expected start <= end. Received: "
                f"{' '.join(f)!r}"
            )
        rows.append((f[0], start, end))
    return rows


def read_annotations(directory, subset: str = "test"):
    """Reads `<Class>_<subset>.txt` and `Ambiguous_<subset>.txt`.

    Args:
      directory: the folder holding the annotation files (a path or an
        `epath.Path`).
      subset: "val" or "test".

    Returns:
      `(ground_truth, ambiguous)`: rows `(video, start_s, end_s,
      class_index)` and `(video, start_s, end_s)`; no Ambiguous file gives
      no ambiguous rows.

    Raises:
      FileNotFoundError: a class's file is missing (the message names it).
      ValueError: a malformed line (naming the file and line).
    """
    folder = epath.Path(directory)
    ground_truth = []
    for index, name in enumerate(detection_files.THUMOS14_CLASSES):
        path = folder / f"{name}_{subset}.txt"
        if not path.exists():
            raise FileNotFoundError(
                f"Missing THUMOS14 annotation file {os.fspath(path)}: the "
                "temporal annotations (TH14_Temporal_annotations_validation"
                f"/test) hold one <Class>_{subset}.txt per class."
            )
        rows = parse_intervals(path.read_text(), os.fspath(path))
        ground_truth += [(v, s, e, index) for v, s, e in rows]
    path = folder / f"Ambiguous_{subset}.txt"
    ambiguous = (
        parse_intervals(path.read_text(), os.fspath(path))
        if path.exists()
        else []
    )
    return ground_truth, ambiguous
