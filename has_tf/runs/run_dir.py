"""A training run's directory: one process at a time, one configuration.

- `RunLock`: `<model_dir>/run.lock` names its holder (host, pid, boot id,
  process start time, a token), created whole and atomically, renewed as
  a lease; a second run on the directory refuses, naming the directory
  and the holder. A lock whose holder no longer runs (on this host: pid
  gone or reused, a restarted container's PID 1, a reboot; elsewhere: a
  lease not renewed for `LEASE_S`) is taken over, and that is logged.
- `check_config`: `<model_dir>/run_config.json` records the options that
  shape training (`config.TrainConfig` fields not marked otherwise). A
  restart resumes only when they match; otherwise it refuses and lists
  every difference, and `--overwrite` starts over, explicitly. Options
  that do not change the result (where data lives, logging, the
  strategy) may differ.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import threading
import time
import uuid

from absl import logging

from has_tf import methods
from has_tf.runs import files as _files

LOCK = "run.lock"
RUN_CONFIG = "run_config.json"

__all__ = [
    "LEASE_S",
    "LOCK",
    "RUN_CONFIG",
    "RunConfigMismatchError",
    "RunLock",
    "RunLockedError",
    "check_config",
    "clear",
    "remove_leftovers",
]


class RunLockedError(RuntimeError):
    """Another process holds the run directory."""


class RunConfigMismatchError(ValueError):
    """A restart whose training options differ from the recorded ones."""


# A holder on another host renews the lock's time this often; one whose
# lock is older than the lease is gone (a job moved to another node).
LEASE_S = float(os.environ.get("HAS_TF_LOCK_LEASE_S", "300"))
_RENEW_S = LEASE_S / 10
# A lock file younger than this that cannot be read is being written.
_GRACE_S = 30.0
# The tokens of the locks this process holds.
_HELD: set = set()


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """A process's start time (clock ticks since boot), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command may hold spaces and parentheses: fields follow the last ")".
    return int(stat.rsplit(")", 1)[1].split()[19])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's process: alive.
        return True
    return True


def _holder_runs(holder: dict) -> bool | None:
    """Whether a same-host holder still runs: True, False, or None when
    this host cannot tell (no /proc)."""
    pid = holder["pid"]
    if holder.get("boot_id") and _boot_id() and holder["boot_id"] != _boot_id():
        return False  # The machine rebooted since.
    if pid == os.getpid():
        # This process, or a former one with its pid (a restarted
        # container's PID 1): only this process's own locks are held.
        return holder.get("token") in _HELD
    if not _alive(pid):
        return False
    recorded, now = holder.get("start_ticks"), _start_ticks(pid)
    if recorded is not None and now is not None:
        return recorded == now  # Else the pid was reused.
    return True


def _read_holder(path: str):
    """`(holder, age_s, inode)`; holder None when the file is unreadable
    or malformed (not `{"pid": int > 0, "host": str, ...}`)."""
    info = os.stat(path)
    age = time.time() - info.st_mtime
    try:
        with open(path) as f:
            holder = json.load(f)
    except (OSError, ValueError):
        return None, age, info.st_ino
    valid = (
        isinstance(holder, dict)
        and isinstance(holder.get("pid"), int)
        and not isinstance(holder.get("pid"), bool)
        and holder["pid"] > 0
        and isinstance(holder.get("host"), str)
    )
    return (holder if valid else None), age, info.st_ino


class RunLock:
    """Holds `<directory>/run.lock` while the `with` block runs.

    The lock file is created whole or not at all (written aside, then
    hard-linked into place), so two processes starting together cannot
    both take it. It names its holder by host, pid, boot id, the process's
    start time and a random token, and the holder renews its time every
    `LEASE_S / 10` seconds. A lock is stale, and is taken over (logged),
    when its holder is on this host and no longer runs (the pid is gone,
    reused by another process, or this very process restarted as PID 1 in
    a container, or the host rebooted), or when it is from another host
    and its lease (`LEASE_S`, 300 s; `HAS_TF_LOCK_LEASE_S`) has run out.
    A lock that cannot be read counts as held for 30 s (being written),
    then as stale.

    Raises (on entering):
      RunLockedError: a live holder has it (named, with its host and how
        long it may still hold it), or `run.lock` is not a file.
    """

    def __init__(self, directory: str):
        self.path = os.path.join(directory, LOCK)
        self.held = False
        self._token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._renewer = None

    def _owner(self) -> dict:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "boot_id": _boot_id(),
            "start_ticks": _start_ticks(os.getpid()),
            "token": self._token,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }

    def _create(self) -> bool:
        """Puts a whole lock file in place; False if one exists."""
        aside = f"{self.path}.new-{uuid.uuid4().hex}"
        with open(aside, "w") as f:
            json.dump(self._owner(), f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(aside, self.path)
            return True
        except FileExistsError:
            return False
        except OSError:  # No hard links here: exclusive create instead.
            try:
                descriptor = os.open(
                    self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY
                )
            except FileExistsError:
                return False
            with open(aside) as src, os.fdopen(descriptor, "w") as dst:
                dst.write(src.read())
            return True
        finally:
            os.remove(aside)

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        for _ in range(5):
            if os.path.lexists(self.path) and not os.path.isfile(self.path):
                raise RunLockedError(
                    f"{self.path} is not a file; remove it to use "
                    f"{os.path.dirname(self.path)}."
                )
            try:
                created = self._create()
            except PermissionError as error:
                raise RunLockedError(
                    f"Cannot take {self.path}: no permission to write in "
                    f"{os.path.dirname(self.path)} ({error})."
                ) from None
            if created:
                self.held = True
                _HELD.add(self._token)
                self._renewer = threading.Thread(
                    target=self._renew, name="run.lock lease", daemon=True
                )
                self._renewer.start()
                return self
            self._handle_existing()
        raise RunLockedError(
            f"Could not take {self.path}: other processes keep taking it."
        )

    def _renew(self) -> None:
        while not self._stop.wait(_RENEW_S):
            try:
                os.utime(self.path)
            except OSError:
                pass

    def _handle_existing(self) -> None:
        try:
            holder, age, inode = _read_holder(self.path)
        except FileNotFoundError:
            return  # Released meanwhile: try again.
        directory = os.path.dirname(self.path)
        if holder is None:
            if age < _GRACE_S:
                raise RunLockedError(
                    f"{directory} is being taken by another process "
                    f"({self.path} is {age:.0f} s old and not yet readable)."
                )
            why = "unreadable"
        elif holder["host"] == socket.gethostname():
            if _holder_runs(holder) is not False:
                raise RunLockedError(
                    f"{directory} is in use by process {holder['pid']} on "
                    f"{holder['host']} (since {holder.get('started')}); two "
                    "runs must not share a --model_dir."
                )
            why = f"process {holder['pid']} no longer runs"
        else:
            if age < LEASE_S:
                raise RunLockedError(
                    f"{directory} is in use by process {holder['pid']} on "
                    f"{holder['host']} (since {holder.get('started')}; "
                    f"renewed {age:.0f} s ago). If that host is gone, the "
                    f"lock expires {LEASE_S - age:.0f} s from now."
                )
            why = (
                f"process {holder['pid']} on {holder['host']} has not "
                f"renewed it for {age:.0f} s (lease {LEASE_S:.0f} s)"
            )
        self._take_over(inode, why)

    def _take_over(self, inode: int, why: str) -> None:
        """Moves the stale lock aside, if it is still the one inspected."""
        aside = f"{self.path}.stale-{uuid.uuid4().hex}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        if os.stat(aside).st_ino != inode:
            # Another process took the directory meanwhile: give it back.
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            os.remove(aside)
            return
        os.remove(aside)
        logging.warning("Removing the stale lock %s (%s).", self.path, why)

    def __exit__(self, *exc_info):
        if self.held:
            self._stop.set()
            if self._renewer is not None:
                self._renewer.join()
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            _HELD.discard(self._token)
            self.held = False
        return False


def _shaping(train_config) -> dict:
    """The options that shape training, JSON-ready: the config's own and
    the methods' (`method_options`), by name."""
    values = {
        f.name: getattr(train_config, f.name)
        for f in dataclasses.fields(train_config)
        if f.metadata.get("shapes_run", True) and f.metadata.get("flag", True)
    }
    values.update(getattr(train_config, "method_options", {}))
    return {
        name: list(v) if isinstance(v, tuple) else v
        for name, v in values.items()
    }


def _as_before(name, value, train_config) -> bool:
    """Whether an option newer than a run's record keeps what the run did
    before it existed: its default (for `method`, the method the hiding
    options meant: has or cam)."""
    if name == "method":
        hides = train_config.patch_sizes or train_config.conv1_patch_sizes
        return value == ("has" if hides else "cam")
    defaults = {o.name: o.default for o in methods.options()}
    defaults.update(
        (f.name, f.default)
        for f in dataclasses.fields(train_config)
        if f.default is not dataclasses.MISSING
    )
    if name not in defaults:
        return False
    default = defaults[name]
    return value == (list(default) if isinstance(default, tuple) else default)


def check_config(directory: str, train_config, record: bool = True) -> None:
    """Records the run's options, or checks a restart against them.

    Args:
      directory: the run's directory (created).
      train_config: a `config.TrainConfig`.
      record: write them when none are recorded yet; False only checks
        (`train` records once the run has started: a start that fails,
        e.g. on a misspelt dataset, must not pin its options).

    Raises:
      RunConfigMismatchError: the directory holds a run with other
        training options; the message lists each (`--name: recorded X,
        now Y`) and names `--overwrite`.
    """
    path = os.path.join(directory, RUN_CONFIG)
    current = _shaping(train_config)
    if os.path.exists(path):
        with open(path) as f:
            recorded = json.load(f)
        names = sorted(set(recorded) | set(current))
        differences = [
            f"--{name}: recorded {recorded.get(name)!r}, now "
            f"{current.get(name)!r}"
            for name in names
            if recorded.get(name) != current.get(name)
            and not (
                name not in recorded
                and _as_before(name, current[name], train_config)
            )
        ]
        if differences:
            raise RunConfigMismatchError(
                f"{directory} holds a run with other training options:\n  "
                + "\n  ".join(differences)
                + "\nUse another --model_dir, restore those flags to "
                "resume, or pass --overwrite to start over (deleting the "
                "run)."
            )
        return
    if record:
        _files.write_json_atomically(path, current)


# What a killed process leaves: checkpoints.py's and files.py's temporary
# files, replace_directory's `.tmp-<pid>` / `.old-<pid>` directories, and
# the lock's own side files.
_LEFTOVER = re.compile(
    r"^(\.tmp-.*|\..+\.tmp|.+\.(tmp|old)-\d+|run\.lock\.(new|stale)-\w+)$"
)


def remove_leftovers(directory: str) -> list:
    """Deletes what killed processes left in a run directory (and its
    `backup/`); call it holding the lock. Returns the paths removed."""
    removed = []
    for folder in (directory, os.path.join(directory, "backup")):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if not _LEFTOVER.match(name):
                continue
            target = os.path.join(folder, name)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                try:
                    os.remove(target)
                except FileNotFoundError:
                    continue
            removed.append(target)
    if removed:
        logging.info(
            "Removed %d files left by killed processes: %s",
            len(removed),
            ", ".join(removed[:5]),
        )
    return removed


def clear(directory: str, keep=(LOCK,)) -> None:
    """Deletes a run directory's contents (for `--overwrite`), but `keep`."""
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if name in keep:
            continue
        target = os.path.join(directory, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.remove(target)
