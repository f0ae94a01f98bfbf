"""Tests for wsolevaluation's backbones: vgg16_cam, resnet50_cam,
inception_v3_cam (counts and sizes as `../shared/FIELD_FIGURES.md` states
the tool's)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from has_tf import models

BACKBONES = ("vgg16_cam", "resnet50_cam", "inception_v3_cam")


def _counted(model):
    """Weights, biases, BN scale and offset: not BN's moving statistics."""
    return sum(
        int(np.prod(w.shape)) for w in model.weights if "moving" not in w.path
    )


@pytest.mark.parametrize(
    "backbone, classes, expected",
    [
        ("vgg16_cam", 200, 19_639_304),
        ("vgg16_cam", 1000, 20_459_304),
        ("resnet50_cam", 200, 23_917_832),
        ("resnet50_cam", 1000, 25_557_032),
        ("inception_v3_cam", 200, 25_687_976),
        ("inception_v3_cam", 1000, 26_507_976),
    ],
)
def test_parameter_counts_equal_the_tools(backbone, classes, expected):
    assert _counted(models.IMAGE_MODELS[backbone](classes)) == expected


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("large, side", [(False, 14), (True, 28)])
def test_cam_is_14x14_at_224_and_28x28_with_the_large_feature_map(
    backbone, large, side
):
    net = models.cam_model(
        models.IMAGE_MODELS[backbone](4, large_feature_map=large)
    )
    assert tuple(net.output["cams"].shape) == (None, side, side, 4)
    assert tuple(net.output["logits"].shape) == (None, 4)


@pytest.mark.parametrize(
    "backbone, side",
    [("vgg16_cam", 48), ("resnet50_cam", 40), ("inception_v3_cam", 75)],
)
def test_logits_are_the_mean_cam_plus_bias(backbone, side):
    model = models.IMAGE_MODELS[backbone](3, input_shape=(side, side, 3))
    x = tf.random.uniform([2, side, side, 3], -1, 1, seed=3)
    out = models.cam_model(model)(x, training=False)
    bias = model.get_layer("logits").bias.numpy()
    np.testing.assert_allclose(
        out["logits"].numpy(),
        out["cams"].numpy().mean(axis=(1, 2)) + bias,
        rtol=1e-4,
        atol=1e-5,
    )
    labels = np.array([2, 0])
    picked = models.class_cams(out["cams"], labels).numpy()
    np.testing.assert_array_equal(
        picked, out["cams"].numpy()[np.arange(2), ..., labels]
    )


@pytest.mark.parametrize("backbone", BACKBONES)
def test_torchvision_layer_names_and_pytorch_batch_norm(backbone):
    model = models.IMAGE_MODELS[backbone](3, input_shape=(64, 64, 3))
    names = {layer.name for layer in model.layers}
    assert {"gap", "logits"} <= names
    expected = {
        "vgg16_cam": {"conv1_1", "conv5_3", "cam_conv", "pool4"},
        "resnet50_cam": {
            "conv1",
            "bn1",
            "layer4_2_conv3",
            "layer1_0_downsample_conv",
        },
        "inception_v3_cam": {
            "Conv2d_1a_3x3",
            "Mixed_6e_branch_pool_bn",
            "cam_conv1",
            "cam_conv2",
            "maxpool3",
        },
    }[backbone]
    assert expected <= names
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert layer.momentum == 0.9  # PyTorch's momentum=0.1
            assert layer.epsilon == (
                1e-3 if backbone == "inception_v3_cam" else 1e-5
            )


def test_inception_head_dropout_is_the_tools_and_training_only():
    model = models.inception_v3_cam(3, input_shape=(75, 75, 3))
    rates = [
        layer.rate
        for layer in model.layers
        if isinstance(layer, keras.layers.Dropout)
    ]
    assert rates == [0.5, 0.5, 0.5]
    x = tf.random.uniform([1, 75, 75, 3], seed=1)
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    assert not np.allclose(
        model(x, training=True).numpy(), model(x, training=True).numpy()
    )


@pytest.mark.parametrize(
    "build, match",
    [
        (
            lambda: models.inception_v3_cam(3, input_shape=(None, None, 3)),
            r"fixed input height and width.*\(None, None, 3\)",
        ),
        (
            lambda: models.inception_v3_cam(3, input_shape=(20, 20, 3)),
            "smallest height and width giving a 1x1 feature map are 23",
        ),
        (lambda: models.vgg16_cam(0), "num_classes=0"),
        (lambda: models.resnet50_cam(3, pooling="sum"), "pooling='sum'"),
    ],
)
def test_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_vgg_and_resnet_take_a_variable_input_size():
    for build in (models.vgg16_cam, models.resnet50_cam):
        net = models.cam_model(build(3, input_shape=(None, None, 3)))
        out = net(tf.zeros([1, 64, 96, 3]), training=False)
        assert out["cams"].shape == (1, 4, 6, 3)


# ResNet50- and InceptionV3-CAM train, save and load through the train app
# (tests/test_train.py, test_fine_tuning_a_pretrained_backbone).
@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["vgg16_cam"])
def test_one_step_trains_and_round_trips_as_keras(tmp_path, backbone):
    model = models.IMAGE_MODELS[backbone](
        3,
        input_shape=(64, 64, 3),
        model_input=models.ModelInput(hide_patch_sizes=(16,)),
    )
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = np.random.default_rng(0).normal(size=(4, 64, 64, 3)).astype("f4")
    model.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(
        again(x, training=False).numpy(),
        model(x, training=False).numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
