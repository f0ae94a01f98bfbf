"""Tests for has_tf.layers: identity at test time, Keras plumbing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import has_tf
from has_tf import hiding
from has_tf.layers import HideAndSeekLayer
from has_tf.layers import HideSegments


def images(batch=4, size=16, dtype=tf.float32):
    return tf.cast(
        tf.random.uniform([batch, size, size, 3], 1, 250, seed=1), dtype
    )


def test_exported_at_top_level():
    assert has_tf.HideAndSeekLayer is HideAndSeekLayer
    assert has_tf.HideSegments is HideSegments
    assert has_tf.hide_patches is hiding.hide_patches


@pytest.mark.parametrize("training", [None, False])
def test_identity_unless_training(training):
    x = images()
    layer = HideAndSeekLayer([4], 1.0, 0.0, seed=1)
    np.testing.assert_array_equal(
        layer(x, training=training).numpy(), x.numpy()
    )
    seqs = tf.ones([2, 10, 3])
    np.testing.assert_array_equal(
        HideSegments(2, 1.0)(seqs, training=training).numpy(), seqs.numpy()
    )


def test_training_hides_with_the_drawn_transformation():
    x = images()
    layer = HideAndSeekLayer((0, 4, 8), 0.5, [1.0, 2.0, 3.0], seed=3)
    transformation = layer.get_random_transformation(x, training=True)
    assert layer.get_random_transformation(x, training=False) is None
    out = layer.transform_images(x, transformation)
    mask = hiding.patch_mask(x, (0, 4, 8), 0.5, seed=transformation["seed"])
    expected = tf.where(mask, [1.0, 2.0, 3.0], x)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert 0 < mask.numpy().mean() < 1


def test_calls_draw_fresh_masks_and_seeded_layers_repeat():
    x = images()
    a, b = HideAndSeekLayer([4], seed=5), HideAndSeekLayer([4], seed=5)
    first_a, first_b = a(x, training=True), b(x, training=True)
    np.testing.assert_array_equal(first_a.numpy(), first_b.numpy())
    assert (a(x, training=True).numpy() != first_a.numpy()).any()


def test_dtype_preserved_and_dict_inputs_pass_through():
    x = images(dtype=tf.uint8)
    layer = HideAndSeekLayer([4], 1.0, [10, 20, 30])
    out = layer(x, training=True)
    assert out.dtype == tf.uint8
    np.testing.assert_array_equal(out.numpy()[0, 0, 0], [10, 20, 30])
    boxes = tf.constant([[0.1, 0.2, 0.5, 0.6]])
    result = layer(
        {"images": x, "labels": tf.constant([2]), "bounding_boxes": boxes},
        training=True,
    )
    assert set(result) == {"images", "labels", "bounding_boxes"}
    assert (result["images"].numpy() != x.numpy()).any()
    np.testing.assert_array_equal(
        result["bounding_boxes"].numpy(), boxes.numpy()
    )


def test_config_round_trip():
    layer = HideAndSeekLayer(
        (0, 16, 32), 0.33, [1.5, 2.5, 3.5], seed=7, name="hide"
    )
    clone = HideAndSeekLayer.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.patch_sizes == (0, 16, 32) and clone.hide_prob == 0.33
    seg = HideSegments(100, 0.5, np.zeros(4, np.float32), seed=2)
    seg_clone = HideSegments.from_config(seg.get_config())
    assert seg_clone.get_config() == seg.get_config()
    assert seg_clone.segment_size == 100


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(patch_sizes=[-2]), r"patch_sizes=\[-2\]"),
        (dict(hide_prob=1.2), "hide_prob=1.2"),
        (dict(fill_value="grey"), "fill_value='grey'"),
        (dict(fill_value=[[1.0]]), r"fill_value=\[\[1.0\]\]"),
        (dict(fill_value=float("nan")), "finite `fill_value`.*nan"),
        (dict(fill_value=[0.0, float("inf"), 0.0]), "finite `fill_value`"),
        (dict(seed="s"), "seed='s'"),
        (dict(seed=(1, 2)), r"seed=\(1, 2\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HideAndSeekLayer(**kwargs)


def test_bad_segment_size():
    with pytest.raises(ValueError, match="segment_size=0"):
        HideSegments(0)


def build_model(sequential):
    hide = HideAndSeekLayer((0, 4, 8), 0.5, [0.5, 0.5, 0.5], seed=2)
    layers = [
        hide,
        keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(3, name="logits"),
    ]
    if sequential:
        return keras.Sequential([keras.Input((16, 16, 3)), *layers])
    inputs = keras.Input((16, 16, 3))
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("sequential", [True, False])
def test_keras_save_load_round_trip(tmp_path, sequential):
    model = build_model(sequential)
    x = images()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    hide = [x for x in loaded.layers if isinstance(x, HideAndSeekLayer)]
    original = [x for x in model.layers if isinstance(x, HideAndSeekLayer)]
    assert len(hide) == 1
    assert hide[0].get_config() == original[0].get_config()


def test_sequence_model_save_load(tmp_path):
    inputs = keras.Input((20, 6))
    x = HideSegments(5, 0.5, [0.1] * 6, seed=1)(inputs)
    x = keras.layers.Conv1D(4, 1)(x)
    model = keras.Model(inputs, keras.layers.GlobalMaxPooling1D()(x))
    model.save(tmp_path / "seq.keras")
    loaded = keras.models.load_model(tmp_path / "seq.keras")
    seqs = tf.random.uniform([2, 20, 6], seed=1)
    np.testing.assert_allclose(loaded(seqs), model(seqs), rtol=1e-6)


def test_jit_compiled_training_step_hides():
    model = build_model(sequential=False)
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    x, y = images(8), tf.zeros([8, 3])
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # Training-mode outputs vary with the hidden patches, inference's do not.
    train_a = model(x, training=True).numpy()
    train_b = model(x, training=True).numpy()
    assert (train_a != train_b).any()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())


def test_inside_tf_data_map_unbatched_and_batched():
    layer = HideAndSeekLayer([4], 1.0, 7.0)
    ds = tf.data.Dataset.from_tensor_slices(images(6))
    unbatched = ds.map(lambda x: layer(x, training=True))
    for out in unbatched:
        assert out.shape == (16, 16, 3)
        assert float(tf.reduce_max(out)) == 7.0
    batched = ds.batch(3).map(lambda x: layer(x, training=True))
    for out in batched:
        assert out.shape == (3, 16, 16, 3)
        assert float(tf.reduce_min(out)) == 7.0
    segments = HideSegments(3, 1.0, -1.0)
    seqs = tf.data.Dataset.from_tensor_slices(tf.ones([4, 9, 2]))
    for out in seqs.map(lambda x: segments(x, training=True)):
        assert float(tf.reduce_max(out)) == -1.0


def test_hiding_conv1_feature_maps():
    # The paper's conv1 ablation: cells of 5 on 55x55x96 feature maps.
    maps = tf.random.uniform([2, 55, 55, 96], 0.1, 1.0, seed=2)
    out = HideAndSeekLayer([5], 0.5, 0.0, seed=4)(maps, training=True)
    hidden = (out.numpy() == 0).all(axis=-1)  # Whole pixels, all channels.
    assert 0.3 < hidden.mean() < 0.7
    cells = hidden[:, ::5, ::5]
    np.testing.assert_array_equal(
        hidden, np.repeat(np.repeat(cells, 5, 1), 5, 2)[:, :55, :55]
    )
