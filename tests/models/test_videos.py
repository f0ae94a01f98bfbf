"""The action network: shapes, the T-CAM identities, saving."""

import keras
import numpy as np
import pytest

from has_tf import models
from has_tf.models import videos


@pytest.mark.parametrize("pooling", ["max_features", "max", "topk", "avg"])
def test_tcam_and_logits(pooling, tmp_path):
    model = models.temporal_net(4, 6, units=8, pooling=pooling)
    net = models.temporal_cam_model(model)
    x = np.random.default_rng(0).normal(size=(2, 16, 6)).astype("float32")
    out = net(x)
    logits, tcam = np.asarray(out["logits"]), np.asarray(out["tcam"])
    assert logits.shape == (2, 4) and tcam.shape == (2, 16, 4)
    np.testing.assert_allclose(
        logits, np.asarray(model(x)), rtol=1e-5, atol=1e-5
    )
    bias = np.asarray(model.get_layer("classifier").bias)
    expected = {
        "max": tcam.max(axis=1),
        "avg": tcam.mean(axis=1),
        "topk": np.sort(tcam, axis=1)[:, ::-1][:, :2].mean(axis=1),
    }.get(pooling)
    if expected is not None:  # k = 16 // 8 = 2 for topk.
        np.testing.assert_allclose(
            logits, expected + bias, rtol=1e-5, atol=1e-5
        )
    path = str(tmp_path / "m.keras")
    model.save(path)

    again = keras.models.load_model(path)
    np.testing.assert_allclose(
        np.asarray(again(x)), logits, rtol=1e-5, atol=1e-5
    )


def test_paper_tcam_is_the_projection_of_the_features():
    model = models.temporal_net(3, 5, units=7)
    x = np.random.default_rng(1).normal(size=(1, 9, 5)).astype("float32")

    features = keras.Model(model.input, model.get_layer("tconv2").output)(x)
    kernel = np.asarray(model.get_layer("classifier").kernel)
    tcam = np.asarray(models.temporal_cam_model(model)(x)["tcam"])
    np.testing.assert_allclose(
        tcam, np.asarray(features) @ kernel, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(pooling="mean"), "pooling='mean'"),
        (dict(units=0), "units=0"),
        (dict(dropout_rate=1.0), "dropout_rate=1.0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.temporal_net(3, 5, **kwargs)
    with pytest.raises(ValueError, match="temporal_net"):
        models.temporal_cam_model(models.small_gap(3))


def test_background_net_packs_both_branches_and_its_loss_is_basnets():
    net = videos.temporal_net(
        3, 4, steps=8, units=5, attention=True, background=True
    )
    x = np.random.default_rng(0).normal(size=(2, 8, 4)).astype("float32")
    packed = np.asarray(net(x))
    assert packed.shape == (2, 8)  # 2 x (3 + 1)
    assert videos.has_background(net) and videos.action_classes(net) == 3
    cam = videos.temporal_cam_model(net)(x)
    np.testing.assert_allclose(cam["logits"], packed[:, :4], atol=1e-6)
    assert cam["tcam"].shape == (2, 8, 3) and cam["background"].shape == (2, 8)
    labels = np.array([[1.0, 0, 0], [0, 1.0, 1.0]], np.float32)
    got = np.asarray(videos.background_suppression_loss(labels, packed))

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    def bce(y, p):
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), -1)

    base = np.concatenate([labels, np.ones((2, 1))], 1)
    supp = np.concatenate([labels, np.zeros((2, 1))], 1)
    expected = bce(base / base.sum(1, keepdims=True), softmax(packed[:, 4:]))
    expected += bce(supp / supp.sum(1, keepdims=True), softmax(packed[:, :4]))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="attention=True"):
        videos.temporal_net(3, 4, background=True)
