"""The `wsol_cub` TFDS dataset."""

from has_tf.datasets.wsol_cub.wsol_cub_dataset_builder import WsolCub

__all__ = ["WsolCub"]
