"""Tests for has_tf.metrics on hand-computed fixtures."""

import json

import numpy as np
import pytest

from has_tf.metrics import boxes as metrics
from has_tf.metrics.boxes import box_iou


def test_iou_hand_computed_pairs():
    a = [[0, 0, 2, 2]]
    b = [
        [0, 0, 2, 2],  # identical: 1
        [1, 1, 3, 3],  # inter 1, union 7
        [5, 5, 6, 6],  # disjoint: 0
        [0, 0, 1, 1],  # nested: 1/4
        [2, 0, 4, 2],  # touching edge: 0
        [0, 0, 4, 1],
    ]  # inter 2, union 4 + 4 - 2 = 6
    np.testing.assert_allclose(box_iou(a, b), [[1, 1 / 7, 0, 1 / 4, 0, 2 / 6]])
    assert box_iou([0, 0, 0, 0], [[0, 0, 0, 0]]).tolist() == [[0.0]]
    assert box_iou(np.zeros([0, 4]), b).shape == (0, 6)


@pytest.mark.parametrize(
    "box, match",
    [
        ([[3, 0, 1, 2]], r"ymax >= ymin.*\[3.0, 0.0, 1.0, 2.0\]"),
        ([[0, 3, 1, 2]], "xmax >= xmin"),
        ([[0, 0, 1]], r"b.shape=\(1, 3\)"),
        ([[0, 0, np.nan, 1]], "finite"),
    ],
)
def test_bad_boxes(box, match):
    with pytest.raises(ValueError, match=match):
        box_iou([[0, 0, 1, 1]], box)


def test_paper_protocol_fixture():
    acc = metrics.PaperLocalization()
    gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
    good, bad, second = [0, 0, 10, 10], [50, 50, 60, 60], [21, 21, 30, 30]
    # 1: right class, box right.
    acc.update(3, [3, 1, 2, 4, 5], [good] * 5, good, gt)
    # 2: top-1 wrong, true class 2nd with a good box; GT-known box right.
    out = acc.update(1, [7, 1, 2, 4, 5], [bad, good, bad, bad, bad], good, gt)
    assert out == {
        "top1_loc": False,
        "top5_loc": True,
        "gt_known_loc": True,
        "top1_cls": False,
        "top5_cls": True,
    }
    # 3: right class, its box matches the SECOND ground-truth box only.
    acc.update(3, [3, 0, 1, 2, 4], [second] + [bad] * 4, second, gt)
    # 4: right class, box wrong everywhere; true class outside top-5 never.
    acc.update(2, [2, 0, 1, 3, 4], [bad] * 5, bad, gt)
    result = acc.result()
    assert result["count"] == 4
    assert result["top1_loc"] == 2 / 4
    assert result["top5_loc"] == 3 / 4
    assert result["gt_known_loc"] == 3 / 4
    assert result["top1_cls"] == 3 / 4
    assert result["top5_cls"] == 4 / 4
    assert result["per_class"]["3"]["top1_loc"] == 1.0
    assert result["per_class"]["2"]["gt_known_loc"] == 0.0
    json.dumps(result)  # Plain JSON.


def test_paper_protocol_top1_only():
    acc = metrics.PaperLocalization()
    acc.update(0, [0], [[0, 0, 4, 4]], [0, 0, 4, 4], [[0, 0, 4, 4]])
    assert acc.result()["top1_loc"] == 1.0
    with pytest.raises(ValueError, match="one box per predicted class"):
        acc.update(0, [0, 1], [[0, 0, 4, 4]], [0, 0, 4, 4], [[0, 0, 4, 4]])


def blob_cam(shape, box, peak=1.0):
    cam = np.zeros(shape)
    cam[box[0] : box[2], box[1] : box[3]] = peak
    return cam


def test_max_box_acc_fixture():
    acc = metrics.ThresholdFreeLocalization(
        thresholds=[0.1, 0.5, 0.9], cam_normalization="max"
    )
    # Image 1: the CAM is the GT box at every threshold.
    acc.update(blob_cam([20, 20], [2, 2, 10, 10]), [[2, 2, 10, 10]], label=0)
    # Image 2: the largest component misses; a small one matches GT with
    # IoU 16/36 (0.44): right only for V2 at IoU 0.3.
    cam = blob_cam([20, 20], [0, 10, 10, 20], 0.8)
    cam[12:16, 2:6] = 1.0
    acc.update(cam, [[12, 2, 18, 8]], label=1)
    result = acc.result()
    assert result["max_box_acc"] == 0.5
    v2 = result["max_box_acc_v2_per_iou"]
    assert v2["0.3"]["accuracy"] == 1.0
    assert v2["0.5"]["accuracy"] == 0.5 and v2["0.7"]["accuracy"] == 0.5
    assert result["max_box_acc_v2"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert result["per_class"]["1"]["max_box_acc"] == 0.0
    assert (
        result["per_class"]["1"]["max_box_acc_v2_per_iou"]["0.3"]["accuracy"]
        == 1.0
    )
    json.dumps(result)


def test_best_threshold_is_reported():
    acc = metrics.ThresholdFreeLocalization(
        thresholds=[0.1, 0.6], cam_normalization="max"
    )
    cam = blob_cam([20, 20], [0, 0, 20, 20], 0.5)
    cam[5:10, 5:10] = 1.0  # The GT; only threshold 0.6 isolates it.
    acc.update(cam, [[5, 5, 10, 10]])
    result = acc.result()
    assert result["max_box_acc"] == 1.0
    assert result["max_box_acc_threshold"] == 0.6


def test_accumulator_state_does_not_grow():
    acc = metrics.ThresholdFreeLocalization(thresholds=np.arange(10) / 10)
    rng = np.random.default_rng(0)
    for _ in range(20):
        acc.update(rng.random([8, 8]), [[0, 0, 4, 4]])
    assert acc._largest.shape == acc._any.shape == (3, 10)
    assert acc.result()["count"] == 20


def test_fine_threshold_grid():
    grid = metrics.default_thresholds(0.001)
    assert len(grid) == 1000 and grid[1] == 0.001
    acc = metrics.ThresholdFreeLocalization(thresholds=grid)
    acc.update(blob_cam([8, 8], [1, 1, 5, 5]), [[1, 1, 5, 5]])
    assert acc.result()["max_box_acc"] == 1.0


def test_pxap_hand_computed():
    # Pixels (cam, is foreground): (0.9, 1) (0.6, 0) (0.3, 1) (0.0, 0).
    cam = np.array([[0.9, 0.6], [0.3, 0.0]])
    mask = np.array([[1, 0], [1, 0]])
    acc = metrics.PixelAveragePrecision(
        thresholds=[0.0, 0.5, 0.8], cam_normalization="max"
    )
    acc.update(cam, mask)
    result = acc.result()
    # "max" normalisation divides by 0.9: values 1, .667, .333, 0.
    # t=0.0: all 4 -> P 2/4, R 1; t=0.5: {1, .667} -> P 1/2, R 1/2;
    # t=0.8: {1} -> P 1, R 1/2.
    assert result["precision"] == [0.5, 0.5, 1.0]
    assert result["recall"] == [1.0, 0.5, 0.5]
    # AP = (1 - .5) * .5 + (.5 - .5) * .5 + (.5 - 0) * 1 = 0.75
    assert result["pxap"] == pytest.approx(0.75)
    perfect = metrics.PixelAveragePrecision()
    perfect.update(mask.astype(float), mask)
    assert perfect.result()["pxap"] == pytest.approx(1.0)


def test_pxap_shape_mismatch():
    with pytest.raises(ValueError, match="mask.shape"):
        metrics.PixelAveragePrecision().update(
            np.zeros([2, 2]), np.zeros([3, 2])
        )
