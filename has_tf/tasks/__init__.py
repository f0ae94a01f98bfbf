"""Tasks: what differs between image and action localization.

The apps (`has_tf.train`, `has_tf.evaluate`, `has_tf.seeds`) call only the
`Task` contract of `tasks.base` and find the task here:

- `for_dataset(name)`: the task of a dataset (training, evaluation);
- `for_run(model_dir)`: the task a trained run recorded in `run_info.json`;
- `for_result(result)`: the task of an evaluation's `metrics.json`.

Runs and evaluations written before has_tf 0.3 record no task; their
task is read from what they hold (a T-CAM run records `num_steps`, an
action evaluation holds `map`).

- `image_localization`: CAM classifiers on images (boxes).
- `action_localization`: the action network on video features (segments).
- `box_regression`: PSOL's class-agnostic box regressor on images,
  trained on a pseudo-label file (`--pseudo_labels`; `for_config`).
"""

from __future__ import annotations

import json
import os

from has_tf import datasets
from has_tf.tasks.action_localization import ActionLocalization
from has_tf.tasks.base import RUN_INFO
from has_tf.tasks.base import Task
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import load_run
from has_tf.tasks.base import read_metrics
from has_tf.tasks.box_regression import BoxRegression
from has_tf.tasks.image_localization import ImageLocalization

__all__ = [
    "ActionLocalization",
    "BoxRegression",
    "ImageLocalization",
    "TASKS",
    "Task",
    "TrainingSetup",
    "by_name",
    "for_config",
    "for_dataset",
    "for_result",
    "for_run",
    "load_run",
    "read_metrics",
    "resolve",
]

# Every task by the name it records.
TASKS = {
    task.name: task
    for task in (ImageLocalization, ActionLocalization, BoxRegression)
}


def by_name(name: str) -> Task:
    """The task recorded as `name` ("image_localization", ...).

    Raises:
      ValueError: an unknown name (listing the known ones).
    """
    if name not in TASKS:
        raise ValueError(
            f"Unknown task {name!r}. Known: {', '.join(sorted(TASKS))}"
        )
    return TASKS[name]()


def for_dataset(name: str) -> Task:
    """The task of a dataset name ("base" or "base/config").

    Video-feature datasets (`has_tf.datasets.VIDEOS`) are action
    localization; every other dataset is image localization.
    """
    if datasets.is_video(name):
        return ActionLocalization()
    return ImageLocalization()


def for_config(config) -> Task:
    """The task a training config asks for: the box regressor when it
    names `--pseudo_labels`, else its dataset's (`for_dataset`)."""
    if getattr(config, "pseudo_labels", ""):
        return BoxRegression()
    return for_dataset(config.dataset)


def resolve(config):
    """The `has_tf.methods.Method` the run trains with: `config.method`
    (or "auto") resolved for its dataset's task, its options and the model
    checked (the task's `resolve`; sets `config.method`).

    Raises:
      ValueError: naming the flag and the value.
    """
    return for_config(config).resolve(config)


def for_run(model_dir: str) -> Task | None:
    """The task of the trained run in `model_dir` (its `run_info.json`);
    None where `model_dir` holds no run record."""
    path = os.path.join(model_dir, RUN_INFO)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        run_info = json.load(f)
    if "task" in run_info:
        return by_name(run_info["task"])
    if "num_steps" in run_info:
        return ActionLocalization()
    return ImageLocalization()


def for_result(result: dict) -> Task:
    """The task of an evaluation result (`metrics.json`)."""
    if "task" in result:
        return by_name(result["task"])
    return ActionLocalization() if "map" in result else ImageLocalization()
