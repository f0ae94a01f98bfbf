"""Temporal action localization mAP under two protocols (NumPy only).

Rows, everywhere in this module:

- detections: `(video, start_s, end_s, class_index, score)`;
- ground truth: `(video, start_s, end_s, class_index)`;
- ambiguous intervals: `(video, start_s, end_s[, class_index])`, the
  class ignored.

`video` is any hashable id (a name such as "video_test_0000004"); times are
seconds with `start_s <= end_s`; classes are integers (0..19 for THUMOS14,
see `has_tf.metrics.detection_files`). Only classes present in the ground truth
are scored; a class none of whose instances is found scores AP 0.

Protocols:

- "thumos14", the rules of the THUMOS14 evaluation kit: per video and
  class, each ground truth in turn (in the order given) claims the
  unmatched detection that overlaps it most (of equal overlaps, the
  higher score), if that temporal IoU is strictly above theta; the other
  detections are false positives, except those that intersect an
  ambiguous interval of their video (any overlap of positive length),
  which are ignored. AP is 11-point interpolated
  (the mean over recall 0, 0.1, .., 1 of the best precision at that
  recall or more).
- "activitynet", the ActivityNet rules: per class, detections in
  decreasing score each take the unclaimed ground truth of their video
  with the highest IoU if it is >= theta; the rest are false positives.
  AP is all-point (the area under the monotone precision envelope).
  Ambiguous intervals play no part.

Ties in score:

- "thumos14", as the kit's `TH14eventdetpr.m`: it collects a class's
  true-positive confidences over all videos, then its unignored
  false-positive confidences, and sorts the concatenation by confidence
  with MATLAB's stable sort, so among equal scores every true positive
  ranks before every false positive. (Ranking ties by input order instead
  moves mAP by several points on detections with rounded scores.)
- "activitynet": as ActivityNet's evaluator
  (`Evaluation/eval_detection.py`), a class's detections are ranked by
  `np.argsort(scores)[::-1]` in their input order and each one's ground
  truths by `np.argsort(ious)[::-1]`. NumPy's default argsort is not
  stable (on AVX-512 machines it is x86-simd-sort), so the order of tied
  scores, and then which detection claims a ground truth, is whatever that
  call gives on the machine; the official code gives the same order on the
  same machine and NumPy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from has_tf import vocabulary
from has_tf.postprocess.segments import segment_iou

MAP_PROTOCOLS = vocabulary.MAP_PROTOCOLS
DEFAULT_IOU_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
# ActivityNet's grid, 0.5:0.05:0.95.
ACTIVITYNET_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
# The averages tables report: name -> the thresholds averaged.
AVERAGES = {
    "0.1:0.5": DEFAULT_IOU_THRESHOLDS[:5],
    "0.3:0.7": DEFAULT_IOU_THRESHOLDS[2:],
    "0.1:0.7": DEFAULT_IOU_THRESHOLDS,
    "0.5:0.95": ACTIVITYNET_IOU_THRESHOLDS,
}


def averages(map_by_threshold: dict) -> dict:
    """The `AVERAGES` whose thresholds all are in `map_by_threshold`
    (`{theta: mAP}`): `{"0.1:0.7": mean, ...}`."""
    grid = [float(t) for t in map_by_threshold]

    def value(t):
        return next(
            v
            for g, v in zip(grid, map_by_threshold.values())
            if abs(g - t) < 1e-9
        )

    return {
        name: float(np.mean([value(t) for t in thresholds]))
        for name, thresholds in AVERAGES.items()
        if all(any(abs(t - g) < 1e-9 for g in grid) for t in thresholds)
    }


__all__ = [
    "ACTIVITYNET_IOU_THRESHOLDS",
    "AVERAGES",
    "DEFAULT_IOU_THRESHOLDS",
    "averages",
    "MAP_PROTOCOLS",
    "interpolated_ap_11",
    "all_point_ap",
    "segment_iou",
    "temporal_map",
]


def _precision_recall(is_tp, positives):
    tp = np.cumsum(is_tp)
    fp = np.cumsum(~is_tp)
    recall = tp / positives
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return precision, recall


def interpolated_ap_11(is_tp, positives: int) -> float:
    """11-point interpolated AP of a ranked list of hits (`bool [K]`)."""
    is_tp = np.asarray(is_tp, bool)
    if positives <= 0 or is_tp.size == 0:
        return 0.0
    precision, recall = _precision_recall(is_tp, positives)
    points = [
        precision[recall >= r].max() if np.any(recall >= r) else 0.0
        for r in np.linspace(0, 1, 11)
    ]
    return float(np.mean(points))


def all_point_ap(is_tp, positives: int) -> float:
    """All-point AP: the area under the monotone precision envelope."""
    is_tp = np.asarray(is_tp, bool)
    if positives <= 0 or is_tp.size == 0:
        return 0.0
    precision, recall = _precision_recall(is_tp, positives)
    precision = np.concatenate([[0.0], precision, [0.0]])
    recall = np.concatenate([[0.0], recall, [1.0]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * envelope[steps]))


def _rows(rows, width: int, name: str):
    """Checks rows; returns (videos list, float array [N, width - 1])."""
    rows = list(rows)
    for index, row in enumerate(rows):
        if len(row) < width:
            raise ValueError(
                f"Expected each row of `{name}` to hold at least {width} "
                f"fields. Received: row {index} = {tuple(row)!r}"
            )
    videos = [row[0] for row in rows]
    values = np.array(
        [[float(v) for v in row[1:width]] for row in rows], np.float64
    ).reshape(len(rows), width - 1)
    if values.size and not np.all(np.isfinite(values)):
        raise ValueError(f"Expected finite numbers in `{name}`.")
    bad = np.flatnonzero(values[:, 1] < values[:, 0]) if values.size else []
    if len(bad):
        raise ValueError(
            f"Expected start_s <= end_s in `{name}`. Received: row "
            f"{bad[0]} = {tuple(rows[bad[0]])!r}"
        )
    return videos, values


def _check_classes(values, name: str, column: int) -> None:
    """Class indices must be whole numbers (no silent truncation)."""
    if not values.size:
        return
    classes = values[:, column]
    bad = np.flatnonzero(classes != np.round(classes))
    if bad.size:
        raise ValueError(
            f"Expected whole class indices in `{name}`. Received: "
            f"{classes[bad[0]]!r} in row {bad[0]}"
        )


def _check_video_ids(named: dict) -> None:
    """Video ids that print alike must be equal (1 and "1" are not)."""
    seen = {}
    for name, videos in named.items():
        for video in videos:
            key = str(video)
            first = seen.setdefault(key, (video, name))
            if first[0] != video:
                raise ValueError(
                    f"Expected one id per video. Received: {first[0]!r} in "
                    f"`{first[1]}` and {video!r} in `{name}`, which differ "
                    "(convert the ids to one type)."
                )


def _group(videos, values, classes=True):
    groups = defaultdict(list)
    for index, video in enumerate(videos):
        key = (video, int(values[index, 2])) if classes else video
        groups[key].append(index)
    return groups


def _thumos_class(
    det_idx, det_videos, det, gt_groups, gt, amb_groups, amb, theta, klass
):
    """Ranked hits (bool) of one class's detections; ignored ones dropped."""
    by_video = defaultdict(list)
    for i in det_idx:
        by_video[det_videos[i]].append(i)
    kept_scores, kept_hits = [], []
    for video, indices in by_video.items():
        # By score (stable): ties in overlap go to the higher score.
        indices = np.array(sorted(indices, key=lambda i: (-det[i, 3], i)))
        matched = np.zeros(len(indices), bool)
        gts = gt_groups.get((video, klass), [])
        if gts:
            overlap = segment_iou(gt[gts, :2], det[indices, :2])
            for row in overlap:
                candidates = np.where(matched, -1.0, row)
                best = int(np.argmax(candidates))
                if candidates[best] > theta:
                    matched[best] = True
        ignored = np.zeros(len(indices), bool)
        ambiguous = amb_groups.get(video, [])
        if ambiguous:
            spans = amb[ambiguous, :2]
            inter = np.minimum(
                det[indices, 1][:, None], spans[None, :, 1]
            ) - np.maximum(det[indices, 0][:, None], spans[None, :, 0])
            ignored = ~matched & np.any(inter > 0, axis=1)
        for j, i in enumerate(indices):
            if not ignored[j]:
                kept_scores.append((det[i, 3], i))
                kept_hits.append(matched[j])
    # The kit ranks the true positives' scores, then the false positives',
    # with MATLAB's stable sort: among equal scores, every true positive
    # comes before every false positive.
    order = sorted(
        range(len(kept_scores)),
        key=lambda k: (-kept_scores[k][0], not kept_hits[k], kept_scores[k][1]),
    )
    return np.array([kept_hits[k] for k in order], bool)


def _activitynet_class(det_idx, det_videos, det, gt_groups, gt, theta, klass):
    """Ranked hits of one class's detections, as ActivityNet's
    `compute_average_precision_detection` ranks and matches them."""
    det_idx = np.asarray(det_idx, np.int64)
    # The evaluator's own sort, reversed: which of two tied scores comes
    # first is whatever NumPy's default (unstable) argsort gives.
    order = det_idx[np.argsort(det[det_idx, 3])[::-1]]
    locked = set()
    hits = []
    for i in order:
        gts = gt_groups.get((det_videos[i], klass), [])
        hit = False
        if gts:
            overlap = segment_iou(det[i : i + 1, :2], gt[gts, :2])[0]
            # Its ground truths by decreasing IoU (the same reversed
            # argsort): the first unlocked one at or above theta.
            for j in np.argsort(overlap)[::-1]:
                if overlap[j] < theta:
                    break
                if gts[j] in locked:
                    continue
                locked.add(gts[j])
                hit = True
                break
        hits.append(hit)
    return np.array(hits, bool)


def temporal_map(
    detections,
    ground_truth,
    iou_thresholds: Sequence[float] = DEFAULT_IOU_THRESHOLDS,
    protocol: str = "thumos14",
    ambiguous=None,
) -> dict:
    """Mean average precision of temporal detections.

    Args:
      detections: rows `(video, start_s, end_s, class_index, score)`.
      ground_truth: rows `(video, start_s, end_s, class_index)`.
      iou_thresholds: temporal IoU thresholds theta in [0, 1].
      protocol: "thumos14" or "activitynet" (see the module docstring).
      ambiguous: rows `(video, start_s, end_s[, ...])` (THUMOS14's
        Ambiguous intervals); used by "thumos14" only.

    Returns:
      `{"map": {theta: mAP}, "ap": {theta: [AP per class]}, "classes":
      [class indices, sorted]}`, values in [0, 1].

    Raises:
      ValueError: an unknown protocol, malformed rows, thresholds outside
        [0, 1], no ground truth, fractional class indices, or one video
        given ids of different types (1 and "1").
    """
    if protocol not in MAP_PROTOCOLS:
        raise ValueError(
            f"Expected `protocol` in {MAP_PROTOCOLS}. Received: "
            f"protocol={protocol!r}"
        )
    thetas = [float(t) for t in np.atleast_1d(iou_thresholds)]
    if not thetas or any(not 0.0 <= t <= 1.0 for t in thetas):
        raise ValueError(
            "Expected `iou_thresholds` in [0, 1]. Received: "
            f"iou_thresholds={iou_thresholds!r}"
        )
    det_videos, det = _rows(detections, 5, "detections")
    gt_videos, gt = _rows(ground_truth, 4, "ground_truth")
    if not len(gt_videos):
        raise ValueError(
            "Expected at least one ground-truth row. Received: "
            "an empty `ground_truth`."
        )
    amb_videos, amb = _rows(
        ambiguous if ambiguous is not None else [], 3, "ambiguous"
    )
    _check_classes(det, "detections", 2)
    _check_classes(gt, "ground_truth", 2)
    _check_video_ids(
        {
            "detections": det_videos,
            "ground_truth": gt_videos,
            "ambiguous": amb_videos,
        }
    )
    gt_groups = _group(gt_videos, gt)
    amb_groups = _group(amb_videos, amb, classes=False)
    classes = sorted({int(c) for c in gt[:, 2]})
    det_by_class = defaultdict(list)
    for i in range(len(det_videos)):
        det_by_class[int(det[i, 2])].append(i)
    result = {"map": {}, "ap": {}, "classes": classes}
    for theta in thetas:
        aps = []
        for klass in classes:
            positives = int(np.sum(gt[:, 2] == klass))
            indices = det_by_class.get(klass, [])
            if protocol == "thumos14":
                hits = _thumos_class(
                    indices,
                    det_videos,
                    det,
                    gt_groups,
                    gt,
                    amb_groups,
                    amb,
                    theta,
                    klass,
                )
                aps.append(interpolated_ap_11(hits, positives))
            else:
                hits = _activitynet_class(
                    indices, det_videos, det, gt_groups, gt, theta, klass
                )
                aps.append(all_point_ap(hits, positives))
        result["ap"][theta] = aps
        result["map"][theta] = float(np.mean(aps))
    return result
