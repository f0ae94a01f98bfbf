"""The `ilsvrc_loc` TFDS dataset."""

from has_tf.datasets.ilsvrc_loc.ilsvrc_loc_dataset_builder import IlsvrcLoc
from has_tf.datasets.ilsvrc_loc.ilsvrc_loc_dataset_builder import (
    IlsvrcLocConfig,
)
from has_tf.datasets.ilsvrc_loc.ilsvrc_loc_dataset_builder import detect_layout

__all__ = ["IlsvrcLoc", "IlsvrcLocConfig", "detect_layout"]
