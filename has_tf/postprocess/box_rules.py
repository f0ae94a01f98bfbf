"""How each method's own code turns a map into the paper protocol's box
(NumPy/SciPy only, no OpenCV, no TensorFlow).

The paper protocol's figures (Top-1 / Top-5 / GT-known Loc at one CAM
threshold) move with details the papers do not print: how the map is
resized and normalised, which pixels a threshold keeps, which component
wins, and how boxes are compared. A `BoxRule` is one such set of
details; `has_tf.evaluate --box_rule` picks one (by default the run's
method's own, `Method.box_rule`), and the figures then read as that
method's tables print them:

- "paper": the CAM upsampled to the evaluation frame (bilinear, in the
  model), `cam >= threshold * max`, the largest 8-connected component by
  pixel count (`postprocess.boxes.cam_to_box`), continuous boxes and IoU,
  a match at IoU >= 0.5. The paper's and has_tf's rule.
- "cams_deit": TS-CAM's and SCM's `lib/cams_deit.py` (vasgaowei/TS-CAM
  25aece4, hbai98/SCM be5bdfa, the same functions): the CAM at the
  model's size resized to the frame with OpenCV's bilinear rule
  (`resize_cam_bilinear`), min-max normalised, quantized to 8 bits,
  the pixels above `int(threshold * 255)` kept (`THRESH_TOZERO`), the
  OpenCV contour of largest area (`wsolevaluation.largest_contour_boxes`),
  its `boundingRect` read as corners `(x, y, x + w, y + h)` without
  clipping; no contour gives `[0, 0, 1, 1]`. Ground truth as integer
  corners clipped to the frame's last pixel, the inclusive IoU (every
  extent + 1); Top-1 / Top-5 Loc need IoU > 0.5 (strictly: its
  `cls_loc_err`), GT-known Loc IoU >= 0.5.
- "sat_evaluator": SAT's `evaluator.py` (wpy1999/SAT 702290d): the map at the
  model's size min-max normalised with `+ 1e-5` in the denominator
  (`normalize_map`), resized bilinearly, the pixels strictly above the
  threshold kept, the 8-connected component with the most pixels (the
  first in raster order on a tie: `count_max`), its bounding box; no
  pixel gives the whole frame. Integer ground truth and the inclusive
  IoU as TS-CAM; every figure needs IoU >= 0.5.

Box convention of the integer rules: corners `(y0, x0, y1, x1)` in frame
pixels, int64, compared with `wsolevaluation.inclusive_box_iou` (the
methods' own code orders them x first; the IoU is the same).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from has_tf import _checks
from has_tf import vocabulary
from has_tf.postprocess import boxes as postprocess_boxes
from has_tf.postprocess import wsolevaluation

__all__ = [
    "BOX_RULES",
    "BoxRule",
    "check_crop",
    "get",
    "gt_corners",
    "resize_cam_bilinear",
    "sat_box",
    "tscam_box",
]

BOX_RULES = vocabulary.BOX_RULES


@functools.lru_cache(maxsize=64)
def _linear_taps(source: int, target: int):
    """OpenCV INTER_LINEAR's taps along one axis: `(first, second,
    weight of first, weight of second)`, int64 and float32 `[target]`.

    Half-pixel centres, `fx = (d + 0.5) * source / target - 0.5` rounded to
    float32, both taps on the border pixel outside the map (`resize.cpp`:
    `sx < 0` and `sx >= source - 1` take weight (1, 0)).
    """
    position = ((np.arange(target) + 0.5) * (source / target) - 0.5).astype(
        np.float32
    )
    first = np.floor(position).astype(np.int64)
    fraction = position - first.astype(np.float32)
    outside = (first < 0) | (first >= source - 1)
    fraction[outside] = 0.0
    first = np.clip(first, 0, source - 1)
    second = np.minimum(first + 1, source - 1)
    taps = (first, second, np.float32(1.0) - fraction, fraction)
    for tap in taps:
        tap.flags.writeable = False  # cached: shared by every call
    return taps


def resize_cam_bilinear(cam, size) -> np.ndarray:
    """`cv2.resize(cam, (W, H))` (INTER_LINEAR) of a float32 map.

    Rows are interpolated first, then columns, each as OpenCV's float path
    does (`HResizeLinear`, `VResizeLinear`: two products and a sum in
    float32).

    Args:
      cam: `[h, w]` real values (computed in float32).
      size: `(H, W)` of the output.

    Returns:
      float32 `[H, W]`; a copy of the map when the size is its own.
    """
    cam = _raw_cam(cam)
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f"Expected a positive `size`. Received: size={size}")
    if cam.shape == (height, width):
        return cam.copy()
    x0, x1, a0, a1 = _linear_taps(cam.shape[1], width)
    rows = cam[:, x0] * a0 + cam[:, x1] * a1
    y0, y1, b0, b1 = _linear_taps(cam.shape[0], height)
    return rows[y0] * b0[:, None] + rows[y1] * b1[:, None]


def _raw_cam(cam) -> np.ndarray:
    """A 2-D, real, finite map (`boxes.cam_to_box`'s checks), in float32
    as the references' maps are."""
    return postprocess_boxes._check_cam(cam).astype(np.float32)


def _side(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ValueError(f"Expected an int `size`. Received: size={size!r}")
    if size < 2:
        raise ValueError(f"Expected `size` >= 2. Received: size={size}")
    return int(size)


def _threshold(threshold) -> float:
    if np.ndim(threshold) != 0:
        raise ValueError(
            "Expected `threshold` to be one number. Received: threshold of "
            f"shape {np.shape(threshold)}"
        )
    (value,) = _checks.thresholds(threshold)
    return float(value)


def tscam_box(cam, threshold: float, size: int) -> np.ndarray:
    """TS-CAM's and SCM's box (`resize_cam`, then `get_bboxes`).

    Args:
      cam: `[h, w]` one class's map at the model's size (e.g. 14 x 14),
        any real values.
      threshold: the CAM threshold (`--cam_threshold`), in [0, 1].
      size: the frame's side S (the crop, 224).

    Returns:
      int64 `[4]` corners `(y0, x0, y1, x1)`: `boundingRect`'s `(y, x,
      y + h, x + w)`, not clipped (an end may be S); `[0, 0, 1, 1]`
      without a contour (a constant map too, whose normalisation the
      reference divides by zero).
    """
    cam, value, side = _raw_cam(cam), _threshold(threshold), _side(size)
    resized = resize_cam_bilinear(cam, (side, side))
    low, high = resized.min(), resized.max()
    if not high > low:
        return np.array([0, 0, 1, 1], np.int64)
    scaled = (resized - low) / (high - low)
    quantized = (scaled * np.float32(255.0)).astype(np.uint8)
    (box,) = wsolevaluation.largest_contour_boxes(quantized, [value])
    if np.isnan(box[0]):
        return np.array([0, 0, 1, 1], np.int64)
    return box.astype(np.int64)


_EIGHT = np.ones((3, 3), bool)


def sat_box(cam, threshold: float, size: int) -> np.ndarray:
    """SAT's box (`normalize_map`, then `val_loc_one_epoch`'s loop body).

    Args:
      cam: `[h, w]` the map at the model's size, any real values.
      threshold: in [0, 1]; pixels strictly above it (compared in
        float32, as the reference's float32 map is) are kept.
      size: the frame's side S (the crop, 224).

    Returns:
      int64 `[4]` corners `(y0, x0, y1, x1)`, ends exclusive as
      `regionprops`' bbox; `[0, 0, S, S]` when no pixel is kept.
    """
    cam, value, side = _raw_cam(cam), _threshold(threshold), _side(size)
    low, high = cam.min(), cam.max()
    normalized = (cam - low) / (high - low + np.float32(1e-5))
    resized = resize_cam_bilinear(normalized, (side, side))
    labels, count = ndimage.label(resized > np.float32(value), _EIGHT)
    if count == 0:
        return np.array([0, 0, side, side], np.int64)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    best = int(np.argmax(sizes)) + 1  # The first on a tie: raster order.
    rows, cols = ndimage.find_objects(labels, max_label=best)[best - 1]
    return np.array([rows.start, cols.start, rows.stop, cols.stop], np.int64)


def gt_corners(boxes, size: int) -> np.ndarray:
    """Ground-truth pixel boxes as the methods' datasets write them.

    `int(max(v, 0))` for the first corner, `int(min(v, S - 1))` for the
    second (TS-CAM's `lib/datasets/cub.py`, SAT's `load_test_bbox`), from
    boxes already in the frame's pixels.

    Args:
      boxes: float `[M, 4]` continuous pixel boxes `(ymin, xmin, ymax,
        xmax)` in the S x S frame.
      size: S.

    Returns:
      int64 `[M, 4]` corners `(y0, x0, y1, x1)`.
    """
    side = _side(size)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    first = np.maximum(boxes[:, :2], 0.0)
    second = np.minimum(boxes[:, 2:], side - 1.0)
    return np.concatenate([first, second], axis=1).astype(np.int64)


def _paper_box(cam, threshold: float, size: int) -> np.ndarray:
    del size  # The CAM is at the frame already.
    return postprocess_boxes.cam_to_box(cam, threshold)


@dataclasses.dataclass(frozen=True)
class BoxRule:
    """One method's rule from a map to the paper protocol's box.

    Attributes:
      name: its name in `vocabulary.BOX_RULES` (`--box_rule`).
      summary: one line for the metrics' record.
      box: `(cam, threshold, size) -> [4]` the box of one map.
      cam_at_model_size: `box` takes the map at the model's size and
        resizes it itself; else the map upsampled to the S x S frame.
      integer: boxes are integer corners scored with the inclusive IoU,
        ground truth through `gt_corners`; else continuous pixel boxes.
      strict_top_k: Top-1 / Top-5 Loc need IoU > 0.5, not >= 0.5.
    """

    name: str
    summary: str
    box: Callable[..., np.ndarray]
    cam_at_model_size: bool
    integer: bool
    strict_top_k: bool = False


_RULES = {
    rule.name: rule
    for rule in (
        BoxRule(
            "paper",
            "the CAM at the frame, >= threshold x max, the largest "
            "component's box, IoU >= 0.5",
            _paper_box,
            cam_at_model_size=False,
            integer=False,
        ),
        BoxRule(
            "cams_deit",
            "TS-CAM's lib/cams_deit.py: OpenCV bilinear resize, min-max, "
            "8 bits, the largest contour's boundingRect, inclusive IoU; "
            "Top-k Loc IoU > 0.5, GT-known >= 0.5",
            tscam_box,
            cam_at_model_size=True,
            integer=True,
            strict_top_k=True,
        ),
        BoxRule(
            "sat_evaluator",
            "SAT's evaluator.py: min-max (+1e-5), bilinear resize, > "
            "threshold, the component with most pixels, inclusive IoU >= 0.5",
            sat_box,
            cam_at_model_size=True,
            integer=True,
        ),
    )
}
assert tuple(_RULES) == BOX_RULES


def get(name: str) -> BoxRule:
    """The rule called `name` (one of `BOX_RULES`).

    Raises:
      ValueError: naming `box_rule` and the value.
    """
    _checks.choice(name, "box_rule", BOX_RULES)
    return _RULES[name]


def check_crop(name: str, eval_crop: str) -> None:
    """Raises unless rule `name` can score CAMs of `eval_crop`: the rules
    that read each CAM at the model's size cannot score ten crops, whose
    CAMs exist merged only.

    Raises:
      ValueError: naming --box_rule, the rule and the crop.
    """
    if get(name).cam_at_model_size and eval_crop == "ten_crop":
        raise ValueError(
            f"--box_rule: the {name} rule reads each CAM at the model's "
            "size; ten crops give merged CAMs only: use "
            "--eval_crop=center_crop or resize, or --box_rule=paper. "
            f"Received: --box_rule={name} with --eval_crop={eval_crop}"
        )
