"""The task contract: what differs between image and action localization.

`has_tf.train` and `has_tf.evaluate` are task-agnostic: they ask
`has_tf.tasks.for_dataset(name)` for a `Task` and call it. A task gives

- for training, a `TrainingSetup`: the input pipeline, the model, the
  per-example loss, the Keras metrics, extra callbacks, and `run_info`,
  what the run records in `run_info.json` for evaluation (the input
  normalisation or fill, the input size, the classes, the model);
- `serving`: what `saved_model/` serves (raw input, logits plus CAMs or
  T-CAMs; `has_tf.training.serving`);
- `evaluate`: scores a trained run and writes `eval/metrics.json`;
- `headline` and `figures`: the printed summary and the numbers
  `has_tf.seeds` averages and `evaluate --compare` shows.

`run_info.json` and `metrics.json` record the task's `name`, so the apps
(`has_tf.tasks.for_run`, `for_result`) find the task from a run alone.
A task's `evaluate` is a short pipeline: batches -> one inference step
per batch -> `Scorer`s (`score`), whose results make `metrics.json`.

`load_run` reads a run written by `has_tf.train`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Protocol

import keras

# Registers the custom layers and losses a saved run refers to.
from has_tf import _progress
from has_tf import methods
from has_tf import models  # noqa: F401
from has_tf.models import pretrained
from has_tf.runs import files as _files

if TYPE_CHECKING:
    import tensorflow as tf

    from has_tf.config import EvalConfig
    from has_tf.config import TrainConfig

RUN_INFO = "run_info.json"

METRICS = "metrics.json"  # In the run's eval/ directory.

__all__ = [
    "METRICS",
    "check_classes",
    "RUN_INFO",
    "read_run_info",
    "Scorer",
    "Task",
    "TrainingSetup",
    "load_run",
    "read_metrics",
    "score",
    "write_metrics",
    "write_run_info",
]


@dataclasses.dataclass(frozen=True)
class TrainingSetup:
    """What `has_tf.train.train` needs from a task for one run.

    Attributes:
      num_examples: examples in the training split (an epoch's size).
      run_info: JSON-ready dict written to `run_info.json`: what evaluation
        needs to rebuild the inputs (always "model" and "num_classes").
      inputs: `(tf.distribute.InputContext, start_step) ->
        tf.data.Dataset` of `(inputs, labels)` batches for
        `distribute_datasets_from_function`; from `start_step` on, the
        batches an uninterrupted run gives from that step (exact resume).
      build_model: `() -> keras.Model` giving float32 logits `[B, N]`;
        called inside the strategy's scope.
      loss: `(labels, logits) -> float32 [B]` per-example losses (Keras
        averages them; the multi-worker loop scales them itself).
      metrics: Keras metrics for `compile`, one named "accuracy".
      callbacks: `(model, out_dir) -> list` of Keras callbacks run after
        every checkpoint interval (e.g. CAM images for TensorBoard).
      new_layers: the name prefixes of the layers `--lr_multiplier`
        speeds up; None: the model table's (`models.NEW_LAYERS`).
    """

    num_examples: int
    run_info: dict
    inputs: Callable[[tf.distribute.InputContext, int], tf.data.Dataset]
    build_model: Callable[[], keras.Model]
    loss: Callable
    metrics: list
    callbacks: Callable[[keras.Model, str], list]
    new_layers: tuple | None = None


class Task(Protocol):
    """One kind of localization, chosen by `has_tf.tasks.for_dataset`."""

    name: str
    # The inputs its methods train on (`has_tf.methods.Method.task`):
    # "images" or "videos".
    inputs: str

    def resolve(self, config: TrainConfig):
        """The `has_tf.methods.Method` of the run: `config.method` (or
        "auto") for this task, checked with the options and the model;
        sets `config.method`. Raises ValueError naming the flag."""

    def training(self, config: TrainConfig, dataset, builder) -> TrainingSetup:
        """The setup of a run on `dataset` (the training split's examples,
        shuffled) from the prepared TFDS `builder`."""

    def serving(self, model: keras.Model, run_info: dict):
        """The `has_tf.training.serving.Signature` of `saved_model/`: raw input,
        the run's preprocessing, `{"logits", "cams"}` or `{"logits",
        "tcam"}` outputs."""

    def evaluate(
        self,
        model_dir: str,
        config: EvalConfig,
        out_dir: str | None = None,
        progress: bool = False,
    ) -> dict:
        """Scores the run in `model_dir`; writes and returns the metrics.

        `out_dir` receives `metrics.json` and the pictures (default
        `<model_dir>/eval`; `has_tf.evaluate` builds it aside and swaps it
        in). `progress`: report the images or videos scored, the rate and
        the time left on stderr (`has_tf._progress`).

        Raises:
          FileNotFoundError: `model_dir` holds no trained model.
        """

    # What its pseudo-labels are (`metrics.pseudo_label_files.KINDS`).
    pseudo_kind: str

    def pseudo_labels(
        self,
        model_dir: str,
        config: EvalConfig,
        rule: str,
        selection_split: str | None = None,
        start: int = 0,
        state=None,
        progress: bool = False,
    ):
        """`(provenance, records)`: the boxes or segments the run's maps
        give every example of `config.eval_split` under `rule`
        (`vocabulary.PSEUDO_RULES`), the first `start` left out; `state`
        keeps what a resumed job reuses (`python -m
        has_tf.pseudo_labels`)."""

    def headline(self, result: dict) -> str:
        """The printed summary of an `evaluate` result."""

    def figures(self, result: dict) -> dict:
        """The headline numbers of an `evaluate` result, flat and in the
        order they are printed (what `--compare` and `has_tf.seeds`
        show)."""


class Scorer(Protocol):
    """One part of an evaluation: fed every batch's outputs, then asked.

    As Model Garden splits `validation_step` (inference) from
    `aggregate_logs` (accumulation), a task's `evaluate` runs one
    inference step per batch and hands its outputs to each scorer.
    """

    def update(self, outputs) -> None:
        """Takes one batch's outputs (the task's step's type)."""

    def result(self) -> dict:
        """What the scorer found, JSON-ready."""


class ProgressScorer:
    """Counts the examples scored into a `has_tf._progress.Progress`
    (each batch's outputs hold `labels`, one row per example)."""

    def __init__(self, total: int | None, unit: str, label: str = "evaluate"):
        self.progress = _progress.Progress(total, unit, label)

    def update(self, outputs) -> None:
        self.progress.advance(len(outputs.labels))

    def result(self) -> dict:
        return {}


def progress_scorers(progress: bool, total: int | None, unit: str) -> list:
    """`[ProgressScorer]` when asked for, else `[]`."""
    return [ProgressScorer(total, unit)] if progress else []


def score(batches, step: Callable, scorers) -> None:
    """Runs `step` on every batch and feeds its outputs to every scorer
    (a `ProgressScorer` among them shows its last line at the end)."""
    for batch in batches:
        outputs = step(batch)
        for scorer in scorers:
            scorer.update(outputs)
    for scorer in scorers:
        if isinstance(scorer, ProgressScorer):
            scorer.progress.close()


def write_metrics(out_dir: str, result: dict) -> str:
    """Writes an evaluation's `metrics.json` (atomically); returns its path.

    `result` holds "task" (the task's name), so the apps can read it back
    without knowing the task.
    """
    if "task" not in result:
        raise ValueError(
            f"Expected the result to name its task. Received keys: "
            f"{sorted(result)}"
        )
    return _files.write_json_atomically(
        os.path.join(out_dir, METRICS), result, indent=2
    )


def read_metrics(model_dir: str) -> dict:
    """An evaluated run's `eval/metrics.json`.

    Raises:
      FileNotFoundError: the run has not been evaluated.
    """
    path = os.path.join(model_dir, "eval", METRICS)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No evaluation in {model_dir!r}: expected {path} (run "
            f"python -m has_tf.evaluate --model_dir={model_dir} first)."
        )
    with open(path) as f:
        return json.load(f)


def write_run_info(out_dir: str, info: dict) -> str:
    """Writes a run's record, `run_info.json`; returns its path."""
    return _files.write_json_atomically(os.path.join(out_dir, RUN_INFO), info)


def trained_model(model_dir: str) -> str:
    """The path of the run's `model.keras`.

    Raises:
      FileNotFoundError: `model_dir` holds no trained model.
    """
    path = os.path.join(model_dir, "model.keras")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No trained model in {model_dir!r}: expected {path} (written at "
            "the end of python -m has_tf.train; a run still in progress "
            "keeps its checkpoints in backup/)."
        )
    return path


def fingerprint(path: str) -> str:
    """The SHA-256 of a file, hex: what an evaluation scored."""
    return pretrained.file_sha256(path)


def check_classes(
    model, num_classes: int, model_dir: str, dataset: str, outputs=None
):
    """Raises unless the model scores as many classes as the dataset has
    (else a label beyond the model's classes fails deep in TensorFlow,
    and fewer would score against the wrong class names). `outputs`: the
    model's class count where its output is not one logit per class."""
    outputs = int(model.output_shape[-1] if outputs is None else outputs)
    if outputs != num_classes:
        raise ValueError(
            f"--model_dir={model_dir} holds a model of {outputs} classes, "
            f"but --dataset={dataset} has {num_classes}: evaluate it on the "
            "dataset it was trained on."
        )


def read_run_info(model_dir: str) -> dict:
    """A run's `run_info.json`."""
    with open(os.path.join(model_dir, RUN_INFO)) as f:
        return json.load(f)


def load_run(model_dir: str):
    """The trained model and the run's record.

    Returns:
      `(keras.Model, dict)`: the model without its compile config (an
      evaluation needs no optimizer or loss) and `run_info.json`.

    Raises:
      FileNotFoundError: `model_dir` holds no trained model.
      ValueError: the model file is there but cannot be read.
    """
    path = trained_model(model_dir)
    info = read_run_info(model_dir)
    # A run of a method of the user's own: its module registers its layers.
    methods.load_plugins(info.get("plugins", ()))
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Truncated, corrupt or foreign file.
        raise ValueError(
            f"Unreadable trained model {path}: {type(error).__name__}: "
            f"{str(error)[:300]} (train again into this --model_dir, or "
            "restore the file)."
        ) from None
    return model, info
