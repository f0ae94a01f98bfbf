"""CutMix: equal to wsolevaluation's on its own draws; the draws; the layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import has_tf
from has_tf.augmentation import cutmix
from has_tf.augmentation import cutmix_ops
from tests import wsol_golden

CASES = wsol_golden.cases("cutmix")


@pytest.mark.parametrize("index", range(len(CASES)))
def test_equal_to_the_reference_given_its_draws(index):
    scalars, arrays = CASES[index]
    images = arrays["images"]
    height, width = images.shape[1:3]
    box = cutmix_ops.cutmix_box(
        tf.constant(scalars["lam_drawn"], tf.float64),
        arrays["centre"],
        height,
        width,
        xp=cutmix.TF_OPS,
    )
    labels = tf.one_hot(arrays["labels"], arrays["logits"].shape[1])
    mixed, soft, lam = cutmix_ops.apply_cutmix(
        tf.constant(images),
        labels,
        box,
        arrays["permutation"],
        xp=cutmix.TF_OPS,
    )
    np.testing.assert_array_equal(mixed.numpy(), arrays["mixed"])
    np.testing.assert_array_equal(
        arrays["target_b"], arrays["labels"][arrays["permutation"]]
    )
    assert float(lam) == pytest.approx(scalars["lam"], abs=1e-7)
    # The tool's loss: lam * CE(a) + (1 - lam) * CE(b), batch means.
    loss = keras.losses.categorical_crossentropy(
        soft, arrays["logits"], from_logits=True
    )
    assert float(np.mean(loss)) == pytest.approx(scalars["loss"], rel=1e-6)


def test_keras_ops_rule_equals_the_tensorflow_one():
    scalars, arrays = CASES[0]
    images = arrays["images"]
    height, width = images.shape[1:3]
    labels = np.eye(7, dtype=np.float32)[arrays["labels"]]
    both = []
    for xp in (keras.ops, cutmix.TF_OPS):
        box = cutmix_ops.cutmix_box(
            scalars["lam_drawn"], arrays["centre"], height, width, xp=xp
        )
        both.append(
            [
                np.asarray(v)
                for v in cutmix_ops.apply_cutmix(
                    images, labels, box, arrays["permutation"], xp=xp
                )
            ]
        )
    for a, b in zip(*both):
        np.testing.assert_allclose(a, b, rtol=1e-7)


def test_not_applied_leaves_the_batch():
    _, arrays = CASES[1]
    labels = tf.one_hot(arrays["labels"], 7)
    box = tf.constant([0, 0, 12, 20], tf.int32)
    mixed, soft, lam = cutmix_ops.apply_cutmix(
        tf.constant(arrays["images"]),
        labels,
        box,
        arrays["permutation"],
        applied=tf.constant(False),
        xp=cutmix.TF_OPS,
    )
    np.testing.assert_array_equal(mixed.numpy(), arrays["images"])
    np.testing.assert_array_equal(soft.numpy(), labels.numpy())
    assert float(lam) == 1.0


def test_draws_are_stateless_and_follow_the_distribution():
    seeds = [tf.constant([s, 7], tf.int64) for s in range(400)]
    draws = [cutmix.sample_cutmix(s, 6, 10, 15, 1.0, 0.5) for s in seeds]
    again = cutmix.sample_cutmix(seeds[3], 6, 10, 15, 1.0, 0.5)
    for key in again:
        np.testing.assert_array_equal(again[key], draws[3][key])
    lam = np.array([float(d["lam"]) for d in draws])
    rows = np.array([int(d["centre"][0]) for d in draws])
    cols = np.array([int(d["centre"][1]) for d in draws])
    applied = np.array([bool(d["applied"]) for d in draws])
    # Beta(1, 1) is uniform: mean 1/2, variance 1/12.
    assert abs(lam.mean() - 0.5) < 0.05 and abs(lam.var() - 1 / 12) < 0.02
    assert rows.min() == 0 and rows.max() == 9
    assert cols.min() == 0 and cols.max() == 14
    assert 0.4 < applied.mean() < 0.6
    for d in draws[:20]:
        assert sorted(d["permutation"].numpy().tolist()) == list(range(6))


def test_batch_op_mixes_uint8_pixels_and_soft_labels():
    images = tf.cast(
        tf.random.uniform([8, 16, 16, 3], 0, 255, seed=3), tf.uint8
    )
    labels = tf.constant([0, 1, 2, 3, 0, 1, 2, 3], tf.int64)
    mixed, soft = cutmix.cutmix_batch(
        images, labels, 4, 1.0, 1.0, tf.constant([1, 2], tf.int64)
    )
    assert mixed.dtype == tf.uint8 and soft.shape == (8, 4)
    np.testing.assert_allclose(soft.numpy().sum(axis=1), 1.0, rtol=1e-6)
    changed = np.any(mixed.numpy() != images.numpy(), axis=-1).mean(axis=(1, 2))
    kept = soft.numpy()[np.arange(8), labels.numpy()]
    # Each image keeps its own label's share where its label differs from
    # its partner's; where they are equal the label stays one-hot.
    assert np.all(kept >= 1 - changed - 1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_classes=4, beta=0.0), "cutmix_beta"),
        (dict(num_classes=4, beta=float("nan")), "cutmix_beta"),
        (dict(num_classes=4, prob=1.5), "cutmix_prob"),
        (dict(num_classes=0), "num_classes"),
        (dict(num_classes=4, seed=True), "seed"),
    ],
)
def test_layer_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        has_tf.CutMix(**kwargs)


def test_layer_in_tf_data_and_identity_with_training_false():
    layer = has_tf.CutMix(5, seed=4)
    images = tf.cast(
        tf.random.uniform([4, 12, 12, 3], 0, 255, seed=2), tf.uint8
    )
    labels = tf.constant([0, 1, 2, 3])
    same, one_hot = layer((images, labels), training=False)
    assert same is images
    np.testing.assert_array_equal(one_hot.numpy(), np.eye(5)[:4])
    data = tf.data.Dataset.from_tensors((images, labels)).map(
        lambda x, y: layer((x, y))
    )
    mixed, soft = next(iter(data))
    assert mixed.dtype == tf.uint8 and soft.shape == (4, 5)
    as_dict = layer(
        {"images": images, "labels": labels, "id": tf.constant(1)},
        training=True,
    )
    assert set(as_dict) == {"images", "labels", "id"}
    config = layer.get_config()
    assert has_tf.CutMix.from_config(config).get_config() == config


def test_an_unknown_batch_size_mixes_as_a_known_one():
    """`dataset.batch(4)` (no `drop_remainder`): the batch size is known at
    run time only, and the last batch is partial."""
    layer = has_tf.CutMix(5, seed=4)
    pixels = np.random.default_rng(3).integers(0, 256, (10, 12, 12, 3))
    images = tf.constant(pixels.astype(np.uint8))
    labels = tf.constant([0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    assert data.element_spec[0].shape[0] is None
    batches = list(data.map(lambda x, y: layer((x, y), training=True)))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    for mixed, soft in batches:
        assert mixed.dtype == tf.uint8 and soft.shape[1] == 5
        np.testing.assert_allclose(soft.numpy().sum(1), 1.0, rtol=1e-6)
    # The same seed and batch, static or not: the same mix.
    seed = tf.constant([7, 9], tf.int64)
    static = cutmix.cutmix_batch(images[:4], labels[:4], 5, 1.0, 1.0, seed)
    unknown = tf.function(
        lambda x, y: cutmix.cutmix_batch(x, y, 5, 1.0, 1.0, seed),
        input_signature=[
            tf.TensorSpec([None, 12, 12, 3], tf.uint8),
            tf.TensorSpec([None], tf.int32),
        ],
    )(images[:4], labels[:4])
    for a, b in zip(static, unknown):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match=r"static height and width.*None"):
        tf.function(
            lambda x: cutmix.cutmix_batch(x, labels[:4], 5, 1.0, 1.0, seed),
            input_signature=[tf.TensorSpec([4, None, 12, 3], tf.uint8)],
        )(images[:4])
