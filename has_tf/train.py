"""Trains a localization network with Hide-and-Seek: `python -m has_tf.train`.

    python -m has_tf.train --flagfile=flags/quickstart.cfg [--overrides]

Flags (or a flagfile) configure a run from the command line; they fill a
`has_tf.config.TrainConfig`, and the real work is in importable functions
(`train(config)`), so tests and notebooks train without flags. The
dataset picks the task (`has_tf.tasks.for_config`): image or action
localization, or with `--pseudo_labels` the box regressor; everything
here is shared by them. A run writes into
`--model_dir`: `flags.txt` (the resolved flags), `run_info.json` (what
evaluation needs: normalisation or fill, input size, classes, model),
`backup/` (`checkpoints.AtomicBackup`: a killed run resumes from its
last complete checkpoint), `tensorboard/`, `history.json`, the final
`model.keras` and `saved_model/` (serving logits and CAMs or T-CAMs), all
written atomically; `run.lock` and `run_config.json`
(`has_tf.runs.run_dir`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import math
import os
import sys

import keras
import numpy as np
import tensorflow as tf
from absl import flags
from absl import logging

from has_tf import _cli
from has_tf import config as config_lib
from has_tf import datasets
from has_tf import models
from has_tf import tasks
from has_tf.config import TrainConfig
from has_tf.config import train_config
from has_tf.runs import files as _files
from has_tf.runs import run_dir
from has_tf.tasks.base import read_run_info
from has_tf.tasks.base import write_run_info
from has_tf.training import checkpoints
from has_tf.training import data_service
from has_tf.training import multi_worker
from has_tf.training import optimizers
from has_tf.training import serving

# The config's options as this app's flags (defined once per process).
config_lib.define_flags(flags.FLAGS)
# --helpshort lists the training options as this app's own, grouped by
# task at the top.
for _name in config_lib.key_flags(TrainConfig):
    flags.declare_key_flag(_name)
__doc__ += "\n" + config_lib.options_by_task(TrainConfig)

__all__ = [
    "TrainConfig",
    "build_optimizer",
    "build_strategy",
    "export_run",
    "export_saved_model",
    "train",
]


def build_strategy(name: str):
    """The tf.distribute strategy for `--strategy`."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


def build_optimizer(
    config: TrainConfig, total_steps: int, new_layers: tuple | None = None
):
    """The run's optimizer on the paper's step schedule.

    `--optimizer=adamw`: `training.optimizers.timm_adamw`; `adam`:
    `training.optimizers.torch_adam`. SGD: Keras's
    (decoupled decay) unless the run asks for L2 decay or a learning-rate
    multiplier; then `training.optimizers.GroupSGD`, PyTorch's update with
    the new layers (`new_layers`, name prefixes; None: the model table's
    `models.NEW_LAYERS`) at `lr_multiplier` times the rate.
    """
    boundaries = [max(1, int(b * total_steps)) for b in config.lr_boundaries]
    rates = [
        config.learning_rate * config.lr_decay**i
        for i in range(len(boundaries) + 1)
    ]
    # No boundaries: a constant rate (Keras's schedule needs one at least).
    schedule = (
        keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, rates)
        if boundaries
        else config.learning_rate
    )
    if config.optimizer == "adamw":
        return optimizers.timm_adamw(schedule, config.weight_decay)
    if config.optimizer == "adam":
        return optimizers.torch_adam(
            schedule, config.weight_decay, config.weight_decay_type
        )
    if config.weight_decay_type == "decoupled" and config.lr_multiplier == 1:
        return keras.optimizers.SGD(
            schedule,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay or None,
        )
    if new_layers is None:
        new_layers = models.NEW_LAYERS.get(
            config.model, models.classifier.NEW_LAYERS
        )
    groups = [
        (prefix, config.lr_multiplier)
        for prefix in new_layers
        if config.lr_multiplier != 1
    ]
    return optimizers.GroupSGD(
        schedule,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
        weight_decay_type=config.weight_decay_type,
        lr_multipliers=groups,
    )


class StepCounter(keras.callbacks.Callback):
    """Counts the steps this process ran (a resumed run runs fewer)."""

    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def _replica_spread(strategy, model) -> float:
    """Largest difference between replicas' copies of a trainable weight.

    0 when the replicas are in sync. (Batch-norm moving statistics are
    kept per replica and averaged when read, so they are not compared.)
    """
    spread = 0.0
    for variable in model.trainable_weights:
        copies = [
            np.asarray(v)
            for v in strategy.experimental_local_results(variable.value)
        ]
        for copy in copies[1:]:
            spread = max(spread, float(np.max(np.abs(copy - copies[0]))))
    return spread


def export_saved_model(
    model, path: str, task: tasks.Task, run_info: dict
) -> str:
    """Exports `saved_model/`, whose `serve` follows `has_tf.training.serving`.

    `tf.saved_model.load(path).serve(pixels)` takes uint8 `[B, S, S, 3]`
    and returns `{"logits": [B, N], "cams": [B, h, w, N]}`; for the action
    network, `serve(features)` takes float32 `[B, T, D]` and returns
    `{"logits": [B, N], "tcam": [B, T, N]}`.

    Args:
      model: a trained classifier.
      path: the SavedModel directory (swapped in when complete).
      task: the `has_tf.tasks` task that trained it.
      run_info: the run's record (normalisation, input size).
    """
    return serving.export(task.serving(model, run_info), path)


def export_run(model_dir: str) -> str:
    """Writes a trained run's `saved_model/` from its `model.keras` (a
    search's chosen trial); returns its path."""
    model, run_info = tasks.load_run(model_dir)
    return export_saved_model(
        model,
        os.path.join(model_dir, "saved_model"),
        tasks.for_run(model_dir),
        run_info,
    )


def train(
    config: TrainConfig,
    flags_text: str | None = None,
    saved_model: bool = True,
) -> dict:
    """Runs (or resumes) training; returns the history as a dict.

    Args:
      config: the run.
      flags_text: the resolved flags, written to `flags.txt` if given.
      saved_model: write `saved_model/` (the serving export) at the end;
        a search's trials skip it (`export_run` writes it later).

    Returns:
      `{"loss": [...], "accuracy": [...], ...}` per checkpoint interval run
      by this process, plus "steps_done" (the optimizer's step count),
      "steps_this_run", "replicas" and, with more than one replica,
      "replica_weights_max_diff" (0 when they stayed in sync).
    """
    # --method=auto becomes the method the dataset's task picks, and the
    # options are checked against it, before anything is recorded.
    tasks.resolve(config)
    # Multi-worker collectives must be set up before any other TF op runs.
    if config.data_service:
        # Before anything runs: tf.data service would wait for an absent
        # dispatcher without end.
        data_service.wait_for_dispatcher(config.data_service)
        data_service.probe(config.data_service)
    strategy = build_strategy(config.strategy)
    # Under multi_worker only the chief writes into the model dir.
    out_dir = config.model_dir
    if config.strategy == "multi_worker":
        out_dir = multi_worker.worker_dir(strategy, config.model_dir)
    # One process per directory; a restart only with the same options.
    with run_dir.RunLock(out_dir):
        if config.overwrite:
            run_dir.clear(out_dir)  # The lock stays.
        run_dir.remove_leftovers(out_dir)
        run_dir.check_config(out_dir, config, record=False)
        if flags_text is not None:
            _files.write_atomically(
                os.path.join(out_dir, "flags.txt"), flags_text
            )
        with _op_determinism(config.deterministic):
            return _train(config, strategy, out_dir, saved_model)


@contextlib.contextmanager
def _op_determinism(on: bool):
    """TensorFlow's op determinism during the run (`--deterministic`),
    then as it was: the switch is process-wide, and a caller's later
    pipelines (an unseeded shuffle, which determinism refuses) must not
    inherit it."""
    from tensorflow.python.framework import config as tf_config

    before = tf_config.is_op_determinism_enabled()
    if on:
        # Every op picks a deterministic kernel; with the seeds and the
        # pipelines' fixed order, a run repeats bit for bit on one
        # machine and TensorFlow build.
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if on and not before:
            tf_config.disable_op_determinism()


def _check_initial_weights(out_dir: str, run_info: dict) -> None:
    """A restart that would resume trained weights refuses when
    `--init_from`'s file changed since the run recorded it: the record
    would name weights the run never started from.

    Raises:
      ValueError: another SHA-256 than `run_info.json`'s, with checkpoints
        or a trained model in `out_dir`.
    """
    path = os.path.join(out_dir, "run_info.json")
    if not os.path.exists(path) or "init_from" not in run_info:
        return
    recorded = read_run_info(out_dir).get("init_from", {})
    now = run_info["init_from"]
    trained = os.path.exists(os.path.join(out_dir, "model.keras")) or (
        checkpoints.newest(os.path.join(out_dir, "backup")) is not None
    )
    if trained and recorded.get("sha256") != now.get("sha256"):
        raise ValueError(
            f"--init_from: its weights changed since the run in {out_dir} "
            f"started from them (SHA-256 {recorded.get('sha256')} recorded, "
            f"{now.get('sha256')} now); the run's checkpoints were trained "
            "from the recorded ones: put those back, or start over with "
            f"--overwrite. Received: {_init_path(now)!r}"
        )


def _init_path(init: dict) -> str:
    """The path an `--init_from` record names (a run or a weights file)."""
    return init.get("run") or init.get("path") or ""


@dataclasses.dataclass
class _Run:
    """A run ready to fit: its task, record, compiled model and input."""

    task: tasks.Task
    run_info: dict
    model: keras.Model
    train_data: tf.distribute.DistributedDataset
    loss: object
    callbacks: list  # The task's.
    chunks: int  # `fit` "epochs": one per checkpoint interval.
    interval: int  # Steps per interval.
    start_step: int


@dataclasses.dataclass
class _Fitted:
    """What a training loop leaves: the history of every interval the run
    has committed, the losses this process saw, its step count, and the
    newest checkpoint (kept when training diverges)."""

    history: dict
    losses: list
    steps_this_run: int
    newest_checkpoint: str | None


def _train(
    config: TrainConfig, strategy, out_dir: str, saved_model: bool = True
) -> dict:
    """`train` inside its run directory's lock."""
    run = _start(config, strategy, out_dir)
    if config.strategy == "multi_worker":
        fitted = _fit_multi_worker(config, strategy, run, out_dir)
    else:
        fitted = _fit(config, run, out_dir)
    _refuse_non_finite(run.model, fitted)
    checkpoints.save_model(run.model, os.path.join(out_dir, "model.keras"))
    if saved_model:
        export_saved_model(
            run.model,
            os.path.join(out_dir, "saved_model"),
            run.task,
            run.run_info,
        )
    record = {
        **fitted.history,
        "task": run.task.name,
        "model": run.run_info["model"],
        "steps_done": int(run.model.optimizer.iterations.numpy()),
        "steps_this_run": fitted.steps_this_run,
        "replicas": strategy.num_replicas_in_sync,
    }
    if strategy.num_replicas_in_sync > 1:
        record["replica_weights_max_diff"] = _replica_spread(
            strategy, run.model
        )
    _files.write_json_atomically(os.path.join(out_dir, "history.json"), record)
    return record


def _start(config: TrainConfig, strategy, out_dir: str) -> _Run:
    """Seeds, loads the data, records the run (`run_info.json`, its
    options) and builds the compiled model and the resumed input."""
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.mixed_precision)
    dataset, builder = datasets.load(
        config.dataset,
        config.train_split,
        config.data_dir,
        config.manual_dir,
        shuffle_files=True,
        seed=config.seed,
        decode_images=False,  # Image pipelines decode crop windows.
        assert_cardinality=not config.data_service,
        allow_pickle=config.allow_pickle,
    )
    # An image the evaluation cannot decode is found now, not after training.
    datasets.screen(
        config.dataset, config.eval_split, config.data_dir, config.manual_dir
    )
    task = tasks.for_config(config)
    setup = task.training(config, dataset, builder)
    # Preparing the data (once per data_dir) creates TensorFlow ops; seed
    # again so the model and the input stream do not depend on whether it
    # ran in this process.
    keras.utils.set_random_seed(config.seed)
    steps = config.steps_per_epoch or max(
        1, setup.num_examples // config.batch_size
    )
    run_info = {"task": task.name, **setup.run_info}
    if config.plugins:  # Evaluation imports them again.
        run_info["plugins"] = list(config.plugins)
    _check_initial_weights(out_dir, run_info)
    # The run has started: its options are recorded from now on.
    run_dir.check_config(out_dir, config)
    write_run_info(out_dir, run_info)
    # The input stream resumes where the restored checkpoint left off, so
    # a killed and restarted run sees the batches an uninterrupted one
    # does (the schedule follows the optimizer's step already).
    if config.strategy == "multi_worker":
        start_step = multi_worker.resume_step(out_dir)
    else:
        start_step = checkpoints.resume_step(os.path.join(out_dir, "backup"))
    if config.data_service:
        # The service's workers draw their own streams (not resumable).
        if config.deterministic:
            logging.warning(
                "--data_service: the input order and augmentation are not "
                "repeatable; --deterministic covers the model's ops only."
            )

        def inputs(context):
            return data_service.distribute(
                setup.inputs(context, 0), config.data_service
            )

    else:

        def inputs(context):
            return setup.inputs(context, start_step)

    train_data = strategy.distribute_datasets_from_function(inputs)
    with strategy.scope():
        model = setup.build_model()
        model.compile(
            optimizer=build_optimizer(
                config, steps * config.epochs, setup.new_layers
            ),
            loss=setup.loss,
            metrics=setup.metrics,
            jit_compile=config.jit_compile,
        )
    # Keras resumes a run at the start of the epoch it was killed in, so
    # `fit` sees one "epoch" per checkpoint interval: a killed run resumes
    # exactly at its last checkpoint (weights, optimizer and step), losing
    # at most one interval. The total is rounded up to whole intervals.
    interval = config.checkpoint_steps or steps
    return _Run(
        task=task,
        run_info=run_info,
        model=model,
        train_data=train_data,
        loss=setup.loss,
        callbacks=setup.callbacks(model, out_dir),
        chunks=math.ceil(steps * config.epochs / interval),
        interval=interval,
        start_step=start_step,
    )


def _fit(config: TrainConfig, run: _Run, out_dir: str) -> _Fitted:
    """One host's loop: Keras `fit`, an atomic checkpoint per interval."""
    backup_dir = os.path.join(out_dir, "backup")
    backup = checkpoints.AtomicBackup(
        backup_dir,
        keep=config.keep_checkpoints,
        expected_step=run.start_step,
    )
    counter = StepCounter()
    callbacks = [
        backup,
        *(
            [data_service.StallWatch(config.data_service)]
            if config.data_service
            else []
        ),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.TensorBoard(os.path.join(out_dir, "tensorboard")),
        *run.callbacks,
        counter,
    ]
    try:
        history = run.model.fit(
            run.train_data,
            epochs=run.chunks,
            steps_per_epoch=run.interval,
            callbacks=callbacks,
            shuffle=False,
            verbose=1 if sys.stdout.isatty() else 2,
        ).history
    except tf.errors.InvalidArgumentError as error:
        raise datasets.decode_error(
            config.dataset,
            config.train_split,
            config.data_dir,
            config.manual_dir,
            error,
        ) from error
    return _Fitted(
        # Every committed interval once, whatever was killed or torn.
        history={k: list(v) for k, v in backup.history.items()},
        losses=history.get("loss", []),
        steps_this_run=counter.steps,
        newest_checkpoint=checkpoints.newest(backup_dir),
    )


def _fit_multi_worker(
    config: TrainConfig, strategy, run: _Run, out_dir: str
) -> _Fitted:
    """The multi-worker loop (`training.multi_worker.fit`), its history
    appended to what `history.json` holds already."""
    history = multi_worker.fit(
        strategy,
        run.model,
        run.train_data,
        config.batch_size,
        run.chunks,
        run.interval,
        out_dir,
        run.loss,
        callbacks=run.callbacks,
    )
    steps_this_run = history.pop("steps_this_run")
    record = {k: [float(v) for v in vals] for k, vals in history.items()}
    # A resumed or repeated run keeps the history already recorded.
    history_path = os.path.join(out_dir, "history.json")
    if os.path.exists(history_path):
        with open(history_path) as f:
            earlier = json.load(f)
        for key, values in earlier.items():
            if isinstance(values, list):
                record[key] = values + record.get(key, [])
    return _Fitted(
        history=record,
        losses=history.get("loss", []),
        steps_this_run=steps_this_run,
        newest_checkpoint=tf.train.latest_checkpoint(
            os.path.join(out_dir, "backup_mw")
        ),
    )


def _refuse_non_finite(model, fitted: _Fitted) -> None:
    """Raises `checkpoints.Diverged` (a RuntimeError; no model exported)
    when a loss or a weight is NaN or infinite, naming the last finite
    checkpoint kept."""
    bad = checkpoints.nonfinite_variables(model)
    if not bad and all(math.isfinite(loss) for loss in fitted.losses):
        return
    kept = fitted.newest_checkpoint
    raise checkpoints.Diverged(
        "The loss or the weights became NaN or infinite (non-finite: "
        f"{bad[:3] or 'the loss'}); training stopped and no model was "
        "exported. "
        + (
            f"The last finite checkpoint, {kept}, is kept: restart "
            "with a smaller --learning_rate (the run's options must "
            "then change: add --overwrite, or use another --model_dir)."
            if kept
            else "No finite checkpoint was saved."
        )
    )


def main(argv):
    _cli.no_arguments(argv)
    try:
        config_lib.check_flagfiles(sys.argv)
        config = train_config()
    except ValueError as error:
        raise _cli.UsageError(str(error)) from None
    try:
        record = train(config, flags.FLAGS.flags_into_string())
    except (
        run_dir.RunLockedError,
        run_dir.RunConfigMismatchError,
        datasets.DataMissingError,
        ValueError,  # Bad data, named (e.g. images that do not decode).
    ) as error:
        raise _cli.UsageError(str(error)) from None
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise _cli.UsageError(str(error)) from None
    print(
        f"Trained {record['model']} on {config.dataset}: final accuracy "
        f"{record.get('accuracy', [float('nan')])[-1]:.3f}, model in "
        f"{os.path.join(config.model_dir, 'model.keras')}"
    )


if __name__ == "__main__":
    _cli.run(main)
