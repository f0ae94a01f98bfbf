"""The `synthetic_parts` TFDS dataset."""

from has_tf.datasets.synthetic_parts.synthetic_parts_dataset_builder import (
    SyntheticParts,
)
from has_tf.datasets.synthetic_parts.synthetic_parts_dataset_builder import (
    SyntheticPartsConfig,
)

__all__ = ["SyntheticParts", "SyntheticPartsConfig"]
