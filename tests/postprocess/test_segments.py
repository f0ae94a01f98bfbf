"""T-CAM to segments; resampling-to-seconds; NMS."""

import numpy as np
import pytest

from has_tf.postprocess import segments as tp


def test_runs_above():
    assert tp.runs_above([0, 1, 1, 0, 1], 1) == [(1, 3), (4, 5)]
    assert tp.runs_above([0, 0], 1) == []


def test_segments_in_seconds_and_scores():
    tcam = np.zeros((10, 2))
    tcam[2:5, 0] = [1.0, 2.0, 1.0]  # kept where >= 1.0 (0.5 of 2)
    tcam[7, 0] = 0.9  # below half the peak
    tcam[:, 1] = -1.0  # never positive: no detection
    rows = tp.tcam_to_segments(tcam, [0.9, 0.5], duration_s=20.0)
    assert rows == [(4.0, 10.0, 0, pytest.approx(4 / 3))]
    rows = tp.tcam_to_segments(tcam, [0.9, 0.5], 20.0, score="outer_inner")
    # Margin max(1, 3 // 4) = 1 step each side: steps 1 and 5, both 0.
    assert rows[0][3] == pytest.approx(4 / 3)


def test_class_threshold_falls_back_to_top1():
    tcam = np.ones((4, 3))
    rows = tp.tcam_to_segments(
        tcam, [0.01, 0.05, 0.02], 4.0, class_threshold=0.5
    )
    assert [row[2] for row in rows] == [1]


def test_nms():
    kept = tp.nms_1d([(0, 10, 0.5), (1, 10, 0.9), (20, 30, 0.1)], 0.5)
    assert kept == [(1, 10, 0.9), (20, 30, 0.1)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tcam=np.zeros((4,))), r"tcam \[T, N\]"),
        (dict(duration_s=0.0), "duration_s > 0"),
        (dict(cam_threshold=2.0), "cam_threshold"),
        (dict(score="max"), "score='max'"),
    ],
)
def test_bad_input(kwargs, match):
    args = dict(tcam=np.zeros((4, 2)), class_scores=[0.5, 0.5], duration_s=4.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        tp.tcam_to_segments(**args)


def test_to_video_time_shifts_by_the_offset_and_clips_to_the_video():
    start, end, klass, score = tp.to_video_time((1.0, 2.0, 3, 0.5), 0.2, 10.0)
    assert (start, end, klass, score) == pytest.approx((1.2, 2.2, 3, 0.5))
    start, end, _, _ = tp.to_video_time((9.5, 10.4, 0, 1.0), 0.2, 10.0)
    assert (start, end) == pytest.approx((9.7, 10.0))
