"""wsolevaluation parity against the official tool's OpenCV recipe.

Runs only where OpenCV is installed (it is no dependency of has_tf): the
recipe below restates the official `compute_bboxes_from_scoremaps` and
`BoxEvaluator.accumulate`, and every box and figure must come out equal.
"""

import numpy as np
import pytest
from scipy import ndimage

from has_tf.metrics import boxes as metrics
from has_tf.postprocess import wsolevaluation as pb

cv2 = pytest.importorskip("cv2")


def official_boxes(scoremap, thresholds, multi_contour):
    """The tool's boxes as (y0, x0, y1, x1) corners, per threshold."""
    height, width = scoremap.shape
    image = np.expand_dims((scoremap * 255).astype(np.uint8), 2)
    out = []
    for threshold in thresholds:
        _, binary = cv2.threshold(
            image, int(threshold * np.max(image)), 255, cv2.THRESH_BINARY
        )
        contours = cv2.findContours(
            binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE
        )[0]
        if len(contours) == 0:
            out.append([(0, 0, 0, 0)])
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append((y, x, min(y + h, height - 1), min(x + w, width - 1)))
        out.append(boxes)
    return out


def random_cam(rng):
    height, width = rng.integers(2, 48, 2)
    cells = rng.integers(2, 8)
    cam = ndimage.zoom(
        rng.random((cells, cells)), (height / cells, width / cells), order=1
    )[:height, :width]
    cam = cam + rng.random(cam.shape) * rng.uniform(0, 0.5)  # Holes, specks.
    return pb.wsolevaluation_normalize(cam.astype(np.float32))


@pytest.mark.parametrize("seed", range(4))
def test_boxes_equal_the_official_recipe(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        cam = random_cam(rng)
        thresholds = np.arange(0, 1, rng.choice([0.01, 0.05]))
        largest, counts, every = pb.wsolevaluation_boxes(cam, thresholds)
        single = official_boxes(cam, thresholds, False)
        multi = official_boxes(cam, thresholds, True)
        every = np.split(every, np.cumsum(counts)[:-1])
        for k in range(len(thresholds)):
            assert tuple(largest[k]) == single[k][0]
            assert sorted(map(tuple, every[k].tolist())) == sorted(multi[k])


def test_figures_equal_the_official_evaluator():
    rng = np.random.default_rng(9)
    thresholds = np.arange(0, 1, 0.01)
    ours = metrics.ThresholdFreeLocalization(
        thresholds, protocol="wsolevaluation"
    )
    correct = {iou: np.zeros(len(thresholds)) for iou in (30, 50, 70)}
    correct_single = np.zeros(len(thresholds))
    cams = 60
    for _ in range(cams):
        cam = random_cam(rng)
        height, width = cam.shape
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        gt = [(y0, x0, rng.integers(y0, height), rng.integers(x0, width))]
        ours.update(cam, gt)
        for boxes, table in (
            (official_boxes(cam, thresholds, False), None),
            (official_boxes(cam, thresholds, True), correct),
        ):
            best = np.array([pb.inclusive_box_iou(b, gt).max() for b in boxes])
            if table is None:
                correct_single[best >= 0.5] += 1
            else:
                for iou in table:
                    table[iou][best >= iou / 100] += 1
    result = ours.result()
    assert result["max_box_acc"] == correct_single.max() / cams
    np.testing.assert_array_equal(
        np.array(result["box_acc_curve"]["accuracy"]) * cams, correct_single
    )
    for iou in (30, 50, 70):
        part = result["max_box_acc_v2_per_iou"][f"{iou / 100:g}"]
        assert part["accuracy"] == correct[iou].max() / cams
        assert part["threshold"] == thresholds[np.argmax(correct[iou])]
