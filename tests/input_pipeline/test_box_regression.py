"""PSOL's training crop, equal to PSOL's own code fed the same draws
(tests/fixtures/psol, made by its generator from tzzcl/PSOL ddecfce), and
the pipeline end to end."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from has_tf.input_pipeline import box_regression

GOLDEN = np.load(
    pathlib.Path(__file__).parent.parent / "fixtures" / "psol" / "golden.npz"
)


def _case(k):
    scale, ratio, top, left = GOLDEN["crop_draws"][k]
    draws = dict(scale=scale, ratio=ratio, top=top, left=left)
    draws = {n: tf.constant(v, tf.float32) for n, v in draws.items()}
    draws["flip"] = tf.constant(GOLDEN["crop_flip"][k], tf.float32)
    return draws


@pytest.mark.parametrize("k", range(len(GOLDEN["crop_size"])))
def test_crop_target_equals_psols(k):
    height, width = GOLDEN["crop_size"][k]
    x, y, w, h = GOLDEN["crop_ddt"][k].astype(np.float32)
    # PSOL sums the corners in float32 (its bbox array) before the ceil.
    box = np.array([y, x, np.float32(y + h), np.float32(x + w)], np.float32)
    corners = box_regression.pixel_corners(box, height, width)
    np.testing.assert_array_equal(corners, GOLDEN["crop_corners"][k])
    draws = _case(k)
    top, left, ch, cw, crop_box = box_regression.crop_geometry(
        height, width, corners, draws
    )
    np.testing.assert_array_equal([top, left, ch, cw], GOLDEN["crop_crop"][k])
    np.testing.assert_allclose(
        crop_box, GOLDEN["crop_crop_box"][k], rtol=0, atol=1e-6
    )
    flip = draws["flip"] < 0.5
    target = box_regression.target_of(box_regression.flip_box(crop_box, flip))
    np.testing.assert_allclose(
        target, GOLDEN["crop_target"][k], rtol=0, atol=1e-6
    )


def test_the_cases_reach_the_fallback_and_the_flip():
    """The golden cases exercise every branch: a crop after failed
    attempts, the central fallback, both flips."""
    sizes, crops = GOLDEN["crop_size"], GOLDEN["crop_crop"]
    whole_side = [
        (c[2] == s[0] or c[3] == s[1]) and c[0] == (s[0] - c[2]) // 2
        for c, s in zip(crops, sizes)
    ]
    assert any(whole_side)
    flips = GOLDEN["crop_flip"] < 0.5
    assert flips.any() and (~flips).any()


def _examples(count, side=(60, 90)):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (count, *side, 3), dtype=np.uint8)
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": images,
            "label": np.zeros(count, np.int64),
            "image_id": [f"img{i}" for i in range(count)],
        }
    )


def test_pipeline_batches_and_replays_from_a_step():
    boxes = {f"img{i}": [0.2, 0.1, 0.7, 0.6] for i in range(8)}
    data = box_regression.train_pipeline(
        _examples(8), boxes, batch_size=4, image_size=32, seed=3
    )
    batches = list(data.take(3))
    images, targets = batches[0]
    assert images.shape == (4, 32, 32, 3) and images.dtype == tf.uint8
    assert targets.shape == (4, 4) and targets.dtype == tf.float32
    assert np.all(np.asarray(targets)[:, 2:] > 0)  # Every crop meets the box.
    again = box_regression.train_pipeline(
        _examples(8), boxes, batch_size=4, image_size=32, seed=3, start_batch=2
    )
    images2, targets2 = next(iter(again))
    np.testing.assert_array_equal(images2, batches[2][0])
    np.testing.assert_array_equal(targets2, batches[2][1])


def test_an_image_without_a_box_is_named():
    boxes = {"img0": [0.0, 0.0, 1.0, 1.0]}
    data = box_regression.train_pipeline(
        _examples(2), boxes, batch_size=2, image_size=16, shuffle_buffer=0
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="img1"):
        next(iter(data))
