"""TFDS builders of has_tf; importing this module registers them.

`tfds.builder("synthetic_parts", data_dir=...)` then works as for any TFDS
dataset, and so does `tfds build synthetic_parts --imports has_tf.datasets`.
"""

from has_tf.datasets import synthetic_parts

__all__ = ["synthetic_parts"]
