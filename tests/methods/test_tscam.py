"""--method=tscam and --method=scm: their records' rules, Hide-and-Seek
composed with them, the heads they build into the table's DeiTs (the
networks `models.tscam` and `models.scm` are golden-tested against), and a
run of each through train and evaluate."""

import json
import os

import numpy as np
import pytest

from has_tf import config as config_lib
from has_tf import methods
from has_tf import tasks


def _config(**options):
    base = dict(
        model_dir="/tmp/unused",
        dataset="synthetic_parts/tiny",
        model="deit_tiny",
        method="tscam",
        image_size=32,
        resize_size=40,
    )
    config = config_lib.TrainConfig(**{**base, **options})
    tasks.resolve(config)
    return config


def test_the_token_side_is_the_deits_patch():
    from has_tf.methods.images import tscam
    from has_tf.models import deit

    assert tscam.TOKEN_SIDE == deit.PATCH


def test_default_patch_sizes_hide_nothing():
    config = _config()
    record = methods.get("tscam", "images")
    assert record.hiding and record.backbones == (
        "deit_tiny",
        "deit_small",
        "deit_base",
    )
    assert config.patch_sizes == ()
    assert record.pipeline(config)["patch_sizes"] is None
    assert record.record(config)["patch_sizes"] == []


@pytest.mark.parametrize("hide_on", ["host", "device"])
def test_token_aligned_hiding_composes(hide_on):
    config = _config(patch_sizes=(0, 16, 32), hide_on=hide_on)
    record = methods.get("tscam", "images")
    on_host = record.pipeline(config)["patch_sizes"]
    assert on_host == ((0, 16, 32) if hide_on == "host" else None)
    options = record.model(config)
    assert options["method"].head is not None
    model_input = options.get("model_input")
    if hide_on == "device":
        assert model_input.hide_patch_sizes == (0, 16, 32)
    else:
        assert model_input is None
    assert record.record(config)["patch_sizes"] == [0, 16, 32]


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(patch_sizes=(0, 8)), "multiple of 16"),
        (dict(patch_sizes=(16, 24)), r"Received: \(16, 24\)"),
        (dict(patch_sizes=(48,)), "larger than the crop"),
        (dict(model="resnet50_cam"), "tscam goes with deit_tiny"),
        (dict(model="vgg16_cam", method="scm"), "scm goes with deit_tiny"),
        (dict(method="scm", pooling="max"), "scm's logits"),
        (dict(method="sat", model="small_gap"), "sat goes with deit_tiny"),
        (dict(method="sat", sat_area=1.0), "sat_area"),
        (dict(model="small_gap"), "--method"),
        (dict(pooling="max"), "--pooling"),
        (dict(dropout_rate=0.5), "--dropout_rate"),
    ],
)
def test_combinations_that_make_no_sense_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        _config(**options)


@pytest.mark.parametrize("method", ["tscam", "scm", "sat"])
def test_the_table_deit_with_the_method_is_its_network(method):
    """`--method=tscam` (`scm`) on `deit_tiny` builds the layers
    `models.tscam` (`models.scm`) builds, golden-tested against the
    reference's own TSCAM (SCM): the same weights give the same logits,
    in training and at inference, and CAMs."""
    from has_tf import models
    from has_tf.tasks.image_localization import model as model_lib

    config = _config(method=method)
    info = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    built = model_lib.build_model(config, 3, info)
    reference = getattr(models, method)(
        "deit_tiny",
        3,
        (32, 32, 3),
        model_input=models.ModelInput(normalization=((0.0,) * 3, (1.0,) * 3)),
    )
    assert [w.shape for w in built.weights] == [
        w.shape for w in reference.weights
    ]
    rng = np.random.default_rng(0)
    reference.set_weights(
        [rng.normal(0, 0.05, w.shape).astype("float32") for w in built.weights]
    )
    built.set_weights(reference.get_weights())
    pixels = rng.integers(0, 256, (2, 32, 32, 3)).astype("uint8")
    np.testing.assert_allclose(
        built(pixels, training=True),
        reference(pixels, training=True),
        rtol=1e-5,
    )
    ours = models.cam_model(built)(pixels)
    theirs = models.cam_model(reference)(pixels)
    assert ours["cams"].shape == (2, 2, 2, 3)
    np.testing.assert_allclose(ours["logits"], theirs["logits"], rtol=1e-6)
    np.testing.assert_allclose(ours["cams"], theirs["cams"], rtol=1e-6)
    trained = built(pixels, training=True)
    if method == "sat":
        # One map for every class; training adds its two losses.
        cams = np.asarray(ours["cams"])
        np.testing.assert_allclose(cams[..., 0], cams[..., 2])
        assert len(built.losses) == 2
        return
    # The logits are the semantic maps' means; the CAMs weight them.
    maps = built.get_layer("semantic_maps").output
    import keras

    semantic = keras.Model(built.inputs, maps)(pixels)
    np.testing.assert_allclose(
        np.mean(semantic, axis=(1, 2)), ours["logits"], rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(semantic, ours["cams"])
    calibrated = method == "scm"
    assert np.allclose(trained, ours["logits"], rtol=1e-4) != calibrated


def test_a_transformer_refuses_a_methods_stage_layers():
    from has_tf import models

    with pytest.raises(ValueError, match="no stages.*Received: method="):
        models.deit_tiny(3, (32, 32, 3), method=models.adl.built_in())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["tscam", "scm", "sat"])
def test_a_run_with_hiding_trains_evaluates_and_serves(tmp_path, method):
    import tensorflow as tf

    from has_tf import evaluate
    from has_tf import train

    model_dir = tmp_path / "run"
    where = dict(
        dataset="synthetic_parts/tiny",
        data_dir=str(tmp_path),
        model_dir=str(model_dir),
    )
    train.train(
        train.TrainConfig(
            **where,
            model="deit_tiny",
            method=method,
            patch_sizes=(0, 16),
            token_patch_sizes=(1,),
            image_size=32,
            resize_size=40,
            batch_size=4,
            epochs=1,
            steps_per_epoch=2,
            learning_rate=1e-4,
        )
    )
    evaluate.evaluate(
        str(model_dir),
        where["dataset"],
        data_dir=where["data_dir"],
        num_pictures=1,
    )
    info = json.loads((model_dir / "run_info.json").read_text())
    assert info["method"] == {
        "name": method,
        "patch_sizes": [0, 16],
        "hide_prob": 0.5,
        "hide_on": "host",
        "token_patch_sizes": [1],
        "token_hide_prob": 0.5,
        **({"sat_area": 0.25} if method == "sat" else {}),
    }
    metrics = json.loads((model_dir / "eval" / "metrics.json").read_text())
    assert metrics["count"] == 6 and 0 <= metrics["max_box_acc_v2"] <= 1
    # Scored with the method's own box rule.
    own = "sat_evaluator" if method == "sat" else "cams_deit"
    assert metrics["box_rule"] == own == metrics["paper"]["box_rule"]
    assert own in metrics["protocols"]["top1_loc"]
    # Top-5 of three classes holds the true one: Top-5 Loc is GT-known's
    # (under TS-CAM's rule at most: it needs IoU > 0.5, GT-known >= 0.5).
    assert metrics["top5_cls"] == 1.0
    assert metrics["top5_loc"] <= metrics["gt_known_loc"]
    assert metrics["top5_loc"] >= metrics["top1_loc"]
    paper = evaluate.evaluate(
        str(model_dir),
        where["dataset"],
        data_dir=where["data_dir"],
        num_pictures=0,
        box_rule="paper",
    )
    assert paper["box_rule"] == "paper"
    assert paper["top5_loc"] == paper["gt_known_loc"]
    assert paper["max_box_acc_v2"] == metrics["max_box_acc_v2"]
    served = tf.saved_model.load(os.path.join(model_dir, "saved_model"))
    out = served.serve(tf.zeros([2, 32, 32, 3], tf.uint8))
    assert out["cams"].shape[0] == 2 and np.isfinite(out["cams"]).all()


def test_drop_path_reaches_a_deit_and_is_refused_elsewhere():
    from has_tf.models import deit
    from has_tf.tasks.image_localization import model as model_lib

    config = _config(drop_path_rate=0.1)
    info = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    built = model_lib.build_model(config, 3, info)
    rates = [x.rate for x in built.layers if isinstance(x, deit.DropPath)]
    assert len(rates) == 22 and max(rates) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="--drop_path_rate.*deit_tiny"):
        _config(model="small_gap", method="cam", drop_path_rate=0.1)


def test_pc1_is_refused_where_a_methods_layer_makes_the_maps():
    import importlib

    from has_tf import models

    tscam = importlib.import_module("has_tf.models.tscam")
    model = models.deit_tiny(3, (32, 32, 3), method=tscam.built_in())
    assert "features" not in models.cam_model(model).output
    with pytest.raises(ValueError, match="localization_map=pc1.*SemanticMaps"):
        models.cam_model(model, features=True)
    # The CAM head's feature map is there for PC1.
    plain = models.deit_tiny(3, (32, 32, 3))
    out = models.cam_model(plain, features=True).output
    assert tuple(out["features"].shape) == (None, 2, 2, 192)
