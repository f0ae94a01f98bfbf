"""The `openimages30k` TFDS dataset."""

from has_tf.datasets.openimages30k.openimages30k_dataset_builder import (
    Openimages30k,
)

__all__ = ["Openimages30k"]
