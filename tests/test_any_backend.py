"""The hiding layers and has_tf.models under the Keras backend of the run.

The default suite runs these under TensorFlow; `.ci/run` runs them again
with `KERAS_BACKEND=jax` (`-m any_backend`). Arrays are compared as NumPy,
so one test body serves every backend.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from has_tf import models
from has_tf.augmentation import hiding
from has_tf.augmentation import hiding_ops
from has_tf.augmentation.layers import HideAndSeekLayer
from has_tf.augmentation.layers import HideSegments
from has_tf.augmentation.layers import PixelNormalization
from has_tf.models import videos

pytestmark = pytest.mark.any_backend
BACKEND = keras.backend.backend()
np_ = keras.ops.convert_to_numpy


def test_the_backend_is_the_one_asked_for():
    assert BACKEND == os.environ.get("KERAS_BACKEND", "tensorflow")


def _cell_fractions(mask, sizes, choice):
    """Per patch size: fraction of hidden pixels; asserts the grid rule."""
    fractions = {}
    for index, size in enumerate(sizes):
        chosen = mask[choice == index]
        if size == 0:
            assert not chosen.any()
            continue
        height, width = chosen.shape[1:3]
        rows = (np.arange(height) // size) * size
        cols = (np.arange(width) // size) * size
        corner = chosen[:, rows][:, :, cols]
        np.testing.assert_array_equal(chosen, corner)  # constant per cell
        fractions[size] = chosen[:, ::size, ::size].mean()  # one per cell
    return fractions


def test_patch_masks_follow_the_tensorflow_ops_distribution():
    sizes, prob, shape = (0, 4, 7), 0.3, (3000, 20, 20)
    draws = hiding_ops.draw_patches(shape, len(sizes), seed=1)
    ours = np_(hiding_ops.patch_mask_from(draws, sizes, prob))
    choice = np_(draws["choice"])
    theirs = hiding.patch_mask(tf.zeros([*shape, 1]), sizes, prob, seed=1)
    theirs = theirs.numpy().reshape(shape)
    # The TF op keeps its size choice inside: compare the totals.
    ours_cells = _cell_fractions(ours, sizes, choice)
    for size in (4, 7):
        # Cells (one draw each) per size: ~1000 images x 25 or 9 cells.
        cells = (choice == sizes.index(size)).sum() * (-(-20 // size)) ** 2
        assert abs(ours_cells[size] - prob) < 5 * np.sqrt(prob * 0.7 / cells)
    np.testing.assert_allclose(
        np.bincount(choice, minlength=3) / shape[0], 1 / 3, atol=0.04
    )
    # The same share of hidden pixels as has_tf.augmentation.hiding's masks.
    assert abs(ours.mean() - theirs.mean()) < 0.01
    assert abs(theirs.mean() - prob * (1 - 1 / 3)) < 0.01


def test_segment_masks_follow_the_tensorflow_ops_distribution():
    shape, size, prob = (2000, 23), 5, 0.4
    ours = np_(
        hiding_ops.segment_mask_from(
            hiding_ops.draw_segments(shape, seed=2), size, prob
        )
    )
    first = (np.arange(23) // size) * size
    np.testing.assert_array_equal(ours, ours[:, first])
    theirs = hiding.segment_mask(tf.zeros([*shape, 1]), size, prob, seed=2)
    theirs = theirs.numpy().reshape(shape)
    for mask in (ours, theirs):
        cells = mask[:, ::size]
        assert abs(cells.mean() - prob) < 5 * np.sqrt(0.24 / cells.size)


def _images(batch=4, side=16, dtype="float32"):
    rng = np.random.default_rng(0)
    return rng.uniform(1, 250, (batch, side, side, 3)).astype(dtype)


def test_hide_and_seek_layer_in_training_only_any_dtype():
    x = _images()
    layer = HideAndSeekLayer((4,), 0.5, [1.0, 2.0, 3.0], seed=3)
    np.testing.assert_array_equal(np_(layer(x, training=False)), x)
    out = np_(layer(x, training=True))
    hidden = (out == [1.0, 2.0, 3.0]).all(-1)
    assert 0 < hidden.mean() < 1
    np.testing.assert_array_equal(out[~hidden], x[~hidden])
    # uint8: the fill rounds (123.6 -> 124), shape and dtype kept.
    pixels = _images(dtype="uint8")
    out = np_(HideAndSeekLayer((4,), 1.0, 123.6)(pixels, training=True))
    assert out.dtype == np.uint8 and (out == 124).all()
    unbatched = np_(HideAndSeekLayer((4,), 1.0, 0.0)(x[0], training=True))
    assert unbatched.shape == x[0].shape and (unbatched == 0).all()


def test_hide_segments_in_training_only():
    x = np.ones((3, 20, 4), "float32")
    layer = HideSegments(5, 0.5, fill_value=-1.0, seed=4)
    np.testing.assert_array_equal(np_(layer(x, training=False)), x)
    out = np_(layer(x, training=True))[..., 0]
    np.testing.assert_array_equal(out, np.repeat(out[:, ::5], 5, axis=1))
    assert set(np.unique(out)) <= {1.0, -1.0}


def test_layers_in_tf_data_use_the_tensorflow_ops():
    layer = HideAndSeekLayer((4,), 0.5, 0.0, seed=5)
    data = tf.data.Dataset.from_tensor_slices(_images(8)).batch(4)
    batches = list(data.map(lambda b: layer(b, training=True)))
    assert all(isinstance(b, tf.Tensor) for b in batches)
    hidden = np.concatenate([(b.numpy() == 0).all(-1) for b in batches])
    assert 0 < hidden.mean() < 1
    np.testing.assert_array_equal(
        hidden, np.repeat(np.repeat(hidden[:, ::4, ::4], 4, 1), 4, 2)
    )
    segments = HideSegments(3, 1.0, seed=1)
    data = tf.data.Dataset.from_tensors(np.ones((2, 9, 2), "float32"))
    (out,) = list(data.map(lambda s: segments(s, training=True)))
    assert (out.numpy() == 0).all()


def _tiny_classifier():
    inputs = keras.Input((16, 16, 3))
    x = HideAndSeekLayer((4, 8), 0.5, 0.0, seed=6, name="input_hide")(inputs)
    backbone = keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3, name="conv1")],
        name="trunk",
    )
    return models.cam_classifier(
        keras.Model(inputs, backbone(x)), 3, head="conv", cam_filters=(8,)
    )


def test_a_model_holding_the_layer_trains_saves_and_loads(tmp_path):
    model = _tiny_classifier()
    model.compile(
        keras.optimizers.SGD(0.05),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = _images(8) / 255.0, np.arange(8) % 3
    before = np_(model.get_layer("logits").kernel).copy()
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.allclose(np_(model.get_layer("logits").kernel), before)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        np_(loaded(x, training=False)),
        np_(model(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )
    hide = loaded.layers[1].get_layer("input_hide")
    assert hide.patch_sizes == (4, 8)


def _gap_identity(cam_net, x):
    out = cam_net.predict(x, verbose=0)  # compiled: eager JAX is slow
    bias = np_(cam_net.get_layer("logits").bias)
    cams, logits = np_(out["cams"]), np_(out["logits"])
    np.testing.assert_allclose(
        logits, cams.mean((1, 2)) + bias, rtol=1e-4, atol=1e-5
    )
    return cams


def test_a_transformer_backbone_gets_a_cam_head():
    """cam_classifier lays a ViT's tokens on their grid, on this backend
    (a random DeiT of width 16, one block)."""
    from has_tf.models import deit

    keras.utils.set_random_seed(0)
    backbone = deit.vision_transformer((16, 1, 2), (32, 32, 3))
    net = models.cam_model(models.cam_classifier(backbone, 3, head="gap_dense"))
    x = np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype("f4")
    assert _gap_identity(net, x).shape == (2, 2, 2, 3)


def _convnext_features(inputs):
    from has_tf.models import convnext

    return convnext.stages(inputs, ((1, 1, 2, 1), (8, 16, 24, 32)), "c")


def _densenet_features(inputs):
    from has_tf.models import densenet

    return densenet.features(inputs, (8, (2, 1, 2, 1), 16))


@pytest.mark.parametrize(
    "family, features_of, module",
    [
        ("convnext", _convnext_features, "convnext"),
        ("densenet", _densenet_features, "densenet"),
    ],
)
def test_a_golden_backbone_equals_its_reference_on_this_backend(
    family, features_of, module
):
    """timm's ConvNeXt and torchvision's DenseNet files
    (tests/fixtures/<family>) in has_tf's, the map equal to the
    reference's forward pass, the CAM head's CAMs."""
    import importlib
    import pathlib

    from has_tf.models import common
    from has_tf.models import pretrained

    reader = importlib.import_module(f"has_tf.models.{module}")._read_file
    here = pathlib.Path(__file__).parent / "fixtures" / family
    golden = np.load(here / "golden.npz")
    images = golden["images_square"]
    inputs = keras.Input(images.shape[1:])
    features = features_of(inputs)
    model = keras.Model(
        inputs, common.cam_head(features, 5, (), False, "avg", 0.0)
    )
    tensors = pretrained.read_tensors(str(here / "golden.safetensors"))
    reader(model, tensors, "golden")
    want = golden["features_square"]
    np.testing.assert_allclose(
        np_(keras.Model(inputs, features)(images)),
        want,
        rtol=0,
        atol=1e-4 * np.abs(want).max(),
    )
    assert _gap_identity(models.cam_model(model), images).shape == (2, 2, 2, 5)


# The smallest input each builder takes (its CAM at least 1x1).
_SIDES = {
    "small_gap": 32,
    "alexnet_gap": 67,
    "googlenet_gap": 32,
    "vgg16_cam": 32,
    "resnet50_cam": 32,
    "inception_v3_cam": 75,
}


@pytest.mark.skipif(
    BACKEND == "tensorflow",
    reason="tests/models builds, runs and saves every builder under TensorFlow",
)
@pytest.mark.parametrize("name", sorted(_SIDES))
def test_every_image_builder_runs_and_round_trips(name, tmp_path, monkeypatch):
    from tests import keras_files

    keras_files.numpy_initial_weights(monkeypatch.setattr)
    side = _SIDES[name]
    # As the apps build them: uint8 pixels in, normalised and (in
    # training) hidden by the first op.
    model = models.IMAGE_MODELS[name](
        3,
        input_shape=(side, side, 3),
        model_input=models.ModelInput(
            normalization=(_MEAN, _STD), hide_patch_sizes=(4,)
        ),
    )
    x = np.random.default_rng(1).integers(0, 256, size=(2, side, side, 3))
    x = x.astype("uint8")
    cams = _gap_identity(models.cam_model(model), x)
    classes = np.array([0, 2])
    per_class = np_(models.class_cams(cams, classes))
    np.testing.assert_array_equal(per_class, cams[[0, 1], ..., [0, 2]])
    big = np_(models.upsample_cams(per_class, (side, side)))
    assert big.shape == (2, side, side)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    # The same layers and weights (a forward pass of the copy would
    # compile the whole net again: JAX compiles per call).
    assert [(type(a), a.name) for a in loaded.layers] == [
        (type(b), b.name) for b in model.layers
    ]
    assert len(loaded.weights) == len(model.weights)
    for saved, restored in zip(model.weights, loaded.weights):
        assert saved.path == restored.path
        np.testing.assert_array_equal(np_(restored), np_(saved))


_MEAN, _STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def test_pixel_normalization_normalises_and_hides_in_training_only():
    pixels = np.random.default_rng(5).integers(0, 256, (64, 32, 32, 3))
    pixels = pixels.astype("uint8")
    layer = PixelNormalization(_MEAN, _STD, (8,), 0.5, seed=3)
    expected = (pixels.astype("float32") - np.float32(_MEAN)) / np.float32(_STD)
    plain = np_(layer(pixels, training=False))
    assert plain.dtype == np.float32
    # XLA (JAX's eager ops too) may divide as a multiplication by the
    # reciprocal: within an ulp of NumPy's (TensorFlow's is bit-exact).
    np.testing.assert_allclose(plain, expected, rtol=3e-7, atol=0)
    out = np_(layer(pixels, training=True))
    hidden = np.all(out == 0, axis=-1)
    np.testing.assert_array_equal(out[~hidden], plain[~hidden])
    assert abs(hidden.mean() - 0.5) < 0.05  # 1,024 cells: sd 0.016.
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    model = keras.Model(inputs, PixelNormalization(_MEAN, _STD)(inputs))
    np.testing.assert_allclose(
        np_(model(pixels[:2])), expected[:2], rtol=3e-7, atol=0
    )


def test_upsample_cams_is_half_pixel_bilinear():
    cams = np.arange(8, dtype="float32").reshape(1, 2, 4)
    out = np_(models.upsample_cams(cams, (4, 8)))
    expected = tf.image.resize(cams[..., None], (4, 8)).numpy()[..., 0]
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("background", [False, True])
def test_the_temporal_net_trains_saves_and_loads(background, tmp_path):
    model = models.temporal_net(
        4, 6, steps=12, units=8, attention=True, background=background
    )
    loss = (
        videos.background_suppression_loss
        if background
        else models.temporal_loss("softmax")
    )
    model.compile(keras.optimizers.Adam(1e-2), loss=loss)
    x = np.random.default_rng(2).normal(size=(4, 12, 6)).astype("float32")
    y = np.eye(4, dtype="float32")
    history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "t.keras")
    loaded = keras.saving.load_model(tmp_path / "t.keras")
    np.testing.assert_allclose(
        np_(loaded(x)), np_(model(x)), rtol=1e-5, atol=1e-6
    )
    tcam = models.temporal_cam_model(loaded)(x)
    assert np_(tcam["tcam"]).shape[:2] == (4, 12)


def test_adl_and_acol_models_train_and_give_the_reference_rules(tmp_path):
    """ADL and ACoL under this backend: the golden rules hold, both models
    fit (ACoL with its second loss) and round-trip."""
    from has_tf.models import acol
    from has_tf.models import adl
    from tests import wsol_golden

    for scalars, arrays in wsol_golden.cases("adl")[:4]:
        out = adl.adl(
            arrays["inputs"],
            np.float32(scalars["draw"]),
            scalars["drop_rate"],
            scalars["threshold"],
        )
        np.testing.assert_allclose(np_(out), arrays["outputs"], atol=1e-6)
    scalars, arrays = wsol_golden.cases("acol")[0]
    heads = acol.AcolHeads(5, 16, scalars["threshold"])
    heads.build(arrays["feature"].shape)
    for key in ("head_a", "head_b"):
        for index, conv in enumerate(heads.heads[key]):
            conv.set_weights(arrays[key][2 * index : 2 * index + 2])
    cams = np_(heads.cams(arrays["feature"], arrays["labels"]))
    picked = np.take_along_axis(
        cams, arrays["used_labels"].astype(int)[:, None, None, None], 3
    )[..., 0]
    np.testing.assert_allclose(picked, arrays["cams"], atol=1e-6)
    x = _images(8) / 255.0
    y = np.arange(8) % 3
    for method in ("adl", "acol"):
        model = models.small_gap(
            3,
            (16, 16, 3),
            widths=(8, 8),
            cam_filters=8,
            method=getattr(models, method).built_in(),
        )
        model.compile(
            keras.optimizers.SGD(0.05),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        inputs = [x, y.astype("int32")] if method == "acol" else x
        history = model.fit(inputs, y, batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        net = models.cam_model(model)
        cams = np_(net(models.net_inputs(net, x, y))["cams"])
        assert cams.shape == (8, 8, 8, 3) and np.isfinite(cams).all()
        path = tmp_path / f"{method}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(
            np_(loaded(models.net_inputs(loaded, x), training=False)),
            np_(model(models.net_inputs(model, x), training=False)),
            rtol=1e-5,
            atol=1e-6,
        )


def test_cutmix_layer_keras_ops_path_mixes_and_mixes_labels():
    from has_tf.augmentation.cutmix_layer import CutMix

    images = _images(6, dtype="uint8")
    labels = np.array([0, 1, 2, 0, 1, 2])
    layer = CutMix(3, seed=2)
    mixed, soft = layer((images, labels), training=True)
    mixed, soft = np_(mixed), np_(soft)
    assert mixed.dtype == np.uint8 and soft.shape == (6, 3)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    kept = np.all(mixed == images, axis=-1).mean(axis=(1, 2))
    own = soft[np.arange(6), labels]
    assert np.all(own >= kept - 1e-6)
    same = layer((images, labels), training=False)  # no mix, one-hot labels
    np.testing.assert_array_equal(np_(same[0]), images)
    np.testing.assert_array_equal(np_(same[1]), np.eye(3)[labels])
