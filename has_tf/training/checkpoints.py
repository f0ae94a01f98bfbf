"""Checkpoints and saved models that a kill or a full disk cannot tear.

`AtomicBackup` replaces Keras's `BackupAndRestore`, which overwrites
`latest.weights.h5` in place (a kill while it is open leaves a file no
restart can read). Here each checkpoint interval writes

    <directory>/ckpt-<epoch>.weights.h5   model, optimizer and step
    <directory>/ckpt-<epoch>.json         {"epoch", "step", "seed_states",
                                          "history"}: the commit

the weights under a temporary name renamed into place, then the JSON the
same way; a checkpoint counts once its JSON exists. The previous one is
deleted only after the next is complete. A restart loads the newest
checkpoint that reads back; one that does not (torn, truncated, its JSON
empty, or holding NaN or infinite weights) is skipped with a warning
naming it and the one used instead.

Never committed: an interval whose loss or whose weights (the model's or
the optimizer's) are NaN or infinite. Training stops there instead, so the
last finite checkpoint stays, out of rotation, for a restart with other
options (`nonfinite_variables` names the offending weights).

`save_model` and `export_saved_model` write `model.keras` and
`saved_model/` the same way: the old ones stay whole until the new ones
are.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil

import h5py
import keras
import numpy as np
from absl import logging

from has_tf.runs import files as _files

_NAME = re.compile(r"^ckpt-(\d+)\.json$")

__all__ = [
    "AtomicBackup",
    "committed",
    "Diverged",
    "newest",
    "nonfinite_variables",
    "seed_states",
    "resume_step",
    "save_model",
]


class Diverged(RuntimeError):
    """Training stopped because the loss or the weights became NaN or
    infinite: an outcome of the run's options (its learning rate, ...),
    not a fault of the machine; the message names what was kept."""


def _variables(model) -> list:
    optimizer = getattr(model, "optimizer", None)
    extra = list(optimizer.variables) if optimizer is not None else []
    return list(model.weights) + extra


def seed_states(model) -> dict:
    """The state variables of `model`'s `keras.random.SeedGenerator`s (the
    hiding layers'), by `<layer name>/<index>`: `save_weights` leaves them
    out, so a checkpoint keeps them itself, or a resumed run would replay
    the masks from step 0. (Keyed by layer, not by variable path, which
    numbers generators in the order a process makes them.)"""
    states = {}
    for layer in model._flatten_layers(include_self=False):
        for i, generator in enumerate(getattr(layer, "_seed_generators", ())):
            states[f"{layer.name}/{i}"] = generator.state
    return states


def nonfinite_variables(model) -> list:
    """The paths of `model`'s weights and optimizer variables that hold NaN
    or infinity (empty when every value is finite)."""
    bad = []
    for variable in _variables(model):
        value = np.asarray(variable.numpy())
        if (
            np.issubdtype(value.dtype, np.inexact)
            and not np.isfinite(value).all()
        ):
            bad.append(getattr(variable, "path", variable.name))
    return bad


def _finite_h5(path: str) -> bool:
    """Whether every float array of an `.h5` weights file is finite."""
    finite = [True]

    def visit(_, item):
        if isinstance(item, h5py.Dataset) and item.dtype.kind == "f":
            finite[0] = finite[0] and bool(np.isfinite(item[()]).all())

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return finite[0]


def _readable(meta_path: str, weights_path: str, epoch: int):
    """The checkpoint's metadata if both files read back and the weights
    are finite, else None."""
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        if int(meta["epoch"]) != epoch or not _finite_h5(weights_path):
            return None
    except Exception:  # Torn, truncated, empty or foreign.
        return None
    return meta


def newest(directory: str) -> str | None:
    """The newest committed checkpoint's weights file in `directory`."""
    complete = _complete(directory)
    return complete[0][2] if complete else None


def committed(directory: str) -> list:
    """`(epoch, weights path)` of the committed checkpoints that read back
    (finite), oldest first: what `has_tf.evaluate --checkpoint=best`
    chooses among."""
    return [
        (epoch, weights_path)
        for epoch, meta_path, weights_path in reversed(_complete(directory))
        if _readable(meta_path, weights_path, epoch) is not None
    ]


def resume_step(directory: str) -> int:
    """The optimizer step of the newest checkpoint that reads back; 0."""
    for epoch, meta_path, weights_path in _complete(directory):
        meta = _readable(meta_path, weights_path, epoch)
        if meta is not None:
            return int(meta["step"])
    return 0


def _complete(directory: str) -> list:
    """(epoch, json path, weights path) of committed checkpoints, newest
    first."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        match = _NAME.match(name)
        if match:
            stem = os.path.join(directory, name[: -len(".json")])
            found.append(
                (int(match.group(1)), stem + ".json", stem + ".weights.h5")
            )
    return sorted(found, reverse=True)


def _check_space(directory: str, model, what: str = "a checkpoint") -> None:
    """Raises (ENOSPC) before a write that cannot fit, rather than start
    it: HDF5 (under Keras's weight files) crashes the process when a write
    fails on a full disk. The estimate is the variables' bytes (the
    optimizer's included), plus 10% and 1 MiB. A disk that fills between
    this check and the write can still end that way."""
    needed = 1.1 * sum(np.asarray(v.numpy()).nbytes for v in _variables(model))
    free = shutil.disk_usage(directory).free
    if free < needed + (1 << 20):
        raise OSError(
            errno.ENOSPC,
            f"No space left for {what} of about {needed / 1e6:.1f} MB in "
            f"{directory} ({free / 1e6:.1f} MB free). The last complete "
            "checkpoint is kept: free some space and run the same command "
            "again to resume",
        )


class AtomicBackup(keras.callbacks.Callback):
    """Saves after every `fit` epoch (one checkpoint interval); restores.

    Args:
      directory: where the checkpoints go.
      keep: complete checkpoints kept (the newest ones); 0: all.
      expected_step: the step `resume_step` gave, from which the input
        stream was built; restoring another is an error (a resume must
        not silently desynchronise data and weights).
    """

    def __init__(self, directory: str, keep: int = 2, expected_step=None):
        super().__init__()
        self.directory = directory
        self.expected_step = expected_step
        self.keep = None if int(keep) == 0 else max(1, int(keep))
        self.restored = None  # The checkpoint used, for tests and logs.
        self.diverged = None  # The interval that diverged, if one did.
        # The run's history, interval by interval, as committed: restored
        # with the checkpoint, so no restart loses or repeats an interval.
        self.history = {}

    def _complete(self) -> list:
        return _complete(self.directory)

    def on_train_begin(self, logs=None):
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        skipped = []
        initial = [np.array(v.numpy()) for v in _variables(self.model)]
        for epoch, meta_path, weights_path in self._complete():
            try:
                meta = _readable(meta_path, weights_path, epoch)
                if meta is None:
                    raise ValueError("torn, unreadable or non-finite")
                self.model.load_weights(weights_path)
                bad = nonfinite_variables(self.model)
                if bad:
                    raise ValueError(f"NaN or infinite weights: {bad[:3]}")
            except Exception as error:  # Any unusable checkpoint.
                skipped.append(
                    f"{weights_path} ({type(error).__name__}: "
                    f"{str(error)[:200]})"
                )
                continue
            self.history = {
                k: list(v) for k, v in meta.get("history", {}).items()
            }
            saved = meta.get("seed_states", {})
            for key, variable in seed_states(self.model).items():
                if key in saved:
                    variable.assign(np.array(saved[key], variable.dtype))
            self.model._initial_epoch = epoch
            self.restored = weights_path
            step = int(self.model.optimizer.iterations.numpy())
            if self.expected_step is not None and step != self.expected_step:
                raise RuntimeError(
                    f"{weights_path} restored step {step}, but the input "
                    f"stream was set to resume at {self.expected_step}"
                    + (
                        f" (newer checkpoints could not be loaded: "
                        f"{'; '.join(skipped)}): move those aside"
                        if skipped
                        else ""
                    )
                    + " and start again, or start over with --overwrite."
                )
            if skipped:
                logging.warning(
                    "Unreadable checkpoints skipped: %s. Resuming from %s.",
                    "; ".join(skipped),
                    weights_path,
                )
            else:
                logging.info(
                    "Resuming from %s (epoch %d).", weights_path, epoch
                )
            return
        if skipped and self.expected_step:
            # The input stream was set to resume after these checkpoints:
            # initial weights on later batches would be neither a resume
            # nor a fresh run.
            raise RuntimeError(
                f"No checkpoint could be loaded ({'; '.join(skipped)}), but "
                f"the input stream was set to resume at step "
                f"{self.expected_step}: move those files aside and start "
                "again (a fresh run), or start over with --overwrite."
            )
        if skipped:
            # A failed load may have written some weights: start afresh
            # from the initial ones.
            for variable, value in zip(_variables(self.model), initial):
                variable.assign(value)
            logging.warning(
                "No readable checkpoint (skipped: %s): starting afresh.",
                "; ".join(skipped),
            )

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        loss = (logs or {}).get("loss")
        bad = nonfinite_variables(self.model)
        if bad or (loss is not None and not math.isfinite(float(loss))):
            # Nothing of this interval is kept; the finite checkpoints are.
            self.model.stop_training = True
            self.diverged = {"epoch": done, "loss": loss, "variables": bad}
            logging.error(
                "Interval %d diverged (loss %s, non-finite weights %s): "
                "not saved; the last finite checkpoint is kept.",
                done,
                loss,
                bad[:3],
            )
            return
        os.makedirs(self.directory, exist_ok=True)
        stem = os.path.join(self.directory, f"ckpt-{done:06d}")
        temporary = os.path.join(
            self.directory, f".tmp-{os.getpid()}-{done:06d}.weights.h5"
        )
        _check_space(self.directory, self.model)
        try:
            self.model.save_weights(temporary, overwrite=True)
            os.replace(temporary, stem + ".weights.h5")
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
        step = int(self.model.optimizer.iterations.numpy())
        states = {
            key: np.asarray(v.numpy()).tolist()
            for key, v in seed_states(self.model).items()
        }
        history = {k: list(v) for k, v in self.history.items()}
        for key, value in (logs or {}).items():
            if np.ndim(value) == 0:
                history.setdefault(key, []).append(float(value))
        _files.write_json_atomically(
            stem + ".json",
            {
                "epoch": done,
                "step": step,
                "seed_states": states,
                "history": history,
            },
        )
        self.history = history
        for _, meta_path, weights_path in (
            self._complete()[self.keep :] if self.keep else []
        ):
            os.remove(meta_path)  # The commit first, then the weights.
            if os.path.exists(weights_path):
                os.remove(weights_path)


def save_model(model, path: str) -> str:
    """`model.save(path)` under a temporary name, renamed into place."""
    directory = os.path.dirname(os.path.abspath(path))
    _check_space(directory, model, "the model")
    temporary = os.path.join(directory, f".tmp-{os.getpid()}.keras")
    try:
        model.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path
