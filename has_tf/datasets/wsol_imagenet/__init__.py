"""The `wsol_imagenet` TFDS dataset."""

from has_tf.datasets.wsol_imagenet.wsol_imagenet_dataset_builder import (
    WsolImagenet,
)

__all__ = ["WsolImagenet"]
