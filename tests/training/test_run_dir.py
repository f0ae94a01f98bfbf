"""run_dir: one process per --model_dir, and a restart only with the
recorded training options."""

import json
import os
import socket
import subprocess
import sys

import pytest

from has_tf import train


def test_a_second_run_on_one_model_dir_refuses(tmp_path, tiny):
    run = tmp_path / "run"
    run.mkdir()
    # A live process (this one) holds the directory.
    (run / "run.lock").write_text(
        json.dumps(
            {"pid": os.getpid(), "host": socket.gethostname(), "started": "now"}
        )
    )
    config = train.TrainConfig(model_dir=str(run), **tiny)
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


def test_restart_with_other_training_flags_refuses(
    tmp_path, tiny, one_step_run
):
    run = one_step_run(tensorboard_images=0)
    history = json.loads(open(os.path.join(run, "history.json")).read())
    changed = train.TrainConfig(
        model_dir=run,
        data_dir=str(tmp_path),
        epochs=1,
        steps_per_epoch=1,
        **{**tiny, "hide_prob": 0.0, "learning_rate": 0.5},
    )
    with pytest.raises(
        train.run_dir.RunConfigMismatchError,
        match=r"--hide_prob: recorded 0.5, now 0.0(.|\n)*--learning_rate",
    ):
        train.train(changed)
    # Nothing was touched: same flags still resume, history kept.
    again = one_step_run(tensorboard_images=2)  # Logging only.
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
            **{**tiny, "hide_prob": 0.0, "learning_rate": 0.5},
        )
    )
    assert record["steps_this_run"] == 1 and len(record["loss"]) == 1
