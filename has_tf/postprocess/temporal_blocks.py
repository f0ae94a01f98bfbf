"""The building blocks of the field's T-CAM post-processing (NumPy/SciPy).

Weakly-supervised temporal action localization since STPN turns a class
activation sequence (CAS, a T-CAM) into scored segments with a handful of
steps, each method its own mix (`presets` assembles them):

- `minmax_normalize`: per class over time, BaS-Net's and CoLA's rule;
- `upsample_linear`: linear interpolation to `scale` x the steps, the last
  steps extrapolated (scipy's `interp1d(..., fill_value="extrapolate")` at
  `arange(0, T, 1 / scale)`), STPN's, BaS-Net's and CoLA's x24;
- `runs_of`: the contiguous runs of a boolean mask (the references'
  `grouping` of `np.where(mask)`), optionally with their quirk of
  ignoring a mask whose only true step is step 0 (`if positions.any()`);
- `outer_inner_score`: the mean inside a run minus the mean of a margin of
  `lambda_` x its length on each side (AutoLoc's outer-inner contrast, as
  BaS-Net writes it), to which the presets add gamma x the class score;
- `hard_nms_plus_one`, `soft_nms_gaussian`: the NMS of BaS-Net / CoLA
  (AICL's rescoring what it drops) and of CO2-Net, both with the "+1"
  of image-box NMS in their lengths and intersections (in seconds for
  BaS-Net and CoLA, in steps for CO2-Net);
- `overlaps_ambiguous`: W-TALC's and CO2-Net's filter of detections that
  touch an Ambiguous interval, on integer step ranges.

Runs are index arrays (ints, ascending); detections are rows `[class,
score, start, end]` as the references keep them.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "hard_nms_plus_one",
    "minmax_normalize",
    "outer_inner_score",
    "overlaps_ambiguous",
    "runs_of",
    "soft_nms_gaussian",
    "upsample_linear",
]


def minmax_normalize(values, clip: bool = False) -> np.ndarray:
    """Normalises each column of `[T, C]` (or a `[T]` vector) over time.

    `(x - relu(min)) / (relu(max) - relu(min))`, a non-positive range
    replaced by 1 (BaS-Net's `minmax_norm`); `clip` then clips to [0, 1]
    (CoLA's). A column of negative values is left negative, as there.
    """
    values = np.asarray(values, np.float64)
    high = np.maximum(values.max(axis=0), 0.0)
    low = np.maximum(values.min(axis=0), 0.0)
    delta = high - low
    delta = np.where(delta <= 0, 1.0, delta)
    out = (values - low) / delta
    return np.clip(out, 0.0, 1.0) if clip else out


def upsample_linear(values, scale: float) -> np.ndarray:
    """`[T, ...]` -> `[len(arange(0, T, 1 / scale)), ...]`, linear.

    The new steps are `arange(0, T, 1 / scale)`: between two old steps the
    line through them, past step T - 1 the last segment's line continued
    (scipy's `interp1d(kind="linear", fill_value="extrapolate")`, computed
    the same way: slope x (x - x_lo) + y_lo).

    Raises:
      ValueError: fewer than two steps (the reference cannot interpolate
        one either), or `scale` not positive.
    """
    values = np.asarray(values, np.float64)
    if values.shape[0] < 2:
        raise ValueError(
            "Expected at least 2 steps to interpolate. Received: "
            f"values.shape={values.shape}"
        )
    if not scale > 0:
        raise ValueError(f"Expected scale > 0. Received: scale={scale!r}")
    steps = values.shape[0]
    x = np.arange(steps)
    new = np.arange(0, steps, 1 / scale)
    hi = np.clip(np.searchsorted(x, new), 1, steps - 1)
    lo = hi - 1
    shape = (-1,) + (1,) * (values.ndim - 1)
    slope = (values[hi] - values[lo]) / (x[hi] - x[lo]).reshape(shape)
    return slope * (new - x[lo]).reshape(shape) + values[lo]


def runs_of(mask, skip_lone_zero: bool = False) -> list:
    """The contiguous runs of true steps of a `[T]` mask, as index arrays.

    `skip_lone_zero`: the references test `np.where(mask)[0].any()`, which
    is false when step 0 is the only true step; then no run is returned.
    """
    positions = np.flatnonzero(np.asarray(mask))
    if positions.size == 0 or (skip_lone_zero and not positions.any()):
        return []
    return np.split(positions, np.flatnonzero(np.diff(positions) != 1) + 1)


def outer_inner_score(values, run, lambda_: float = 0.25) -> float:
    """Mean of `values[run]` minus the mean of its outer margins.

    The margins are `[max(0, int(first - lambda_ n)), first)` and
    `(last, min(T - 1, int(last + lambda_ n))]` for a run of n steps
    (`int` truncates, as in the references); no margin steps: outer 0.
    """
    values = np.asarray(values, np.float64)
    first, last, n = int(run[0]), int(run[-1]), len(run)
    inner = float(np.mean(values[run]))
    start = max(0, int(first - lambda_ * n))
    end = min(len(values) - 1, int(last + lambda_ * n))
    outer = list(range(start, first)) + list(range(last + 1, end + 1))
    return inner - (float(np.mean(values[outer])) if outer else 0.0)


def hard_nms_plus_one(rows, iou: float, soft_alpha: float | None = None):
    """BaS-Net's and CoLA's NMS of `[class, score, start, end]` rows.

    Greedy by score (`argsort()[::-1]`); a row is dropped when its IoU
    with a kept one is >= `iou`, lengths and intersections counted with
    "+1" (`end - start + 1`): a quirk of image-box NMS that, in seconds,
    treats every segment as a second longer than it is.

    `soft_alpha` (AICL's `basnet_nms(..., soft_nms=True)`): a dropped row
    is not lost but rescored once, `score x exp(-IoU^2 / soft_alpha)` with
    the row that dropped it, and listed after all the kept rows, in the
    order they were dropped. Returns a list of rows.
    """
    rows = np.asarray(rows, np.float64)
    if rows.size == 0:
        return []
    x1, x2, scores = rows[:, 2], rows[:, 3], rows[:, 1]
    areas = x2 - x1 + 1
    order = scores.argsort()[::-1]
    keep, dropped = [], []
    while order.size > 0:
        i = order[0]
        keep.append(rows[i].tolist())
        xx1 = np.maximum(x1[i], x1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + 1)
        overlap = inter / (areas[i] + areas[order[1:]] - inter)
        if soft_alpha is not None:
            hit = np.flatnonzero(overlap >= iou)
            decayed = rows[order[hit + 1]].copy()
            decayed[:, 1] *= np.exp(-np.square(overlap[hit]) / soft_alpha)
            dropped.extend(decayed.tolist())
        order = order[np.flatnonzero(overlap < iou) + 1]
    return keep + dropped


def soft_nms_gaussian(rows, sigma: float = 0.3) -> list:
    """CO2-Net's Gaussian soft-NMS of `[class, score, start, end]` rows.

    Repeatedly keeps the top-scoring row and multiplies every other
    row's score by `exp(-iou^2 / sigma)`, IoU with "+1" lengths; every
    row is kept, rescored, in the order they were picked.
    """
    rows = np.asarray(rows, np.float64)
    if rows.size == 0:
        return []
    areas = rows[:, 3] - rows[:, 2] + 1
    dets = np.concatenate([rows, areas[:, None]], axis=1)
    kept = []
    while dets.size > 0:
        top = int(np.argmax(dets[:, 1], axis=0))
        dets[[0, top], :] = dets[[top, 0], :]
        kept.append(dets[0, :-1].tolist())
        xx1 = np.maximum(dets[0, 2], dets[1:, 2])
        xx2 = np.minimum(dets[0, 3], dets[1:, 3])
        inter = np.maximum(xx2 - xx1 + 1, 0.0)
        overlap = inter / (dets[0, -1] + dets[1:, -1] - inter)
        dets[1:, 1] *= np.exp(-(overlap * overlap) / sigma)
        dets = dets[1:, :]
    return kept


def overlaps_ambiguous(start, end, ambiguous, steps_per_second) -> bool:
    """Whether steps `[int(start), int(end))` share a step with an
    Ambiguous interval `(start_s, end_s)`, taken as steps
    `[round(start_s x rate), round(end_s x rate))` (W-TALC, CO2-Net:
    Python's round, ties to even)."""
    mine = set(range(int(start), int(end)))
    for a_start, a_end in ambiguous:
        theirs = range(
            int(round(float(a_start) * steps_per_second)),
            int(round(float(a_end) * steps_per_second)),
        )
        if mine.intersection(theirs):
            return True
    return False
