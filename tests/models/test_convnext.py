"""ConvNeXt against timm's own model (tests/fixtures/convnext, generated
under PyTorch; see make_golden.py there) and keras.applications' own
weight files (written here by Keras's HDF5 writer from its own model)."""

import json
import pathlib

import keras
import numpy as np
import pytest

from has_tf import models
from has_tf.models import common
from has_tf.models import convnext
from has_tf.models import pretrained

HERE = pathlib.Path(__file__).parents[1] / "fixtures" / "convnext"
GOLDEN = np.load(HERE / "golden.npz")
PROVENANCE = json.loads((HERE / "PROVENANCE.json").read_text())
SMALL = ((1, 1, 2, 1), (8, 16, 24, 32))


def _small(side=(64, 64), classes=5):
    inputs = keras.Input((*side, 3))
    features = convnext.stages(inputs, SMALL, "convnext")
    logits = common.cam_head(features, classes, (), False, "avg", 0.0)
    return keras.Model(inputs, logits), keras.Model(inputs, features)


def _assert_close(ours, theirs):
    theirs = np.asarray(theirs)
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * scale)


@pytest.mark.parametrize("key", ["square", "oblong"])
def test_features_equal_timms(key):
    images = GOLDEN[f"images_{key}"]
    model, features = _small(images.shape[1:3])
    tensors = pretrained.read_tensors(str(HERE / "golden.safetensors"))
    loaded, fresh, dropped = convnext._read_file(model, tensors, "golden")
    assert dropped == [
        "head.fc.bias",
        "head.fc.weight",
        "head.norm.bias",
        "head.norm.weight",
    ]
    assert fresh == ["logits"] and "convnext_stem_conv" in loaded
    _assert_close(np.asarray(features(images)), GOLDEN[f"features_{key}"])


@pytest.mark.slow  # Builds all four, convnext_large's 196 M weights too.
def test_parameter_counts_equal_timms():
    for name, count in PROVENANCE["parameters_without_head"].items():
        inputs = keras.Input((32, 32, 3))
        body = keras.Model(inputs, convnext.stages(inputs, name, name))
        assert body.count_params() == count, name


def test_the_table_builds_them_with_a_cam_head():
    model = models.convnext_tiny(7, (64, 64, 3))
    assert models.cam_model(model)(np.zeros((1, 64, 64, 3)))["cams"].shape == (
        1,
        2,
        2,
        7,
    )
    row = models.table.get("convnext_base")
    assert row.pretrained == ("torchvision", "keras")
    assert row.drop_path and not row.method_places
    with pytest.raises(ValueError, match="convnext_small"):
        models.convnext_small(3, (16, 16, 3))


def test_drop_path_rises_over_the_blocks():
    inputs = keras.Input((64, 64, 3))
    model = keras.Model(
        inputs, convnext.stages(inputs, SMALL, "c", drop_path_rate=0.3)
    )
    rates = [
        layer.rate
        for layer in model.layers
        if isinstance(layer, convnext.DropPath)
    ]
    # Five blocks: the first at 0 has none.
    np.testing.assert_allclose(rates, [0.075, 0.15, 0.225, 0.3])


def _keras_file(tmp_path):
    """keras.applications' ConvNeXtTiny, random, its layer scales drawn,
    written as its notop .h5 files are (Keras's legacy HDF5 layout)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    theirs = keras.applications.ConvNeXtTiny(
        include_top=False,
        weights=None,
        include_preprocessing=False,
        input_shape=(64, 64, 3),
    )
    rng = np.random.default_rng(0)
    for layer in theirs.layers:
        if layer.name.endswith("layer_scale"):
            layer.set_weights([rng.normal(0, 0.5, layer.weights[0].shape)])
    path = tmp_path / "convnext_tiny_notop.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, theirs)
    # Its map before include_top=False's final LayerNorm.
    final = theirs.layers[-1]  # "layer_normalization", numbered if not first
    return path, keras.Model(theirs.inputs, final.input)


def test_keras_applications_files_load(tmp_path):
    path, theirs = _keras_file(tmp_path)
    model = models.convnext_tiny(3, (64, 64, 3), weights=str(path))
    features = keras.Model(
        model.inputs,
        model.get_layer("convnext_tiny_stage_3_block_2_add").output,
    )
    x = np.random.default_rng(1).normal(size=(2, 64, 64, 3)).astype("f4")
    _assert_close(np.asarray(features(x)), theirs(x))
    info = pretrained.describe(str(path), "convnext_tiny")
    assert info.format == "keras" and info.mean == pytest.approx(
        (123.675, 116.28, 103.53)
    )


def test_a_file_of_another_size_is_named(tmp_path):
    tensors = pretrained.read_tensors(str(HERE / "golden.safetensors"))
    model, _ = _small()
    extra = dict(tensors, **{"stages.3.blocks.1.gamma": np.ones(32, "f4")})
    with pytest.raises(pretrained.WeightsError, match=r"stages\.3\.blocks\.1"):
        convnext._read_file(model, extra, "extra")
    missing = {k: v for k, v in tensors.items() if "stages.2.blocks.1" not in k}
    with pytest.raises(pretrained.WeightsError, match="stage_2_block_1"):
        convnext._read_file(model, missing, "missing")
    wrong = dict(tensors, **{"stem.0.bias": np.zeros(9, "f4")})
    with pytest.raises(pretrained.WeightsError, match=r"\(9,\)"):
        convnext._read_file(model, wrong, "wrong")
    odd = dict(tensors, **{"stages.0.blocks.0.mlp.norm.weight": np.ones(8)})
    with pytest.raises(pretrained.WeightsError, match="mlp.norm"):
        convnext._read_file(model, odd, "odd")


def test_bad_variants_are_named():
    with pytest.raises(ValueError, match="convnext_huge"):
        convnext.check_variant("convnext_huge")
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        convnext.check_variant(((1, 2), (3, 4)))


@pytest.mark.slow
def test_a_run_starts_from_a_keras_file(tmp_path):
    from has_tf import train

    path, theirs = _keras_file(tmp_path)
    run = tmp_path / "run"
    train.train(
        train.TrainConfig(
            model_dir=str(run),
            data_dir=str(tmp_path),
            dataset="synthetic_parts/tiny",
            model="convnext_tiny",
            init_from=str(path),
            normalization="weights",
            drop_path_rate=0.1,
            optimizer="adamw",
            patch_sizes=(0, 16),
            image_size=32,
            resize_size=36,
            batch_size=2,
            epochs=1,
            steps_per_epoch=1,
            learning_rate=1e-5,
            tensorboard_images=0,
        )
    )
    info = json.loads((run / "run_info.json").read_text())
    assert info["init_from"]["file"] == path.name
    assert info["init_from"]["format"] == "keras"
    assert info["mean"] == pytest.approx([123.675, 116.28, 103.53])
    model = keras.saving.load_model(run / "model.keras", compile=False)
    # A small step from the file's weights: close to them still.
    ours = model.get_layer("convnext_tiny_stage_0_block_0_pointwise_conv_1")
    kernel = theirs.get_layer("convnext_tiny_stage_0_block_0_pointwise_conv_1")
    np.testing.assert_allclose(
        ours.get_weights()[0], kernel.get_weights()[0], atol=1e-3
    )
