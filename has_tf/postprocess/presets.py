"""The field's post-processing recipes, each as its reference code runs it.

`detect(preset, ...)` turns one video's T-CAM into scored segments the way
the named method's released code does (`PRESETS`); `has_paper` is has_tf's
own rule (`segments.tcam_to_segments`). Each is tested equal to its
reference on fixed inputs (`tests/fixtures/wtal_presets/`, generated from
the reference code), quirks included; the quirks are named below. Steps
become seconds by `span_s / (scale x N)` per (upsampled) step, N the
T-CAM's steps and `span_s` the seconds its features cover: the
references' `16 x v_len / (scale x N x fps)` for their 16-frame features.

- `stpn`: classes p > 0.1; attention x sigmoid(CAS) upsampled x24, cut
  below 0.05; each run scored by the mean of attention x CAS; no NMS (the
  one-stream path of the reference).
- `wtalc`: every class; CAS of classes whose top-T/8 mean is positive;
  steps > max - 0.5 (max - min); score max + 0.7 x the top-T/8 mean; no
  NMS.
- `basnet`: classes p >= 0.25; min-max CAS upsampled x24; thresholds
  0:0.025:0.225; outer-inner + 0.2; hard NMS at 0.7.
- `cola`: classes p >= 0.2 (else the top one); min-max CAS and
  actionness upsampled x24; CAS thresholds 0:0.025:0.225 and actionness
  0.1:0.025:0.9; outer-inner + 0.2 p; hard NMS at 0.6.
- `co2`: classes p >= 0.2 (else the top one) of softmax(top-T/10 mean of
  attention x CAS); runs where attention > 0.1:0.9 (10); outer-inner +
  0.2 p; Gaussian soft-NMS (sigma 0.3).
- `delu`: `co2` with 20 thresholds (0.1:0.9) and, as its test, no
  detection of one step or less.
- `aicl`: classes p >= 0.25 (else the top one); the T-CAM handed over
  is AICL's combined CAS (`has_tf.models.aicl`), upsampled x24, no
  normalisation; thresholds 0.1:0.1:0.9; outer-inner on the uncut CAS
  + 0.2 p; NMS at 0.4 rescoring what it drops (`exp(-IoU^2 / 0.35)`,
  AICL's `--soft_nms`, which its train script sets).

Quirks reproduced (named so results can be read against the papers):

- `stpn`, `basnet`: a video whose only predicted class is class 0 gets no
  detection (`if pred.any()` on class indices); a class whose only step
  above threshold is step 0 gives none (`positions.any()`, also in
  `cola` and `co2`).
- `stpn`: the bellos1203 code converts steps to seconds with 10 fps
  features hard-coded; here `span_s` gives the true conversion (equal to
  it for 10 fps features).
- `wtalc`: video scores are not used: every class is localized whose
  mean of its top T/8 T-CAM values is positive; runs need >= 2 steps;
  fewer than 8 steps give no detection (the mean of nothing is NaN).
- `basnet`: the class scores are binarised before the score uses them,
  so "+ 0.2 x score" adds a constant 0.2; the outer-inner score is taken
  on the thresholded CAS.
- `basnet`, `cola`, `aicl`: NMS adds 1 (second) to every length and
  overlap.
- `aicl`: its inference passes `--gamma` (0.2) where `get_proposal_oic`
  takes lambda, so the outer margins are 0.2 x the run's length (the
  others' 0.25), and the class bonus is the default 0.2; a dropped
  detection is rescored once, by the detection that dropped it.
- `cola`: actionness runs are scored on the CAS (not on actionness);
  runs of one step are dropped. Where the reference raises IndexError (a
  class all of whose runs are one step long), this gives that class
  nothing.
- `co2`: the runs come from attention alone, the same for every class;
  soft-NMS keeps every detection, rescored.
- `wtalc`, `co2`: detections touching an Ambiguous interval are dropped
  (in steps) when `ambiguous` is given.

Inputs (one video): `cas` float `[N, C]` the T-CAM (raw class
activations), `video_scores` `[C]` class probabilities, `attention`
`[N]` (STPN / CO2-Net's attention, BaS-Net's foreground weight; ones if
the net has none), `background` `[N]` the background class's CAS (CO2-Net
softmaxes over C + 1 classes; without it over C), `actionness` `[N]`
(CoLA's; the attention if None). Rows out: `(start_s, end_s, class_index,
score)`.
"""

from __future__ import annotations

import warnings

import numpy as np

from has_tf import vocabulary
from has_tf.postprocess import segments as _segments
from has_tf.postprocess import temporal_blocks as blocks

PRESETS = vocabulary.POSTPROCESS_PRESETS

__all__ = ["PRESETS", "detect"]

_UP = 24  # STPN's, BaS-Net's and CoLA's upsampling.
# The references' threshold grids (numpy's arange / linspace, as there).
_CAS_GRID = tuple(np.arange(0.0, 0.25, 0.025))
_ACTIONNESS_GRID = tuple(np.arange(0.1, 0.925, 0.025))
_ATTENTION_GRID = tuple(np.linspace(0.1, 0.9, 10))
_AICL_GRID = tuple(np.arange(0.1, 1.0, 0.1))
_DELU_GRID = tuple(np.linspace(0.1, 0.9, 20))


def _rows_to_seconds(rows, seconds_per_step):
    return [
        (start * seconds_per_step, end * seconds_per_step, int(c), float(s))
        for c, s, start, end in rows
    ]


def _stpn(cas, scores, attention, span_s, class_threshold=0.1, scale=_UP):
    steps = cas.shape[0]
    pred = np.flatnonzero(scores > class_threshold)
    if not pred.any():
        return []
    att = attention[:, None]
    signal = att * (1.0 / (1.0 + np.exp(-cas)))
    wt = np.stack([signal[:, pred], (att * cas)[:, pred]], axis=2)
    up = blocks.upsample_linear(wt, scale)
    up[np.where(up[:, :, 0] < 0.05)] = 0
    factor = span_s / (scale * steps)
    out = []
    for i, klass in enumerate(pred):
        for run in blocks.runs_of(up[:, i, 0] > 0, skip_lone_zero=True):
            score = float(np.mean(up[run, i, 1]))
            out.append((klass, score, run[0], run[-1] + 1))
    return _rows_to_seconds(out, factor)


def _wtalc(cas, span_s, ambiguous, gamma=0.7, fraction=0.5, min_steps=2):
    steps, classes = cas.shape
    ranked = -np.sort(-cas, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Under 8 steps.
        class_score = np.mean(ranked[: int(steps / 8), :], axis=0)
    p = cas * (class_score > 0.0)
    out = []
    for klass in range(classes):
        values = p[:, klass]
        threshold = values.max() - (values.max() - values.min()) * fraction
        above = np.concatenate([[0.0], (values > threshold) * 1.0, [0.0]])
        edges = np.diff(above)
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for s, e in zip(starts, ends):
            if e - s >= min_steps:
                score = np.max(values[s:e]) + gamma * class_score[klass]
                out.append((klass, float(score), int(s), int(e)))
    if ambiguous:
        rate = steps / span_s
        out = [
            r
            for r in out
            if not blocks.overlaps_ambiguous(r[2], r[3], ambiguous, rate)
        ]
    return _rows_to_seconds(out, span_s / steps)


def _oic_runs(scored, mask, klass, bonus, lambda_, min_steps):
    """Outer-inner rows `[class, score, first, last + 1]` of mask's runs."""
    rows = []
    for run in blocks.runs_of(mask, skip_lone_zero=True):
        if len(run) < min_steps:
            continue
        score = blocks.outer_inner_score(scored, run, lambda_) + bonus
        rows.append([klass, score, run[0], run[-1] + 1])
    return rows


def _collect(proposals, rows, factor) -> None:
    """Adds one class's `[class, score, first, end]` step rows to
    `proposals[class]`, the steps scaled to seconds by `factor`."""
    if rows:
        proposals.setdefault(int(rows[0][0]), []).extend(
            [c, s, a * factor, b * factor] for c, s, a, b in rows
        )


def _merge_nms(proposals, nms):
    """Per class in first-seen order, the class's rows through `nms`."""
    return [row for rows in proposals.values() for row in nms(rows)]


def _basnet(
    cas,
    scores,
    span_s,
    class_threshold=0.25,
    thresholds=_CAS_GRID,
    scale=_UP,
    gamma=0.2,
    lambda_=0.25,
    nms_iou=0.7,
):
    steps = cas.shape[0]
    binary = np.where(scores >= class_threshold, 1.0, 0.0)
    pred = np.flatnonzero(binary > class_threshold)
    if not pred.any():
        return []
    up = blocks.upsample_linear(blocks.minmax_normalize(cas)[:, pred], scale)
    factor = span_s / (scale * steps)
    proposals = {}
    for threshold in thresholds:
        cut = up.copy()
        cut[cut < threshold] = 0
        for i, klass in enumerate(pred):
            rows = _oic_runs(
                cut[:, i],
                cut[:, i] > 0,
                klass,
                gamma * binary[klass],
                lambda_,
                1,
            )
            _collect(proposals, rows, factor)
    kept = _merge_nms(
        proposals, lambda rows: blocks.hard_nms_plus_one(rows, nms_iou)
    )
    return [(a, b, int(c), float(s)) for c, s, a, b in kept]


def _cola(
    cas,
    actionness,
    scores,
    span_s,
    class_threshold=0.2,
    cas_thresholds=_CAS_GRID,
    actionness_thresholds=_ACTIONNESS_GRID,
    scale=_UP,
    gamma=0.2,
    lambda_=0.25,
    nms_iou=0.6,
):
    steps = cas.shape[0]
    pred = np.flatnonzero(scores >= class_threshold)
    if len(pred) == 0:
        pred = np.array([int(np.argmax(scores))])
    cas_up = blocks.upsample_linear(
        blocks.minmax_normalize(cas, clip=True)[:, pred], scale
    )
    aness = blocks.minmax_normalize(actionness, clip=True)
    aness_up = blocks.upsample_linear(
        np.repeat(aness[:, None], len(pred), axis=1), scale
    )
    factor = span_s / (scale * steps)
    proposals = {}

    def add(rows):
        _collect(proposals, rows, factor)

    for threshold in cas_thresholds:
        cut = cas_up.copy()
        cut[cut < threshold] = 0
        for i, klass in enumerate(pred):
            bonus = gamma * scores[klass]
            add(_oic_runs(cut[:, i], cut[:, i] > 0, klass, bonus, lambda_, 2))
    for threshold in actionness_thresholds:
        cut = aness_up.copy()
        cut[cut < threshold] = 0
        for i, klass in enumerate(pred):
            bonus = gamma * scores[klass]
            add(
                _oic_runs(cas_up[:, i], cut[:, i] > 0, klass, bonus, lambda_, 2)
            )
    kept = _merge_nms(
        proposals, lambda rows: blocks.hard_nms_plus_one(rows, nms_iou)
    )
    return [(a, b, int(c), float(s)) for c, s, a, b in kept]


def _aicl(
    tcam,
    scores,
    span_s,
    class_threshold=0.25,
    thresholds=_AICL_GRID,
    scale=_UP,
    gamma=0.2,
    lambda_=0.2,
    nms_iou=0.4,
    soft_alpha=0.35,
):
    steps = tcam.shape[0]
    pred = np.flatnonzero(scores >= class_threshold)
    if len(pred) == 0:
        pred = np.array([int(np.argmax(scores))])
    up = blocks.upsample_linear(tcam[:, pred], scale)
    factor = span_s / (scale * steps)
    proposals = {}
    for threshold in thresholds:
        for i, klass in enumerate(pred):
            rows = _oic_runs(
                up[:, i],
                up[:, i] >= threshold,
                klass,
                gamma * scores[klass],
                lambda_,
                1,
            )
            _collect(proposals, rows, factor)
    kept = _merge_nms(
        proposals,
        lambda rows: blocks.hard_nms_plus_one(rows, nms_iou, soft_alpha),
    )
    return [(a, b, int(c), float(s)) for c, s, a, b in kept]


def _co2(
    cas,
    attention,
    background,
    span_s,
    ambiguous,
    class_threshold=0.2,
    thresholds=_ATTENTION_GRID,
    gamma=0.2,
    lambda_=0.25,
    sigma=0.3,
    topk_ratio=10,
    longer_than=None,
):
    steps, classes = cas.shape
    full = (
        cas
        if background is None
        else np.concatenate([cas, background[:, None]], 1)
    )
    logits = full * attention[:, None]
    k = max(1, steps // topk_ratio)
    top = np.mean(-np.sort(-logits, axis=0)[:k], axis=0)
    exp = np.exp(top - top.max())
    video = (exp / exp.sum())[:classes]
    pred = np.flatnonzero(video >= class_threshold)
    if len(pred) == 0:
        pred = np.array([int(np.argmax(video))])
    signal = logits[:, :classes][:, pred]
    proposals = {}
    for threshold in thresholds:
        mask = attention > threshold
        for i, klass in enumerate(pred):
            rows = _oic_runs(
                signal[:, i], mask, klass, gamma * video[klass], lambda_, 1
            )
            if rows:
                proposals.setdefault(int(klass), []).extend(rows)
    kept = _merge_nms(
        proposals, lambda rows: blocks.soft_nms_gaussian(rows, sigma)
    )
    if ambiguous:
        rate = steps / span_s
        kept = [
            r
            for r in kept
            if not blocks.overlaps_ambiguous(r[2], r[3], ambiguous, rate)
        ]
    if longer_than is not None:  # DELU's test: t-end - t-start > 1 step.
        kept = [r for r in kept if r[3] - r[2] > longer_than]
    return _rows_to_seconds(kept, span_s / steps)


def detect(
    preset: str,
    cas,
    video_scores,
    span_s: float,
    attention=None,
    background=None,
    actionness=None,
    ambiguous=(),
    **has_paper_options,
) -> list:
    """One video's detections under `preset` (see the module docstring).

    Args:
      preset: one of `PRESETS`.
      cas: float `[N, C]` T-CAM, finite, N >= 2.
      video_scores: `[C]` class probabilities.
      span_s: seconds the T-CAM's features cover (> 0).
      attention, background, actionness: `[N]` or None.
      ambiguous: `(start_s, end_s)` intervals (W-TALC, CO2-Net drop
        detections touching them).
      **has_paper_options: `tcam_to_segments`'s options for "has_paper".

    Returns:
      Rows `(start_s, end_s, class_index, score)` in the preset's order.

    Raises:
      ValueError: an unknown preset, bad shapes, no step, NaN or infinite
        values, or a non-positive span.
    """
    if preset not in PRESETS:
        raise ValueError(
            f"Expected a post-processing preset in {PRESETS}. Received: "
            f"preset={preset!r}"
        )
    cas, video_scores = _segments.check_tcam(
        cas, video_scores, span_s, ("cas", "video_scores", "span_s")
    )
    steps = cas.shape[0]
    for name, value in (
        ("attention", attention),
        ("background", background),
        ("actionness", actionness),
    ):
        if value is not None and np.shape(value) != (steps,):
            raise ValueError(
                f"Expected {name} [{steps}]. Received: shape {np.shape(value)}"
            )
        if value is not None and not np.all(np.isfinite(value)):
            raise ValueError(f"Expected a finite {name}.")

    if preset == "has_paper":
        return _segments.tcam_to_segments(
            cas, video_scores, span_s, **has_paper_options
        )
    ones = np.ones(steps)
    attention = ones if attention is None else np.asarray(attention, float)
    if preset == "stpn":
        return _stpn(cas, video_scores, attention, span_s)
    if preset == "wtalc":
        return _wtalc(cas, span_s, list(ambiguous))
    if preset == "basnet":
        return _basnet(cas, video_scores, span_s)
    if preset == "cola":
        aness = attention if actionness is None else np.asarray(actionness)
        return _cola(cas, aness, video_scores, span_s)
    if preset == "aicl":
        return _aicl(cas, video_scores, span_s)
    background = None if background is None else np.asarray(background)
    if preset == "delu":
        return _co2(
            cas,
            attention,
            background,
            span_s,
            list(ambiguous),
            thresholds=_DELU_GRID,
            longer_than=1,
        )
    return _co2(cas, attention, background, span_s, list(ambiguous))
