"""The `synthetic_actions` TFDS dataset."""

from has_tf.datasets.synthetic_actions.synthetic_actions_dataset_builder import (  # noqa: E501
    SyntheticActions,
)

__all__ = ["SyntheticActions"]
