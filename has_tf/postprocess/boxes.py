"""From class activation maps to boxes (NumPy/SciPy only, no TensorFlow).

Box conventions:
- Pixel boxes are continuous `(ymin, xmin, ymax, xmax)`: pixel row r spans
  [r, r + 1), so the box of the single pixel (r, c) is (r, c, r + 1, c + 1)
  and has area 1. A box is float64 `[4]`; several are `[N, 4]`.
- The library's normalised boxes are pixel boxes divided by (H, W, H, W):
  TFDS's `(ymin, xmin, ymax, xmax)` order, values in [0, 1].

Localization (Zhou et al., CVPR 2016, as used by Singh & Lee, ICCV 2017):
normalise the CAM, keep the pixels at or above a threshold, label the
connected components (scipy.ndimage, 8-connectivity by default) and fit a
tight box to the largest one.

- normalization="max": keep `cam >= threshold * max(cam)` (the paper: 0.2
  for AlexNet, 0.3 for GoogLeNet).
- normalization="minmax": rescale to [0, 1] with the CAM's min and max
  first (Choe et al., CVPR 2020, whose protocol sweeps the threshold).
- Ties between equally large components go to the one with the highest CAM
  value (so the one holding the maximum), then to the first in raster order.
- A CAM that carries no localization — no positive value under "max", no
  range (constant) under "minmax" — gives the whole image, (0, 0, H, W), at
  every threshold: a deterministic answer that claims nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from has_tf import _checks
from has_tf.postprocess import _sweep

__all__ = [
    "NORMALIZATIONS",
    "CONNECTIVITIES",
    "check_options",
    "ten_crop_offsets",
    "cam_to_box",
    "cam_boxes_for_thresholds",
    "cam_component_boxes",
    "normalize_cam",
    "boxes_to_normalized",
    "boxes_to_pixels",
    "merge_ten_crop_cams",
    "inclusive_box_iou",
    "resize_cam_bicubic",
    "wsolevaluation_boxes",
    "wsolevaluation_normalize",
]

NORMALIZATIONS = ("max", "minmax")
_STRUCTURES = {
    8: np.ones((3, 3), bool),
    4: ndimage.generate_binary_structure(2, 1),
}


def _check_cam(cam) -> np.ndarray:
    cam = np.asarray(cam)
    if cam.ndim != 2 or min(cam.shape, default=0) < 1:
        raise ValueError(
            "Expected `cam` of shape [H, W] with H, W >= 1. "
            f"Received: cam.shape={cam.shape}"
        )
    if not np.issubdtype(cam.dtype, np.number) or np.issubdtype(
        cam.dtype, np.complexfloating
    ):
        raise ValueError(
            f"Expected a real numeric `cam`. Received: cam.dtype={cam.dtype}"
        )
    cam = cam.astype(np.float64, copy=False)
    if not np.isfinite(cam).all():
        bad = int((~np.isfinite(cam)).sum())
        raise ValueError(
            f"Expected a finite `cam`. Received: {bad} NaN or infinite "
            f"values in cam.shape={cam.shape}"
        )
    return cam


CONNECTIVITIES = (8, 4)


def check_options(normalization: str, connectivity: int) -> None:
    """Raises unless `normalization` and `connectivity` are known values."""
    _checks.choice(normalization, "normalization", NORMALIZATIONS)
    _checks.choice(connectivity, "connectivity", CONNECTIVITIES)


def normalize_cam(cam, normalization: str = "max"):
    """Scales a CAM so that thresholds are fractions in [0, 1].

    Args:
      cam: `[H, W]` real values.
      normalization: "max" (divide by the max) or "minmax" (rescale the
        range to [0, 1]).

    Returns:
      float64 `[H, W]`, or None when the CAM carries no localization (no
      positive value under "max", constant under "minmax").

    Raises:
      ValueError: a CAM that is not 2-D, not numeric, or not finite; an
        unknown normalization.
    """
    cam = _check_cam(cam)
    _checks.choice(normalization, "normalization", NORMALIZATIONS)
    top = cam.max()
    if normalization == "max":
        return cam / top if top > 0 else None
    low = cam.min()
    return (cam - low) / (top - low) if top > low else None


def _whole(shape) -> np.ndarray:
    return np.array([0.0, 0.0, shape[0], shape[1]])


def _slice_box(region) -> np.ndarray:
    rows, cols = region
    return np.array(
        [rows.start, cols.start, rows.stop, cols.stop], dtype=np.float64
    )


def _components(mask, values, structure, want_all: bool):
    """Labels `mask`; returns (largest component's box, every box or None).

    Labels only the bounding box of the mask's pixels (the sets shrink as
    the threshold rises). The largest component follows the module's tie
    rule. A mask with no pixel (a threshold above every value) gives NaN
    and no boxes.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.full(4, np.nan), (np.zeros([0, 4]) if want_all else None)
    cols = np.flatnonzero(mask.any(axis=0))
    top, left = rows[0], cols[0]
    window = (slice(top, rows[-1] + 1), slice(left, cols[-1] + 1))
    labels, count = ndimage.label(mask[window], structure)
    offset = np.array([top, left, top, left], np.float64)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    candidates = np.flatnonzero(sizes == sizes.max()) + 1
    best = candidates[0]
    if candidates.size > 1:
        peaks = ndimage.maximum(values[window], labels, candidates)
        best = candidates[int(np.argmax(peaks))]  # First max: raster order.
    if want_all:
        regions = ndimage.find_objects(labels)
        every = np.stack([_slice_box(r) for r in regions]) + offset
        return every[best - 1].copy(), every
    region = ndimage.find_objects(labels, max_label=best)[best - 1]
    return _slice_box(region) + offset, None


def cam_to_box(
    cam,
    threshold: float,
    normalization: str = "max",
    connectivity: int = 8,
) -> np.ndarray:
    """The box of the largest component of a thresholded CAM.

    >>> cam = np.zeros([6, 8]); cam[1:3, 2:5] = 1.0; cam[4, 7] = 1.0
    >>> cam_to_box(cam, 0.5).tolist()
    [1.0, 2.0, 3.0, 5.0]

    Args:
      cam: `[H, W]` CAM at image resolution, real values.
      threshold: a fraction in [0, 1] of the normalised CAM.
      normalization: "max" (the paper) or "minmax" (Choe et al.).
      connectivity: 8 (default) or 4 neighbours for components.

    Returns:
      float64 `[4]` pixel box `(ymin, xmin, ymax, xmax)`, continuous
      convention (module docstring); the whole image for a CAM without
      localization.

    Raises:
      ValueError: a CAM that is not 2-D, numeric and finite; a threshold
        outside [0, 1]; an unknown normalization or connectivity.
    """
    if np.ndim(threshold) != 0:
        raise ValueError(
            "Expected `threshold` to be one number (see "
            "cam_boxes_for_thresholds for a grid). Received: "
            f"threshold of shape {np.shape(threshold)}"
        )
    (value,) = _checks.thresholds(threshold)
    check_options(normalization, connectivity)
    normalized = normalize_cam(cam, normalization)
    if normalized is None:
        return _whole(np.shape(cam))
    box, _ = _components(
        normalized >= value,
        normalized,
        _STRUCTURES[connectivity],
        want_all=False,
    )
    return box


def cam_boxes_for_thresholds(
    cam,
    thresholds: Sequence[float],
    mode: str = "largest",
    normalization: str = "max",
    connectivity: int = 8,
):
    """Boxes of a CAM at every threshold of a grid, in one pass.

    `mode="largest"` gives, at each threshold, exactly `cam_to_box(cam, t,
    normalization, connectivity)` (the box MaxBoxAcc scores);
    `mode="all"` gives the box of every component (MaxBoxAccV2 scores an
    image right when any of them matches a ground-truth box), in raster
    order of their first pixel, as `scipy.ndimage.label` numbers them;
    `mode="both"` gives both. One union-find sweep serves every threshold
    (`has_tf.postprocess._sweep`), so 1000 thresholds cost little more
    than 100.

    Args:
      cam: `[H, W]` CAM at image resolution.
      thresholds: K fractions in [0, 1], any order.
      mode: "largest", "all" or "both".
      normalization: "max" or "minmax".
      connectivity: 8 or 4.

    Returns:
      "largest": float64 `[K, 4]` pixel boxes, row k for `thresholds[k]`.
      "all": a list of K float64 `[n_k, 4]` arrays.
      "both": the pair `(largest, all)`.

    Raises:
      ValueError: as `cam_to_box`, or an unknown mode.
    """
    _checks.choice(mode, "mode", ("largest", "all", "both"))
    largest, counts, boxes = cam_component_boxes(
        cam, thresholds, normalization, connectivity, every=mode != "largest"
    )
    if mode == "largest":
        return largest
    every = np.split(boxes, np.cumsum(counts)[:-1])
    return every if mode == "all" else (largest, every)


def cam_component_boxes(
    cam,
    thresholds: Sequence[float],
    normalization: str = "max",
    connectivity: int = 8,
    every: bool = True,
):
    """`cam_boxes_for_thresholds` in flat arrays, for metrics.

    Args:
      cam, thresholds, normalization, connectivity: as
        `cam_boxes_for_thresholds`.
      every: also list every component's box (else `counts` is zeros).

    Returns:
      `(largest, counts, boxes)`: float64 `[K, 4]` the largest component's
      pixel box per threshold; int64 `[K]` components per threshold;
      float64 `[sum(counts), 4]` their boxes, threshold 0's first, each
      threshold's in raster order. A CAM without localization gives the
      whole image, one component, at every threshold.

    Raises:
      ValueError: as `cam_to_box`.
    """
    values = _checks.thresholds(thresholds)
    check_options(normalization, connectivity)
    normalized = normalize_cam(cam, normalization)
    if normalized is None:
        whole = _whole(np.shape(cam))
        counts = np.full(values.size, int(every), np.int64)
        return (
            np.tile(whole, (values.size, 1)),
            counts,
            np.tile(whole, (int(counts.sum()), 1)),
        )
    return _sweep.sweep(normalized, values, connectivity, want_all=every)


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

    Returns:
      `(largest, counts, boxes)`: int64 `[K, 4]` MaxBoxAcc's box per
      threshold; int64 `[K]` boxes per threshold (>= 1); int64
      `[sum(counts), 4]` every contour's box, threshold 0's first. Boxes
      are `(y0, x0, y1, x1)` corners in the tool's inclusive convention
      (score them with `inclusive_box_iou`).
    """
    values = _checks.thresholds(thresholds)
    scoremap = np.asarray(scoremap)
    quantized = (scoremap * 255).astype(np.uint8)
    height, width = quantized.shape
    top = quantized.max()
    levels = np.array([int(t * top) for t in values], np.int64)
    # Kept pixels at threshold k: quantized >= levels[k] + 1.
    kept = levels + 1.0
    filled = _sweep.outside_levels(quantized).astype(np.float64)
    largest, _, _ = _sweep.sweep(filled, kept, 8, False, by_area=True)
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


def _as_corners(boxes, height: int, width: int) -> np.ndarray:
    """Pixel boxes (ends exclusive) as wsolevaluation's corners."""
    boxes = np.asarray(boxes, np.float64).astype(np.int64)
    boxes[:, 2] = np.minimum(boxes[:, 2], height - 1)
    boxes[:, 3] = np.minimum(boxes[:, 3], width - 1)
    return boxes


def inclusive_box_iou(a, b) -> np.ndarray:
    """wsolevaluation's IoU of corner boxes: every extent counts + 1.

    Args:
      a: int `[N, 4]` `(y0, x0, y1, x1)` corners.
      b: int `[M, 4]` likewise.

    Returns:
      float64 `[N, M]`; 0 where the union is not positive.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    top = np.maximum(a[:, None, 0], b[None, :, 0])
    left = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 2], b[None, :, 2])
    right = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.maximum(0, bottom - top + 1) * np.maximum(0, right - left + 1)
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


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


def boxes_to_normalized(boxes, height: int, width: int) -> np.ndarray:
    """Pixel boxes `[..., 4]` to normalised ones (divided by H, W, H, W)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return boxes / np.array([height, width, height, width], np.float64)


def boxes_to_pixels(boxes, height: int, width: int) -> np.ndarray:
    """Normalised boxes `[..., 4]` to pixel boxes (times H, W, H, W)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return boxes * np.array([height, width, height, width], np.float64)


def ten_crop_offsets(image_size: int, resize_size: int) -> list:
    """Top-left corners of the ten crops of a square resized image.

    The one definition of the ten-crop geometry: the S x S crops
    (S = `image_size`) of the R x R resized image (R = `resize_size`) at
    its corners TL, TR, BL, BR and its centre, then the same five again
    for the crops' left-right flips.

    >>> ten_crop_offsets(224, 256)[:5]
    [(0, 0), (0, 32), (32, 0), (32, 32), (16, 16)]

    Returns:
      Ten `(top, left)` pixel offsets; entries 5..9 repeat 0..4 (those
      crops are flipped after cropping).
    """
    margin = resize_size - image_size
    corners = [
        (0, 0),
        (0, margin),
        (margin, 0),
        (margin, margin),
        (margin // 2, margin // 2),
    ]
    return corners * 2


def merge_ten_crop_cams(cams, resize_size: int) -> np.ndarray:
    """Averages the CAMs of the ten crops in the resized image's frame.

    The crops are those of `ten_crop_offsets` (as
    `has_tf.input_pipeline.eval_pipeline(..., protocol="ten_crop")` cuts
    them), the last five flipped left-right. Each CAM is flipped back
    where its crop was flipped, placed at its crop's offset, and every
    pixel of the R x R frame gets the mean of the
    CAMs that cover it (all do when 2 S >= R, as for 224 of 256).

    Args:
      cams: `[10, S, S]` CAMs of one class at crop resolution, finite.
      resize_size: R, the resized side (>= S).

    Returns:
      float64 `[R, R]`; pixels no crop covers hold the minimum of the
      covered ones.

    Raises:
      ValueError: a shape other than `[10, S, S]` or R < S.
    """
    cams = np.asarray(cams, dtype=np.float64)
    if cams.ndim != 3 or cams.shape[0] != 10 or cams.shape[1] != cams.shape[2]:
        raise ValueError(
            "Expected `cams` of shape [10, S, S] (the ten crops). Received: "
            f"cams of shape {cams.shape}"
        )
    side = cams.shape[1]
    if resize_size < side:
        raise ValueError(
            f"Expected resize_size >= the crop side {side}. Received: "
            f"resize_size={resize_size}"
        )
    starts = ten_crop_offsets(side, resize_size)
    total = np.zeros((resize_size, resize_size))
    count = np.zeros((resize_size, resize_size))
    for index, (top, left) in enumerate(starts):
        cam = cams[index][:, ::-1] if index >= 5 else cams[index]
        total[top : top + side, left : left + side] += cam
        count[top : top + side, left : left + side] += 1
    covered = count > 0
    merged = np.zeros_like(total)
    merged[covered] = total[covered] / count[covered]
    merged[~covered] = merged[covered].min()
    return merged
