"""DenseNet against torchvision's own module (tests/fixtures/densenet,
generated under PyTorch by make_golden.py there, which executes
torchvision's `models/densenet.py`)."""

import json
import pathlib

import keras
import numpy as np
import pytest

from has_tf import models
from has_tf.models import common
from has_tf.models import densenet
from has_tf.models import pretrained

HERE = pathlib.Path(__file__).parents[1] / "fixtures" / "densenet"
GOLDEN = np.load(HERE / "golden.npz")
PROVENANCE = json.loads((HERE / "PROVENANCE.json").read_text())
CONFIG = PROVENANCE["config"]
SMALL = (
    CONFIG["growth_rate"],
    CONFIG["block_config"],
    CONFIG["num_init_features"],
)


def _small(side=(64, 64), classes=5):
    inputs = keras.Input((*side, 3))
    features = densenet.features(inputs, SMALL)
    logits = common.cam_head(features, classes, (), False, "avg", 0.0)
    return keras.Model(inputs, logits), keras.Model(inputs, features)


def _tensors():
    return pretrained.read_tensors(str(HERE / "golden.safetensors"))


@pytest.mark.parametrize("key", ["square", "oblong"])
def test_features_equal_torchvisions(key):
    images = GOLDEN[f"images_{key}"]
    model, features = _small(images.shape[1:3])
    loaded, fresh, dropped = densenet._read_file(model, _tensors(), "golden")
    assert dropped[:2] == ["classifier.bias", "classifier.weight"]
    assert all(name.endswith("num_batches_tracked") for name in dropped[2:])
    assert fresh == ["logits"] and "denseblock3_denselayer2_conv2" in loaded
    theirs = GOLDEN[f"features_{key}"]
    ours = np.asarray(features(images))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(
        ours, theirs, rtol=0, atol=1e-4 * np.abs(theirs).max()
    )


def test_the_first_releases_names_read_the_same():
    model, features = _small()
    legacy = {
        name.replace("norm1.", "norm.1.").replace("conv2.", "conv.2."): value
        for name, value in _tensors().items()
    }
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    densenet._read_file(model, legacy, "legacy")
    images = GOLDEN["images_square"]
    np.testing.assert_allclose(
        np.asarray(features(images)),
        GOLDEN["features_square"],
        rtol=0,
        atol=1e-4 * np.abs(GOLDEN["features_square"]).max(),
    )


@pytest.mark.parametrize("name", sorted(densenet.VARIANTS))
def test_parameter_counts_equal_torchvisions(name):
    inputs = keras.Input((32, 32, 3))
    body = keras.Model(inputs, densenet.features(inputs, name))
    trainable = sum(int(np.prod(w.shape)) for w in body.trainable_weights)
    assert trainable == PROVENANCE["parameters_without_classifier"][name]


def test_the_table_builds_densenet161_with_a_cam_head(tmp_path):
    model = models.densenet161(7, (64, 64, 3))
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3))
    cams = models.cam_model(model)(x)["cams"]
    assert cams.shape == (1, 2, 2, 7)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        np.asarray(models.cam_model(loaded)(x)["cams"]), cams, atol=1e-5
    )
    assert model.get_layer("relu5").output.shape[-1] == 2208
    row = models.table.get("densenet161")
    assert row.pretrained == ("torchvision",) and not row.method_places
    assert densenet.feature_side(224) == 7
    with pytest.raises(ValueError, match="densenet161"):
        models.densenet161(3, (16, 16, 3))


def test_a_file_that_does_not_fit_is_named():
    model, _ = _small()
    tensors = _tensors()
    extra = dict(
        tensors,
        **{"features.denseblock4.denselayer2.conv1.weight": np.ones(1, "f4")},
    )
    with pytest.raises(pretrained.WeightsError, match="denselayer2"):
        densenet._read_file(model, extra, "extra")
    missing = {k: v for k, v in tensors.items() if "transition2" not in k}
    with pytest.raises(pretrained.WeightsError, match="transition2_conv"):
        densenet._read_file(model, missing, "missing")
    wrong = dict(tensors, **{"features.norm5.bias": np.zeros(9, "f4")})
    with pytest.raises(pretrained.WeightsError, match=r"\(9,\)"):
        densenet._read_file(model, wrong, "wrong")
    odd = dict(tensors, **{"features.conv0.bias": np.zeros(16, "f4")})
    with pytest.raises(pretrained.WeightsError, match="conv0.bias"):
        densenet._read_file(model, odd, "odd")


def test_bad_variants_are_named():
    with pytest.raises(ValueError, match="densenet264"):
        densenet.check_variant("densenet264")
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        densenet.check_variant((8, (1, 2), 16))


def test_the_table_model_loads_a_file(tmp_path):
    """densenet161's own layers named as torchvision's, through
    `pretrained.load`: every tensor of the file lands in its layer."""
    model = models.densenet161(3, (32, 32, 3))
    rng = np.random.default_rng(0)
    tensors = {}
    for layer in model.layers:
        if not layer.weights or layer.name == "logits":
            continue
        module = "features." + layer.name.replace("_", ".")
        if isinstance(layer, keras.layers.Conv2D):
            kernel = layer.get_weights()[0]
            tensors[f"{module}.weight"] = rng.normal(
                size=kernel.shape[::-1][:2] + kernel.shape[:2]
            ).astype("f4")
        else:
            for part in densenet._NORM_PARTS:
                tensors[f"{module}.{part}"] = rng.uniform(
                    0.5, 1.5, layer.weights[0].shape
                ).astype("f4")
    tensors["classifier.weight"] = np.zeros((1000, 2208), "f4")
    import safetensors.numpy

    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(tensors, str(path))
    info = pretrained.load(model, str(path), "densenet161")
    assert info.format == "torchvision" and info.fresh == ("logits",)
    kernel = tensors["features.denseblock2.denselayer3.conv2.weight"]
    np.testing.assert_array_equal(
        model.get_layer("denseblock2_denselayer3_conv2").get_weights()[0],
        kernel.transpose(2, 3, 1, 0),
    )
    with pytest.raises(pretrained.WeightsError, match="keras"):
        h5 = tmp_path / "x.h5"
        h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 8)
        pretrained.describe(str(h5), "densenet161")
