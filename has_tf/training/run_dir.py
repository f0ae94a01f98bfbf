"""A training run's directory: one process at a time, one configuration.

- `RunLock`: `<model_dir>/run.lock` holds the owner's process id and host,
  created atomically; a second run on the directory refuses, naming the
  directory and the owner. A lock left by a process that no longer runs
  (on this host) is stale: it is replaced, and the replacement is logged.
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
import shutil
import socket
import time

from absl import logging

from has_tf.training import files as _files

LOCK = "run.lock"
RUN_CONFIG = "run_config.json"

__all__ = [
    "LOCK",
    "RUN_CONFIG",
    "RunConfigMismatchError",
    "RunLock",
    "RunLockedError",
    "check_config",
    "clear",
]


class RunLockedError(RuntimeError):
    """Another process holds the run directory."""


class RunConfigMismatchError(ValueError):
    """A restart whose training options differ from the recorded ones."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's process: alive.
        return True
    return True


class RunLock:
    """Holds `<directory>/run.lock` while the `with` block runs.

    Raises (on entering):
      RunLockedError: a live process holds it, named with its host.
    """

    def __init__(self, directory: str):
        self.path = os.path.join(directory, LOCK)
        self.held = False

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for _ in range(3):
            try:
                descriptor = os.open(
                    self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY
                )
            except FileExistsError:
                self._handle_existing()
                continue
            with os.fdopen(descriptor, "w") as f:
                json.dump(owner, f)
            self.held = True
            return self
        raise RunLockedError(
            f"Could not take {self.path}: other processes keep taking it."
        )

    def _handle_existing(self) -> None:
        try:
            with open(self.path) as f:
                holder = json.load(f)
        except (OSError, ValueError):
            holder = None  # Torn by a kill while being written: stale.
        if holder is not None:
            same_host = holder.get("host") == socket.gethostname()
            if not same_host or _alive(int(holder.get("pid", -1))):
                raise RunLockedError(
                    f"{os.path.dirname(self.path)} is in use by process "
                    f"{holder.get('pid')} on {holder.get('host')} (since "
                    f"{holder.get('started')}); two runs must not share a "
                    f"--model_dir. If that process is gone, delete {self.path}."
                )
        logging.warning(
            "Removing the stale lock %s (%s).",
            self.path,
            "unreadable"
            if holder is None
            else f"process {holder['pid']} no longer runs",
        )
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def __exit__(self, *exc_info):
        if self.held:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            self.held = False
        return False


def _shaping(train_config) -> dict:
    """The options that shape training, JSON-ready."""
    return {
        f.name: list(v) if isinstance(v, tuple) else v
        for f in dataclasses.fields(train_config)
        if f.metadata.get("shapes_run", True)
        for v in [getattr(train_config, f.name)]
    }


def check_config(directory: str, train_config) -> None:
    """Records the run's options, or checks a restart against them.

    Args:
      directory: the run's directory (created).
      train_config: a `config.TrainConfig`.

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
    _files.write_json_atomically(path, current)


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
