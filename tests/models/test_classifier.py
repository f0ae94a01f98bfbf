"""Tests for has_tf.models.cam_classifier: a CAM head on any backbone."""

import keras
import numpy as np
import pytest

from has_tf import models
from has_tf.tasks import image_localization
from has_tf.tasks.base import load_run


def _scaled_logits(model, x):
    """Scales the classifier so logits are O(1) (untrained backbones give
    tiny features), then returns the CAM model's outputs as NumPy."""
    trunk = model.get_layer(model.layers[1].name)
    pool = model.get_layer("gap")
    features = keras.Model(model.inputs[0], pool.input)(x)
    kernel = model.get_layer("logits").kernel
    rng = np.random.default_rng(0)
    scale = float(np.abs(np.asarray(features)).mean()) + 1e-30
    kernel.assign(rng.normal(size=kernel.shape).astype("float32") / scale)
    model.get_layer("logits").bias.assign(
        rng.normal(size=kernel.shape[1:]).astype("float32")
    )
    out = models.cam_model(model)(x, training=False)
    assert trunk.name in {layer.name for layer in model.layers}
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize(
    "application, feature_layer, side",
    [
        ("MobileNetV2", "out_relu", 64),
        ("EfficientNetB0", "top_activation", 64),
        ("ResNet50", "conv5_block3_out", 64),
    ],
)
def test_gap_dense_cams_on_keras_applications(application, feature_layer, side):
    keras.utils.set_random_seed(0)  # The same random backbone every run.
    backbone = getattr(keras.applications, application)(
        include_top=True, weights=None, input_shape=(side, side, 3)
    )
    model = models.cam_classifier(
        backbone, 4, feature_layer=feature_layer, head="gap_dense"
    )
    x = np.random.default_rng(1).uniform(0, 255, (2, side, side, 3))
    out = _scaled_logits(model, x.astype("float32"))
    bias = np.asarray(model.get_layer("logits").bias)
    assert out["cams"].shape == (2, side // 32, side // 32, 4)
    assert np.abs(out["logits"]).max() > 0.1  # not a vacuous identity
    # float32 sums over ~1,000 channels: the rounding scales with the
    # largest logit, not with each one (a logit near 0 beside one of 80).
    np.testing.assert_allclose(
        out["logits"],
        out["cams"].mean((1, 2)) + bias,
        rtol=1e-4,
        atol=1e-6 * np.abs(out["logits"]).max(),
    )
    # Only the head is new: the backbone's weights are shared.
    assert backbone.get_layer(feature_layer).output is not None
    assert not any(layer.name.startswith("cam_conv") for layer in model.layers)


def test_conv_head_on_the_projects_own_backbone_with_hiding(tmp_path):
    own = models.small_gap(3, input_shape=(28, 28, 3))
    model = models.cam_classifier(
        own,
        5,
        feature_layer="conv3_relu",
        cam_filters=(16, 8),
        batch_norm=True,
        pooling="max",
        model_input=models.ModelInput(hide_patch_sizes=(0, 7)),
    )
    names = [layer.name for layer in model.layers]
    assert names[:3] == ["images", "input_hide", own.name]
    assert {"cam_conv1", "cam_conv2_bn", "gmp", "logits"} <= set(names)
    x = np.random.default_rng(2).normal(size=(2, 28, 28, 3)).astype("f4")
    out = models.cam_model(model)(x, training=False)
    assert tuple(out["cams"].shape) == (2, 7, 7, 5)
    # Shared weights: the trunk's conv1 is the builder's conv1.
    assert model.get_layer(own.name).get_layer("conv1") is own.get_layer(
        "conv1"
    )
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6
    )


def test_bad_arguments_are_named():
    own = models.small_gap(3, input_shape=(28, 28, 3))
    with pytest.raises(ValueError, match="no layer named 'conv9'"):
        models.cam_classifier(own, 2, feature_layer="conv9")
    with pytest.raises(ValueError, match=r"feature maps \[B, h, w, K\].*"):
        models.cam_classifier(own, 2)  # its output is logits
    with pytest.raises(ValueError, match="head="):
        models.cam_classifier(own, 2, feature_layer="conv3", head="fc")
    with pytest.raises(ValueError, match="num_classes"):
        models.cam_classifier(own, 0, feature_layer="conv3")
    with pytest.raises(ValueError, match="keras.Model"):
        models.cam_classifier("resnet", 2)


def _model_file(tmp_path, classes=3, side=28):
    own = models.small_gap(classes, input_shape=(side, side, 3))
    model = models.cam_classifier(
        own, classes, feature_layer="conv3_relu", cam_filters=(8,)
    )
    path = tmp_path / "mine.keras"
    model.save(path)
    return str(path)


def test_the_training_app_trains_a_model_file(tmp_path, one_step_run):
    path = _model_file(tmp_path)
    run = one_step_run(model=path, lr_multiplier=10.0)
    model, info = load_run(run)
    assert info["model"] == path
    assert model.get_layer("logits").units == 3
    out = models.cam_model(model)(np.zeros((1, 28, 28, 3), "f4"))
    assert tuple(out["cams"].shape) == (1, 7, 7, 3)


def test_a_model_file_that_does_not_fit_is_refused(tmp_path):
    with pytest.raises(ValueError, match="has 3 classes, the dataset 5"):
        image_localization.model_file(_model_file(tmp_path), 5, 28)
    with pytest.raises(ValueError, match=r"crops are \(32, 32, 3\)"):
        image_localization.model_file(_model_file(tmp_path), 3, 32)


def test_a_bad_model_option_is_named_when_the_run_resolves(tmp_path):
    from has_tf import tasks
    from has_tf.config import TrainConfig

    def resolved(**options):
        tasks.resolve(TrainConfig(model_dir=str(tmp_path), **options))

    with pytest.raises(ValueError, match="--model.*a path to a .keras"):
        resolved(model="mine.h5")
    with pytest.raises(ValueError, match="no such model file"):
        resolved(model="absent.keras")
    with pytest.raises(ValueError, match="hide_patch_sizes"):
        resolved(model=_model_file(tmp_path), hide_on="device")


def test_a_transformers_tokens_are_laid_on_their_grid():
    """A ViT's tokens `[B, 1 + N, D]` (the class token first): the CAM
    head sits on the patches, row by row; the GAP identity holds."""
    from has_tf.models import deit

    keras.utils.set_random_seed(0)
    backbone = deit.vision_transformer((48, 2, 3), (64, 64, 3))
    model = models.cam_classifier(backbone, 4, head="gap_dense")
    grid = model.get_layer(backbone.name)  # The trunk: images to the grid.
    x = np.random.default_rng(1).normal(size=(2, 64, 64, 3)).astype("f4")
    tokens = np.asarray(backbone(x))
    np.testing.assert_allclose(
        np.asarray(grid(x)), tokens[:, 1:].reshape(2, 4, 4, 48), rtol=1e-5
    )
    out = _scaled_logits(model, x)
    bias = np.asarray(model.get_layer("logits").bias)
    assert out["cams"].shape == (2, 4, 4, 4)
    np.testing.assert_allclose(
        out["logits"], out["cams"].mean((1, 2)) + bias, rtol=1e-4, atol=1e-5
    )


def _registers_backbone():
    """DINOv2's layout: a class token and 4 registers before 14-pixel
    patches (`[B, 5 + 16, 8]` at 56 x 56), and a pyramid output."""
    images = keras.Input((56, 56, 3))
    maps = keras.layers.Conv2D(8, 14, strides=14, name="patches")(images)
    patches = keras.layers.Reshape((16, 8))(maps)
    prefix = keras.ops.ones_like(patches[:, :5])
    tokens = keras.layers.Concatenate(axis=1)([prefix, patches])
    backbone = keras.Model(images, tokens, name="registers")
    backbone.pyramid_outputs = {"P3": maps}
    return backbone, maps


def test_register_tokens_are_dropped_and_pyramid_keys_read():
    backbone, maps = _registers_backbone()
    model = models.cam_classifier(backbone, 3, head="gap_dense")
    x = np.random.default_rng(2).normal(size=(2, 56, 56, 3)).astype("f4")
    grid = model.get_layer(backbone.name)  # The trunk: images to the grid.
    want = keras.Model(backbone.inputs, maps)(x)
    np.testing.assert_allclose(np.asarray(grid(x)), want, rtol=1e-6)
    pyramid = models.cam_classifier(
        backbone, 3, feature_layer="P3", head="gap_dense"
    )
    assert models.cam_model(pyramid)(x)["cams"].shape == (2, 4, 4, 3)
    with pytest.raises(ValueError, match="T=21, patch_size=16"):
        models.cam_classifier(backbone, 3, patch_size=16)
    with pytest.raises(ValueError, match="prefix_tokens=2"):
        models.cam_classifier(backbone, 3, prefix_tokens=2)
