"""Checkpoints: a torn one is skipped, a SIGKILLed run resumes to the
weights of an uninterrupted one, a diverged run stops without a model."""

import json
import os
import shutil
import signal
import subprocess
import time

import h5py
import keras
import numpy as np
import pytest

from has_tf import train
from tests import app_server


def test_checkpoints_keras_cannot_load_stop_a_resume_that_skipped_ahead(
    tmp_path, tiny
):
    """Readable, finite HDF5 files of another structure: Keras cannot load
    them. The restart had set the input stream to resume after them and
    then trained the initial weights on it ("starting afresh", exit 0);
    now it stops, naming the files."""
    import h5py

    run = tmp_path / "run"
    config = train.TrainConfig(
        model_dir=str(run),
        data_dir=str(tmp_path),
        epochs=2,
        steps_per_epoch=2,
        checkpoint_steps=1,
        tensorboard_images=0,
        **tiny,
    )
    train.train(config)
    (run / "model.keras").unlink()  # A run killed before its end.
    for path in (run / "backup").glob("ckpt-*.weights.h5"):
        path.unlink()
        with h5py.File(path, "w") as file:
            file["foreign"] = np.ones(3, np.float32)
    with pytest.raises(RuntimeError, match="resume at step 4") as error:
        train.train(config)
    assert "ckpt-000004.weights.h5" in str(error.value)


def test_torn_checkpoints_fall_back_to_the_last_good_one(
    tmp_path, caplog, tiny
):
    run = tmp_path / "run"
    config = train.TrainConfig(
        model_dir=str(run),
        data_dir=str(tmp_path),
        epochs=3,
        steps_per_epoch=2,
        tensorboard_images=0,
        **tiny,
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
    assert len(record["loss"]) == 3  # The torn interval once, not twice.
    # An empty commit file, and one missing (a kill between the weights and
    # it), leave the checkpoint out as well.
    (backup / "ckpt-000003.json").write_text("")
    (backup / "ckpt-000002.json").unlink()
    caplog.clear()
    record = train.train(config)
    assert "No readable checkpoint" in caplog.text
    assert record["steps_this_run"] == 6


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path):
    run = tmp_path / "run"
    args = [
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
        "--steps_per_epoch=100",
        "--checkpoint_steps=20",
        "--deterministic",
        "--tensorboard_images=0",
    ]
    env = {"PYTHONPATH": os.getcwd(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = app_server.start(args, env=env)
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
    done = app_server.run(args, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((run / "history.json").read_text())
    assert record["steps_done"] == 100
    assert len(record["loss"]) == 5  # Every interval once.
    # The second process continued from a checkpoint: it ran fewer steps.
    assert 0 < record["steps_this_run"] <= 80
    assert record["steps_this_run"] % 20 == 0
    # Exact resume: the same weights as a run that was never killed.
    whole = tmp_path / "whole"
    done = app_server.run(
        [
            a if a != f"--model_dir={run}" else f"--model_dir={whole}"
            for a in args
        ],
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = keras.models.load_model(run / "model.keras", compile=False)
    uninterrupted = keras.models.load_model(
        whole / "model.keras", compile=False
    )
    for a, b in zip(resumed.weights, uninterrupted.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_nan_loss_stops_with_a_clear_message(tmp_path, tiny):
    run = str(tmp_path / "run")
    config = train.TrainConfig(
        model_dir=run,
        data_dir=str(tmp_path),
        epochs=3,
        steps_per_epoch=4,
        **{**tiny, "learning_rate": 1e30},
    )
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        train.train(config)
    assert not os.path.exists(os.path.join(run, "model.keras"))


def _weights_are_finite(path):
    with h5py.File(path, "r") as f:
        arrays = []
        f.visititems(
            lambda _, obj: (
                arrays.append(np.asarray(obj))
                if isinstance(obj, h5py.Dataset)
                else None
            )
        )
    floats = [a for a in arrays if np.issubdtype(a.dtype, np.floating)]
    return bool(floats) and all(np.isfinite(a).all() for a in floats)


def test_a_diverged_run_keeps_its_finite_checkpoints(tmp_path, tiny):
    """The learning rate jumps by 1e9 halfway: the loss goes to NaN. No
    non-finite interval is committed, the finite checkpoints stay, and
    the same command again fails the same way instead of exporting."""
    run = tmp_path / "run"
    config = train.TrainConfig(
        model_dir=str(run),
        data_dir=str(tmp_path),
        epochs=2,
        steps_per_epoch=6,
        checkpoint_steps=2,
        lr_boundaries=(0.5,),
        lr_decay=1e9,
        tensorboard_images=0,
        **{**tiny, "patch_sizes": (0, 8, 16), "batch_size": 8},
    )
    for _ in range(2):  # The run, then the same command again.
        with pytest.raises(RuntimeError, match="last finite checkpoint"):
            train.train(config)
        kept = sorted((run / "backup").glob("ckpt-*.weights.h5"))
        assert kept, "the finite checkpoints were deleted"
        assert all(_weights_are_finite(p) for p in kept)
        assert not (run / "model.keras").exists()
        assert not (run / "saved_model").exists()


def test_a_checkpoint_with_nan_weights_is_skipped(tmp_path, tiny, caplog):
    """A non-finite checkpoint (as 0.2 could commit) is not resumed from."""
    run = tmp_path / "run"
    config = train.TrainConfig(
        model_dir=str(run),
        data_dir=str(tmp_path),
        epochs=2,
        steps_per_epoch=2,
        tensorboard_images=0,
        **tiny,
    )
    train.train(config)
    newest = sorted((run / "backup").glob("ckpt-*.weights.h5"))[-1]
    with h5py.File(newest, "r+") as f:
        f.visititems(
            lambda _, obj: (
                obj.__setitem__(..., np.nan)
                if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f"
                else None
            )
        )
    caplog.set_level("INFO", logger="absl")
    record = train.train(config)
    assert "ckpt-000002.weights.h5" in caplog.text  # Named as skipped.
    assert record["steps_this_run"] == 2  # From the older checkpoint.


@pytest.mark.parametrize(
    "hiding",
    [
        dict(hide_on="device"),
        dict(patch_sizes=(0,), conv1_patch_sizes=(2,), conv1_hide_prob=0.5),
    ],
    ids=["device", "conv1"],
)
def test_resume_is_exact_with_hiding_in_the_model(tmp_path, tiny, hiding):
    """The hiding layers' seed generators are checkpointed: a run resumed
    from its checkpoint at step 8 of 12 ends with the weights of a run
    never stopped (the masks do not replay from step 0)."""
    options = dict(
        data_dir=str(tmp_path),
        epochs=2,
        steps_per_epoch=6,
        checkpoint_steps=2,
        tensorboard_images=0,
        deterministic=True,
        **{**tiny, "patch_sizes": (0, 8, 16), "batch_size": 8, **hiding},
    )
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    train.train(train.TrainConfig(model_dir=str(whole), **options))
    # The same run (a copy of its directory), killed after the checkpoint
    # at step 8: the newer one and the outputs never happened.
    shutil.copytree(whole, cut)
    backup = cut / "backup"
    for name in ("ckpt-000006.json", "ckpt-000006.weights.h5"):
        (backup / name).unlink()
    (cut / "model.keras").unlink()
    (cut / "history.json").unlink()
    assert sorted(p.name for p in backup.glob("*.json")) == ["ckpt-000005.json"]
    record = train.train(train.TrainConfig(model_dir=str(cut), **options))
    assert record["steps_this_run"] == 2
    # The history comes from the checkpoints: every interval once, equal
    # to the uninterrupted run's.
    assert len(record["loss"]) == 6
    whole_history = json.loads((whole / "history.json").read_text())
    assert record["loss"] == whole_history["loss"]
    a = keras.models.load_model(whole / "model.keras", compile=False)
    b = keras.models.load_model(cut / "model.keras", compile=False)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _small_disk(path, megabytes):
    path.mkdir()
    done = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={megabytes}m",
            "tmpfs",
            str(path),
        ],
        capture_output=True,
    )
    return done.returncode == 0


FULL_DISK = """
import sys
from has_tf import train
from has_tf.training import checkpoints
train.train(train.TrainConfig(
    model_dir=sys.argv[1], data_dir=sys.argv[2], dataset="synthetic_parts/tiny",
    image_size=28, resize_size=32, patch_sizes=(0, 8, 16), epochs=2,
    steps_per_epoch=6, checkpoint_steps=2, batch_size=8, tensorboard_images=0))
"""


@pytest.mark.slow
def test_a_full_disk_during_a_checkpoint_is_an_error_not_a_crash(tmp_path):
    """A 4 MB disk holds one checkpoint of this run, not two. The run
    stops with an error (exit 1; before, HDF5 crashed the process, exit
    139, after the OSError) and keeps its complete checkpoint."""
    disk = tmp_path / "disk"
    if not _small_disk(disk, 4):
        pytest.skip("cannot mount a small tmpfs here")
    try:
        for mode in ("first", "again"):  # The same command twice.
            run = disk / "run"
            done = app_server.run(
                ["-c", FULL_DISK, str(run), str(tmp_path / "data"), mode]
            )
            assert done.returncode == 1, (
                mode,
                done.returncode,
                done.stderr[-2000:],
            )
            assert "No space left" in done.stderr
            kept = sorted((run / "backup").glob("ckpt-*.json"))
            assert kept and not list((run / "backup").glob(".tmp-*"))
            for path in (run / "backup").glob("ckpt-*.weights.h5"):
                assert _weights_are_finite(path)
    finally:
        subprocess.run(["umount", str(disk)], check=False)
