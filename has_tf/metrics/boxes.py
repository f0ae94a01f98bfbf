"""Localization metrics (NumPy only, no TensorFlow).

Boxes follow `has_tf.postprocess.boxes`: continuous `(ymin, xmin, ymax, xmax)`,
pixel row r spanning [r, r + 1); IoU is computed on these continuous boxes,
in pixels or normalised units alike (IoU does not depend on the unit, as
long as predictions and ground truth share it).

A localization counts when its box has IoU >= 0.5 (by default) with ANY
ground-truth box of the image: ILSVRC images carry several.

Protocols:
- `PaperLocalization` (Singh & Lee, ICCV 2017; ILSVRC): Top-1 Loc (top-1
  class right and its box matches), Top-5 Loc (one of the top-5 classes is
  right and its box matches), GT-known Loc (the box from the true class's
  CAM matches), Top-1 and Top-5 classification.
- `ThresholdFreeLocalization` (Choe et al., CVPR 2020): MaxBoxAcc, the
  GT-known localization at the best CAM threshold, largest component only,
  IoU 0.5; MaxBoxAccV2, the mean over IoU 0.3, 0.5 and 0.7 of the same with
  every component's box as a candidate.
- `PixelAveragePrecision` (Choe et al.): PxAP of the CAM against pixel
  masks (CUB), from histograms over a threshold grid.

Accumulators keep counts (per threshold, per class), never CAMs, so memory
does not grow with the number of images. `result()` returns plain dicts of
Python numbers, ready for JSON; every accuracy is a fraction in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from has_tf import _checks
from has_tf import vocabulary
from has_tf.postprocess import box_rules
from has_tf.postprocess import boxes as postprocess_boxes
from has_tf.postprocess import wsolevaluation

__all__ = [
    "BOX_PROTOCOLS",
    "box_iou",
    "PaperLocalization",
    "ThresholdFreeLocalization",
    "PixelAveragePrecision",
]


def _check_boxes(boxes, name: str) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim == 1 and boxes.size == 4:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"Expected `{name}` of shape [N, 4] (ymin, xmin, ymax, xmax). "
            f"Received: {name}.shape={np.shape(boxes)}"
        )
    if not np.isfinite(boxes).all():
        raise ValueError(f"Expected finite `{name}`. Received: {boxes!r}")
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        raise ValueError(
            f"Expected ymax >= ymin and xmax >= xmin in `{name}`. "
            f"Received: {boxes[bad][0].tolist()} (row {int(np.argmax(bad))})"
        )
    return boxes


def box_iou(a, b) -> np.ndarray:
    """Intersection over union of every box in `a` with every box in `b`.

    >>> box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
    array([[0.14285714, 1.        , 0.        ]])

    Args:
      a: `[N, 4]` boxes (ymin, xmin, ymax, xmax); a single `[4]` box is
        taken as `[1, 4]`.
      b: `[M, 4]` boxes.

    Returns:
      float64 `[N, M]` in [0, 1]; 0 where both boxes have no area.

    Raises:
      ValueError: wrong shapes, non-finite values, or ymax < ymin /
        xmax < xmin.
    """
    a = _check_boxes(a, "a")
    b = _check_boxes(b, "b")
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(bottom - top, 0, None) * np.clip(right - left, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _best_iou(boxes, gt_boxes) -> np.ndarray:
    """Each box's best IoU with the ground truth; NaN boxes score 0."""
    if len(boxes) == 0:
        return np.zeros(0)
    empty = np.isnan(boxes).any(axis=1)
    if empty.any():
        best = np.zeros(len(boxes))
        best[~empty] = _best_iou(boxes[~empty], gt_boxes)
        return best
    return box_iou(boxes, gt_boxes).max(axis=1)


def _best(pred_box, gt_boxes, iou=box_iou) -> float:
    return float(iou(np.reshape(pred_box, (1, 4)), gt_boxes).max())


def _fraction(hits, count):
    return float(hits) / count if count else 0.0


class PaperLocalization:
    """Streaming Top-1/Top-5/GT-known Loc and Top-1/Top-5 Clas.

    Call `update` once per image (or per batch with `update_batch`), then
    `result()`.

    Args:
      iou_threshold: the IoU a box needs with some ground-truth box (0.5).
      box_rule: the `postprocess.box_rules` rule that drew the boxes:
        "paper" (continuous boxes), "cams_deit" or "sat_evaluator"
        (integer corners, ground truth too, and the inclusive IoU;
        TS-CAM's Top-k Loc needs an IoU above the threshold).
    """

    _KEYS = ("top1_loc", "top5_loc", "gt_known_loc", "top1_cls", "top5_cls")

    def __init__(self, iou_threshold: float = 0.5, box_rule: str = "paper"):
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(
                "Expected `iou_threshold` in (0, 1]. "
                f"Received: iou_threshold={iou_threshold!r}"
            )
        self.iou_threshold = iou_threshold
        self.rule = box_rules.get(box_rule)
        integer = self.rule.integer
        self._iou = wsolevaluation.inclusive_box_iou if integer else box_iou
        self._totals = dict.fromkeys(self._KEYS, 0)
        self._count = 0
        self._per_class: dict[int, dict] = {}

    def update(
        self, label: int, top_classes, top_boxes, gt_known_box, gt_boxes
    ) -> dict:
        """Scores one image.

        Args:
          label: the true class.
          top_classes: the predicted classes, best first (at least 1; 5 for
            Top-5).
          top_boxes: `[len(top_classes), 4]`, the box from each predicted
            class's CAM (at least the top-1's).
          gt_known_box: `[4]`, the box from the true class's CAM.
          gt_boxes: `[M, 4]` ground-truth boxes of the image, M >= 1.

        Returns:
          This image's outcome: a dict of bools, one per metric.
        """
        top_classes = [int(c) for c in np.ravel(top_classes)]
        if not top_classes:
            raise ValueError("Expected at least one predicted class.")
        top_boxes = _check_boxes(top_boxes, "top_boxes")
        if len(top_boxes) < len(top_classes):
            raise ValueError(
                "Expected one box per predicted class. Received: "
                f"{len(top_classes)} classes, {len(top_boxes)} boxes"
            )
        gt_boxes = _check_boxes(gt_boxes, "gt_boxes")
        if len(gt_boxes) == 0:
            raise ValueError("Expected at least one ground-truth box.")
        label = int(label)
        ious = [_best(b, gt_boxes, self._iou) for b in top_boxes[:5]]
        strict, threshold = self.rule.strict_top_k, self.iou_threshold
        hits = [v > threshold if strict else v >= threshold for v in ious]
        right = [c == label for c in top_classes[:5]]
        known = _best(gt_known_box, gt_boxes, self._iou) >= threshold
        outcome = {
            "top1_loc": right[0] and hits[0],
            "top5_loc": any(r and h for r, h in zip(right, hits)),
            "gt_known_loc": known,
            "top1_cls": right[0],
            "top5_cls": any(right),
        }
        self._count += 1
        stats = self._per_class.setdefault(
            label, {"count": 0, **dict.fromkeys(self._KEYS, 0)}
        )
        stats["count"] += 1
        for key, value in outcome.items():
            self._totals[key] += value
            stats[key] += value
        return outcome

    def result(self) -> dict:
        """`{metric: fraction, "count": n, "per_class": {class: {...}}}`."""
        out = {
            key: _fraction(v, self._count) for key, v in self._totals.items()
        }
        out["count"] = self._count
        out["iou_threshold"] = self.iou_threshold
        out["box_rule"] = self.rule.name
        out["per_class"] = {
            str(label): {
                "count": s["count"],
                **{k: _fraction(s[k], s["count"]) for k in self._KEYS},
            }
            for label, s in sorted(self._per_class.items())
        }
        return out


def default_thresholds(step: float = 0.01) -> np.ndarray:
    """The CAM threshold grid `0, step, 2 * step, ... < 1` (Choe et al.)."""
    if not 0.0 < step <= 1.0:
        raise ValueError(f"Expected `step` in (0, 1]. Received: step={step!r}")
    count = int(round(1.0 / step))
    return np.arange(count) / count


BOX_PROTOCOLS = vocabulary.BOX_PROTOCOLS


class ThresholdFreeLocalization:
    """Streaming MaxBoxAcc and MaxBoxAccV2 (Choe et al., CVPR 2020).

    For every image and every threshold of the grid, counts whether the
    box of the largest component (MaxBoxAcc) or any component's box
    (MaxBoxAccV2) reaches each IoU threshold with some ground-truth box.
    The CAM passed is the true class's (GT-known setting).

    Two protocols:

    - "has_tf" (default): the CAM normalised in float64, components kept
      at `value >= threshold`, the largest by pixel count, tight
      continuous boxes and their exact IoU (`box_iou`), 4- or
      8-connectivity: what the metric defines, free of quantization.
    - "wsolevaluation": the numbers of the official tool
      (clovaai/wsolevaluation), rule for rule: its `normalize_scoremap` (NaN or
      constant CAMs become zeros), the 8-bit quantization and strict threshold,
      OpenCV's contours with the largest by contour area and, for V2, hole
      contours too, boxes one pixel wider and taller read with its inclusive
      IoU, (0, 0, 0, 0) when nothing is kept
      (`postprocess.wsolevaluation.wsolevaluation_boxes` states each rule). CAMs
      and boxes are in the frame the tool scores (224 x 224, see
      `has_tf.evaluate_cams`); ground-truth boxes are its integer corners. The
      official tool's own figures come out equal.

    The protocols differ by up to a few points on the same CAMs (mostly
    from the one-pixel-wider boxes and the quantization).

    Args:
      thresholds: the CAM thresholds (default 0, 0.01, ..., 0.99); any
        grid down to 0.001 steps.
      iou_thresholds: the IoUs averaged by MaxBoxAccV2 (0.3, 0.5, 0.7).
      cam_normalization: "minmax" (Choe et al.) or "max" ("has_tf" only).
      connectivity: 8 or 4 ("has_tf" only; the official tool's is 8).
      protocol: "has_tf" or "wsolevaluation".
    """

    def __init__(
        self,
        thresholds: Sequence[float] | None = None,
        iou_thresholds: Sequence[float] = (0.3, 0.5, 0.7),
        cam_normalization: str = "minmax",
        connectivity: int = 8,
        protocol: str = "has_tf",
    ):
        _checks.choice(protocol, "protocol", BOX_PROTOCOLS)
        if protocol == "wsolevaluation" and (
            cam_normalization != "minmax" or connectivity != 8
        ):
            raise ValueError(
                "Expected cam_normalization='minmax' and connectivity=8 with "
                "protocol='wsolevaluation' (the official tool's). Received: "
                f"cam_normalization={cam_normalization!r}, "
                f"connectivity={connectivity!r}"
            )
        self.protocol = protocol
        self.thresholds = (
            default_thresholds()
            if thresholds is None
            else _checks.thresholds(thresholds)
        )
        self.iou_thresholds = tuple(float(t) for t in iou_thresholds)
        if not self.iou_thresholds or any(
            not 0 < t <= 1 for t in self.iou_thresholds
        ):
            raise ValueError(
                "Expected IoU thresholds in (0, 1]. "
                f"Received: iou_thresholds={iou_thresholds!r}"
            )
        postprocess_boxes.check_options(cam_normalization, connectivity)
        self.cam_normalization = cam_normalization
        self.connectivity = connectivity
        shape = (len(self.iou_thresholds), len(self.thresholds))
        self._largest = np.zeros(shape, np.int64)
        self._any = np.zeros(shape, np.int64)
        self._count = 0
        self._per_class: dict[int, list] = {}

    def update(self, cam, gt_boxes, label: int | None = None) -> None:
        """Adds one image.

        Args:
          cam: `[H, W]` CAM of the true class at image resolution.
          gt_boxes: `[M, 4]` ground-truth pixel boxes `(ymin, xmin, ymax,
            xmax)`, M >= 1: continuous (ends exclusive) for "has_tf";
            the official tool's integer corners for "wsolevaluation".
          label: the true class, for the per-class breakdown (optional).
        """
        gt_boxes = _check_boxes(gt_boxes, "gt_boxes")
        if len(gt_boxes) == 0:
            raise ValueError("Expected at least one ground-truth box.")
        ious = np.asarray(self.iou_thresholds)[:, None]
        groups = None
        if self.protocol == "wsolevaluation":
            scoremap = wsolevaluation.wsolevaluation_normalize(cam)
            # One sweep per distinct 8-bit level (<= 256 of the 1,000).
            first, groups = wsolevaluation.threshold_groups(
                scoremap, self.thresholds
            )
            largest, counts, boxes = wsolevaluation.wsolevaluation_boxes(
                scoremap, np.asarray(self.thresholds)[first]
            )
            best_largest = wsolevaluation.inclusive_box_iou(
                largest, gt_boxes
            ).max(axis=1)
            per_box = wsolevaluation.inclusive_box_iou(boxes, gt_boxes).max(
                axis=1
            )
        else:
            largest, counts, boxes = postprocess_boxes.cam_component_boxes(
                cam, self.thresholds, self.cam_normalization, self.connectivity
            )
            best_largest = _best_iou(largest, gt_boxes)  # [K]
            per_box = _best_iou(boxes, gt_boxes)
        # Best IoU of any component per threshold: a max over each
        # threshold's run of boxes (thresholds without one score 0).
        best_any = np.zeros(len(counts))
        present = counts > 0
        if present.any():
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            best_any[present] = np.maximum.reduceat(per_box, starts[present])
        if groups is not None:
            best_largest, best_any = best_largest[groups], best_any[groups]
        hit_largest = (best_largest[None] >= ious).astype(np.int64)
        hit_any = (best_any[None] >= ious).astype(np.int64)
        self._largest += hit_largest
        self._any += hit_any
        self._count += 1
        if label is not None:
            entry = self._per_class.setdefault(
                int(label),
                [0, np.zeros_like(self._largest), np.zeros_like(self._any)],
            )
            entry[0] += 1
            entry[1] += hit_largest
            entry[2] += hit_any

    def merge(self, other: ThresholdFreeLocalization) -> None:
        """Adds the images `other` scored (the same settings): counts sum,
        so scoring in parts and merging equals scoring in one."""
        _check_mergeable(
            self,
            other,
            ("protocol", "iou_thresholds", "cam_normalization", "connectivity"),
        )
        self._largest += other._largest
        self._any += other._any
        self._count += other._count
        for label, (count, largest, any_box) in other._per_class.items():
            entry = self._per_class.setdefault(
                label,
                [0, np.zeros_like(self._largest), np.zeros_like(self._any)],
            )
            entry[0] += count
            entry[1] += largest
            entry[2] += any_box

    def _summary(self, count, largest, any_box) -> dict:
        if count == 0:
            return {"count": 0, "max_box_acc": 0.0, "max_box_acc_v2": 0.0}
        at_half = (
            self.iou_thresholds.index(0.5)
            if (0.5 in self.iou_thresholds)
            else None
        )
        out = {"count": count}
        if at_half is not None:
            accuracy = largest[at_half] / count
            best = int(np.argmax(accuracy))
            out["max_box_acc"] = float(accuracy[best])
            out["max_box_acc_threshold"] = float(self.thresholds[best])
        per_iou = {}
        for i, iou in enumerate(self.iou_thresholds):
            accuracy = any_box[i] / count
            best = int(np.argmax(accuracy))
            per_iou[f"{iou:g}"] = {
                "accuracy": float(accuracy[best]),
                "threshold": float(self.thresholds[best]),
            }
        out["max_box_acc_v2"] = float(
            np.mean([v["accuracy"] for v in per_iou.values()])
        )
        out["max_box_acc_v2_per_iou"] = per_iou
        return out

    def result(self) -> dict:
        """MaxBoxAcc (IoU 0.5), MaxBoxAccV2, best thresholds, per class.

        Also "box_acc_curve": the GT-known accuracy at IoU 0.5 (largest
        component) at every threshold, for metric-vs-threshold plots.
        """
        out = self._summary(self._count, self._largest, self._any)
        if self._count and 0.5 in self.iou_thresholds:
            at_half = self.iou_thresholds.index(0.5)
            out["box_acc_curve"] = {
                "thresholds": [float(t) for t in self.thresholds],
                "accuracy": (self._largest[at_half] / self._count).tolist(),
            }
        out["protocol"] = self.protocol
        out["cam_normalization"] = self.cam_normalization
        out["num_thresholds"] = len(self.thresholds)
        out["per_class"] = {
            str(label): self._summary(*entry)
            for label, entry in sorted(self._per_class.items())
        }
        return out


def _check_mergeable(metric, other, fields) -> None:
    same = type(other) is type(metric) and all(
        getattr(metric, f) == getattr(other, f) for f in fields
    )
    if not same or not np.array_equal(metric.thresholds, other.thresholds):
        raise ValueError(
            f"Expected a {type(metric).__name__} of the same thresholds and "
            f"{', '.join(fields)} to merge. Received: {other!r}"
        )


class PixelAveragePrecision:
    """Streaming PxAP: average precision of CAM pixels against masks.

    Per threshold t of the grid, counts foreground and background pixels
    with normalised CAM >= t; precision and recall follow. Pixels an
    optional ignore mask marks (OpenImages30k's ignore regions) count as
    neither.

    - "has_tf" (default): `PxAP = sum_k (R_k - R_{k+1}) * P_k` over the
      thresholds in increasing order (recall decreasing, R_K = 0).
    - "wsolevaluation": the official tool's histogram, whose bins add the
      edges 1, 2 and 3 above the grid (so the pixels at exactly 1 form a
      point of their own), and its sum `sum_i P_i (R_i - R_{i-1})` over
      the thresholds in decreasing order, skipping thresholds no pixel
      reaches; the CAM is normalised by its `normalize_scoremap`.

    Args:
      thresholds: the grid (default 0, 0.01, ..., 0.99).
      cam_normalization: "minmax" (Choe et al.) or "max" ("has_tf" only).
      protocol: "has_tf" or "wsolevaluation".
    """

    def __init__(
        self,
        thresholds=None,
        cam_normalization: str = "minmax",
        protocol: str = "has_tf",
    ):
        grid = (
            default_thresholds()
            if thresholds is None
            else _checks.thresholds(thresholds)
        )
        self.thresholds = np.sort(grid)
        _checks.choice(
            cam_normalization,
            "cam_normalization",
            postprocess_boxes.CAM_NORMALIZATIONS,
        )
        _checks.choice(protocol, "protocol", BOX_PROTOCOLS)
        self.cam_normalization = cam_normalization
        self.protocol = protocol
        # wsolevaluation's bins: [t_0, t_1), ..., [t_last, 1), [1, 2), [2, 3].
        self._edges = np.append(self.thresholds, [1.0, 2.0, 3.0])
        size = len(self._edges) - 1
        self._fg = np.zeros(size, np.int64)
        self._bg = np.zeros(size, np.int64)
        self._count = 0

    def update(self, cam, mask, ignore=None) -> None:
        """Adds one image.

        Args:
          cam: `[H, W]` CAM.
          mask: `[H, W]` the foreground (bool, or nonzero).
          ignore: `[H, W]` pixels to leave out (bool, or nonzero), or None.
        """
        mask = np.asarray(mask)
        if mask.shape != np.shape(cam):
            raise ValueError(
                "Expected `mask` of the CAM's shape. Received: "
                f"mask.shape={mask.shape}, cam.shape={np.shape(cam)}"
            )
        if not np.isfinite(np.asarray(cam, np.float64)).all():
            raise ValueError(
                "Expected a finite `cam`; it holds NaN or infinity."
            )
        mask = mask.astype(bool)
        keep = np.ones(mask.shape, bool)
        if ignore is not None:
            ignore = np.asarray(ignore)
            if ignore.shape != mask.shape:
                raise ValueError(
                    "Expected `ignore` of the CAM's shape. Received: "
                    f"ignore.shape={ignore.shape}, cam.shape={mask.shape}"
                )
            keep = ~ignore.astype(bool)
        if self.protocol == "wsolevaluation":
            normalized = wsolevaluation.wsolevaluation_normalize(cam)
        else:
            normalized = postprocess_boxes.normalize_cam(
                cam, self.cam_normalization
            )
            if normalized is None:
                normalized = np.zeros(np.shape(cam))
        self._fg += np.histogram(normalized[mask & keep], self._edges)[0]
        self._bg += np.histogram(normalized[~mask & keep], self._edges)[0]
        self._count += 1

    def merge(self, other: PixelAveragePrecision) -> None:
        """Adds the images `other` scored (the same settings)."""
        _check_mergeable(self, other, ("protocol", "cam_normalization"))
        self._fg += other._fg
        self._bg += other._bg
        self._count += other._count

    def result(self) -> dict:
        """`{"pxap", "count", "thresholds", "precision", "recall",
        "protocol"}` (precision and recall per threshold, increasing).

        Raises:
          ValueError: no foreground pixel was scored.
        """
        # Pixels reaching each edge: counts of the bins at or above it.
        fg = np.cumsum(self._fg[::-1])[::-1]
        bg = np.cumsum(self._bg[::-1])[::-1]
        positives = int(self._fg.sum())
        if not positives:
            raise ValueError(
                f"No foreground pixel in the {self._count} masks scored: "
                "PxAP is undefined (the official tool raises too)."
            )
        if self.protocol == "wsolevaluation":
            pxap = _official_pxap(fg, bg, positives)
        fg, bg = fg[: len(self.thresholds)], bg[: len(self.thresholds)]
        predicted = fg + bg
        precision = np.divide(
            fg, predicted, out=np.ones(len(predicted)), where=predicted > 0
        )
        recall = fg / positives if positives else np.zeros(len(predicted))
        if self.protocol == "has_tf":
            drops = recall - np.append(recall[1:], 0.0)
            pxap = float(np.sum(drops * precision))
        return {
            "pxap": pxap,
            "count": self._count,
            "protocol": self.protocol,
            "thresholds": self.thresholds.tolist(),
            "precision": precision.tolist(),
            "recall": recall.tolist(),
        }


def _official_pxap(fg, bg, positives) -> float:
    """wsolevaluation's `MaskEvaluator.compute` on reaching counts.

    Args:
      fg, bg: int `[K + 2]` pixels reaching each bin's lower edge, in
        increasing order (the K thresholds, then 1 and 2).
      positives: foreground pixels.
    """
    # Its cumulative counts run from the top bin down.
    tp = fg[::-1].astype(np.float64)
    fp = bg[::-1].astype(np.float64)
    if positives == 0 or not (tp + fp > 0).any():
        return 0.0
    present = (tp + fp) != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
    recall = tp / positives
    return float((precision[1:] * np.diff(recall))[present[1:]].sum())
