"""Per-image class predictions in and out of an image evaluation:
`eval/predictions.csv` (`PredictionsScorer`) and `--classes_from`
(`classes_source`). The files' format: `has_tf.metrics.class_files`."""

from __future__ import annotations

import json
import os

from has_tf.metrics import class_files
from has_tf.tasks.base import fingerprint

PREDICTIONS = "predictions.csv"


class PredictionsScorer:
    """Writes the model's own top-5 classes of every image it scored,
    `<out_dir>/predictions.csv`, when the images carry ids."""

    def __init__(self, out_dir: str):
        self.path = os.path.join(out_dir, PREDICTIONS)
        self.ids, self.top5 = [], []

    def update(self, outputs) -> None:
        if outputs.image_ids is not None:
            self.ids.extend(outputs.image_ids)
            self.top5.extend(outputs.own_top5.tolist())

    def result(self) -> dict:
        if not self.ids:
            return {}
        class_files.write_classes(self.path, self.ids, self.top5)
        return {"predictions": PREDICTIONS}


def classes_source(config, num_classes: int):
    """`(ClassPredictions, record)` of `--classes_from`, or `(None, None)`.

    A run directory stands for its `eval/predictions.csv`, which must
    score the same dataset and split as this evaluation (its
    `eval/metrics.json` says).

    Raises:
      ValueError: naming `--classes_from`: no predictions in the run, a
        run scored on another dataset or split, a bad file (the line).
    """
    source = config.classes_from
    if not source:
        return None, None
    path = source
    if os.path.isdir(source):
        path = os.path.join(source, "eval", PREDICTIONS)
        metrics = os.path.join(source, "eval", "metrics.json")
        if not os.path.exists(path) or not os.path.exists(metrics):
            raise ValueError(
                f"--classes_from: {source} holds no evaluation with "
                f"predictions ({path}): evaluate that run on this split "
                "first (python -m has_tf.evaluate)."
            )
        with open(metrics) as f:
            scored = json.load(f).get("scored", {})
        theirs = (scored.get("dataset"), scored.get("split"))
        ours = (config.dataset, config.eval_split)
        if theirs != ours:
            raise ValueError(
                f"--classes_from: {source} was scored on dataset/split "
                f"{theirs}; this evaluation scores {ours}."
            )
    if not os.path.exists(path):
        raise ValueError(f"--classes_from: no such file. Received: {path!r}")
    classes = class_files.read_classes(path, num_classes)
    return classes, {"path": os.path.abspath(path), "sha256": fingerprint(path)}
