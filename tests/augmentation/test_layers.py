"""Tests for augmentation.layers: identity at test time, Keras plumbing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import has_tf
from has_tf.augmentation import hiding
from has_tf.augmentation.layers import HideAndSeekLayer
from has_tf.augmentation.layers import HideSegments


def images(batch=4, size=16, dtype=tf.float32):
    return tf.cast(
        tf.random.uniform([batch, size, size, 3], 1, 250, seed=1), dtype
    )


def test_exported_at_top_level():
    assert has_tf.HideAndSeekLayer is HideAndSeekLayer
    assert has_tf.HideSegments is HideSegments
    assert has_tf.hide_patches is hiding.hide_patches


def test_identity_with_training_false():
    x = images()
    layer = HideAndSeekLayer([4], 1.0, 0.0, seed=1)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    seqs = tf.ones([2, 10, 3])
    np.testing.assert_array_equal(
        HideSegments(2, 1.0)(seqs, training=False).numpy(), seqs.numpy()
    )


def test_without_training_outside_a_model_hides_as_keras_random_layers_do():
    x = images()
    assert (HideAndSeekLayer([4], 1.0, 0.0)(x).numpy() == 0).all()
    assert (HideSegments(2, 1.0)(tf.ones([2, 10, 3])).numpy() == 0).all()


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


MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def _pixels(batch=6, size=32):
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (batch, size, size, 3)).astype(np.uint8)


@pytest.mark.parametrize("patch_sizes", [None, (0, 8)])
def test_pixel_normalization_equals_the_host_normalisation(patch_sizes):
    from has_tf.input_pipeline import images as image_pipeline

    pixels = _pixels()
    layer = has_tf.PixelNormalization(MEAN, STD, patch_sizes, seed=2)
    host = image_pipeline._normalize(tf.constant(pixels), MEAN, STD)
    out = layer(
        pixels, training=False
    )  # Inference: normalised, nothing hidden.
    assert out.dtype == tf.float32
    np.testing.assert_array_equal(out.numpy(), host.numpy())
    jitted = tf.function(lambda x: layer(x, training=False), jit_compile=True)(
        pixels
    )
    np.testing.assert_allclose(jitted.numpy(), host.numpy(), rtol=1e-6)


def test_pixel_normalization_hides_normalised_pixels_with_0_in_training():
    pixels = _pixels(batch=64)
    layer = has_tf.PixelNormalization(MEAN, STD, (8,), 0.5, seed=4)
    plain = layer(pixels, training=False).numpy()
    out = layer(pixels, training=True).numpy()
    hidden = np.all(out == 0, axis=-1)
    # Hidden pixels are 0; the others are the normalised pixels.
    np.testing.assert_array_equal(out[~hidden], plain[~hidden])
    assert abs(hidden.mean() - 0.5) < 0.05  # 1,024 cells: sd 0.016.
    # Cells of 8 at the grid anchored top-left: constant within a cell.
    cells = hidden.reshape(64, 4, 8, 4, 8)
    assert np.all(cells.all(axis=(2, 4)) == cells.any(axis=(2, 4)))
    # Without patch sizes it never hides and holds no seed generator.
    bare = has_tf.PixelNormalization(MEAN, STD)
    np.testing.assert_array_equal(bare(pixels, training=True), plain)
    assert bare.hiding is None and not bare._seed_generators


def test_pixel_normalization_under_mixed_precision_and_save_load(tmp_path):
    layer = has_tf.PixelNormalization(MEAN, STD, (0, 8), dtype="mixed_float16")
    assert layer(_pixels()).dtype == tf.float16
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    x = has_tf.PixelNormalization(MEAN, STD, (0, 8), 0.25, name="p")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(x))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    got = loaded.get_layer("p")
    assert (got.mean, got.std) == (list(MEAN), list(STD))
    assert got.patch_sizes == (0, 8) and got.hide_prob == 0.25
    np.testing.assert_allclose(loaded(_pixels()), model(_pixels()), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mean="grey", std=STD), "mean='grey'"),
        (dict(mean=MEAN, std=(1.0, 0.0, 1.0)), "std="),
        (dict(mean=[[1.0]], std=STD), "mean="),
        (dict(mean=(float("nan"),) * 3, std=STD), "mean="),
        (dict(mean=MEAN, std=STD, hide_prob=1.5), "hide_prob"),
        (dict(mean=MEAN, std=STD, seed=1.5), "seed=1.5"),
        (dict(mean=MEAN, std=STD, patch_sizes=(-1,)), "patch_sizes"),
    ],
)
def test_pixel_normalization_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        has_tf.PixelNormalization(**kwargs)


def test_pixel_normalization_in_a_tf_function_equals_the_tf_data_one():
    """Inside a compiled step (a tf.function, as Keras's fit runs it) the
    layer gives the bits the host's tf.data normalisation gave (grappler
    would turn a plain division by a constant into a multiplication)."""
    from has_tf.input_pipeline import images as image_pipeline

    pixels = _pixels()
    host = next(
        iter(
            tf.data.Dataset.from_tensors(pixels).map(
                lambda x: image_pipeline._normalize(x, MEAN, STD)
            )
        )
    )
    layer = has_tf.PixelNormalization(MEAN, STD)
    compiled = tf.function(lambda x: layer(x))(tf.constant(pixels))
    np.testing.assert_array_equal(compiled.numpy(), host.numpy())
