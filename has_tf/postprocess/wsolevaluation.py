"""The official wsolevaluation tool's rules (NumPy only, no OpenCV).

Choe et al. (CVPR 2020; TPAMI 2022) score CAMs with OpenCV calls whose
details move the figures; this module reproduces them exactly (equal
boxes and figures against the official code, `tests/postprocess/
test_wsolevaluation.py` and, where OpenCV is installed,
`test_wsolevaluation_opencv.py`):

- `wsolevaluation_normalize`: `normalize_scoremap` (min-max; NaN or a
  constant map gives zeros);
- `wsolevaluation_boxes`: `compute_bboxes_from_scoremaps` (8-bit
  quantization, strict threshold, OpenCV's contours and their areas);
- `inclusive_box_iou`: the tool's IoU of integer corner boxes (every
  extent + 1);
- `resize_cam_bicubic`: `cv2.resize(..., INTER_CUBIC)`, as its inference
  resizes CAMs.

Box convention: integer corners `(y0, x0, y1, x1)`, both ends inside the
box (the tool's), unlike `has_tf.postprocess.boxes`' continuous boxes.
`has_tf.metrics.boxes.ThresholdFreeLocalization(protocol=
"wsolevaluation")` is where these rules meet.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from has_tf import _checks
from has_tf.postprocess import _sweep

__all__ = [
    "inclusive_box_iou",
    "largest_contour_boxes",
    "resize_cam_bicubic",
    "threshold_groups",
    "wsolevaluation_boxes",
    "wsolevaluation_normalize",
]


def wsolevaluation_normalize(cam) -> np.ndarray:
    """wsolevaluation's `normalize_scoremap`: min-max to [0, 1].

    A CAM holding NaN, or constant, becomes all zeros. The CAM's floating
    dtype is kept (the official scoremaps are float32), since the 8-bit
    quantization that follows depends on it.

    Args:
      cam: `[H, W]` real values.

    Returns:
      `[H, W]` in [0, 1], the CAM's dtype (float64 for integer input).
    """
    cam = np.array(cam, copy=True)
    if cam.ndim != 2 or min(cam.shape, default=0) < 1:
        raise ValueError(
            "Expected `cam` of shape [H, W] with H, W >= 1. "
            f"Received: cam.shape={cam.shape}"
        )
    if not np.issubdtype(cam.dtype, np.floating):
        cam = cam.astype(np.float64)
    if np.isnan(cam).any() or cam.min() == cam.max():
        return np.zeros_like(cam)
    cam -= cam.min()
    cam /= cam.max()
    return cam


def _levels(quantized, values) -> np.ndarray:
    """`int(t * max)` per threshold: the tool keeps pixels above it."""
    return (values * np.float64(quantized.max())).astype(np.int64)


def threshold_groups(scoremap, thresholds: Sequence[float]):
    """The thresholds that give the same boxes, as `np.unique` groups.

    At threshold t the tool keeps the 8-bit pixels above `int(t * max)`, so
    thresholds of one level read the same contours: at most 256 distinct
    sets of boxes however fine the grid (its default has 1,000).

    Args:
      scoremap: `[H, W]` in [0, 1], as `wsolevaluation_boxes` takes.
      thresholds: K fractions in [0, 1].

    Returns:
      `(first, inverse)`: int `[G]` the first threshold of each group, in
      increasing level; int `[K]` each threshold's group. The boxes at
      `thresholds[first][inverse]` are those at `thresholds`.
    """
    values = _checks.thresholds(thresholds)
    quantized = (_check_scoremap(scoremap) * 255).astype(np.uint8)
    _, first, inverse = np.unique(
        _levels(quantized, values), return_index=True, return_inverse=True
    )
    return first, inverse.reshape(-1)


def wsolevaluation_boxes(scoremap, thresholds: Sequence[float]):
    """The boxes wsolevaluation reads off a score map at each threshold.

    Reproduces `compute_bboxes_from_scoremaps` of Choe et al.'s official
    tool (CVPR 2020) without OpenCV, for all thresholds in three one-pass
    sweeps:

    1. the map is quantized as `(scoremap * 255).astype(uint8)` and, at
       threshold t, the pixels strictly above `int(t * max)` are kept;
    2. its contours are OpenCV's (`findContours`, `RETR_TREE`): the outer
       border of every 8-connected component and the border of every hole
       (a 4-connected background region the outside cannot reach);
    3. MaxBoxAcc's box is that of the contour of largest `contourArea`,
       the area of the polygon through the border pixels' centres: each
       2x2 window of pixels inside the filled component counts 1, each
       with three of four 1/2. Ties go to the component that starts last
       in raster order (OpenCV lists top-level contours in reverse raster
       order and `max` keeps the first);
    4. MaxBoxAccV2 takes every contour, holes included: a hole's border
       runs through the pixels around it, so its box is the hole's grown
       by one pixel on each side;
    5. each contour's box is `cv2.boundingRect` read as corners `(x, y,
       min(x + w, W - 1), min(y + h, H - 1))`, one pixel wider and taller
       than the component for the tool's inclusive IoU;
    6. no contour gives the box (0, 0, 0, 0).

    Args:
      scoremap: `[H, W]` in [0, 1] (see `wsolevaluation_normalize`).
      thresholds: K fractions in [0, 1], any order.

    Raises:
      ValueError: a score map that is not 2-D, holds NaN or infinity, or
        leaves [0, 1] (the tool's `check_scoremap_validity`).

    Returns:
      `(largest, counts, boxes)`: int64 `[K, 4]` MaxBoxAcc's box per
      threshold; int64 `[K]` boxes per threshold (>= 1); int64
      `[sum(counts), 4]` every contour's box, threshold 0's first. Boxes
      are `(y0, x0, y1, x1)` corners in the tool's inclusive convention
      (score them with `inclusive_box_iou`).
    """
    values = _checks.thresholds(thresholds)
    scoremap = _check_scoremap(scoremap)
    quantized = (scoremap * 255).astype(np.uint8)
    height, width = quantized.shape
    levels = _levels(quantized, values)
    # Kept pixels at threshold k: quantized >= levels[k] + 1.
    kept = levels + 1.0
    largest = _largest_by_area(quantized, kept)
    _, fg_counts, fg_boxes = _sweep.sweep(
        quantized.astype(np.float64), kept, 8, True
    )
    _, bg_counts, bg_boxes = _sweep.sweep(
        255.0 - quantized, 255.0 - levels, 4, True
    )
    # Holes: background components off the image border, grown by one.
    interior = (
        (bg_boxes[:, 0] > 0)
        & (bg_boxes[:, 1] > 0)
        & (bg_boxes[:, 2] < height)
        & (bg_boxes[:, 3] < width)
    )
    bg_owner = np.repeat(np.arange(len(values)), bg_counts)[interior]
    holes = bg_boxes[interior] + np.array([-1.0, -1.0, 1.0, 1.0])
    fg_owner = np.repeat(np.arange(len(values)), fg_counts)
    owner = np.concatenate([fg_owner, bg_owner])
    boxes = np.concatenate([fg_boxes, holes])
    order = np.argsort(owner, kind="stable")
    owner, boxes = owner[order], _as_corners(boxes[order], height, width)
    counts = np.bincount(owner, minlength=len(values))
    empty = np.flatnonzero(counts == 0)
    if empty.size:  # No contour: one box (0, 0, 0, 0).
        owner = np.concatenate([owner, empty])
        boxes = np.concatenate([boxes, np.zeros((empty.size, 4), np.int64)])
        order = np.argsort(owner, kind="stable")
        boxes = boxes[order]
        counts[empty] = 1
    none = np.isnan(largest[:, 0])
    largest[none] = 0.0
    largest = _as_corners(largest, height, width)
    largest[none] = 0
    return largest, counts, boxes


def _largest_by_area(quantized, kept) -> np.ndarray:
    """float64 `[K, 4]` pixel boxes (ends exclusive) of the contour of
    largest `contourArea` at each level of `kept` (NaN rows: no pixel)."""
    filled = _sweep.outside_levels(quantized).astype(np.float64)
    largest, _, _ = _sweep.sweep(filled, kept, 8, False, by_area=True)
    return largest


def largest_contour_boxes(quantized, thresholds: Sequence[float]):
    """The box of the largest OpenCV contour of an 8-bit map at each
    threshold, before any tool's clipping.

    `cv2.threshold(quantized, int(t * max), 255, THRESH_TOZERO)`, then
    `findContours(RETR_TREE)` and `max(contours, key=contourArea)`, then
    `boundingRect`: the rule `wsolevaluation_boxes` reads MaxBoxAcc's box
    with (points 1-3 there), shared by TS-CAM's and SCM's `get_bboxes`.

    Args:
      quantized: uint8 `[H, W]` map.
      thresholds: K fractions in [0, 1].

    Returns:
      float64 `[K, 4]` pixel boxes `(y0, x0, y1, x1)`, ends exclusive
      (`boundingRect`'s `(y, x, y + h, x + w)`); NaN rows where no pixel is
      above the threshold's level.
    """
    values = _checks.thresholds(thresholds)
    quantized = np.asarray(quantized)
    if quantized.dtype != np.uint8 or quantized.ndim != 2:
        raise ValueError(
            "Expected `quantized` to be a uint8 [H, W] map. Received: "
            f"dtype {quantized.dtype}, shape {quantized.shape}"
        )
    return _largest_by_area(quantized, _levels(quantized, values) + 1.0)


def _as_corners(boxes, height: int, width: int) -> np.ndarray:
    """Pixel boxes (ends exclusive) as wsolevaluation's corners."""
    boxes = np.asarray(boxes, np.float64).astype(np.int64)
    boxes[:, 2] = np.minimum(boxes[:, 2], height - 1)
    boxes[:, 3] = np.minimum(boxes[:, 3], width - 1)
    return boxes


def _check_scoremap(scoremap) -> np.ndarray:
    """The tool's rules for a score map: 2-D, finite, in [0, 1]."""
    scoremap = np.asarray(scoremap)
    if scoremap.ndim != 2 or not np.issubdtype(scoremap.dtype, np.number):
        raise ValueError(
            "Expected a 2-D numeric `scoremap`. Received: shape "
            f"{scoremap.shape}, dtype {scoremap.dtype}"
        )
    if np.iscomplexobj(scoremap) or not np.isfinite(scoremap).all():
        raise ValueError(
            "Expected a finite `scoremap`; it holds NaN, infinity or "
            "complex values."
        )
    if scoremap.size and (scoremap.min() < 0 or scoremap.max() > 1):
        raise ValueError(
            "Expected `scoremap` in [0, 1] (normalise it with "
            "`wsolevaluation_normalize`). Received: min "
            f"{scoremap.min()}, max {scoremap.max()}"
        )
    return scoremap


def _corner_boxes(boxes, name: str) -> np.ndarray:
    """`[N, 4]` float64 corners, checked as the tool's
    `check_box_convention` does: non-negative, y0 <= y1 and x0 <= x1."""
    boxes = np.asarray(boxes, np.float64)
    if boxes.ndim not in (1, 2) or boxes.shape[-1] != 4:
        raise ValueError(
            f"Expected `{name}` of shape [N, 4] or [4]. Received: "
            f"{name}.shape={boxes.shape}"
        )
    boxes = boxes.reshape(-1, 4)
    if not np.isfinite(boxes).all() or (boxes < 0).any():
        raise ValueError(
            f"Expected finite, non-negative corners in `{name}`. "
            f"Received: {boxes.tolist()}"
        )
    reversed_ = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if reversed_.any():
        raise ValueError(
            f"Expected corners (y0, x0, y1, x1) with y0 <= y1 and x0 <= x1 "
            f"in `{name}`. Received: {boxes[reversed_].tolist()}"
        )
    return boxes


def inclusive_box_iou(a, b) -> np.ndarray:
    """wsolevaluation's IoU of corner boxes: every extent counts + 1.

    Args:
      a: int `[N, 4]` `(y0, x0, y1, x1)` corners.
      b: int `[M, 4]` likewise.

    Returns:
      float64 `[N, M]`; 0 where the union is not positive.

    Raises:
      ValueError: negative or reversed corners (the tool raises too).
    """
    a = _corner_boxes(a, "a")
    b = _corner_boxes(b, "b")
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.maximum(0, bottom - top + 1) * np.maximum(0, right - left + 1)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@functools.lru_cache(maxsize=64)
def _cubic_weights(source: int, target: int) -> np.ndarray:
    """`[target, source]` rows of OpenCV's INTER_CUBIC weights.

    Half-pixel centres, Keys' kernel with a = -0.75, indices clamped at the
    border (replicated edge pixels), no antialiasing when shrinking.
    """
    a = -0.75
    weights = np.zeros((target, source))
    position = (np.arange(target) + 0.5) * (source / target) - 0.5
    start = np.floor(position).astype(np.int64)
    t = position - start
    taps = [
        ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
        ((a + 2) * t - (a + 3)) * t * t + 1,
        ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
    ]
    taps.append(1 - taps[0] - taps[1] - taps[2])
    rows = np.arange(target)
    for k, tap in enumerate(taps):
        np.add.at(weights, (rows, np.clip(start - 1 + k, 0, source - 1)), tap)
    weights.flags.writeable = False  # cached: shared by every call
    return weights


def resize_cam_bicubic(cam, size) -> np.ndarray:
    """Resizes a CAM as wsolevaluation's inference does (OpenCV INTER_CUBIC).

    Args:
      cam: `[h, w]` real values.
      size: `(H, W)` of the output.

    Returns:
      `[H, W]` in the CAM's floating dtype (float64 for integers); equal to
      `cv2.resize(cam, (W, H), interpolation=cv2.INTER_CUBIC)` up to float
      rounding (the weights are computed in float64).
    """
    cam = np.asarray(cam)
    dtype = cam.dtype if np.issubdtype(cam.dtype, np.floating) else np.float64
    height, width = size
    if cam.shape == (height, width):
        return cam.astype(dtype)
    out = (
        _cubic_weights(cam.shape[0], height)
        @ cam.astype(np.float64)
        @ _cubic_weights(cam.shape[1], width).T
    )
    return out.astype(dtype)
