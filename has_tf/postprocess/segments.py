"""From temporal CAMs to scored action segments (NumPy only).

The paper: for a class, keep the steps whose T-CAM is at least 0.5 of its
maximum; every contiguous run is one detection. It is silent on which
classes are localized and how a detection is scored; the choices here are
options:

- classes: those whose video-level score reaches `class_threshold`; if
  none does, the top-1 class (a video is assumed to hold some action);
- score "mean": the mean T-CAM inside the run (raw, comparable across
  videos); "outer_inner": that mean minus the mean over the steps just
  outside it (a margin of a quarter of its length on each side), which
  favours runs that stand out from their surroundings;
- optional per-class non-maximum suppression at a temporal IoU.

Step t of a T-step T-CAM covers seconds [t, t + 1) * span / T, so a
run of steps [i, j) becomes the segment (i, j) * span / T, where span is
the time the features cover (T_features / feature rate); `to_video_time`
then adds the features' time offset and clips to the video.
"""

from __future__ import annotations

import numpy as np

from has_tf import vocabulary

SCORES = vocabulary.SEGMENT_SCORES

__all__ = [
    "SCORES",
    "check_tcam",
    "nms_1d",
    "runs_above",
    "segment_iou",
    "tcam_to_segments",
    "to_video_time",
]


def segment_iou(a, b) -> np.ndarray:
    """Temporal IoU between intervals: `[N, 2]` x `[M, 2]` -> `[N, M]`.

    Intervals are `(start, end)` in seconds; a zero-length union gives 0.
    """
    a = np.asarray(a, np.float64).reshape(-1, 2)
    b = np.asarray(b, np.float64).reshape(-1, 2)
    inter = np.clip(
        np.minimum(a[:, None, 1], b[None, :, 1])
        - np.maximum(a[:, None, 0], b[None, :, 0]),
        0,
        None,
    )
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def runs_above(values, threshold: float) -> list:
    """Half-open `(start, end)` step ranges where `values >= threshold`."""
    above = np.concatenate([[False], np.asarray(values) >= threshold, [False]])
    edges = np.flatnonzero(above[1:] != above[:-1])
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def nms_1d(segments, iou: float) -> list:
    """Greedy NMS of `(start, end, score)` rows at temporal IoU `iou`."""
    order = sorted(range(len(segments)), key=lambda i: -segments[i][2])
    kept = []
    for i in order:
        if all(
            segment_iou([segments[i][:2]], [segments[k][:2]])[0, 0] <= iou
            for k in kept
        ):
            kept.append(i)
    return [segments[i] for i in kept]


def _score(tcam, start, end, how):
    inner = float(np.mean(tcam[start:end]))
    if how == "mean":
        return inner
    margin = max(1, (end - start) // 4)
    outer = np.concatenate(
        [tcam[max(0, start - margin) : start], tcam[end : end + margin]]
    )
    return inner - (float(np.mean(outer)) if outer.size else 0.0)


def check_tcam(
    tcam, scores, seconds, names=("tcam", "class_scores", "duration_s")
):
    """`(tcam, scores)` as float64 after checking them for one video.

    Raises:
      ValueError: `tcam` not `[T, N]` with T >= 1, `scores` not `[N]`, a
        non-finite T-CAM or scores, or `seconds` not positive (named by
        `names`).
    """
    tcam_name, scores_name, seconds_name = names
    tcam = np.asarray(tcam, np.float64)
    scores = np.asarray(scores, np.float64)
    if tcam.ndim != 2 or scores.shape != (tcam.shape[1],):
        raise ValueError(
            f"Expected {tcam_name} [T, N] and {scores_name} [N]. Received: "
            f"{tcam_name} {tcam.shape}, {scores_name} {scores.shape}"
        )
    if tcam.shape[0] < 1:
        raise ValueError(
            f"Expected {tcam_name} of at least one step. Received: "
            f"{tcam_name} {tcam.shape}"
        )
    if not np.all(np.isfinite(tcam)):
        raise ValueError(f"Expected a finite {tcam_name}.")
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            f"Expected finite {scores_name}. Received: {scores.tolist()[:8]}"
        )
    if not seconds > 0:
        raise ValueError(f"Expected {seconds_name} > 0. Received: {seconds}")
    return tcam, scores


def tcam_to_segments(
    tcam,
    class_scores,
    duration_s: float,
    class_threshold: float = 0.1,
    cam_threshold: float = 0.5,
    score: str = "mean",
    nms_iou: float | None = None,
) -> list:
    """Detections of one video.

    Args:
      tcam: `[T, N]` T-CAM, finite.
      class_scores: `[N]` video-level class scores (probabilities).
      duration_s: the video's length in seconds, > 0.
      class_threshold: classes scoring at least this are localized.
      cam_threshold: a step is kept where the class's T-CAM is at least
        this fraction of its maximum (0.5 in the paper); a class whose
        maximum is not positive gives no detection.
      score: one of `SCORES`.
      nms_iou: per-class NMS at this temporal IoU; None: none.

    Returns:
      Rows `(start_s, end_s, class_index, score)`.

    Raises:
      ValueError: bad shapes, thresholds or score name.
    """
    tcam, class_scores = check_tcam(tcam, class_scores, duration_s)
    if not 0.0 <= cam_threshold <= 1.0:
        raise ValueError(
            f"Expected cam_threshold in [0, 1]. Received: {cam_threshold}"
        )
    if score not in SCORES:
        raise ValueError(
            f"Expected score in {SCORES}. Received: score={score!r}"
        )
    classes = np.flatnonzero(class_scores >= class_threshold)
    if classes.size == 0:
        classes = [int(np.argmax(class_scores))]
    seconds_per_step = duration_s / tcam.shape[0]
    rows = []
    for klass in classes:
        values = tcam[:, klass]
        peak = values.max()
        if peak <= 0:
            continue
        found = [
            (start, end, _score(values, start, end, score))
            for start, end in runs_above(values, cam_threshold * peak)
        ]
        if nms_iou is not None:
            found = nms_1d(found, nms_iou)
        rows += [
            (
                start * seconds_per_step,
                end * seconds_per_step,
                int(klass),
                value,
            )
            for start, end, value in found
        ]
    return rows


def to_video_time(row, offset_s: float, duration_s: float) -> tuple:
    """A `(start_s, end_s, class_index, score)` row shifted by the features'
    time offset and clipped to `[0, duration_s]` (the video)."""
    start, end, klass, score = row
    start = min(max(start + offset_s, 0.0), duration_s)
    end = min(max(end + offset_s, 0.0), duration_s)
    return start, end, klass, score
