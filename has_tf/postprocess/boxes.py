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

- cam_normalization="max": keep `cam >= threshold * max(cam)` (the paper: 0.2
  for AlexNet, 0.3 for GoogLeNet).
- cam_normalization="minmax": rescale to [0, 1] with the CAM's min and max
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
from has_tf import vocabulary
from has_tf.postprocess import _sweep

__all__ = [
    "CAM_NORMALIZATIONS",
    "CONNECTIVITIES",
    "boxes_to_normalized",
    "boxes_to_pixels",
    "cam_boxes_for_thresholds",
    "cam_component_boxes",
    "cam_to_box",
    "check_options",
    "normalize_cam",
]

CAM_NORMALIZATIONS = vocabulary.CAM_NORMALIZATIONS
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


CONNECTIVITIES = vocabulary.CONNECTIVITIES


def check_options(cam_normalization: str, connectivity: int) -> None:
    """Raises unless `cam_normalization` and `connectivity` are known values."""
    _checks.choice(cam_normalization, "cam_normalization", CAM_NORMALIZATIONS)
    _checks.choice(connectivity, "connectivity", CONNECTIVITIES)


def normalize_cam(cam, cam_normalization: str = "max"):
    """Scales a CAM so that thresholds are fractions in [0, 1].

    Args:
      cam: `[H, W]` real values.
      cam_normalization: "max" (divide by the max) or "minmax" (rescale the
        range to [0, 1]).

    Returns:
      float64 `[H, W]`, or None when the CAM carries no localization (no
      positive value under "max", constant under "minmax").

    Raises:
      ValueError: a CAM that is not 2-D, not numeric, or not finite; an
        unknown cam_normalization.
    """
    cam = _check_cam(cam)
    _checks.choice(cam_normalization, "cam_normalization", CAM_NORMALIZATIONS)
    top = cam.max()
    if cam_normalization == "max":
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
    cam_normalization: str = "max",
    connectivity: int = 8,
) -> np.ndarray:
    """The box of the largest component of a thresholded CAM.

    >>> cam = np.zeros([6, 8]); cam[1:3, 2:5] = 1.0; cam[4, 7] = 1.0
    >>> cam_to_box(cam, 0.5).tolist()
    [1.0, 2.0, 3.0, 5.0]

    Args:
      cam: `[H, W]` CAM at image resolution, real values.
      threshold: a fraction in [0, 1] of the normalised CAM.
      cam_normalization: "max" (the paper) or "minmax" (Choe et al.).
      connectivity: 8 (default) or 4 neighbours for components.

    Returns:
      float64 `[4]` pixel box `(ymin, xmin, ymax, xmax)`, continuous
      convention (module docstring); the whole image for a CAM without
      localization.

    Raises:
      ValueError: a CAM that is not 2-D, numeric and finite; a threshold
        outside [0, 1]; an unknown cam_normalization or connectivity.
    """
    if np.ndim(threshold) != 0:
        raise ValueError(
            "Expected `threshold` to be one number (see "
            "cam_boxes_for_thresholds for a grid). Received: "
            f"threshold of shape {np.shape(threshold)}"
        )
    (value,) = _checks.thresholds(threshold)
    check_options(cam_normalization, connectivity)
    normalized = normalize_cam(cam, cam_normalization)
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
    cam_normalization: str = "max",
    connectivity: int = 8,
):
    """Boxes of a CAM at every threshold of a grid, in one pass.

    `mode="largest"` gives, at each threshold, exactly `cam_to_box(cam, t,
    cam_normalization, connectivity)` (the box MaxBoxAcc scores);
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
      cam_normalization: "max" or "minmax".
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
        cam,
        thresholds,
        cam_normalization,
        connectivity,
        every=mode != "largest",
    )
    if mode == "largest":
        return largest
    every = np.split(boxes, np.cumsum(counts)[:-1])
    return every if mode == "all" else (largest, every)


def cam_component_boxes(
    cam,
    thresholds: Sequence[float],
    cam_normalization: str = "max",
    connectivity: int = 8,
    every: bool = True,
):
    """`cam_boxes_for_thresholds` in flat arrays, for metrics.

    Args:
      cam, thresholds, cam_normalization, connectivity: as
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
    check_options(cam_normalization, connectivity)
    normalized = normalize_cam(cam, cam_normalization)
    if normalized is None:
        whole = _whole(np.shape(cam))
        counts = np.full(values.size, int(every), np.int64)
        return (
            np.tile(whole, (values.size, 1)),
            counts,
            np.tile(whole, (int(counts.sum()), 1)),
        )
    return _sweep.sweep(normalized, values, connectivity, want_all=every)


def boxes_to_normalized(boxes, height: int, width: int) -> np.ndarray:
    """Pixel boxes `[..., 4]` to normalised ones (divided by H, W, H, W)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return boxes / np.array([height, width, height, width], np.float64)


def boxes_to_pixels(boxes, height: int, width: int) -> np.ndarray:
    """Normalised boxes `[..., 4]` to pixel boxes (times H, W, H, W)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return boxes * np.array([height, width, height, width], np.float64)
