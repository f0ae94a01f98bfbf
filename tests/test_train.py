"""Train then evaluate on the tiny synthetic config; resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from has_tf import evaluate
from has_tf import train

TINY = dict(dataset="synthetic_parts/tiny", image_size=28, resize_size=32,
            patch_sizes=(0, 8), batch_size=4, learning_rate=0.02)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(patch_sizes=(0, 40)), "--patch_sizes: a patch is larger"),
        (dict(hide_prob=2.0), "--hide_prob.*Received: 2.0"),
        (dict(lr_boundaries=(0.8, 0.5)), "--lr_boundaries"),
        (dict(image_size=40), "--image_size"),
        (dict(model="vgg"), "--model"),
    ],
)
def test_invalid_configs_name_the_flag(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.TrainConfig(model_dir=str(tmp_path), **{**TINY, **kwargs})


def test_train_then_evaluate(tmp_path):
    data = str(tmp_path / "data")
    run = str(tmp_path / "run")
    record = train.train(train.TrainConfig(
        model_dir=run, data_dir=data, epochs=2, steps_per_epoch=3, **TINY))
    assert record["steps_done"] == 6 and len(record["loss"]) == 2
    for name in ("model.keras", "normalization.json", "history.json"):
        assert os.path.exists(os.path.join(run, name))
    result = evaluate.evaluate(run, "synthetic_parts/tiny", "test", data,
                               threshold_step=0.1, num_pictures=2)
    assert result["count"] == 6
    for key in evaluate.HEADLINE:
        assert 0.0 <= result[key] <= 1.0
    saved = json.load(open(os.path.join(run, "eval", "metrics.json")))
    assert saved["gt_known_loc"] == result["gt_known_loc"]
    pictures = sorted(os.listdir(os.path.join(run, "eval")))
    assert pictures[:2] == ["metrics.json", "overlay_000.png"]


def test_compare_prints_runs_side_by_side(tmp_path):
    for name, value in (("a", 0.5), ("b", 0.25)):
        os.makedirs(tmp_path / name / "eval")
        metrics = {key: value for key in evaluate.HEADLINE}
        metrics["count"] = 10
        (tmp_path / name / "eval" / "metrics.json").write_text(
            json.dumps(metrics))
    table = evaluate.compare([str(tmp_path / "a"), str(tmp_path / "b")])
    row = next(line for line in table.splitlines()
               if line.startswith("gt_known_loc"))
    assert row.split()[1:] == ["0.5", "0.25"]
    with pytest.raises(FileNotFoundError, match="No evaluation"):
        evaluate.compare([str(tmp_path / "missing")])


def test_evaluate_without_a_model_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No trained model"):
        evaluate.evaluate(str(tmp_path), "synthetic_parts/tiny")


def test_resume_after_sigkill(tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "has_tf.train",
            "--dataset=synthetic_parts/tiny", f"--data_dir={tmp_path}/data",
            f"--model_dir={run}", "--image_size=28", "--resize_size=32",
            "--patch_sizes=0,8", "--batch_size=4", "--epochs=1",
            "--steps_per_epoch=400", "--checkpoint_steps=20"]
    env = {**os.environ, "PYTHONPATH": os.getcwd(),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    metadata = run / "backup" / "training_metadata.json"
    deadline = time.time() + 240
    while not metadata.exists() and first.poll() is None:
        assert time.time() < deadline, "no checkpoint within 4 minutes"
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL
    assert not (run / "model.keras").exists()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    record = json.loads((run / "history.json").read_text())
    assert record["steps_done"] == 400
    # The second process continued from a checkpoint: it ran fewer steps.
    assert 0 < record["steps_this_run"] <= 380
    assert record["steps_this_run"] % 20 == 0


def test_saved_model_serves_logits_and_cams(tmp_path):
    import numpy as np
    import tensorflow as tf

    run = str(tmp_path / "run")
    train.train(train.TrainConfig(model_dir=run, data_dir=str(tmp_path),
                                  epochs=1, steps_per_epoch=1, **TINY))
    served = tf.saved_model.load(os.path.join(run, "saved_model"))
    out = served.serve(tf.zeros([2, 28, 28, 3]))
    assert out["logits"].shape == (2, 3)
    assert out["cams"].shape == (2, 7, 7, 3)
    assert np.isfinite(out["cams"].numpy()).all()


def test_nan_loss_stops_with_a_clear_message(tmp_path):
    run = str(tmp_path / "run")
    config = train.TrainConfig(model_dir=run, data_dir=str(tmp_path),
                               epochs=3, steps_per_epoch=4,
                               **{**TINY, "learning_rate": 1e30})
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        train.train(config)
    assert not os.path.exists(os.path.join(run, "model.keras"))


MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from has_tf import train
record = train.train(train.TrainConfig(
    model_dir=sys.argv[1], data_dir=sys.argv[2], strategy="mirrored",
    epochs=1, steps_per_epoch=3, dataset="synthetic_parts/tiny",
    image_size=28, resize_size=32, patch_sizes=(0, 8), batch_size=4))
print("RECORD", json.dumps(record))
"""


def test_mirrored_strategy_over_two_cpu_devices(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd(),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path / "run"),
         str(tmp_path / "data")], env=env, check=True, capture_output=True,
        text=True).stdout
    record = json.loads(out.split("RECORD", 1)[1])
    assert record["replicas"] == 2
    assert all(loss == loss and abs(loss) < 1e6 for loss in record["loss"])
    assert record["replica_weights_max_diff"] == 0.0
