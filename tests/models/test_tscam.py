"""TS-CAM's network equal to the reference's own `TSCAM` (vasgaowei/TS-CAM
at 25aece4, tests/fixtures/tscam/PROVENANCE.json): logits and CAMs on
recorded random weights."""

import pathlib

import numpy as np
import pytest

from has_tf.models import pretrained
from has_tf.models.cam import cam_model
from has_tf.models.tscam import load_tscam
from has_tf.models.tscam import tscam

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "tscam"


@pytest.fixture(scope="module")
def loaded():
    model = tscam((48, 2, 3), num_classes=5, input_shape=(64, 64, 3))
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    load_tscam(model, tensors)
    return model, dict(np.load(FIXTURES / "golden.npz"))


def test_logits_equal_the_references_in_training_and_evaluation(loaded):
    model, golden = loaded
    logits = np.asarray(model(golden["images"], training=True))
    scale = np.abs(golden["logits"]).max()
    np.testing.assert_allclose(
        logits, golden["train_logits"], atol=1e-4 * scale
    )
    logits = np.asarray(model(golden["images"]))
    np.testing.assert_allclose(logits, golden["logits"], atol=1e-4 * scale)


def test_cams_equal_the_references(loaded):
    """Each class's semantic map times the class token's attention to the
    patches, mean over heads, sum over blocks."""
    model, golden = loaded
    out = cam_model(model)(golden["images"])
    want = golden["cams"]
    assert out["cams"].shape == want.shape == (2, 4, 4, 5)
    np.testing.assert_allclose(
        np.asarray(out["cams"]), want, atol=1e-4 * np.abs(want).max()
    )
    np.testing.assert_allclose(
        np.asarray(out["logits"]), golden["logits"], atol=1e-4
    )


def test_a_file_without_its_head_is_named():
    model = tscam((48, 2, 3), num_classes=5, input_shape=(64, 64, 3))
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    headless = {k: v for k, v in tensors.items() if not k.startswith("head.")}
    with pytest.raises(pretrained.WeightsError, match="no TS-CAM head"):
        load_tscam(model, headless, "x.safetensors")
    other = tscam((48, 2, 3), num_classes=7, input_shape=(64, 64, 3))
    with pytest.raises(pretrained.WeightsError, match="'head.weight'"):
        load_tscam(other, tensors, "x.safetensors")


def test_the_model_round_trips_as_keras(tmp_path):
    import keras

    from has_tf import models

    model = tscam(
        "deit_tiny",
        num_classes=3,
        input_shape=(32, 48, 3),
        model_input=models.ModelInput(normalization=((0.0,) * 3, (1.0,) * 3)),
    )
    model.save(tmp_path / "tscam.keras")
    loaded_model = keras.saving.load_model(tmp_path / "tscam.keras")
    pixels = np.random.default_rng(0).integers(0, 256, (1, 32, 48, 3))
    pixels = pixels.astype("uint8")
    cams = cam_model(loaded_model)(pixels)["cams"]
    assert tuple(cams.shape) == (1, 2, 3, 3)
    np.testing.assert_allclose(
        np.asarray(loaded_model(pixels)), np.asarray(model(pixels)), atol=1e-5
    )
