"""PSOL's regressor head, its pixel mapping and its loss, equal to PSOL's
code (tests/fixtures/psol, from tzzcl/PSOL ddecfce under PyTorch)."""

import pathlib

import keras
import numpy as np
import pytest

from has_tf.models import box_regressor

GOLDEN = np.load(
    pathlib.Path(__file__).parent.parent / "fixtures" / "psol" / "golden.npz"
)


def _classifier(shape):
    inputs = keras.Input(shape)
    features = keras.layers.Activation("linear", name="features")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(features)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(pooled))


def test_head_output_and_pixels_equal_psols():
    maps = GOLDEN["head_maps"]
    net = box_regressor.box_regressor(_classifier(maps.shape[1:]), seed=1)
    net.get_layer("box_fc1").set_weights([GOLDEN["head_w1"], GOLDEN["head_b1"]])
    net.get_layer("box_fc2").set_weights([GOLDEN["head_w2"], GOLDEN["head_b2"]])
    boxes = np.asarray(net(maps))
    np.testing.assert_allclose(boxes, GOLDEN["head_boxes"], rtol=0, atol=1e-6)
    corners = np.asarray(box_regressor.to_corners(boxes * 224.0))
    x1, y1, x2, y2 = GOLDEN["head_pixels"].T
    np.testing.assert_allclose(
        corners, np.stack([y1, x1, y2, x2], 1), rtol=0, atol=1e-4
    )


def test_loss_equals_psols():
    loss = box_regressor.box_loss(GOLDEN["loss_targets"], GOLDEN["head_boxes"])
    np.testing.assert_allclose(np.mean(loss), GOLDEN["loss"], rtol=1e-6)


def test_head_init_is_pytorchs_linear():
    net = box_regressor.box_regressor(_classifier((4, 4, 256)), seed=0)
    kernel, bias = net.get_layer("box_fc1").get_weights()
    bound = 1 / 16  # 1 / sqrt(256)
    for values in (kernel, bias):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound
    kernel, _ = net.get_layer("box_fc2").get_weights()
    assert kernel.shape == (512, 4)
    assert np.abs(kernel).max() <= 1 / np.sqrt(512)
    assert [layer.name for layer in net.layers][-3:] == list(
        box_regressor.HEAD_LAYERS
    )


def test_an_earlier_map_max_pooled_is_psols_vgggap():
    """`features_layer` + `features_pool`: torchvision's pool5
    (`MaxPool2d(2)`, the odd row and column dropped) then the head."""
    inputs = keras.Input((7, 5, 6))
    conv5 = keras.layers.Conv2D(8, 1, name="conv5")(inputs)
    after = keras.layers.Conv2D(4, 1, name="cam_conv")(conv5)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(after)
    classifier = keras.Model(
        inputs, keras.layers.Dense(3, name="logits")(pooled)
    )
    net = box_regressor.box_regressor(
        classifier, seed=0, features_layer="conv5", features_pool=2
    )
    x = np.random.default_rng(0).normal(size=(2, 7, 5, 6)).astype("f4")
    maps = np.asarray(keras.Model(inputs, conv5)(x))[:, :6, :4]
    maps = maps.reshape(2, 3, 2, 2, 2, 8).max(axis=(2, 4)).mean(axis=(1, 2))
    w1, b1 = net.get_layer("box_fc1").get_weights()
    w2, b2 = net.get_layer("box_fc2").get_weights()
    expected = 1 / (1 + np.exp(-(np.maximum(maps @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(np.asarray(net(x)), expected, atol=1e-6)
    with pytest.raises(ValueError, match="--box_features: .*'conv6'"):
        box_regressor.box_regressor(classifier, features_layer="conv6")
    with pytest.raises(ValueError, match="--box_features: .*'gap'"):
        box_regressor.box_regressor(classifier, features_layer="gap")
    with pytest.raises(ValueError, match="--box_features_pool: .*9"):
        box_regressor.box_regressor(classifier, features_pool=9)
    with pytest.raises(ValueError, match="--box_features_pool: .*0"):
        box_regressor.box_regressor(classifier, features_pool=0)


def test_densenet161_gives_psols_map():
    """PSOL's densenet161 regressor pools torchvision's features after
    its ReLU: the CAM head's input, 2208 channels."""
    from has_tf import models

    net = box_regressor.box_regressor(models.densenet161(3, (64, 64, 3)))
    assert net.get_layer("box_pool").input.shape[1:] == (2, 2, 2208)
    assert net.get_layer("box_fc1").get_weights()[0].shape == (2208, 512)
