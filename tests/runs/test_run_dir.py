"""run_dir: one process per --model_dir, and a restart only with the
recorded training options."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from has_tf import methods
from has_tf import train
from has_tf.runs import run_dir


def _write_lock(run, **holder):
    (run / "run.lock").write_text(json.dumps(holder))


def test_a_second_run_on_one_model_dir_refuses(tmp_path, tiny):
    run = tmp_path / "run"
    run.mkdir()
    # A live process holds the directory.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"]
    )
    try:
        _write_lock(run, pid=holder.pid, host=socket.gethostname())
        config = train.TrainConfig(model_dir=str(run), **tiny)
        with pytest.raises(
            run_dir.RunLockedError, match=f"process {holder.pid}"
        ):
            train.train(config)
        # So does a lock this process holds.
        with run_dir.RunLock(str(tmp_path / "other")):
            with pytest.raises(run_dir.RunLockedError, match="in use"):
                run_dir.RunLock(str(tmp_path / "other")).__enter__()
    finally:
        holder.kill()
        holder.wait()
    # A lock left by a process that has exited is stale: replaced.
    _write_lock(run, pid=holder.pid, host=socket.gethostname())
    with run_dir.RunLock(str(run)) as lock:
        assert json.loads(open(lock.path).read())["pid"] == os.getpid()
    assert not (run / "run.lock").exists()


def test_a_restarted_container_takes_its_own_lock_back(tmp_path):
    """In a container the trainer and its restart are both PID 1: a lock
    naming this very pid that this process did not take is a former
    process's (0.2's format without a token, or another token)."""
    for extra in ({}, {"token": "an-earlier-process"}):
        _write_lock(
            tmp_path, pid=os.getpid(), host=socket.gethostname(), **extra
        )
        with run_dir.RunLock(str(tmp_path)):
            pass


def test_a_reused_pid_or_a_reboot_does_not_hold_the_lock(tmp_path):
    live = os.getppid()  # Alive, but not the process that took the lock.
    for extra in ({"start_ticks": -1}, {"boot_id": "another-boot"}):
        _write_lock(tmp_path, pid=live, host=socket.gethostname(), **extra)
        with run_dir.RunLock(str(tmp_path)):
            pass


def test_a_lock_from_another_host_expires_with_its_lease(tmp_path):
    _write_lock(tmp_path, pid=123, host="elsewhere", started="then")
    with pytest.raises(run_dir.RunLockedError, match="elsewhere.*expires"):
        run_dir.RunLock(str(tmp_path)).__enter__()
    old = time.time() - run_dir.LEASE_S - 5
    os.utime(tmp_path / "run.lock", (old, old))
    with run_dir.RunLock(str(tmp_path)):
        pass


def test_the_holder_renews_its_lease(tmp_path, monkeypatch):
    monkeypatch.setattr(run_dir, "_RENEW_S", 0.05)
    with run_dir.RunLock(str(tmp_path)) as lock:
        old = time.time() - 1000
        os.utime(lock.path, (old, old))
        time.sleep(0.5)
        assert time.time() - os.stat(lock.path).st_mtime < 5


@pytest.mark.parametrize(
    "content",
    [
        '{"pid": "abc", "host": "h"}',
        "[1, 2]",
        '{"pid": 0, "host": "h"}',
        '{"host": "h"}',
        "",
        "{not json",
    ],
    ids=["text-pid", "list", "pid-0", "no-pid", "empty", "torn"],
)
def test_a_malformed_lock_is_held_briefly_then_stale(tmp_path, content):
    (tmp_path / "run.lock").write_text(content)
    with pytest.raises(run_dir.RunLockedError, match="being taken"):
        run_dir.RunLock(str(tmp_path)).__enter__()
    old = time.time() - 60
    os.utime(tmp_path / "run.lock", (old, old))
    with run_dir.RunLock(str(tmp_path)):
        pass


def test_a_lock_that_is_a_directory_is_named(tmp_path):
    (tmp_path / "run.lock").mkdir()
    with pytest.raises(run_dir.RunLockedError, match="not a file"):
        run_dir.RunLock(str(tmp_path)).__enter__()


RACE = """
import sys, time
from has_tf.runs import run_dir
start = float(sys.argv[2])
while time.time() < start:
    pass
try:
    with run_dir.RunLock(sys.argv[1]):
        print("HELD", flush=True)
        time.sleep(1.0)
except run_dir.RunLockedError:
    print("REFUSED", flush=True)
"""


@pytest.mark.slow
def test_processes_starting_together_take_the_lock_once(tmp_path):
    for round_ in range(3):
        directory = tmp_path / str(round_)
        start = time.time() + 3.0
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RACE, str(directory), str(start)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outs = [p.communicate(timeout=60)[0].strip() for p in procs]
        assert sorted(outs) == ["HELD", "REFUSED", "REFUSED", "REFUSED"]


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
        run_dir.RunConfigMismatchError,
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


def _unshare_works():
    try:
        done = subprocess.run(
            ["unshare", "--pid", "--fork", "--mount-proc", "true"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _unshare_works(), reason="no PID namespaces here")
def test_a_container_restart_resumes_as_pid_1(tmp_path):
    """The trainer as PID 1 of its own PID namespace (as in Docker or
    Kubernetes), killed after its first checkpoint; the same command again
    (PID 1 again) resumes instead of finding the directory in use."""
    run = tmp_path / "run"
    command = [
        "unshare", "--pid", "--fork", "--mount-proc",
        sys.executable, "-m", "has_tf.train",
        "--dataset=synthetic_parts/tiny", f"--data_dir={tmp_path}/data",
        f"--model_dir={run}", "--image_size=28", "--resize_size=32",
        "--patch_sizes=0,8,16", "--epochs=2", "--steps_per_epoch=50",
        "--checkpoint_steps=20", "--batch_size=8", "--tensorboard_images=0",
    ]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while (
        not list((run / "backup").glob("ckpt-*.json"))
        if (run / "backup").exists()
        else True
    ):
        assert first.poll() is None and time.time() < deadline
        time.sleep(0.1)
    assert json.loads((run / "run.lock").read_text())["pid"] == 1
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    again = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr[-3000:]
    history = json.loads((run / "history.json").read_text())
    assert history["steps_done"] == 100 and history["steps_this_run"] < 100


def test_a_failed_start_records_no_options(tmp_path, tiny):
    """A misspelt dataset fails the start; the corrected command (other
    options) then starts without --overwrite."""
    run = tmp_path / "run"
    bad = train.TrainConfig(
        model_dir=str(run),
        data_dir=str(tmp_path),
        **{**tiny, "dataset": "synthetic_parts/tinny"},
    )
    with pytest.raises(Exception, match="tinny"):
        train.train(bad)
    assert not (run / "run_config.json").exists()


def test_leftovers_of_killed_processes_are_removed(tmp_path, one_step_run):
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    leftovers = [
        run / "backup" / ".tmp-4242-000003.weights.h5",
        run / ".tmp-4242.keras",
        run / ".history.json.abc123.tmp",
        run / "run.lock.new-0123abcd",
    ]
    for path in leftovers:
        path.write_bytes(b"x" * 1000)
    (run / "saved_model.tmp-4242").mkdir()
    (run / "eval.old-4242").mkdir()
    one_step_run(tensorboard_images=0)
    for path in leftovers + [
        run / "saved_model.tmp-4242",
        run / "eval.old-4242",
    ]:
        assert not path.exists(), path
    assert (run / "model.keras").exists()


def test_run_files_follow_the_umask(tmp_path, one_step_run):
    old = os.umask(0o022)
    try:
        run = one_step_run(tensorboard_images=0)
    finally:
        os.umask(old)
    for name in ("run_info.json", "run_config.json", "history.json"):
        mode = os.stat(os.path.join(run, name)).st_mode & 0o777
        assert mode == 0o644, (name, oct(mode))


def test_a_record_older_than_an_option_resumes_if_it_did_the_same(
    tmp_path, tiny
):
    """Runs recorded before `--method` and the rivals' options existed
    resume when the new options mean what those runs did."""
    config = train.TrainConfig(
        model_dir=str(tmp_path / "run"), data_dir=str(tmp_path), **tiny
    )
    methods.resolve(config, "images")  # As training does first.
    run_dir.check_config(config.model_dir, config)
    path = os.path.join(config.model_dir, run_dir.RUN_CONFIG)
    recorded = json.loads(open(path).read())
    for name in ("method", "cutmix_beta", "cutmix_prob", "adl_drop_rate"):
        recorded.pop(name)
    with open(path, "w") as f:
        json.dump(recorded, f)
    run_dir.check_config(config.model_dir, config)  # has, defaults: fine
    changed = train.TrainConfig(
        model_dir=config.model_dir,
        data_dir=str(tmp_path),
        **{**tiny, "patch_sizes": (), "method": "cutmix", "cutmix_prob": 0.5},
    )
    methods.resolve(changed, "images")
    with pytest.raises(
        run_dir.RunConfigMismatchError,
        match=r"--cutmix_prob: recorded None, now 0.5(.|\n)*--method",
    ):
        run_dir.check_config(config.model_dir, changed)
