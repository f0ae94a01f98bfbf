"""Both temporal mAP protocols on hand-computed fixtures."""

import numpy as np
import pytest

from has_tf.metrics import segments as tm


def _map(dets, gts, theta, protocol, ambiguous=None):
    result = tm.temporal_map(dets, gts, [theta], protocol, ambiguous)
    return result["map"][theta], result


def test_segment_iou():
    iou = tm.segment_iou([[0, 10], [5, 5]], [[5, 15], [20, 30], [5, 5]])
    np.testing.assert_allclose(iou, [[1 / 3, 0, 0], [0, 0, 0]])


def test_duplicates_are_false_positives():
    gts = [("a", 0, 10, 0), ("b", 5, 15, 0)]
    dets = [("a", 0, 10, 0, 0.9), ("a", 0, 10, 0, 0.8), ("b", 5, 15, 0, 0.7)]
    # Ranked hits T F T over 2 positives: precision 1, .5, 2/3 at recall
    # .5, .5, 1. 11-point: six recall points at 1, five at 2/3.
    value, _ = _map(dets, gts, 0.5, "thumos14")
    assert value == pytest.approx((6 + 5 * 2 / 3) / 11)
    # All-point: .5 * 1 + .5 * 2/3.
    value, _ = _map(dets, gts, 0.5, "activitynet")
    assert value == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_ambiguous_overlaps_are_ignored_by_thumos14_only():
    gts = [("a", 0, 10, 0)]
    dets = [("a", 20, 30, 0, 0.9), ("a", 0, 10, 0, 0.5)]
    ambiguous = [("a", 25, 40)]
    assert _map(dets, gts, 0.5, "thumos14", ambiguous)[0] == 1.0
    # Without the ambiguous interval the first detection is a false
    # positive: hits F T, 11-point AP 6 x 0.5 / 11 + 5 x 0.5 / 11 = 0.5.
    assert _map(dets, gts, 0.5, "thumos14")[0] == pytest.approx(0.5)
    assert _map(dets, gts, 0.5, "activitynet", ambiguous)[0] == (
        pytest.approx(0.5)
    )
    # Touching the ambiguous interval at one instant is no overlap.
    assert _map(
        [("a", 20, 25, 0, 0.9), ("a", 0, 10, 0, 0.5)],
        gts,
        0.5,
        "thumos14",
        ambiguous,
    )[0] == pytest.approx(0.5)


def test_class_with_no_true_positive_scores_zero():
    gts = [("a", 0, 10, 0), ("a", 0, 5, 1)]
    dets = [
        ("a", 0, 10, 0, 0.9),
        ("a", 10, 20, 1, 0.8),
        ("a", 0, 10, 2, 0.7),
    ]  # Class 2 has no ground truth: unscored.
    for protocol in tm.MAP_PROTOCOLS:
        value, result = _map(dets, gts, 0.5, protocol)
        assert result["classes"] == [0, 1]
        assert result["ap"][0.5] == [1.0, 0.0]
        assert value == 0.5


def _evaluator_first(count):
    """Which of `count` tied values ActivityNet's evaluator takes first:
    its `argsort()[::-1]`, NumPy's unstable default sort, on this
    machine."""
    return int(np.argsort(np.zeros(count))[::-1][0])


def test_detection_touching_two_ground_truths():
    gts = [("a", 0, 10, 0), ("a", 10, 20, 0)]
    dets = [("a", 5, 15, 0, 0.9), ("a", 10, 20, 0, 0.5)]
    # IoU of the first detection with either is 1/3.
    assert _map(dets, gts, 0.3, "thumos14")[0] == 1.0
    # ActivityNet: the first detection takes whichever tied ground truth
    # its evaluator's sort puts first; taking the second one leaves the
    # second detection (IoU 1 with it) nothing: precision 1, 1/2.
    assert _map(dets, gts, 0.3, "activitynet")[0] == (
        1.0 if _evaluator_first(2) == 0 else 0.5
    )
    # At 0.5 it matches neither: hits F T, recall .5 at precision .5.
    assert _map(dets, gts, 0.5, "thumos14")[0] == pytest.approx(3 / 11)
    assert _map(dets, gts, 0.5, "activitynet")[0] == pytest.approx(0.25)


def test_threshold_is_strict_for_thumos14_only():
    gts = [("a", 0, 10, 0)]
    dets = [("a", 0, 5, 0, 0.9)]  # IoU exactly 0.5.
    assert _map(dets, gts, 0.5, "thumos14")[0] == 0.0
    assert _map(dets, gts, 0.5, "activitynet")[0] == 1.0


def test_ties_in_score_rank_as_the_activitynet_evaluator_sorts():
    gts = [("a", 0, 10, 0)]
    miss, hit = ("a", 30, 40, 0, 0.5), ("a", 0, 10, 0, 0.5)
    assert _map([hit, miss], gts, 0.5, "thumos14")[0] == 1.0
    assert _map([miss, hit], gts, 0.5, "thumos14")[0] == 1.0
    # ActivityNet ranks the two as `np.argsort(scores)[::-1]` does.
    hit_first = _evaluator_first(2) == 0
    assert _map([hit, miss], gts, 0.5, "activitynet")[0] == (
        1.0 if hit_first else 0.5
    )
    assert _map([miss, hit], gts, 0.5, "activitynet")[0] == (
        0.5 if hit_first else 1.0
    )


def test_thumos14_ranks_true_positives_first_among_equal_scores():
    # Two videos, two ground truths. Ranked by score, with the false
    # positive of video "a" given before the true positive of video "b":
    #   input order: TP 0.9 (a), FP 0.5 (a), TP 0.5 (b).
    # The kit ranks TP 0.9, TP 0.5, FP 0.5: precision 1 up to recall 1,
    # 11-point AP 1. Input order would give precision 2/3 at recall 1:
    # AP (6 * 1 + 5 * 2/3) / 11 = 0.8485.
    gts = [("a", 0, 10, 0), ("b", 20, 30, 0)]
    dets = [
        ("a", 0, 10, 0, 0.9),
        ("a", 40, 50, 0, 0.5),
        ("b", 20, 30, 0, 0.5),
    ]
    assert _map(dets, gts, 0.5, "thumos14")[0] == 1.0
    # ActivityNet ranks the two 0.5s by its evaluator's sort: the false
    # positive first gives P = 1, 1/2, 2/3 at recall 1/2, 1/2, 1 (the
    # envelope: 1/2 * 1 + 1/2 * 2/3); the true positive first gives 1.
    order = np.argsort([0.9, 0.5, 0.5])[::-1]
    fp_first = list(order).index(1) < list(order).index(2)
    assert _map(dets, gts, 0.5, "activitynet")[0] == pytest.approx(
        5 / 6 if fp_first else 1.0
    )
    # The same detections with distinct scores rank as given.
    dets[1] = ("a", 40, 50, 0, 0.6)
    assert _map(dets, gts, 0.5, "thumos14")[0] == pytest.approx(
        (6 + 5 * 2 / 3) / 11
    )


def test_ground_truth_order_decides_thumos14_claims():
    # Each ground truth in turn takes its best unmatched detection: the
    # first takes the exact one, the second the remaining one.
    gts = [("a", 0, 10, 0), ("a", 2, 12, 0)]
    dets = [("a", 1, 11, 0, 0.9), ("a", 0, 10, 0, 0.8)]
    assert _map(dets, gts, 0.7, "thumos14")[0] == 1.0
    # ActivityNet: the top detection takes whichever of two equal overlaps
    # (9/11) its evaluator's sort puts first. The first ground truth
    # leaves IoU 8/12 < 0.7 for the second detection (AP 0.5); the second
    # leaves it the exact one (AP 1).
    assert _map(dets, gts, 0.7, "activitynet")[0] == (
        0.5 if _evaluator_first(2) == 0 else 1.0
    )


def test_ap_helpers():
    assert tm.interpolated_ap_11([True, True], 2) == 1.0
    assert tm.all_point_ap([False, True], 1) == 0.5
    assert tm.all_point_ap([], 3) == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(protocol="voc"), "protocol='voc'"),
        (dict(iou_thresholds=[1.5]), "iou_thresholds"),
        (dict(ground_truth=[]), "empty `ground_truth`"),
        (dict(detections=[("a", 5, 1, 0, 0.1)]), "start_s <= end_s"),
        (dict(detections=[("a", 1, 2, 0)]), "at least 5 fields"),
    ],
)
def test_bad_input(kwargs, match):
    args = dict(detections=[], ground_truth=[("a", 0, 1, 0)])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        tm.temporal_map(**args)


def test_fractional_classes_and_mixed_video_ids_are_errors():
    gts = [("a", 0, 10, 0)]
    with pytest.raises(ValueError, match="whole class indices.*0.5"):
        tm.temporal_map([("a", 0, 10, 0.5, 0.9)], gts, [0.5])
    with pytest.raises(ValueError, match="1.*'1'"):
        tm.temporal_map([(1, 0, 10, 0, 0.9)], [("1", 0, 10, 0)], [0.5])
