"""Tests for has_tf.models: shapes, exact parameter counts, CAM identities."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from has_tf import models
from has_tf.models.common import LocalResponseNorm


def features_and_logits(model, x):
    pool = (
        model.get_layer("gap")
        if any(layer.name == "gap" for layer in model.layers)
        else model.get_layer("gmp")
    )
    probe = keras.Model(model.inputs, [pool.input, model.outputs[0]])
    return probe(x, training=False)


# ------------------------------------------------------------ parameter counts


def test_alexnet_gap_parameter_count():
    # conv1  11*11*3*96   + 96  =    34,944
    # conv2   5*5*96*256  + 256 =   614,656   (no filter groups)
    # conv3   3*3*256*384 + 384 =   885,120
    # conv4   3*3*384*384 + 384 = 1,327,488
    # conv5   3*3*384*256 + 256 =   884,992
    # cam_conv1 3*3*256*512 + 512 = 1,180,160
    # cam_conv2 3*3*512*512 + 512 = 2,359,808
    # logits  512*1000 + 1000 =   513,000
    # total                     = 7,800,168  (LRN and pooling: none)
    assert models.alexnet_gap().count_params() == 7_800_168
    assert models.alexnet_gap(pool5=False).count_params() == 7_800_168
    # Ten classes: the classifier shrinks to 512*10 + 10 = 5,130.
    assert models.alexnet_gap(10).count_params() == 7_800_168 - 513_000 + 5_130


def test_googlenet_gap_parameter_count_with_and_without_bn():
    # With BN: a conv k*k*cin*cout has no bias, its BN 4*cout (gamma, beta,
    # moving mean and variance).
    # stem:  conv1 7*7*3*64 + 256 = 9,664; conv2_reduce 64*64 + 256 = 4,352;
    #        conv2 3*3*64*192 + 768 = 111,360
    # inception (cin: 1x1, 3x3r, 3x3, 5x5r, 5x5, proj), each conv as above:
    #   3a (192: 64, 96, 128, 16, 32, 32)    = 164,800
    #   3b (256: 128, 128, 192, 32, 96, 64)  = 390,656
    #   4a (480: 192, 96, 208, 16, 48, 64)   = 378,048
    #   4b (512: 160, 112, 224, 24, 64, 64)  = 451,104
    #   4c (512: 128, 128, 256, 24, 64, 64)  = 512,096
    #   4d (512: 112, 144, 288, 32, 64, 64)  = 607,488
    #   4e (528: 256, 160, 320, 32, 128, 128) = 871,424
    #   e.g. 3a: 192*64+256 + 192*96+384 + 9*96*128+512 + 192*16+64
    #            + 25*16*32+128 + 192*32+128 = 164,800
    # cam_conv 3*3*832*1024 + 4096 = 7,671,808; logits 1024*1000 + 1000
    # = 1,025,000. Total 12,197,800.
    assert models.googlenet_gap().count_params() == 12_197_800
    # Without BN every conv has a bias of cout instead of 4*cout: the
    # total drops by 3 * (all conv channels) = 3 * 6,016 = 18,048.
    assert models.googlenet_gap(batch_norm=False).count_params() == (
        12_197_800 - 18_048
    )


def test_small_gap_parameter_count():
    # conv1 9*3*32 + 4*32 = 992; conv2 9*32*64 + 4*64 = 18,688;
    # conv3 9*64*128 + 4*128 = 74,240; cam_conv 9*128*128 + 4*128 =
    # 147,968; logits 128*10 + 10 = 1,290. Total 243,178.
    assert models.small_gap().count_params() == 243_178


# --------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    "build, image, cam_side",
    [
        (lambda: models.alexnet_gap(5), 224, 11),
        (lambda: models.alexnet_gap(5, pool5=False), 224, 13),
        (lambda: models.alexnet_gap(5, input_shape=(96, 96, 3)), 96, 3),
        (lambda: models.googlenet_gap(5), 224, 14),
        (lambda: models.googlenet_gap(5, input_shape=(64, 64, 3)), 64, 4),
        (lambda: models.small_gap(5), 64, 16),
        (lambda: models.small_gap(5, input_shape=(128, 128, 3)), 128, 32),
    ],
)
def test_logits_and_cam_shapes(build, image, cam_side):
    model = models.cam_model(build())
    out = model(tf.zeros([2, image, image, 3]))
    assert out["logits"].shape == (2, 5)
    assert out["cams"].shape == (2, cam_side, cam_side, 5)
    assert out["logits"].dtype == out["cams"].dtype == tf.float32


def test_googlenet_reaches_inception_4e_at_14x14x832():
    model = models.googlenet_gap(3)
    assert model.get_layer("inception_4e_output").output.shape == (
        None,
        14,
        14,
        832,
    )


def test_stable_layer_names():
    names = {layer.name for layer in models.alexnet_gap(3).layers}
    assert {
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "pool5",
        "cam_conv1",
        "cam_conv2",
        "gap",
        "logits",
    } <= names
    names = {layer.name for layer in models.googlenet_gap(3).layers}
    assert {"conv1", "conv2", "cam_conv", "gap", "logits"} <= names
    gmp = models.small_gap(3, pooling="max", dropout_rate=0.5)
    assert {"gmp", "dropout", "logits"} <= {x.name for x in gmp.layers}


# ------------------------------------------------------------ CAM identities


@pytest.mark.parametrize(
    "build, image",
    [
        (lambda: models.alexnet_gap(4, input_shape=(80, 80, 3)), 80),
        (lambda: models.googlenet_gap(4, input_shape=(48, 48, 3)), 48),
        (lambda: models.small_gap(4, dropout_rate=0.3), 64),
    ],
)
def test_cams_are_the_einsum_and_average_to_the_logits(build, image):
    model = build()
    x = tf.random.uniform([3, image, image, 3], -1, 1, seed=1)
    features, logits = features_and_logits(model, x)
    dense = model.get_layer("logits")
    out = models.cam_model(model)(x, training=False)
    expected = np.einsum(
        "bhwk,kn->bhwn", features.numpy(), dense.kernel.numpy()
    )
    np.testing.assert_allclose(
        out["cams"].numpy(), expected, rtol=1e-5, atol=1e-5
    )
    # GAP: logits[c] = mean(cams[..., c]) + bias[c].
    np.testing.assert_allclose(
        logits.numpy(),
        out["cams"].numpy().mean(axis=(1, 2)) + dense.bias.numpy(),
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(out["logits"].numpy(), logits.numpy(), rtol=1e-6)


def test_gmp_logits_are_the_max_of_features():
    model = models.small_gap(3, pooling="max")
    x = tf.random.uniform([2, 64, 64, 3], seed=2)
    features, logits = features_and_logits(model, x)
    dense = model.get_layer("logits")
    expected = features.numpy().max(axis=(1, 2)) @ dense.kernel.numpy()
    np.testing.assert_allclose(
        logits.numpy(), expected + dense.bias.numpy(), rtol=1e-5, atol=1e-5
    )


def test_class_cams_and_upsampling():
    cams = tf.reshape(tf.range(2 * 2 * 3 * 4, dtype=tf.float32), [2, 2, 3, 4])
    picked = models.class_cams(cams, classes=[3, 1])
    np.testing.assert_array_equal(picked[0].numpy(), cams[0, ..., 3].numpy())
    np.testing.assert_array_equal(picked[1].numpy(), cams[1, ..., 1].numpy())
    logits = tf.constant([[0.0, 5.0, 1.0, 2.0], [9.0, 0.0, 0.0, 0.0]])
    top1 = models.class_cams(cams, logits=logits)
    np.testing.assert_array_equal(top1[0].numpy(), cams[0, ..., 1].numpy())
    np.testing.assert_array_equal(top1[1].numpy(), cams[1, ..., 0].numpy())
    with pytest.raises(ValueError, match="classes=None, logits=None"):
        models.class_cams(cams)
    up = models.upsample_cams(picked, (8, 12))
    assert up.shape == (2, 8, 12)
    flat = models.upsample_cams(tf.fill([1, 3, 3], 2.5), (7, 5))
    np.testing.assert_allclose(flat.numpy(), 2.5)
    assert models.upsample_cams(cams, (4, 6)).shape == (2, 4, 6, 4)
    # Bilinear with half-pixel centres: a left-to-right ramp stays monotone.
    ramp = tf.reshape(tf.constant([0.0, 1.0, 2.0]), [1, 1, 3])
    row = models.upsample_cams(ramp, (1, 9)).numpy()[0, 0]
    assert (np.diff(row) >= 0).all() and row[0] == 0.0 and row[-1] == 2.0


def test_local_response_norm_matches_caffe_formula():
    x = np.random.default_rng(0).normal(size=[1, 2, 2, 7]).astype(np.float32)
    out = LocalResponseNorm(size=5, alpha=1e-1, beta=0.75, bias=2.0)(x)
    expected = np.empty_like(x)
    for c in range(7):
        lo, hi = max(0, c - 2), min(7, c + 3)
        total = (x[..., lo:hi] ** 2).sum(-1)
        expected[..., c] = x[..., c] / (2.0 + 0.1 / 5 * total) ** 0.75
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


# ------------------------------------------------------------------ training


@pytest.mark.parametrize(
    "build, image",
    [
        (lambda: models.small_gap(3), 64),
        (lambda: models.alexnet_gap(3, input_shape=(72, 72, 3), lrn=False), 72),
    ],
)
def test_one_step_lowers_the_loss(build, image):
    keras.utils.set_random_seed(0)
    model = build()
    x = tf.random.uniform([4, image, image, 3], -1, 1, seed=3)
    y = tf.constant([0, 1, 2, 1])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)

    def value():
        return float(loss(y, model(x, training=True)))

    before = value()
    with tf.GradientTape() as tape:
        step_loss = loss(y, model(x, training=True))
    grads = tape.gradient(step_loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    assert value() < before


def test_conv1_hiding_only_in_training():
    model = models.alexnet_gap(
        3,
        input_shape=(96, 96, 3),
        model_input=models.ModelInput(
            conv1_hide_patch_sizes=(5,), conv1_hide_prob=1.0
        ),
    )
    probe = keras.Model(
        model.inputs,
        [
            model.get_layer("conv1_relu").output,
            model.get_layer("conv1_hide").output,
        ],
    )
    x = tf.random.uniform([2, 96, 96, 3], seed=4)
    relu, hidden = probe(x, training=True)
    assert float(tf.reduce_max(relu)) > 0
    assert float(tf.reduce_max(tf.abs(hidden))) == 0.0
    relu, shown = probe(x, training=False)
    np.testing.assert_array_equal(shown.numpy(), relu.numpy())
    assert model.get_layer("conv1_hide").patch_sizes == (5,)


def test_jit_compiled_training_and_cam_model():
    model = models.small_gap(
        3,
        input_shape=(32, 32, 3),
        model_input=models.ModelInput(conv1_hide_patch_sizes=(4,)),
    )
    model.compile(
        optimizer="sgd",
        jit_compile=True,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x = tf.random.uniform([4, 32, 32, 3], seed=5)
    history = model.fit(x, tf.constant([0, 1, 2, 0]), verbose=0, epochs=1)
    assert np.isfinite(history.history["loss"][0])
    cam = models.cam_model(model)
    eager = cam(x)
    xla = tf.function(lambda t: cam(t), jit_compile=True)(x)
    np.testing.assert_allclose(
        xla["cams"].numpy(), eager["cams"].numpy(), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_keeps_float32_logits(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = models.small_gap(3, input_shape=(32, 32, 3))
        compute = model.get_layer("cam_conv").compute_dtype
        out = models.cam_model(model)(tf.random.uniform([2, 32, 32, 3]))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert compute == policy.split("_")[1]
    assert out["logits"].dtype == tf.float32
    assert out["cams"].dtype == tf.float32
    assert np.isfinite(out["cams"].numpy()).all()


# ------------------------------------------------------------- save and load


@pytest.mark.parametrize(
    "build, image",
    [
        (
            lambda: models.alexnet_gap(
                3,
                input_shape=(72, 72, 3),
                model_input=models.ModelInput(conv1_hide_patch_sizes=(5,)),
            ),
            72,
        ),
        (lambda: models.googlenet_gap(3, input_shape=(48, 48, 3)), 48),
        (lambda: models.small_gap(3, pooling="max", dropout_rate=0.2), 64),
    ],
)
def test_keras_save_load_round_trip(tmp_path, build, image):
    model = build()
    x = tf.random.uniform([2, image, image, 3], seed=6)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    np.testing.assert_array_equal(
        models.cam_model(loaded)(x)["cams"].numpy(),
        models.cam_model(model)(x)["cams"].numpy(),
    )


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: models.alexnet_gap(0), "num_classes=0"),
        (lambda: models.googlenet_gap(2.5), "num_classes=2.5"),
        (lambda: models.small_gap(3, pooling="median"), "pooling='median'"),
        (lambda: models.alexnet_gap(3, dropout_rate=1.0), "dropout_rate=1.0"),
        (
            lambda: models.alexnet_gap(3, input_shape=(62, 62, 3)),
            r"input_shape=\(62, 62, 3\) is too small.*are 63",
        ),
        (
            lambda: models.alexnet_gap(3, input_shape=(30, 30, 3), pool5=False),
            "are 31",
        ),
        (lambda: models.googlenet_gap(3, input_shape=(224, 16, 3)), "are 17"),
        (lambda: models.small_gap(3, input_shape=(3, 64, 3)), "are 4"),
        (lambda: models.small_gap(3, input_shape=(64, 64)), "input_shape"),
        (lambda: models.small_gap(3, widths=()), "widths=()"),
        (
            lambda: models.small_gap(3, model_input=((0, 0, 0), (1, 1, 1))),
            r"small_gap: expected `model_input`.*ModelInput.*model_input=",
        ),
        (
            lambda: models.ModelInput(normalization=(0.5,)),
            r"normalization=\(0.5,\)",
        ),
        (lambda: models.ModelInput(hide_patch_sizes=16), "hide_patch_sizes=16"),
        (
            lambda: models.ModelInput(conv1_hide_patch_sizes=(5, -1)),
            r"conv1_hide_patch_sizes=\(5, -1\)",
        ),
        (lambda: models.ModelInput(hide_prob=1.5), "hide_prob=1.5"),
    ],
)
def test_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_cam_model_needs_a_gap_classifier():
    plain = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    with pytest.raises(ValueError, match="global pooling layer"):
        models.cam_model(plain)


def test_variable_input_size():
    model = models.small_gap(3, input_shape=(None, None, 3))
    out = models.cam_model(model)(tf.zeros([1, 40, 56, 3]))
    assert out["cams"].shape == (1, 10, 14, 3)


@pytest.mark.parametrize("at_test", [False, True])
def test_dropout_at_test_keeps_dropout_active_in_inference(at_test, tmp_path):
    model = models.small_gap(
        3, input_shape=(16, 16, 3), dropout_rate=0.5, dropout_at_test=at_test
    )
    x = np.random.default_rng(0).normal(size=(4, 16, 16, 3)).astype("float32")
    first = np.asarray(model(x, training=False))
    second = np.asarray(model(x, training=False))
    # Training-only dropout: inference is deterministic; dropout at test:
    # two inference calls drop different features.
    assert np.array_equal(first, second) != at_test
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    again = [np.asarray(loaded(x, training=False)) for _ in range(2)]
    assert np.array_equal(*again) != at_test
