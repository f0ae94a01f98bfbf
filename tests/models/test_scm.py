"""SCM's network equals the reference's own `SCM` (hbai98/SCM at
be5bdfa, run under PyTorch on recorded random weights; generator and
versions in tests/fixtures/scm/): training logits and the gradients of
their cross-entropy with respect to every encoder's two scalars,
evaluation logits, CAMs and attention map."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from has_tf.models import deit
from has_tf.models import pretrained
from has_tf.models.cam import cam_model
from has_tf.models.scm import grid_laplacian
from has_tf.models.scm import load_scm
from has_tf.models.scm import scm
from has_tf.models.tscam import attention_map
from has_tf.models.tscam import min_max

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "scm"


def _images():
    # Drawn as the generator drew them (not stored: 1.2 MB).
    images = np.random.default_rng(2).standard_normal((2, 3, 224, 224))
    return images.astype(np.float32).transpose(0, 2, 3, 1)


@pytest.fixture(scope="module")
def loaded():
    model = scm((48, 2, 3), num_classes=5, input_shape=(224, 224, 3))
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    load_scm(model, tensors)
    return model, dict(np.load(FIXTURES / "golden.npz"))


def test_training_logits_and_the_scalars_gradients_equal_the_references(
    loaded,
):
    model, golden = loaded
    images = tf.constant(_images())
    layer = model.get_layer("scm_calibration")
    with tf.GradientTape() as tape:
        logits = model(images, training=True)
        loss = keras.losses.sparse_categorical_crossentropy(
            golden["labels"], logits, from_logits=True
        )
        loss = tf.reduce_mean(loss)
    scale = np.abs(golden["train_logits"]).max()
    np.testing.assert_allclose(
        logits, golden["train_logits"], atol=1e-4 * scale
    )
    np.testing.assert_allclose(loss, golden["loss"], rtol=1e-4)
    thresholds, rates = tape.gradient(
        loss, [layer.thresholds, layer.loss_rates]
    )
    # The reference's order: layers.0.thred, layers.0.fuse._loss_rate, ...
    ours = np.stack([thresholds, rates], axis=1).ravel()
    assert list(golden["grad_names"][:2]) == [
        "layers.0.thred",
        "layers.0.fuse._loss_rate",
    ]
    np.testing.assert_allclose(
        ours, golden["grads"], atol=1e-4 * np.abs(golden["grads"]).max()
    )


def test_evaluation_drops_the_calibration_and_normalises_the_map(loaded):
    model, golden = loaded
    out = cam_model(model)(_images())
    np.testing.assert_allclose(
        out["logits"],
        golden["logits"],
        atol=1e-4 * np.abs(golden["logits"]).max(),
    )
    want = golden["cams"]
    assert out["cams"].shape == want.shape == (2, 14, 14, 5)
    np.testing.assert_allclose(
        out["cams"], want, atol=1e-4 * np.abs(want).max()
    )
    attention = [
        layer.output[1]
        for layer in model.layers
        if isinstance(layer, deit.SelfAttention)
    ]
    weights = keras.Model(model.inputs, min_max(attention_map(attention)))(
        _images()
    )
    np.testing.assert_allclose(
        np.reshape(weights, (2, 14, 14)), golden["attention_map"], atol=1e-5
    )


def test_the_graph_is_the_grids_four_neighbours():
    laplacian = grid_laplacian(2, 3)
    assert laplacian.shape == (6, 6)
    np.testing.assert_array_equal(np.diag(laplacian), [2, 3, 2, 2, 3, 2])
    np.testing.assert_array_equal(laplacian.sum(axis=1), 0)
    assert laplacian[0, 1] == laplacian[0, 3] == -1 and laplacian[0, 4] == 0


def test_the_state_dict_is_checked(loaded):
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    model = scm((48, 2, 3), num_classes=5, input_shape=(224, 224, 3))
    short = {k: v for k, v in tensors.items() if k != "layers.2.thred"}
    with pytest.raises(pretrained.WeightsError, match="layers.2.thred"):
        load_scm(model, short, "x.safetensors")
    more = {**tensors, "layers.4.thred": np.ones(1, np.float32)}
    with pytest.raises(pretrained.WeightsError, match="layers.4.thred"):
        load_scm(model, more, "x.safetensors")


def test_the_model_round_trips_as_keras(tmp_path, loaded):
    model, _ = loaded
    model.save(tmp_path / "scm.keras")
    again = keras.saving.load_model(tmp_path / "scm.keras")
    images = _images()[:1]
    np.testing.assert_allclose(
        again(images, training=True), model(images, training=True), rtol=1e-5
    )
    np.testing.assert_allclose(
        cam_model(again)(images)["cams"],
        cam_model(model)(images)["cams"],
        rtol=1e-5,
    )
