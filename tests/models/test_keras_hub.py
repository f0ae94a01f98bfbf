"""`cam_classifier` on KerasHub's own transformer backbones, built from
random initialisations (no preset is downloadable here).

keras-hub is no dependency of has_tf: this file runs where it is
installed (`pip install keras-hub`, which brings tensorflow-text and the
regular tensorflow wheel with it) and is skipped otherwise, under
whichever Keras backend the session runs."""

import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")

from has_tf import models  # noqa: E402


def _images(side, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (2, side, side, 3)).astype("float32")


def _check_head(model, backbone, x, tokens, prefix, side, width, classes):
    """The trunk gives the patch tokens on their grid, the CAMs are the
    classifier on it and the logits their means plus the bias."""
    grid = np.asarray(model.get_layer(backbone.name)(x))
    want = np.asarray(tokens)[:, prefix:].reshape(2, side, side, width)
    np.testing.assert_allclose(grid, want, rtol=1e-5, atol=1e-6)
    out = models.cam_model(model)(x)
    cams = np.asarray(out["cams"])
    assert cams.shape == (2, side, side, classes)
    kernel = np.asarray(model.get_layer("logits").kernel)
    bias = np.asarray(model.get_layer("logits").bias)
    np.testing.assert_allclose(
        cams, grid @ kernel.reshape(width, classes), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(out["logits"]),
        cams.mean((1, 2)) + bias,
        rtol=1e-4,
        atol=1e-5,
    )


def test_a_vit_backbone_gets_a_cam_head():
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3),
        patch_size=8,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        mlp_dim=32,
    )
    model = models.cam_classifier(backbone, 5, head="gap_dense")
    x = _images(32)
    # Its output: the class token, then 4 x 4 patches.
    tokens = backbone(x)
    assert tuple(tokens.shape) == (2, 17, 16)
    _check_head(model, backbone, x, tokens, 1, 4, 16, 5)
    # The CAM papers' conv head trains on it too.
    conv = models.cam_classifier(backbone, 5, cam_filters=(8,))
    assert models.cam_model(conv)(x)["cams"].shape == (2, 4, 4, 5)


def test_a_dinov2_backbone_drops_its_registers_and_reads_pyramid_keys():
    backbone = keras_hub.models.DINOV2Backbone(
        patch_size=14,
        num_layers=2,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        image_shape=(56, 56, 3),
        num_register_tokens=4,
    )
    x = _images(56, seed=1)
    # A class token and four registers before 4 x 4 patches.
    tokens = backbone(x)
    assert tuple(tokens.shape) == (2, 21, 16)
    model = models.cam_classifier(backbone, 3, head="gap_dense")
    _check_head(model, backbone, x, tokens, 5, 4, 16, 3)
    # A key of its pyramid_outputs: the first block's tokens.
    assert "stage1" in backbone.pyramid_outputs
    first = models.cam_classifier(
        backbone, 3, feature_layer="stage1", head="gap_dense"
    )
    import keras

    stage1 = keras.Model(backbone.inputs, backbone.pyramid_outputs["stage1"])
    _check_head(first, backbone, x, stage1(x), 5, 4, 16, 3)
    # A wrong patch side is named.
    with pytest.raises(ValueError, match="patch_size=16"):
        models.cam_classifier(backbone, 3, patch_size=16)
