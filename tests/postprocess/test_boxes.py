"""Tests for has_tf.postprocess: hand-made CAMs with known boxes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from scipy import ndimage

from has_tf.postprocess import boxes as postprocess
from has_tf.postprocess import ten_crop
from has_tf.postprocess.boxes import cam_boxes_for_thresholds
from has_tf.postprocess.boxes import cam_to_box


def test_one_blob():
    cam = np.zeros([10, 12])
    cam[2:5, 3:9] = 0.8
    cam[3, 4] = 1.0
    assert cam_to_box(cam, 0.5).tolist() == [2, 3, 5, 9]
    assert cam_to_box(cam, 0.9).tolist() == [3, 4, 4, 5]  # One pixel.


def test_largest_of_two_blobs():
    cam = np.zeros([10, 10])
    cam[0:2, 0:2] = 1.0  # 4 pixels, holds the max.
    cam[5:8, 4:9] = 0.6  # 15 pixels.
    assert cam_to_box(cam, 0.5).tolist() == [5, 4, 8, 9]
    assert cam_to_box(cam, 0.7).tolist() == [0, 0, 2, 2]


def test_diagonal_touch_8_versus_4_connectivity():
    cam = np.zeros([6, 6])
    cam[0:2, 0:2] = 1.0
    cam[2:4, 2:4] = 1.0  # Touches the first only at a corner.
    cam[5, 0:3] = 1.0  # 3 pixels: smaller than either square.
    assert cam_to_box(cam, 0.5).tolist() == [0, 0, 4, 4]
    assert cam_to_box(cam, 0.5, connectivity=4).tolist() == [0, 0, 2, 2]


def test_thresholds_zero_and_one():
    cam = np.array([[0.1, 0.2, 0.0], [0.3, 1.0, 0.4]])
    assert cam_to_box(cam, 0.0).tolist() == [0, 0, 2, 3]
    assert cam_to_box(cam, 1.0).tolist() == [1, 1, 2, 2]
    # minmax: negative values count from the minimum.
    shifted = cam - 5.0
    assert cam_to_box(shifted, 0.99, "minmax").tolist() == [1, 1, 2, 2]


def test_max_and_minmax_differ():
    cam = np.array([[2.0, 3.0, 4.0, 6.0]])
    # max: >= 0.6 * 6 = 3.6 keeps 4 and 6; minmax: (v-2)/4 >= 0.6 keeps 6.
    assert cam_to_box(cam, 0.6).tolist() == [0, 2, 1, 4]
    assert cam_to_box(cam, 0.6, "minmax").tolist() == [0, 3, 1, 4]


def test_ties_go_to_the_higher_peak_then_raster_order():
    cam = np.zeros([5, 9])
    cam[0:2, 0:2] = 0.6
    cam[3:5, 6:8] = 0.6
    cam[4, 7] = 1.0  # Same size, higher peak: wins.
    assert cam_to_box(cam, 0.5).tolist() == [3, 6, 5, 8]
    cam[4, 7] = 0.6  # Same size, same peak: first in raster order.
    assert cam_to_box(cam, 0.5).tolist() == [0, 0, 2, 2]


@pytest.mark.parametrize(
    "cam, normalization",
    [
        (np.zeros([4, 5]), "max"),
        (-np.ones([4, 5]), "max"),
        (np.full([4, 5], 3.0), "minmax"),
    ],
)
def test_cams_without_localization_give_the_whole_image(cam, normalization):
    assert cam_to_box(cam, 0.5, normalization).tolist() == [0, 0, 4, 5]
    sweep = cam_boxes_for_thresholds(cam, [0.1, 0.9], "all", normalization)
    assert [b.tolist() for b in sweep] == [[[0, 0, 4, 5]]] * 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cam=np.array([[0.0, np.nan]])), "NaN or infinite"),
        (dict(cam=np.array([[np.inf, 1.0]])), "NaN or infinite"),
        (dict(cam=np.zeros([2, 2, 2])), r"cam.shape=\(2, 2, 2\)"),
        (dict(cam=np.zeros([0, 3])), r"cam.shape=\(0, 3\)"),
        (dict(cam=np.array([["a"]])), "numeric"),
        (dict(threshold=1.5), "max=1.5"),
        (dict(threshold=-0.1), "min=-0.1"),
        (dict(cam_normalization="mean"), "cam_normalization='mean'"),
        (dict(connectivity=6), "connectivity=6"),
    ],
)
def test_bad_input(kwargs, match):
    args = dict(cam=np.eye(3), threshold=0.5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cam_to_box(**args)


def test_bad_mode_and_thresholds():
    with pytest.raises(ValueError, match="mode='every'"):
        cam_boxes_for_thresholds(np.eye(3), [0.5], mode="every")
    with pytest.raises(ValueError, match="non-empty"):
        cam_boxes_for_thresholds(np.eye(3), [])


def test_all_mode_lists_every_component():
    cam = np.zeros([6, 6])
    cam[0, 0] = 1.0
    cam[3:5, 3:6] = 0.7
    boxes = cam_boxes_for_thresholds(cam, [0.5, 0.8], mode="all")
    assert sorted(map(tuple, boxes[0].tolist())) == [(0, 0, 1, 1), (3, 3, 5, 6)]
    assert boxes[1].tolist() == [[0, 0, 1, 1]]
    largest, every = cam_boxes_for_thresholds(cam, [0.5, 0.8], "both")
    assert largest.tolist() == [[3, 3, 5, 6], [0, 0, 1, 1]]
    assert len(every) == 2


def test_normalised_round_trip():
    boxes = np.array([[10.0, 20.0, 50.0, 100.0]])
    normalized = postprocess.boxes_to_normalized(boxes, 100, 200)
    assert normalized.tolist() == [[0.1, 0.1, 0.5, 0.5]]
    np.testing.assert_allclose(
        postprocess.boxes_to_pixels(normalized, 100, 200), boxes
    )


def reference_box(cam, threshold, connectivity):
    """Straight from the definition, no shared code path with the module."""
    values = cam / cam.max()
    structure = np.ones((3, 3)) if connectivity == 8 else None
    labels, count = ndimage.label(values >= threshold, structure)
    best, best_key = None, None
    for index in range(1, count + 1):
        pixels = labels == index
        key = (pixels.sum(), values[pixels].max(), -np.argmax(pixels))
        if best_key is None or key > best_key:
            best, best_key = pixels, key
    rows, cols = np.nonzero(best)
    return [rows.min(), cols.min(), rows.max() + 1, cols.max() + 1]


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    size=st.integers(4, 40),
    cells=st.integers(2, 6),
    connectivity=st.sampled_from([4, 8]),
    levels=st.integers(3, 60),
)
def test_sweep_equals_per_threshold_reference(
    seed, size, cells, connectivity, levels
):
    rng = np.random.default_rng(seed)
    cam = ndimage.zoom(rng.random((cells, cells)), size / cells, order=1)
    cam = np.round(cam * levels) / levels + 0.01  # Plateaus and ties.
    thresholds = rng.random(7)
    swept = cam_boxes_for_thresholds(cam, thresholds, connectivity=connectivity)
    for t, box in zip(thresholds, swept):
        assert (
            box.tolist()
            == cam_to_box(cam, t, connectivity=connectivity).tolist()
        )
        assert box.tolist() == reference_box(cam, t, connectivity)


def reference_all_boxes(values, threshold, connectivity):
    """Every component's box by ndimage, in its label (raster) order."""
    structure = np.ones((3, 3)) if connectivity == 8 else None
    labels, _ = ndimage.label(values >= threshold, structure)
    return [
        [r.start, c.start, r.stop, c.stop]
        for r, c in ndimage.find_objects(labels)
    ]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    height=st.integers(1, 30),
    width=st.integers(1, 30),
    connectivity=st.sampled_from([4, 8]),
    levels=st.integers(2, 40),
    normalization=st.sampled_from(["max", "minmax"]),
)
def test_every_component_equals_ndimage_at_every_threshold(
    seed, height, width, connectivity, levels, normalization
):
    rng = np.random.default_rng(seed)
    # Several blobs, plateaus (few levels) and 1x1 / 1xN maps.
    cam = np.round(rng.random((height, width)) ** 3 * levels) / levels + 0.01
    thresholds = np.concatenate([rng.random(6), [0.0, 1.0, 0.5, 0.5]])
    largest, every = cam_boxes_for_thresholds(
        cam, thresholds, "both", normalization, connectivity
    )
    values = postprocess.normalize_cam(cam, normalization)
    for k, t in enumerate(thresholds):
        if values is None:  # A constant CAM under minmax.
            assert every[k].tolist() == [[0, 0, height, width]]
            continue
        assert every[k].tolist() == reference_all_boxes(values, t, connectivity)
        assert (
            largest[k].tolist()
            == cam_to_box(cam, t, normalization, connectivity).tolist()
        )


def test_one_pixel_and_one_row_maps():
    assert cam_boxes_for_thresholds([[3.0]], [0.0, 1.0]).tolist() == [
        [0, 0, 1, 1],
        [0, 0, 1, 1],
    ]
    row = np.array([[1.0, 0.0, 2.0, 2.0, 0.0, 1.0]])
    largest, every = cam_boxes_for_thresholds(row, [0.4, 0.0], "both")
    assert largest.tolist() == [[0, 2, 1, 4], [0, 0, 1, 6]]
    assert [b.tolist() for b in every] == [
        [[0, 0, 1, 1], [0, 2, 1, 4], [0, 5, 1, 6]],
        [[0, 0, 1, 6]],
    ]


def test_ten_crop_merge_maps_crops_back():
    # A CAM defined on the 40x40 frame; each crop sees its own window,
    # flipped where the crop was flipped: merging must give it back.
    side, resize = 32, 40
    frame = np.arange(resize * resize, dtype=np.float64).reshape(resize, resize)
    margin = resize - side
    starts = [
        (0, 0),
        (0, margin),
        (margin, 0),
        (margin, margin),
        (margin // 2, margin // 2),
    ]
    crops = [frame[t : t + side, s : s + side] for t, s in starts]
    crops += [c[:, ::-1] for c in crops]
    merged = ten_crop.merge_ten_crop_cams(np.stack(crops), resize)
    np.testing.assert_allclose(merged, frame)


def test_ten_crop_merge_averages_overlaps_and_fills_gaps():
    cams = np.zeros((10, 4, 4))
    cams[0] = 10.0  # Top-left crop only.
    merged = ten_crop.merge_ten_crop_cams(cams, 10)
    # Pixel (0, 0) is covered by TL and its flip: mean 5.
    assert merged[0, 0] == 5.0
    # The middle of the frame (rows 4-5) is covered by no crop of side 4
    # from a 10 frame except the centre ones (start 3): zero there.
    assert merged[4, 4] == 0.0
    # Row 8 col 4 is covered by none: the minimum of the covered values.
    assert merged[8, 4] == merged[merged > -1].min()
    with pytest.raises(ValueError, match=r"\[10, S, S\].*\(9, 4, 4\)"):
        ten_crop.merge_ten_crop_cams(np.zeros((9, 4, 4)), 10)
    with pytest.raises(ValueError, match="resize_size=3"):
        ten_crop.merge_ten_crop_cams(np.zeros((10, 4, 4)), 3)


def test_cam_to_box_takes_one_threshold():
    with pytest.raises(ValueError, match="`threshold` to be one number"):
        cam_to_box(np.eye(3), [0.2, 0.5])
