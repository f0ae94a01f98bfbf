"""Video methods with a network of their own (`Method.network`): CoLA
trained, evaluated and resumed through the apps, Hide-and-Seek composed
with it, the task network's options refused."""

import dataclasses
import json
import pathlib
import shutil

import keras
import numpy as np
import pytest

from has_tf import evaluate
from has_tf import methods
from has_tf import train

TINY = dict(
    dataset="synthetic_actions/tiny",
    num_steps=40,
    batch_size=4,
    learning_rate=1e-3,
    optimizer="adam",
    nesterov=False,
    weight_decay=5e-4,
    weight_decay_type="l2",
    patch_sizes=(),
    tensorboard_images=0,
    method="cola",
    units=32,
)


def _config(tmp_path, **options):
    return train.TrainConfig(
        model_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        **{**TINY, **options},
    )


@pytest.mark.slow
def test_cola_with_hiding_trains_evaluates_and_resumes_exactly(tmp_path):
    """A CoLA run with hiding, killed after its checkpoint at step 3 of 4,
    resumes to the weights of the run never stopped (the mining's draws,
    the dropout's and PyTorch-Adam's moments are checkpointed)."""
    options = dict(
        segment_size=8,
        epochs=2,
        steps_per_epoch=2,
        checkpoint_steps=1,
        deterministic=True,
    )
    whole = _config(tmp_path, **options)
    record = train.train(whole)
    assert record["steps_done"] == 4 and np.all(np.isfinite(record["loss"]))
    run = pathlib.Path(whole.model_dir)
    info = json.loads((run / "run_info.json").read_text())
    assert info["model"] == "cola"
    assert info["method"]["name"] == "cola"
    assert info["method"]["segment_size"] == 8  # hiding composed
    assert info["method"]["cola_snico_weight"] == 0.01
    cut = tmp_path / "cut"
    shutil.copytree(run, cut)
    backup = cut / "backup"
    newest = sorted(backup.glob("ckpt-*.json"))[-1]
    newest.unlink()
    newest.with_suffix(".weights.h5").unlink()
    (cut / "model.keras").unlink()
    (cut / "history.json").unlink()
    record = train.train(dataclasses.replace(whole, model_dir=str(cut)))
    assert record["steps_this_run"] == 1
    a = keras.models.load_model(run / "model.keras", compile=False)
    b = keras.models.load_model(cut / "model.keras", compile=False)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    result = evaluate.evaluate(
        str(run),
        TINY["dataset"],
        data_dir=whole.data_dir,
        num_plots=0,
        postprocess="cola",
    )
    assert result["count"] == 6 and result["options"]["postprocess"] == "cola"
    for values in result["map"].values():
        assert all(0.0 <= v <= 1.0 for v in values.values())


def test_hiding_composes_only_when_asked(tmp_path):
    # --segment_size at its default (100; --num_steps at least that).
    config = _config(tmp_path, num_steps=120)
    method = methods.resolve(config, "videos")
    assert config.segment_size == 0
    assert method.pipeline(config)["segment_size"] == 0
    config = _config(tmp_path, segment_size=8)
    method = methods.resolve(config, "videos")
    assert method.pipeline(config) == {"segment_size": 8, "hide_prob": 0.5}


@pytest.mark.parametrize(
    "options, match",
    [
        ({"temporal_attention": True}, "--temporal_attention: .*cola"),
        ({"temporal_pooling": "topk"}, "--temporal_pooling"),
        ({"dropout_rate": 0.5}, "--dropout_rate"),
        ({"cola_r_hard": 50}, "--cola_r_hard: .*num_steps=40"),
        ({"cola_small_window": 6}, "--cola_small_window: .*6"),
    ],
)
def test_cola_refuses_what_does_not_fit(tmp_path, options, match):
    cola = {k: options.pop(k) for k in list(options) if k.startswith("cola_")}
    config = _config(tmp_path, method_options=cola, segment_size=8, **options)
    with pytest.raises(ValueError, match=match):
        methods.resolve(config, "videos")


@pytest.mark.slow
def test_aicl_with_hiding_trains_and_evaluates(tmp_path):
    """AICL takes the labels as its second input in training (its pseudo
    target); evaluation runs its network on the features alone and hands
    the combined CAS to --postprocess=aicl."""
    config = _config(
        tmp_path,
        method="aicl",
        segment_size=8,
        epochs=1,
        steps_per_epoch=3,
        method_options={"aicl_r_mine": 8},
    )
    record = train.train(config)
    assert record["steps_done"] == 3 and np.all(np.isfinite(record["loss"]))
    run = pathlib.Path(config.model_dir)
    info = json.loads((run / "run_info.json").read_text())
    assert info["model"] == "aicl"
    assert info["method"]["segment_size"] == 8
    assert info["method"]["aicl_q"] == 0.7
    model = keras.models.load_model(run / "model.keras", compile=False)
    classes = model.output.shape[-1]
    assert [tuple(x.shape) for x in model.inputs] == [
        (None, 40, 32),
        (None, classes),
    ]
    result = evaluate.evaluate(
        config.model_dir,
        TINY["dataset"],
        data_dir=config.data_dir,
        num_plots=0,
        postprocess="aicl",
    )
    assert result["count"] == 6 and result["options"]["postprocess"] == "aicl"
    assert sum(len(v) for v in result["map"].values()) > 0


@pytest.mark.parametrize(
    "options, match",
    [
        ({"temporal_attention": True}, "--temporal_attention: .*aicl"),
        ({"aicl_r_mine": 50}, "--aicl_r_mine: .*num_steps=40"),
        ({"aicl_top_divisor": 41}, "--aicl_top_divisor: .*num_steps=40"),
        ({"aicl_q": 0.0}, r"--aicl_q: expected values in \(0.0, 1.0\]"),
    ],
)
def test_aicl_refuses_what_does_not_fit(tmp_path, options, match):
    aicl = {k: options.pop(k) for k in list(options) if k.startswith("aicl_")}
    with pytest.raises(ValueError, match=match):
        config = _config(
            tmp_path,
            method="aicl",
            method_options=aicl,
            segment_size=8,
            **options,
        )
        methods.resolve(config, "videos")


@pytest.mark.slow
def test_delu_with_hiding_trains_evaluates_and_resumes_exactly(tmp_path):
    """DELU's batches open with pairs sharing a class, its labels are an
    input, its iteration counter (the progressive curve's) is
    checkpointed: a run killed after step 3 of 4 resumes to the weights
    of the run never stopped."""
    options = dict(
        method="delu",
        segment_size=8,
        batch_size=6,
        epochs=2,
        steps_per_epoch=2,
        checkpoint_steps=1,
        deterministic=True,
        method_options={"delu_similar_pairs": 2},
    )
    whole = _config(tmp_path, **options)
    record = train.train(whole)
    assert record["steps_done"] == 4 and np.all(np.isfinite(record["loss"]))
    run = pathlib.Path(whole.model_dir)
    info = json.loads((run / "run_info.json").read_text())
    assert info["model"] == "delu" and info["method"]["delu_edl"] == "log"
    cut = tmp_path / "cut"
    shutil.copytree(run, cut)
    newest = sorted((cut / "backup").glob("ckpt-*.json"))[-1]
    newest.unlink()
    newest.with_suffix(".weights.h5").unlink()
    (cut / "model.keras").unlink()
    (cut / "history.json").unlink()
    record = train.train(dataclasses.replace(whole, model_dir=str(cut)))
    assert record["steps_this_run"] == 1
    a = keras.models.load_model(run / "model.keras", compile=False)
    b = keras.models.load_model(cut / "model.keras", compile=False)
    assert float(a.get_layer("objective").iteration) == 4.0
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    result = evaluate.evaluate(
        str(run),
        TINY["dataset"],
        data_dir=whole.data_dir,
        num_plots=0,
        postprocess="delu",
    )
    assert result["count"] == 6 and result["options"]["postprocess"] == "delu"


@pytest.mark.parametrize(
    "options, match",
    [
        ({"steps_per_epoch": 0}, "--steps_per_epoch: DELU"),
        ({"batch_size": 4}, "--batch_size: .*2 x --delu_similar_pairs = 6"),
        ({"delu_k": 50}, "--delu_k: .*num_steps=40"),
        ({"delu_smoothing": 4}, "--delu_smoothing: .*odd"),
        ({"delu_edl": "kl"}, "delu_edl"),
    ],
)
def test_delu_refuses_what_does_not_fit(tmp_path, options, match):
    delu = {k: options.pop(k) for k in list(options) if k.startswith("delu_")}
    with pytest.raises(ValueError, match=match):
        config = _config(
            tmp_path,
            **{
                "method": "delu",
                "method_options": delu,
                "segment_size": 8,
                "steps_per_epoch": 2,
                "batch_size": 6,
                **options,
            },
        )
        methods.resolve(config, "videos")
