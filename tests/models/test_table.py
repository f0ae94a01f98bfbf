"""has_tf.models.table: the one table of image models. Its rows agree
with their builders, its views follow it, and WORKSPACE's "Adding a
model" recipe is followed here: a new module's row makes it a `--model`."""

import inspect

import keras
import pytest

from has_tf import models
from has_tf import tasks
from has_tf.config import TrainConfig
from has_tf.models import common
from has_tf.models import pretrained
from has_tf.models import table
from has_tf.tasks import image_localization


@pytest.fixture
def fresh_table(monkeypatch):
    monkeypatch.setattr(table, "_MODELS", dict(table._MODELS))


def test_the_table_holds_the_nine_classifiers():
    assert set(table.names()) == {
        "convnext_tiny",
        "convnext_small",
        "convnext_base",
        "convnext_large",
        "densenet161",
        "deit_tiny",
        "deit_small",
        "deit_base",
        "small_gap",
        "alexnet_gap",
        "googlenet_gap",
        "vgg16_cam",
        "resnet50_cam",
        "inception_v3_cam",
    }
    assert set(table.names(pretrained=True)) == set(pretrained.BACKBONES) | {
        "convnext_tiny",
        "convnext_small",
        "convnext_base",
        "convnext_large",
        "densenet161",
        "deit_tiny",
        "deit_small",
        "deit_base",
    }
    assert models.PRETRAINED_BACKBONES == table.names(pretrained=True)
    assert set(table.names(conv1_hiding=True)) == {"alexnet_gap", "small_gap"}


@pytest.mark.parametrize("name", sorted(table.names()))
def test_a_row_says_what_its_builder_takes(name):
    row = table.get(name)
    takes = inspect.signature(row.build).parameters
    assert ("method" in takes) == row.method_places
    assert "model_input" in takes
    conv1 = models.ModelInput(conv1_hide_patch_sizes=(4,))
    if row.conv1_hiding:
        model = row.build(3, input_shape=(72, 72, 3), model_input=conv1)
        assert model.get_layer("conv1_hide").patch_sizes == (4,)
    else:
        with pytest.raises(ValueError, match=f"{name}: has no conv1 hiding"):
            row.build(3, input_shape=(72, 72, 3), model_input=conv1)
    assert ("large_feature_map" in takes) == row.large_feature_map
    assert ("weights" in takes) == bool(row.pretrained)
    assert models.IMAGE_MODELS[name] is row.build
    assert models.INPUT_SIDES[name] == row.input_side
    assert models.NEW_LAYERS[name] == row.new_layers
    assert "logits" in row.new_layers


def test_register_refuses_a_taken_name_and_a_non_row(fresh_table):
    with pytest.raises(ValueError, match="in the table already"):
        table.register(table.ImageModel("small_gap", models.alexnet_gap, 64))
    with pytest.raises(ValueError, match="ImageModel"):
        table.register("small_gap")
    with pytest.raises(ValueError, match="--model.*'nope'"):
        table.get("nope")
    row = table.get("small_gap")
    assert table.register(row) is row  # The same row again: a no-op.


def tiny_gap(
    num_classes,
    input_shape=(32, 32, 3),
    pooling="avg",
    dropout_rate=0.0,
    dropout_at_test=False,
    model_input=None,
    name="tiny_gap",
):
    """WORKSPACE's recipe: checks, the model input, a conv, the CAM head."""
    shape = common.check_common(
        "tiny_gap", num_classes, input_shape, pooling, dropout_rate
    )
    model_input = common.check_model_input("tiny_gap", model_input)
    inputs, x = common.input_layers(shape, model_input)
    x = common.conv_block(x, 4, 3, "conv1")
    logits = common.cam_head(
        x, num_classes, (4,), False, pooling, dropout_rate, dropout_at_test
    )
    return keras.Model(inputs, logits, name=name)


def test_a_new_row_is_a_model_of_the_apps(fresh_table, tmp_path):
    table.register(table.ImageModel("tiny_gap", tiny_gap, input_side=32))
    assert "tiny_gap" in models.IMAGE_MODELS  # The views follow.
    assert models.INPUT_SIDES["tiny_gap"] == 32
    config = TrainConfig(
        model_dir=str(tmp_path),
        model="tiny_gap",
        image_size=32,
        resize_size=32,
        patch_sizes=(0, 8),
        hide_on="device",
    )
    assert tasks.resolve(config).name == "has"
    model = image_localization.build_model(
        config, 3, {"mean": [0.0] * 3, "std": [1.0] * 3}
    )
    assert model.get_layer("input_pixels").patch_sizes == (0, 8)
    assert models.cam_model(model).output["cams"].shape[-1] == 3
    # What its row does not offer is refused, naming the flag.
    config.method = "adl"
    config.patch_sizes = ()
    with pytest.raises(ValueError, match="--method: adl is built into"):
        tasks.resolve(config)
