"""The wsolevaluation protocol, rule by rule, on hand-computed fixtures.

Boxes are the official tool's corners `(y0, x0, y1, x1)`, read with its
inclusive IoU. (The rules were checked against the tool's own OpenCV code
on random CAMs while writing them; these fixtures pin each one.)
"""

import numpy as np
import pytest

from has_tf.metrics import boxes as metrics
from has_tf.postprocess import boxes as postprocess
from has_tf.postprocess import wsolevaluation as pb


def _boxes(cam, thresholds):
    largest, counts, every = pb.wsolevaluation_boxes(
        np.asarray(cam, np.float32), thresholds
    )
    return largest.tolist(), [
        sorted(map(tuple, b.tolist()))
        for b in np.split(every, np.cumsum(counts)[:-1])
    ]


def test_rule_1_boxes_are_one_pixel_wider_and_clipped():
    cam = np.zeros((10, 10))
    cam[2:5, 3:7] = 1.0  # Rows 2-4, columns 3-6.
    largest, _ = _boxes(cam, [0.5])
    assert largest == [[2, 3, 5, 7]]  # x + w = 7, y + h = 5.
    cam = np.zeros((10, 10))
    cam[7:10, 7:10] = 1.0  # At the bottom-right corner: clipped to 9.
    assert _boxes(cam, [0.5])[0] == [[7, 7, 9, 9]]


def test_rule_2_eight_bit_quantization_and_strict_threshold():
    cam = np.zeros((3, 9))
    cam[1, 1] = 0.5  # 127 in 8 bits.
    cam[1, 7] = 1.0  # 255.
    # int(0.5 * 255) = 127: only values above 127 are kept.
    assert _boxes(cam, [0.5])[0] == [[1, 7, 2, 8]]
    # has_tf keeps value >= 0.5 of the max: both pixels.
    every = postprocess.cam_boxes_for_thresholds(cam, [0.5], "all")[0]
    assert every.tolist() == [[1, 1, 2, 2], [1, 7, 2, 8]]


def test_rule_3_largest_by_contour_area_not_pixel_count():
    cam = np.zeros((8, 12))
    cam[1, 1:8] = 1.0  # A line of 7 pixels: contour area 0.
    cam[4:6, 8:10] = 1.0  # A 2 x 2 square of 4 pixels: area 1.
    assert _boxes(cam, [0.5])[0] == [[4, 8, 6, 10]]
    box = postprocess.cam_to_box(cam, 0.5)  # has_tf: by pixels.
    assert box.tolist() == [1, 1, 2, 8]


def test_rule_3_ties_go_to_the_last_component_in_raster_order():
    cam = np.zeros((8, 12))
    cam[1:3, 1:3] = 1.0
    cam[1:3, 6:8] = 1.0
    cam[5:7, 2:4] = 1.0  # Three equal squares: the last one wins.
    assert _boxes(cam, [0.5])[0] == [[5, 2, 7, 4]]


def test_rule_3_a_ring_is_as_large_as_its_filled_disc():
    cam = np.zeros((10, 14))
    cam[1:6, 1:6] = 1.0
    cam[2:5, 2:5] = 0.0  # A ring: 16 pixels, contour area 16.
    cam[1:5, 8:13] = 1.0  # A solid 4 x 5 block: 20 pixels, area 12.
    assert _boxes(cam, [0.5])[0] == [[1, 1, 6, 6]]


def test_rule_4_v2_counts_hole_contours():
    cam = np.zeros((10, 10))
    cam[1:7, 1:7] = 1.0
    cam[3:5, 3:5] = 0.0  # A 2 x 2 hole in a 6 x 6 square.
    _, every = _boxes(cam, [0.5])
    # The square (1, 1, 7, 7) and the hole grown by one pixel.
    assert every == [[(1, 1, 7, 7), (2, 2, 6, 6)]]


def test_rule_5_nothing_kept_gives_the_zero_box():
    largest, every = _boxes(np.zeros((5, 5)), [0.0, 0.5])
    assert largest == [[0, 0, 0, 0]] * 2
    assert every == [[(0, 0, 0, 0)]] * 2
    # The zero box covers one pixel under the inclusive IoU.
    assert pb.inclusive_box_iou([[0, 0, 0, 0]], [[0, 0, 1, 1]]).item() == 0.25


def test_normalize_scoremap():
    assert not pb.wsolevaluation_normalize([[np.nan, 1.0]]).any()
    assert not pb.wsolevaluation_normalize([[2.0, 2.0]]).any()
    out = pb.wsolevaluation_normalize(np.array([[1.0, 3.0]], np.float32))
    assert out.dtype == np.float32 and out.tolist() == [[0.0, 1.0]]


def test_inclusive_iou():
    # 3 x 3 and 3 x 3 boxes overlapping in 2 x 2: 4 / (9 + 9 - 4).
    iou = pb.inclusive_box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [5, 5, 6, 6]])
    np.testing.assert_allclose(iou, [[4 / 14, 0.0]])


def test_metric_under_both_protocols():
    cam = np.zeros((10, 10))
    cam[2:6, 2:6] = 1.0
    official = metrics.ThresholdFreeLocalization(
        [0.5], protocol="wsolevaluation"
    )
    # Ground truth as the tool's corners: rows and columns 2-5 inclusive.
    official.update(cam, [[2, 2, 5, 5]])
    result = official.result()
    # The tool's box (2, 2, 6, 6) has 25 pixels: IoU 16 / 25 = 0.64.
    assert result["max_box_acc"] == 1.0
    assert result["max_box_acc_v2_per_iou"]["0.7"]["accuracy"] == 0.0
    assert result["protocol"] == "wsolevaluation"
    own = metrics.ThresholdFreeLocalization([0.5])
    own.update(cam, [[2, 2, 6, 6]])  # Continuous: the same 16 pixels.
    assert own.result()["max_box_acc_v2_per_iou"]["0.7"]["accuracy"] == 1.0
    with pytest.raises(ValueError, match="connectivity=4"):
        metrics.ThresholdFreeLocalization(
            protocol="wsolevaluation", connectivity=4
        )
    with pytest.raises(ValueError, match="protocol='cv2'"):
        metrics.ThresholdFreeLocalization(protocol="cv2")


def test_pxap_ignore_mask_and_official_formula():
    cam = np.array([[0.0, 0.25, 0.5, 1.0]])
    mask = np.array([[False, False, True, True]])
    ignore = np.array([[False, True, False, False]])
    thresholds = [0.0, 0.5]
    # Without the 0.25 pixel: at >= 0.5 all kept pixels are foreground.
    own = metrics.PixelAveragePrecision(thresholds)
    own.update(cam, mask, ignore)
    # has_tf: P = (2/3, 1), R = (1, 1): (1 - 1) * 2/3 + 1 * 1 = 1.
    assert own.result()["pxap"] == 1.0
    official = metrics.PixelAveragePrecision(
        thresholds, protocol="wsolevaluation"
    )
    official.update(cam, mask, ignore)
    # From the top: >= 2 (nothing), >= 1 (P 1, R 1/2), >= 0.5 (P 1, R 1),
    # >= 0 (P 2/3, R 1): 1 * 1/2 + 1 * 1/2 + 2/3 * 0 = 1.
    assert official.result()["pxap"] == 1.0
    official.update(cam, ~mask)  # Now 0.0 and 0.25 are foreground too.
    # Totals: fg 0, 0.25, 0, 0.25... computed by hand below.
    result = official.result()
    # Pixels: fg {0.5, 1.0, 0.0, 0.25}, bg {0.0, 0.5, 1.0} (one 0.25
    # ignored). >= 1: tp 1 fp 1; >= 0.5: tp 2 fp 2; >= 0: tp 4 fp 3.
    # R: 1/4, 2/4, 4/4; P: 1/2, 1/2, 4/7.
    expected = 0.5 * 0.25 + 0.5 * 0.25 + 4 / 7 * 0.5
    assert result["pxap"] == pytest.approx(expected)
