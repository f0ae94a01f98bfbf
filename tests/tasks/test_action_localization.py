"""Smoke run of train and evaluate on the synthetic actions (tiny)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from has_tf import evaluate
from has_tf import train

TINY = dict(
    dataset="synthetic_actions/tiny",
    num_steps=32,
    segment_size=4,
    units=16,
    batch_size=4,
    learning_rate=0.05,
    patch_sizes=(),
    tensorboard_images=0,
)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["softmax", "sigmoid"])
def test_train_then_evaluate_actions(tmp_path, loss):
    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    record = train.train(
        train.TrainConfig(
            model_dir=run,
            data_dir=data,
            epochs=2,
            steps_per_epoch=3,
            temporal_loss=loss,
            temporal_pooling="topk",
            **TINY,
        )
    )
    assert record["steps_done"] == 6
    assert all(np.isfinite(record["loss"]))
    info = json.load(open(os.path.join(run, "run_info.json")))
    assert info["num_steps"] == 32 and len(info["fill"]) == 32
    history = json.load(open(os.path.join(run, "history.json")))
    assert info["task"] == history["task"] == "action_localization"
    result = evaluate.evaluate(run, TINY["dataset"], data_dir=data, num_plots=2)
    assert result["count"] == 6 and result["ground_truth_segments"] >= 6
    for protocol in ("thumos14", "activitynet"):
        values = result["map"][protocol]
        assert sorted(values) == [
            "0.1",
            "0.2",
            "0.3",
            "0.4",
            "0.5",
            "0.6",
            "0.7",
        ]
        assert all(0.0 <= v <= 1.0 for v in values.values())
        assert len(result["ap"][protocol]["0.5"]) == len(result["classes"])
    files = sorted(os.listdir(os.path.join(run, "eval")))
    assert "metrics.json" in files and "tcam_000.png" in files
    saved = json.load(open(os.path.join(run, "eval", "metrics.json")))
    assert saved["task"] == "action_localization"
    # compare reads the action task's figures (it knew only images' in 0.2).
    rows = {
        line.split()[0]: line.split()[1:]
        for line in evaluate.compare([run, run]).splitlines()[1:]
    }
    assert rows["thumos14_map@0.5"] == 2 * [
        f"{result['map']['thumos14']['0.5']:.4g}"
    ]
    assert "detections_activitynet.json" in files
    # The command line, in a fresh process (nothing registered beforehand).
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "has_tf.evaluate",
            f"--dataset={TINY['dataset']}",
            f"--data_dir={data}",
            f"--model_dir={run}",
            "--num_plots=0",
        ],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        check=True,
        capture_output=True,
        text=True,
    )
    out = done.stdout
    assert "thumos14 mAP@0.1..0.5:" in out and "6 videos" in out
    assert "evaluate: 6/6 videos (100.0%), in " in done.stderr
    assert "avg 0.1:0.7" in out
    from has_tf.metrics import segments

    means = result["averages"]["thumos14"]
    assert set(means) == {"0.1:0.5", "0.3:0.7", "0.1:0.7"}
    assert means["0.1:0.7"] == pytest.approx(
        np.mean(list(result["map"]["thumos14"].values()))
    )
    # Another grid: ActivityNet's, through --iou_thresholds.
    other = evaluate.evaluate(
        run,
        TINY["dataset"],
        data_dir=data,
        num_plots=0,
        iou_thresholds=segments.ACTIVITYNET_IOU_THRESHOLDS,
    )
    assert list(other["map"]["activitynet"]) == [
        f"{t:g}" for t in segments.ACTIVITYNET_IOU_THRESHOLDS
    ]
    assert set(other["averages"]["activitynet"]) == {"0.5:0.95"}
    assert (
        other["map"]["activitynet"]["0.5"]
        == result["map"]["activitynet"]["0.5"]
    )

    loaded = tf.saved_model.load(os.path.join(run, "saved_model"))
    served = loaded.serve(tf.zeros([1, 32, 32]))
    assert served["tcam"].shape == (1, 32, 3)
    # NaN in gives NaN out (for that video only); an empty batch, empties.
    features = np.zeros((2, 32, 32), np.float32)
    features[1, 3, 4] = np.nan
    out = loaded.serve(tf.constant(features))
    assert np.isfinite(out["logits"][0]).all()
    assert np.isnan(out["logits"][1]).all() and np.isnan(out["tcam"][1]).all()
    assert loaded.serve(tf.zeros([0, 32, 32]))["tcam"].shape == (0, 32, 3)


def test_temporal_flag_validation(tmp_path):
    with pytest.raises(ValueError, match="--segment_size.*Received: 40"):
        train.TrainConfig(
            model_dir=str(tmp_path), **{**TINY, "segment_size": 40}
        )
