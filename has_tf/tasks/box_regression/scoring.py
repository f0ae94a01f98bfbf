"""The box regressor's evaluation: one box per image (`BoxStep`), scored
by the paper protocol's rule (`BoxScorer`)."""

from __future__ import annotations

import dataclasses

import numpy as np

from has_tf.metrics import boxes as metric_boxes
from has_tf.models import box_regressor
from has_tf.postprocess import boxes as postprocess_boxes

# The figures, in order, for printing.
HEADLINE = ("top1_loc", "top5_loc", "gt_known_loc", "top1_cls", "top5_cls")


@dataclasses.dataclass
class BoxOutputs:
    """One evaluation batch after inference.

    Attributes:
      labels: int `[B]` true classes.
      boxes: float64 `[B, 4]` the predicted pixel boxes `(ymin, xmin,
        ymax, xmax)` in the S x S frame, as predicted (not clipped).
      gt_boxes: per image, float `[M, 4]` ground-truth pixel boxes.
      keep: bool `[B]` images with a ground-truth box.
      image_ids: `[B]` str.
    """

    labels: np.ndarray
    boxes: np.ndarray
    gt_boxes: list
    keep: np.ndarray
    image_ids: list


class BoxStep:
    """Inference on one batch: `__call__(batch) -> BoxOutputs`."""

    def __init__(self, model, side: int):
        self.model, self.side = model, side
        self.without_boxes = 0
        self.seen = []  # Every image's id, for --classes_from's check.

    def __call__(self, batch) -> BoxOutputs:
        predicted = np.asarray(self.model(batch["image"], training=False))
        corners = np.asarray(box_regressor.to_corners(predicted), np.float64)
        labels = batch["label"].numpy()
        counts = batch["num_boxes"].numpy()
        keep = counts > 0
        self.without_boxes += int((~keep).sum())
        truth = batch["boxes"].numpy()
        ids = [i.decode() for i in batch["image_id"].numpy()]
        self.seen.extend(ids)
        return BoxOutputs(
            labels=labels,
            boxes=corners * self.side,
            gt_boxes=[
                postprocess_boxes.boxes_to_pixels(
                    truth[i, : counts[i]], self.side, self.side
                )
                for i in range(len(labels))
            ],
            keep=keep,
            image_ids=ids,
        )


class BoxScorer:
    """The paper protocol on one class-agnostic box per image: GT-known
    Loc (IoU >= 0.5 with a true box), and with `classes` (a
    `metrics.class_files.ClassPredictions`) Top-1 / Top-5 Loc and Clas,
    the box counting for every class (PSOL's `PSOL_inference.py`)."""

    def __init__(self, classes=None):
        self.classes = classes
        self.metric = metric_boxes.PaperLocalization(box_rule="paper")

    def update(self, outputs: BoxOutputs) -> None:
        for i in np.flatnonzero(outputs.keep):
            label = int(outputs.labels[i])
            image = outputs.image_ids[i]
            top = self.classes.of(image) if self.classes else (label,)
            box = outputs.boxes[i]
            self.metric.update(
                label, top, [box] * len(top), box, outputs.gt_boxes[i]
            )

    def result(self) -> dict:
        out = self.metric.result()
        if self.classes is None:
            # Without classes only GT-known Loc means anything.
            for key in ("top1_loc", "top5_loc", "top1_cls", "top5_cls"):
                out.pop(key)
            for stats in out["per_class"].values():
                for key in ("top1_loc", "top5_loc", "top1_cls", "top5_cls"):
                    stats.pop(key)
        return out
