"""SAT's network equals the reference's own `SAT` (wpy1999/SAT at
702290d, run under PyTorch on recorded random weights; generator and
versions in tests/fixtures/sat/): training logits, the batch-area and
normalisation terms and train.py's loss, evaluation logits and the
spatial token's map."""

import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from has_tf.models import pretrained
from has_tf.models.cam import cam_model
from has_tf.models.sat import gaussian_kernel
from has_tf.models.sat import load_sat
from has_tf.models.sat import sat

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "sat"


def _images():
    # Drawn as the generator drew them (not stored).
    images = np.random.default_rng(2).standard_normal((4, 3, 224, 224))
    return images.astype(np.float32).transpose(0, 2, 3, 1)


@pytest.fixture(scope="module")
def loaded():
    model = sat((24, 12, 3), num_classes=5, input_shape=(224, 224, 3))
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    load_sat(model, tensors)
    return model, dict(np.load(FIXTURES / "golden.npz"))


def test_training_logits_and_loss_equal_the_references(loaded):
    model, golden = loaded
    images = tf.constant(_images())
    logits = model(images, training=True)
    area, norm = model.losses
    scale = np.abs(golden["train_logits"]).max()
    np.testing.assert_allclose(
        logits, golden["train_logits"], atol=1e-4 * scale
    )
    np.testing.assert_allclose(
        area, abs(golden["area_terms"].mean() - 0.25), atol=1e-5
    )
    np.testing.assert_allclose(norm, golden["norm_terms"].mean(), atol=1e-5)
    cross_entropy = keras.losses.sparse_categorical_crossentropy(
        golden["labels"], logits, from_logits=True
    )
    total = np.mean(cross_entropy) + area + norm
    np.testing.assert_allclose(total, golden["loss"], rtol=1e-5)


def test_evaluation_gives_the_spatial_tokens_map_for_every_class(loaded):
    model, golden = loaded
    out = cam_model(model)(_images())
    np.testing.assert_allclose(
        out["logits"],
        golden["logits"],
        atol=1e-4 * np.abs(golden["logits"]).max(),
    )
    cams = np.asarray(out["cams"])
    assert cams.shape == (4, 14, 14, 5)
    for k in range(5):
        np.testing.assert_allclose(cams[..., k], golden["spatial"], atol=1e-5)


def test_the_kernel_is_sats():
    kernel = gaussian_kernel()
    assert kernel.shape == (3, 3) and abs(kernel.sum() - 1) < 1e-6
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    np.testing.assert_allclose(
        np.asarray(tensors["weight"])[0, 0], kernel, atol=1e-7
    )


def test_the_state_dict_is_checked():
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    model = sat((24, 12, 3), num_classes=5, input_shape=(224, 224, 3))
    short = {k: v for k, v in tensors.items() if k != "loc_embed"}
    with pytest.raises(pretrained.WeightsError, match="loc_embed"):
        load_sat(model, short, "x.safetensors")
    bad = {**tensors, "weight": np.ones((1, 1, 3, 3), np.float32)}
    with pytest.raises(pretrained.WeightsError, match="Gaussian"):
        load_sat(model, bad, "x.safetensors")


def test_the_model_round_trips_as_keras(tmp_path, loaded):
    model, _ = loaded
    model.save(tmp_path / "sat.keras")
    again = keras.saving.load_model(tmp_path / "sat.keras")
    images = _images()[:1]
    np.testing.assert_allclose(again(images), model(images), rtol=1e-5)
    np.testing.assert_allclose(
        cam_model(again)(images)["cams"],
        cam_model(model)(images)["cams"],
        rtol=1e-5,
    )
