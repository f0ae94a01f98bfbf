"""clovaai/wsolevaluation's own test suite (`evaluation_test.py` at
96f4b88), case by case, against has_tf's equivalents.

The tool's functions and has_tf's: `compute_bboxes_from_scoremaps` ->
`postprocess.wsolevaluation.wsolevaluation_boxes`, `calculate_multiple_iou`
-> `inclusive_box_iou`, `resize_bbox` -> `metrics.cam_evaluation.scale_box`,
its metadata readers -> `read_metadata`, `MaskEvaluator` ->
`CamEvaluator("wsolevaluation")` masks. Expected values are the tool's
test's; fixtures are in `tests/fixtures/wsolevaluation/` (README there).
"""

import os

import numpy as np
import pytest
from PIL import Image

from has_tf.metrics import cam_evaluation
from has_tf.postprocess import wsolevaluation

FIXTURES = os.path.join(
    os.path.dirname(__file__), os.pardir, "fixtures", "wsolevaluation"
)
MASK_ROOT = os.path.join(FIXTURES, "test_masks")
THRESHOLDS = np.arange(0, 1, 0.2)


def _boxes_at_thresholds(scoremap):
    """The largest contour's box per threshold, as the tool's test reads
    `compute_bboxes_from_scoremaps(...)[0]`."""
    largest, _, _ = wsolevaluation.wsolevaluation_boxes(
        np.asarray(scoremap, np.float64), THRESHOLDS
    )
    # has_tf's corners are (y0, x0, y1, x1); the tool's (x0, y0, x1, y1).
    return [[int(x0), int(y0), int(x1), int(y1)] for y0, x0, y1, x1 in largest]


# EvalUtilTest: the tool's boxes are (x0, y0, x1, y1) corners.


def test_calculate_multiple_iou_shape_type_degenerate_zero():
    ious = wsolevaluation.inclusive_box_iou(
        np.zeros((3, 4), int), np.zeros((5, 4), int)
    )
    assert isinstance(ious, np.ndarray) and ious.dtype == np.float64
    assert ious.shape == (3, 5) and (ious == 1.0).all()


def test_calculate_multiple_iou_box_convention():
    with pytest.raises(ValueError, match="corners"):
        wsolevaluation.inclusive_box_iou([[1, 1, 0, 0]], [[1, 1, 2, 2]])
    with pytest.raises(ValueError, match="non-negative"):
        wsolevaluation.inclusive_box_iou([[-1, 1, 2, 2]], [[1, 1, 2, 2]])


def test_calculate_multiple_iou_eye_boxes():
    boxes = [[1, 1, 3, 3], [4, 4, 5, 5]]
    ious = wsolevaluation.inclusive_box_iou(boxes, boxes)
    assert (ious == np.eye(2)).all()


def test_calculate_multiple_iou_realistic_values():
    ious = wsolevaluation.inclusive_box_iou([[1, 2, 5, 6]], [[3, 1, 4, 5]])
    assert ious[0, 0] == pytest.approx(8.0 / 27, abs=1e-6)


def _resize_bbox(box, image_size, resize_size):
    """The tool's `resize_bbox` call through has_tf's `scale_box` (which
    returns (ymin, xmin, ymax, xmax))."""
    y0, x0, y1, x1 = cam_evaluation.scale_box(
        box, image_size, resize_size, "wsolevaluation"
    )
    return (int(x0), int(y0), int(x1), int(y1))


def test_resize_bbox_case():
    assert _resize_bbox((1, 2, 4, 3), (10, 20), (35, 10)) == (3, 1, 14, 1)


def test_resize_bbox_degenerate():
    assert _resize_bbox((1, 2, 1, 2), (3, 3), (3, 3)) == (1, 2, 1, 2)


def test_compute_bboxes_from_scoremaps_degenerate():
    assert _boxes_at_thresholds(np.zeros([3, 3])) == [[0, 0, 0, 0]] * 5


def test_compute_bboxes_from_scoremaps_unimodal():
    scoremap = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.4, 0.4, 0.4, 0.6],
        [0.0, 0.4, 1.0, 0.8, 0.6],
        [0.0, 0.4, 0.4, 0.4, 0.6],
    ]
    assert _boxes_at_thresholds(scoremap) == [
        [1, 1, 4, 3],
        [1, 1, 4, 3],
        [2, 1, 4, 3],
        [2, 2, 4, 3],
        [2, 2, 3, 3],
    ]


def test_compute_bboxes_from_scoremaps_multimodal():
    scoremap = [
        [0.4, 0.0, 0.2, 0.2, 0.2],
        [0.4, 0.4, 0.0, 0.4, 0.0],
        [0.0, 0.0, 0.0, 0.4, 0.0],
        [1.0, 0.6, 0.8, 0.2, 0.2],
    ]
    assert _boxes_at_thresholds(scoremap) == [
        [0, 0, 4, 3],
        [0, 0, 2, 2],
        [0, 3, 3, 3],
        [2, 3, 3, 3],
        [0, 3, 1, 3],
    ]


def test_compute_bboxes_from_scoremaps_nan():
    with pytest.raises(ValueError, match="NaN"):
        wsolevaluation.wsolevaluation_boxes(np.full([3, 3], np.nan), THRESHOLDS)


# BoxEvaluatorTest: the tool's metadata, read by has_tf.

BOXES = {
    ("CUB", "val"): [
        [(176, 136, 459, 291)],
        [(44, 183, 426, 254)],
        [(437, 42, 834, 422)],
    ],
    ("CUB", "test"): [
        [(60, 27, 385, 331)],
        [(14, 112, 402, 298)],
        [(33, 53, 284, 448)],
    ],
    ("ILSVRC", "val"): [
        [(156, 163, 318, 230)],
        [(143, 142, 394, 248)],
        [(28, 94, 485, 303)],
    ],
    ("ILSVRC", "test"): [
        [(111, 108, 441, 193)],
        [(45, 49, 499, 162), (2, 69, 437, 207)],
        [(38, 19, 385, 373)],
    ],
}
SIZES = {
    ("CUB", "val"): [(560, 419), (576, 432), (999, 587)],
    ("CUB", "test"): [(500, 335), (500, 347), (500, 470)],
    ("ILSVRC", "val"): [(500, 375)] * 3,
    ("ILSVRC", "test"): [(500, 375)] * 3,
}


@pytest.mark.parametrize("dataset, split", sorted(BOXES))
def test_box_evaluator_boxes_and_sizes(dataset, split):
    metadata = cam_evaluation.read_metadata(
        os.path.join(FIXTURES, "metadata", dataset, split)
    )
    first = metadata.image_ids[:3]
    assert [metadata.boxes[i] for i in first] == BOXES[dataset, split]
    assert [metadata.sizes[i] for i in first] == SIZES[dataset, split]
    for image_id in metadata.image_ids:
        width, height = metadata.sizes[image_id]
        for x0, y0, x1, y1 in metadata.boxes[image_id]:
            assert 0 <= x0 <= x1 <= width - 1
            assert 0 <= y0 <= y1 <= height - 1


# MaskEvaluatorTest: PxAP on the tool's test masks.

MASK_IMAGES = (
    "val/0bt_c3/1cd9ac0169ec7df0.jpg",
    "val/0bt_c3/3a29f0b33894d4a6.jpg",
    "val/0bt_c3/3b3b9931325d65c9.jpg",
)
CONSTANT_GT_IMAGES = (
    "val/0by6g/490365f63135f3e0.jpg",  # No foreground.
    "val/0by6g/b4d953e7105da1d8.jpg",  # All foreground.
)


@pytest.fixture(scope="module")
def metadata():
    return cam_evaluation.read_metadata(
        os.path.join(FIXTURES, "metadata", "OpenImages", "val")
    )


@pytest.fixture(scope="module")
def tool_masks():
    with np.load(os.path.join(FIXTURES, "masks_224.npz")) as saved:
        return {key: saved[key] for key in saved.files}


def _read(path):
    with Image.open(os.path.join(MASK_ROOT, path)) as image:
        return np.asarray(image.convert("L"), np.float32) > 0.5


def _pxap(metadata, image_id, scoremap):
    """PxAP in % of one 224 x 224 score map, the ground truth built by
    has_tf from the original mask files (`CamEvaluator.add_mask`)."""
    evaluator = cam_evaluation.CamEvaluator("wsolevaluation", thresholds=None)
    mask = np.any([_read(p) for p in metadata.masks[image_id]], axis=0)
    ignore = metadata.ignore[image_id]
    evaluator.add_mask(scoremap, mask, _read(ignore) if ignore else None)
    return 100.0 * evaluator.result()["pxap"]


@pytest.mark.parametrize("image_id", MASK_IMAGES + CONSTANT_GT_IMAGES)
def test_the_ground_truth_is_the_tools(metadata, tool_masks, image_id):
    """has_tf's nearest-neighbour resize follows OpenCV's INTER_NEAREST
    (source index floor(i * (1 / (out / in)))): 1600 -> 224 columns 35, 63,
    70, ... differ from floor(i * in / out)."""
    mask = np.any([_read(p) for p in metadata.masks[image_id]], axis=0)
    ours = cam_evaluation.resize_nearest(mask, (224, 224))
    np.testing.assert_array_equal(ours, tool_masks[image_id] == 1)
    ignore = metadata.ignore[image_id]
    if ignore:
        outside = cam_evaluation.resize_nearest(_read(ignore), (224, 224))
        np.testing.assert_array_equal(
            outside & ~ours, tool_masks[image_id] == 255
        )


@pytest.mark.parametrize("ignore_score", [0.0, 1.0])
@pytest.mark.parametrize("image_id", MASK_IMAGES)
def test_mask_evaluator_masks_perfect_scoremap(
    metadata, tool_masks, image_id, ignore_score
):
    truth = tool_masks[image_id]
    scoremap = truth.astype(np.float64)
    scoremap[truth == 255] = ignore_score
    assert _pxap(metadata, image_id, scoremap) == pytest.approx(100.0)


# The tool's expected PxAP of a constant map: the share of foreground.
CONSTANT = {
    MASK_IMAGES[0]: 100.0 * 43031 / (43031 + 7145),
    MASK_IMAGES[1]: 100.0 * 833 / (833 + 49342),
    MASK_IMAGES[2]: 100.0 * 347 / (347 + 13909),
    CONSTANT_GT_IMAGES[1]: 100.0,
}


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("image_id", sorted(CONSTANT))
def test_mask_evaluator_constant_scoremaps(metadata, image_id, value):
    scoremap = np.full((224, 224), value)
    assert _pxap(metadata, image_id, scoremap) == pytest.approx(
        CONSTANT[image_id], abs=0.1
    )


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_mask_evaluator_zero_gt_raises(metadata, value):
    with pytest.raises(ValueError, match="foreground"):
        _pxap(metadata, CONSTANT_GT_IMAGES[0], np.full((224, 224), value))


def test_mask_evaluator_masks_nan_scoremap(metadata):
    with pytest.raises(ValueError, match="NaN"):
        _pxap(metadata, CONSTANT_GT_IMAGES[1], np.full((224, 224), np.nan))
