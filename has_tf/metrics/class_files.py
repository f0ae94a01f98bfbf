"""Files of per-image class predictions (no TensorFlow): what a classifier
says of each image, for `has_tf.evaluate --classes_from`.

Two-stage methods (PSOL, C2AM, GenPromp) report Top-1 / Top-5 Loc with
one model's boxes and another model's classes. `python -m
has_tf.evaluate` writes every run's own predictions as
`eval/predictions.csv`; `--classes_from` reads such a file (or the run
directory holding one) and scores the boxes with its classes.

Formats (by extension):

- `.csv`: a header `image_id,top1,top2,top3,top4,top5`, then one line per
  image: its id and its classes, best first (1 to 5 of them, as many on
  every line, integer class indices of the dataset's label order; with
  fewer than 5, Top-5 Loc and Clas are over those given).
- `.jsonl`: one JSON object per line, `{"image_id": "...", "classes":
  [c1, ..., c5]}`.

Image ids are the dataset's `image_id` field (wsolevaluation's ids, e.g.
`test/001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg`);
a dataset without one (`synthetic_parts`) numbers its images by their
position in the split, from 0.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os

__all__ = ["ClassPredictions", "read_classes", "write_classes"]

HEADER = ("image_id", "top1", "top2", "top3", "top4", "top5")


@dataclasses.dataclass(frozen=True)
class ClassPredictions:
    """A file's classes by image id.

    Attributes:
      path: the file.
      classes: image id -> tuple of class indices, best first.
      lines: image id -> its line number in the file (from 1).
    """

    path: str
    classes: dict
    lines: dict

    def of(self, image_id: str) -> tuple:
        """The classes of `image_id`.

        Raises:
          ValueError: naming `--classes_from`, the file and the image.
        """
        try:
            return self.classes[image_id]
        except KeyError:
            raise ValueError(
                f"--classes_from: {self.path} has no line for image "
                f"{image_id!r} of the scored split (wrong split, or a "
                "file of another dataset?)"
            ) from None

    def unknown(self, seen) -> None:
        """Raises for the first line whose image the split does not have.

        Raises:
          ValueError: naming the file, the line and the image.
        """
        extra = set(self.classes) - set(seen)
        if extra:
            image = min(extra, key=self.lines.get)
            raise ValueError(
                f"--classes_from: {self.path} line {self.lines[image]}: "
                f"image {image!r} is not in the scored split"
            )


def _classes(values, num_classes, path, line):
    try:
        classes = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(
            f"--classes_from: {path} line {line}: expected integer class "
            f"indices. Received: {values!r}"
        ) from None
    if not 1 <= len(classes) <= 5:
        raise ValueError(
            f"--classes_from: {path} line {line}: expected 1 to 5 classes. "
            f"Received: {len(classes)}"
        )
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:
        raise ValueError(
            f"--classes_from: {path} line {line}: class {bad[0]} is not one "
            f"of the dataset's {num_classes} (0 to {num_classes - 1})"
        )
    return classes


def _rows(path, text):
    if path.endswith(".csv"):
        for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or (line == 1 and row[0] == HEADER[0]):
                continue
            yield line, row[0], [v for v in row[1:] if v.strip()]
    else:
        for line, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                image, values = row["image_id"], row["classes"]
            except (ValueError, KeyError, TypeError):
                raise ValueError(
                    f"--classes_from: {path} line {line}: expected "
                    '{"image_id": ..., "classes": [...]}. Received: '
                    f"{raw[:120]!r}"
                ) from None
            yield line, str(image), values


def read_classes(path: str, num_classes: int) -> ClassPredictions:
    """Reads a `.csv` or `.jsonl` file of per-image classes (module
    docstring).

    Args:
      path: the file.
      num_classes: the dataset's classes; every index must be below.

    Raises:
      ValueError: naming `--classes_from`, the file and the line: an
        unknown format, a class out of range, a line without classes, an
        image twice.
      FileNotFoundError: no such file.
    """
    if not path.endswith((".csv", ".jsonl")):
        raise ValueError(
            "--classes_from: expected a .csv or .jsonl file of per-image "
            f"classes, or a run directory. Received: {path!r}"
        )
    with open(path) as f:
        text = f.read()
    classes, lines = {}, {}
    for line, image, values in _rows(path, text):
        if image in classes:
            raise ValueError(
                f"--classes_from: {path} line {line}: image {image!r} again "
                f"(first on line {lines[image]})"
            )
        classes[image] = _classes(values, num_classes, path, line)
        lines[image] = line
        first = next(iter(classes.values()))
        if len(classes[image]) != len(first):
            raise ValueError(
                f"--classes_from: {path} line {line}: {len(classes[image])} "
                f"classes; the first line gives {len(first)} (every image "
                "takes as many)"
            )
    if not classes:
        raise ValueError(f"--classes_from: {path} holds no image's classes")
    return ClassPredictions(path, classes, lines)


def write_classes(path: str, image_ids, top_classes) -> None:
    """Writes `.csv` predictions: one line per image, written whole
    (a temporary file renamed into place).

    Args:
      path: the `.csv` file.
      image_ids: N image ids.
      top_classes: `[N, K]` class indices, best first (K <= 5).
    """
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for image, classes in zip(image_ids, top_classes):
            writer.writerow([image, *(int(c) for c in classes)])
    os.replace(tmp, path)
