"""Tasks: what differs between image and action localization.

`for_dataset(name)` picks the task for a dataset; `has_tf.train` and
`has_tf.evaluate` call only the `Task` contract of `tasks.base`.

- `image_localization`: CAM classifiers on images (boxes).
- `action_localization`: the action network on video features (segments).
"""

from has_tf import datasets
from has_tf.tasks.action_localization import ActionLocalization
from has_tf.tasks.base import Task
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import load_run
from has_tf.tasks.image_localization import ImageLocalization

__all__ = [
    "ActionLocalization",
    "ImageLocalization",
    "Task",
    "TrainingSetup",
    "for_dataset",
    "load_run",
]


def for_dataset(name: str) -> Task:
    """The task of a dataset name ("base" or "base/config").

    Video-feature datasets (`has_tf.datasets.TEMPORAL`) are action
    localization; every other dataset is image localization.
    """
    if datasets.is_temporal(name):
        return ActionLocalization()
    return ImageLocalization()
