"""Pseudo-label files (no TensorFlow): the boxes or segments one run's maps
give every image or video of a split, with how they were made.

`python -m has_tf.pseudo_labels` writes them; a two-stage method's
second stage trains on them (PSOL's box regressor) and
`python -m has_tf.search --select_on=pseudo_boxes:<file>` selects on
them in place of ground truth.

The format is JSON Lines (`.jsonl`). Line 1 is the header:

    {"has_tf_pseudo_labels": 1, "kind": "boxes" | "segments",
     "provenance": {...}}

`provenance` records the run (directory, SHA-256 of its `model.keras`),
the dataset and split, the map, the rule and its threshold (or DDT's
backbone and side). Every later line is one image or video, in the
split's order:

- boxes: `{"image_id": "...", "label": c, "boxes": [[ymin, xmin, ymax,
  xmax], ...]}`: normalised to the whole image, in [0, 1] (has_tf's box
  convention, `(0, 0, 1, 1)` the whole image); one box per line as
  written by has_tf, any number >= 1 read;
- segments: `{"video": "...", "segments": [[start_s, end_s, class,
  score], ...]}`: seconds of the video, class indices of the dataset's
  label order (possibly none).

Image ids are the dataset's `image_id`, or an image's position in the
split for a dataset without ids (as in `metrics.class_files`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

__all__ = [
    "FORMAT",
    "KINDS",
    "PseudoLabels",
    "header_line",
    "read_for",
    "read_pseudo_labels",
    "record_line",
]

FORMAT = 1
KINDS = ("boxes", "segments")
_KEY = {"boxes": "image_id", "segments": "video"}


def header_line(kind: str, provenance: dict) -> str:
    """The file's first line (with its newline)."""
    if kind not in KINDS:
        raise ValueError(f"Expected `kind` in {KINDS}. Received: {kind!r}")
    return (
        json.dumps(
            {
                "has_tf_pseudo_labels": FORMAT,
                "kind": kind,
                "provenance": provenance,
            },
            sort_keys=True,
        )
        + "\n"
    )


def record_line(record: dict) -> str:
    """One image's or video's line (with its newline)."""
    return json.dumps(record) + "\n"


@dataclasses.dataclass(frozen=True)
class PseudoLabels:
    """A pseudo-label file, read.

    Attributes:
      path: the file.
      kind: "boxes" or "segments".
      provenance: the header's record of how they were made.
      items: image id (or video) -> float `[M, 4]` boxes as lists
        (`(ymin, xmin, ymax, xmax)` in [0, 1]) or `[(start_s, end_s,
        class, score)]` segments, in the file's order.
      labels: image id -> its class (boxes only; {} for segments).
    """

    path: str
    kind: str
    provenance: dict
    items: dict
    labels: dict

    def of(self, key: str):
        """The boxes or segments of image (or video) `key`.

        Raises:
          ValueError: naming the file and the image it lacks.
        """
        try:
            return self.items[key]
        except KeyError:
            raise ValueError(
                f"{self.path} has no line for {_KEY[self.kind]} {key!r} "
                "(a file of another split or dataset?)"
            ) from None


def _fail(path, line, why):
    raise ValueError(f"{path} line {line}: {why}")


def _box(path, line, box):
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(v, (int, float)) for v in box)
        or not all(math.isfinite(v) for v in box)
    ):
        _fail(path, line, f"expected a box of 4 numbers, received {box!r}")
    ymin, xmin, ymax, xmax = box
    if not (0 <= ymin <= ymax <= 1 and 0 <= xmin <= xmax <= 1):
        _fail(
            path,
            line,
            "expected a box (ymin, xmin, ymax, xmax) with 0 <= min <= max "
            f"<= 1, received {box!r}",
        )
    return [float(v) for v in box]


def _segment(path, line, segment, num_classes):
    if (
        not isinstance(segment, list)
        or len(segment) != 4
        or not all(isinstance(v, (int, float)) for v in segment)
        or not all(math.isfinite(v) for v in segment)
    ):
        _fail(
            path,
            line,
            "expected a segment [start_s, end_s, class, score], received "
            f"{segment!r}",
        )
    start, end, label, score = segment
    if not 0 <= start <= end:
        _fail(path, line, f"expected 0 <= start_s <= end_s, received {segment}")
    if label != int(label) or not 0 <= label < (num_classes or math.inf):
        _fail(path, line, f"class {label!r} is not a class of the dataset")
    return (float(start), float(end), int(label), float(score))


def read_pseudo_labels(
    path: str, kind: str | None = None, num_classes: int | None = None
) -> PseudoLabels:
    """Reads a pseudo-label file.

    Args:
      path: the `.jsonl` file.
      kind: "boxes" or "segments" expected; None: either.
      num_classes: the dataset's classes (labels checked against it);
        None: not checked.

    Raises:
      FileNotFoundError: no such file.
      ValueError: not such a file, or a bad line: the message names the
        file, the line (from 1) and what is wrong with it.
    """
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines:
        raise ValueError(f"{path} is empty: expected a pseudo-label file")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or "has_tf_pseudo_labels" not in header:
        raise ValueError(
            f"{path} line 1: expected the header of a pseudo-label file "
            "(python -m has_tf.pseudo_labels writes them)"
        )
    if header["has_tf_pseudo_labels"] != FORMAT:
        _fail(path, 1, f"format {header['has_tf_pseudo_labels']!r} unknown")
    found = header.get("kind")
    if found not in KINDS or (kind is not None and found != kind):
        _fail(path, 1, f"expected {kind or KINDS} labels, received {found!r}")
    key = _KEY[found]
    items, labels = {}, {}
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            _fail(path, number, f"not JSON ({error.msg})")
        name = record.get(key) if isinstance(record, dict) else None
        if not isinstance(name, str) or not name:
            _fail(path, number, f"expected a {key!r} string")
        if name in items:
            _fail(path, number, f"{key} {name!r} appears twice")
        if found == "boxes":
            boxes = record.get("boxes")
            if not isinstance(boxes, list) or not boxes:
                _fail(path, number, "expected a non-empty list of boxes")
            items[name] = [_box(path, number, b) for b in boxes]
            label = record.get("label")
            if (
                not isinstance(label, int)
                or isinstance(label, bool)
                or not 0 <= label < (num_classes or math.inf)
            ):
                _fail(
                    path,
                    number,
                    f"class {label!r} is not a class of the dataset",
                )
            labels[name] = label
        else:
            segments = record.get("segments")
            if not isinstance(segments, list):
                _fail(path, number, "expected a list of segments")
            items[name] = [
                _segment(path, number, s, num_classes) for s in segments
            ]
    return PseudoLabels(
        path=path,
        kind=found,
        provenance=header.get("provenance", {}),
        items=items,
        labels=labels,
    )


def read_for(
    path: str, flag: str, dataset: str, split: str, num_classes=None
) -> PseudoLabels:
    """A pseudo-box file given to `--<flag>`, checked: it must label
    `dataset`'s `split` (its header says so).

    Raises:
      ValueError: naming the flag: no such file, a bad line, a file of
        segments, of another dataset or split.
    """
    if not os.path.isfile(path):
        raise ValueError(f"--{flag}: no such file. Received: {path!r}")
    try:
        read = read_pseudo_labels(path, "boxes", num_classes)
    except ValueError as error:
        raise ValueError(f"--{flag}: {error}") from None
    theirs = (
        read.provenance.get("dataset", dataset),
        read.provenance.get("split", split),
    )
    if theirs != (dataset, split):
        raise ValueError(
            f"--{flag}: {path} labels dataset/split {theirs}; expected "
            f"{(dataset, split)}."
        )
    return read
