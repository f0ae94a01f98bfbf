"""Train then evaluate on the tiny synthetic config; resume after SIGKILL."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import has_tf.datasets
from has_tf import evaluate
from has_tf import tasks
from has_tf import train
from has_tf.tasks import image_localization

TINY = dict(
    dataset="synthetic_parts/tiny",
    image_size=28,
    resize_size=32,
    patch_sizes=(0, 8),
    batch_size=4,
    learning_rate=0.02,
)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(patch_sizes=(0, 40)), "--patch_sizes: a patch is larger"),
        (dict(hide_prob=2.0), "--hide_prob.*Received: 2.0"),
        (dict(lr_boundaries=(0.8, 0.5)), "--lr_boundaries"),
        (dict(image_size=40), "--image_size"),
        (dict(model="vgg"), "--model"),
        (dict(conv1_hide_prob=-0.1), "--conv1_hide_prob.*-0.1"),
        (
            dict(model="googlenet_gap", conv1_patch_sizes=(5,)),
            "--conv1_patch_sizes: conv1 hiding",
        ),
    ],
)
def test_invalid_configs_name_the_flag(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.TrainConfig(model_dir=str(tmp_path), **{**TINY, **kwargs})


def test_train_then_evaluate(tmp_path):
    data = str(tmp_path / "data")
    run = str(tmp_path / "run")
    record = train.train(
        train.TrainConfig(
            model_dir=run,
            data_dir=data,
            epochs=2,
            steps_per_epoch=3,
            tensorboard_images=TINY_IMAGES,
            **TINY,
        )
    )
    assert record["steps_done"] == 6 and len(record["loss"]) == 2
    for name in ("model.keras", "run_info.json", "history.json"):
        assert os.path.exists(os.path.join(run, name))
    result = evaluate.evaluate(
        run,
        "synthetic_parts/tiny",
        "test",
        data,
        threshold_step=0.1,
        num_pictures=2,
    )
    assert result["count"] == 6 and result["skipped_without_boxes"] == 0
    assert result["protocols"]["max_box_acc"].endswith("has_tf rules")
    for key in evaluate.HEADLINE:
        assert 0.0 <= result[key] <= 1.0
    saved = json.load(open(os.path.join(run, "eval", "metrics.json")))
    assert saved["gt_known_loc"] == result["gt_known_loc"]
    pictures = sorted(os.listdir(os.path.join(run, "eval")))
    assert pictures[:2] == ["metrics.json", "overlay_000.png"]
    _check_cam_summaries(
        os.path.join(run, "tensorboard", "cams"),
        steps=[3, 6],
        count=TINY_IMAGES,
    )
    ten = evaluate.evaluate(
        run,
        "synthetic_parts/tiny",
        "test",
        data,
        protocol="ten_crop",
        resize_size=32,
        threshold_step=0.1,
        num_pictures=1,
    )
    assert ten["count"] == 6 and ten["eval_crop"] == "ten_crop"
    for key in evaluate.HEADLINE:
        assert 0.0 <= ten[key] <= 1.0


TINY_IMAGES = 3


def _check_cam_summaries(log_dir, steps, count):
    """The CAM images and learning rate logged after every interval."""

    images, rates = {}, {}
    for name in os.listdir(log_dir):
        for event in tf.compat.v1.train.summary_iterator(
            os.path.join(log_dir, name)
        ):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                if value.tag == "cams":
                    images[event.step] = tensor
                elif value.tag == "learning_rate":
                    rates[event.step] = float(tensor)
    assert sorted(images) == steps and sorted(rates) == steps
    # An image summary holds width, height, then one PNG per image.
    for tensor in images.values():
        assert len(tensor) == 2 + count
        assert (int(tensor[0]), int(tensor[1])) == (28, 28)
        assert tensor[2][:4] == b"\x89PNG"
    # The step schedule: 0.02 up to step 3, then two decays by 0.1.
    assert rates[3] == pytest.approx(0.02)
    assert rates[6] == pytest.approx(0.0002)


def test_compare_prints_runs_side_by_side(tmp_path):
    for name, value in (("a", 0.5), ("b", 0.25)):
        os.makedirs(tmp_path / name / "eval")
        metrics = {key: value for key in evaluate.HEADLINE}
        metrics["count"] = 10
        (tmp_path / name / "eval" / "metrics.json").write_text(
            json.dumps(metrics)
        )
    table = evaluate.compare([str(tmp_path / "a"), str(tmp_path / "b")])
    row = next(
        line for line in table.splitlines() if line.startswith("gt_known_loc")
    )
    assert row.split()[1:] == ["0.5", "0.25"]
    with pytest.raises(FileNotFoundError, match="No evaluation"):
        evaluate.compare([str(tmp_path / "missing")])


def test_conv1_hiding_reaches_the_model(tmp_path):
    config = train.TrainConfig(
        model_dir=str(tmp_path),
        **TINY,
        conv1_patch_sizes=(2,),
        conv1_hide_prob=0.25,
    )
    model = image_localization.build_model(config, num_classes=3)
    layer = model.get_layer("conv1_hide")
    assert layer.hide_prob == 0.25
    plain = image_localization.build_model(
        train.TrainConfig(model_dir=str(tmp_path), **TINY), num_classes=3
    )
    assert "conv1_hide" not in [layer.name for layer in plain.layers]


def _one_step_run(tmp_path, **kwargs):
    """A run of one training step on the tiny set; returns its dir."""
    run = str(tmp_path / "run")
    config = dict(epochs=1, steps_per_epoch=1, **TINY)
    config.update(kwargs)
    train.train(
        train.TrainConfig(model_dir=run, data_dir=str(tmp_path), **config)
    )
    return run


def test_a_second_run_on_one_model_dir_refuses(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    # A live process (this one) holds the directory.
    (run / "run.lock").write_text(
        json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "started": "now"}
        )
    )
    config = train.TrainConfig(model_dir=str(run), **TINY)
    with pytest.raises(
        train.run_dir.RunLockedError, match=f"process {os.getpid()}"
    ):
        train.train(config)
    # A lock left by a process that has exited is stale: replaced.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (run / "run.lock").write_text(
        json.dumps(
            {"pid": gone.pid, "host": socket.gethostname(), "started": "then"}
        )
    )
    with train.run_dir.RunLock(str(run)) as lock:
        assert json.loads(open(lock.path).read())["pid"] == os.getpid()
    assert not (run / "run.lock").exists()


def test_restart_with_other_training_flags_refuses(tmp_path):
    run = _one_step_run(tmp_path, tensorboard_images=0)
    history = json.loads(open(os.path.join(run, "history.json")).read())
    changed = train.TrainConfig(
        model_dir=run,
        data_dir=str(tmp_path),
        epochs=1,
        steps_per_epoch=1,
        **{**TINY, "hide_prob": 0.0, "learning_rate": 0.5},
    )
    with pytest.raises(
        train.run_dir.RunConfigMismatchError,
        match=r"--hide_prob: recorded 0.5, now 0.0(.|\n)*--learning_rate",
    ):
        train.train(changed)
    # Nothing was touched: same flags still resume, history kept.
    again = _one_step_run(tmp_path, tensorboard_images=2)  # Logging only.
    assert (
        json.loads(open(os.path.join(again, "history.json")).read())["loss"]
        == history["loss"]
    )
    # --overwrite starts over.
    record = train.train(
        train.TrainConfig(
            model_dir=run,
            data_dir=str(tmp_path),
            epochs=1,
            steps_per_epoch=1,
            tensorboard_images=0,
            overwrite=True,
            **{**TINY, "hide_prob": 0.0, "learning_rate": 0.5},
        )
    )
    assert record["steps_this_run"] == 1 and len(record["loss"]) == 1


def test_torn_checkpoints_fall_back_to_the_last_good_one(tmp_path, caplog):
    run = tmp_path / "run"
    config = train.TrainConfig(
        model_dir=str(run),
        data_dir=str(tmp_path),
        epochs=3,
        steps_per_epoch=2,
        tensorboard_images=0,
        **TINY,
    )
    train.train(config)
    backup = run / "backup"
    assert sorted(p.name for p in backup.glob("ckpt-*.json")) == [
        "ckpt-000002.json",
        "ckpt-000003.json",
    ]
    # A kill while the newest weights were written: 96 bytes left.
    newest = backup / "ckpt-000003.weights.h5"
    newest.write_bytes(newest.read_bytes()[:96])
    caplog.set_level("INFO", logger="absl")
    record = train.train(config)
    assert "ckpt-000003.weights.h5" in caplog.text
    assert "Resuming from" in caplog.text
    assert "ckpt-000002.weights.h5" in caplog.text
    assert record["steps_done"] == 6 and record["steps_this_run"] == 2
    # An empty commit file, and one missing (a kill between the weights and
    # it), leave the checkpoint out as well.
    (backup / "ckpt-000003.json").write_text("")
    (backup / "ckpt-000002.json").unlink()
    caplog.clear()
    record = train.train(config)
    assert "No readable checkpoint" in caplog.text
    assert record["steps_this_run"] == 6


def test_evaluate_tells_missing_from_unreadable(tmp_path):
    run = _one_step_run(tmp_path, tensorboard_images=0)
    model = os.path.join(run, "model.keras")
    with open(model, "rb") as f:
        data = f.read()
    with open(model, "wb") as f:
        f.write(data[: len(data) // 3])  # A disk that filled up.
    with pytest.raises(ValueError, match="Unreadable trained model"):
        evaluate.evaluate(run, "synthetic_parts/tiny", "test", str(tmp_path))
    os.remove(model)
    with pytest.raises(FileNotFoundError, match="No trained model"):
        evaluate.evaluate(run, "synthetic_parts/tiny", "test", str(tmp_path))


def test_evaluate_without_a_model_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No trained model"):
        evaluate.evaluate(str(tmp_path), "synthetic_parts/tiny")


def test_a_run_of_version_0_1_still_evaluates(tmp_path):
    # has_tf 0.1 named the run record normalization.json.
    run = _one_step_run(tmp_path, tensorboard_images=0)
    record = json.loads(open(os.path.join(run, "run_info.json")).read())
    assert record["image_size"] == 28 and record["model"] == "small_gap"
    os.rename(
        os.path.join(run, "run_info.json"),
        os.path.join(run, "normalization.json"),
    )
    result = evaluate.evaluate(
        run, "synthetic_parts/tiny", "test", str(tmp_path), num_pictures=0
    )
    assert result["count"] == 6


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path):
    run = tmp_path / "run"
    args = [
        sys.executable,
        "-m",
        "has_tf.train",
        "--dataset=synthetic_parts/tiny",
        f"--data_dir={tmp_path}/data",
        f"--model_dir={run}",
        "--image_size=28",
        "--resize_size=32",
        "--patch_sizes=0,8",
        "--batch_size=4",
        "--epochs=1",
        "--steps_per_epoch=400",
        "--checkpoint_steps=20",
        "--deterministic",
        "--tensorboard_images=0",
    ]
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 240
    while (
        not list((run / "backup").glob("ckpt-*.json"))
        if (run / "backup").exists()
        else True
    ) and first.poll() is None:
        assert time.time() < deadline, "no checkpoint within 4 minutes"
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL
    assert not (run / "model.keras").exists()
    subprocess.run(
        args,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    record = json.loads((run / "history.json").read_text())
    assert record["steps_done"] == 400
    # The second process continued from a checkpoint: it ran fewer steps.
    assert 0 < record["steps_this_run"] <= 380
    assert record["steps_this_run"] % 20 == 0
    # Exact resume: the same weights as a run that was never killed.
    whole = tmp_path / "whole"
    subprocess.run(
        [
            a if a != f"--model_dir={run}" else f"--model_dir={whole}"
            for a in args
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    resumed = keras.models.load_model(run / "model.keras", compile=False)
    uninterrupted = keras.models.load_model(
        whole / "model.keras", compile=False
    )
    for a, b in zip(resumed.weights, uninterrupted.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_saved_model_serves_raw_pixels(tmp_path):
    run = _one_step_run(tmp_path)
    served = tf.saved_model.load(os.path.join(run, "saved_model"))
    pixels = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 3))
    out = served.serve(tf.constant(pixels, tf.uint8))
    assert out["logits"].shape == (2, 3)
    assert out["cams"].shape == (2, 7, 7, 3)
    assert np.isfinite(out["cams"].numpy()).all()
    # The normalisation is inside: equal to the Keras model on the
    # normalised pixels, as run_info.json records them.
    info = json.loads(open(os.path.join(run, "run_info.json")).read())
    model, _ = tasks.load_run(run)
    logits = model((pixels - info["mean"]) / info["std"], training=False)
    np.testing.assert_allclose(out["logits"], logits, rtol=1e-4, atol=1e-5)
    # An empty batch gives empty outputs; float input is refused.
    empty = served.serve(tf.zeros([0, 28, 28, 3], tf.uint8))
    assert empty["logits"].shape == (0, 3)
    assert empty["cams"].shape == (0, 7, 7, 3)
    with pytest.raises((TypeError, ValueError)):
        served.serve(tf.zeros([1, 28, 28, 3]))


def test_nan_loss_stops_with_a_clear_message(tmp_path):
    run = str(tmp_path / "run")
    config = train.TrainConfig(
        model_dir=run,
        data_dir=str(tmp_path),
        epochs=3,
        steps_per_epoch=4,
        **{**TINY, "learning_rate": 1e30},
    )
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


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpu_devices(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            MIRRORED,
            str(tmp_path / "run"),
            str(tmp_path / "data"),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    record = json.loads(out.split("RECORD", 1)[1])
    assert record["replicas"] == 2
    assert all(loss == loss and abs(loss) < 1e6 for loss in record["loss"])
    assert record["replica_weights_max_diff"] == 0.0


MULTI_WORKER = """
import json, sys
from has_tf import train
record = train.train(train.TrainConfig(
    model_dir=sys.argv[1], data_dir=sys.argv[2], strategy="multi_worker",
    epochs=int(sys.argv[3]), steps_per_epoch=2, dataset="synthetic_parts/tiny",
    image_size=28, resize_size=32, patch_sizes=(0, 8), batch_size=4,
    tensorboard_images=2))
print("RECORD", json.dumps(record))
"""


def _free_ports(count):

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_strategy_with_two_processes(tmp_path):

    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    has_tf.datasets.load("synthetic_parts/tiny", "train", data)  # Build once.
    records = _run_two_workers(run, data, epochs=2)
    for record in records:
        assert record["steps_done"] == 4 and len(record["loss"]) == 2
        assert all(np.isfinite(record["loss"]))
    # Both workers took the same synchronous steps: identical losses and
    # weights. The chief writes into the model dir, worker 1 beside it.
    assert records[0]["loss"] == records[1]["loss"]

    chief = keras.models.load_model(os.path.join(run, "model.keras"))
    other = keras.models.load_model(
        os.path.join(run, "worker_1", "model.keras")
    )
    for a, b in zip(chief.trainable_weights, other.trainable_weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert os.listdir(os.path.join(run, "tensorboard", "cams"))
    assert os.listdir(os.path.join(run, "backup_mw"))
    # Started again, the workers resume from their checkpoints (at the
    # end: no step left) and keep the recorded history.
    for record in _run_two_workers(run, data, epochs=2):
        assert record["steps_done"] == 4 and record["steps_this_run"] == 0
        assert len(record["loss"]) == 2


def _run_two_workers(run, data, epochs):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }
        env = {
            **os.environ,
            "PYTHONPATH": os.getcwd(),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_CONFIG": json.dumps(tf_config),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", MULTI_WORKER, run, data, str(epochs)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    return [json.loads(out.split("RECORD", 1)[1]) for out, _ in outs]


def test_hiding_on_the_device(tmp_path):
    config = train.TrainConfig(
        model_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path),
        epochs=1,
        steps_per_epoch=2,
        tensorboard_images=0,
        **{**TINY, "patch_sizes": (0, 7)},
        hide_on="device",
    )
    record = train.train(config)
    assert record["steps_done"] == 2
    model, _ = tasks.load_run(config.model_dir)
    layer = model.get_layer("input_hide")
    assert layer.patch_sizes == (0, 7) and layer.hide_prob == 0.5
    # The same masks' statistics either way: with sizes (0, 7) on 28 x 28
    # images, half the images are hidden in cells of 7 with probability
    # 0.5, so a quarter of the pixels on average, at the fill. Host: the
    # pipeline's batches; device: the layer, which fills with 0.
    dataset, builder = has_tf.datasets.load(
        TINY["dataset"], "train", str(tmp_path)
    )
    host = train.TrainConfig(**{**config.__dict__, "hide_on": "host"})
    setup = tasks.ImageLocalization().training(host, dataset, builder)
    batches = setup.inputs(tf.distribute.InputContext(), 0).take(40)
    images = np.concatenate([b[0].numpy() for b in batches])
    # The host fills uint8 pixels with the rounded mean: normalised, a
    # value just off 0.
    mean, std = (np.array(setup.run_info[k]) for k in ("mean", "std"))
    fill = (np.clip(np.round(mean), 0, 255) - mean) / std
    host_hidden = np.mean(np.all(np.abs(images - fill) < 1e-5, axis=-1))
    device_hidden = np.mean(
        np.all(
            np.asarray(layer(tf.ones([160, 28, 28, 3]), training=True)) == 0,
            axis=-1,
        )
    )
    # 160 images: a binomial bound on the mean fraction (sd about 0.03).
    assert abs(host_hidden - 0.25) < 0.1 and abs(device_hidden - 0.25) < 0.1
    assert np.asarray(layer(tf.ones([4, 28, 28, 3]))).min() == 1.0  # Test.
