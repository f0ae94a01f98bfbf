"""Keras 3 layers for Hide-and-Seek: images/feature maps and sequences.

Both layers follow the split of Keras's random preprocessing layers:
`get_random_transformation` draws what is random (here: a stateless seed
from the layer's `keras.random.SeedGenerator`), `transform_images` /
`transform_sequences` applies it with the pure ops of `has_tf.hiding`. They
are the identity unless called with `training=True`, so a model holding them
evaluates on full images. They need the TensorFlow backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from has_tf import _checks
from has_tf import hiding

__all__ = ["HideAndSeekLayer", "HideSegments"]


def _plain(value):
    """Turns a fill value into JSON-friendly Python numbers for configs."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _check_fill(fill_value):
    array = np.asarray(fill_value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            "Expected `fill_value` to be a number or a list of numbers. "
            f"Received: fill_value={fill_value!r}"
        )
    if array.ndim > 1:
        raise ValueError(
            "Expected `fill_value` to be a scalar or one value per channel. "
            f"Received: fill_value={fill_value!r}"
        )
    if not np.isfinite(array).all():
        raise ValueError(
            "Expected a finite `fill_value` (a NaN or infinite fill would "
            f"poison every hidden pixel). Received: fill_value={fill_value!r}"
        )
    return _plain(fill_value)


class _HidingLayer(keras.layers.Layer):
    """Shared plumbing: seed generator, training switch, dict inputs."""

    _data_key = "images"

    def __init__(self, hide_prob, fill_value, seed, **kwargs):
        super().__init__(**kwargs)
        self.hide_prob = _checks.probability(hide_prob, "hide_prob")
        self.fill_value = _check_fill(fill_value)
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
        ):
            raise ValueError(
                f"Expected `seed` to be None or an int. Received: seed={seed!r}"
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_jit = True

    def get_random_transformation(self, data, training=True, seed=None):
        """Draws the randomness of one call: a stateless seed, or None.

        Args:
          data: the input batch (unused: the ops read shapes themselves).
          training: no transformation unless True.
          seed: an int64 tensor of shape [2] to use instead of the layer's
            seed generator.

        Returns:
          `{"seed": int64 [2]}` or None when not training.
        """
        del data
        if not training:
            return None
        if seed is None:
            seed = self.seed_generator.next()
        return {"seed": tf.cast(seed, tf.int64)}

    def call(self, inputs, training=None):
        data = inputs[self._data_key] if isinstance(inputs, dict) else inputs
        transformation = self.get_random_transformation(data, training)
        if transformation is None:
            return inputs
        out = self._transform(data, transformation)
        if isinstance(inputs, dict):
            return {**inputs, self._data_key: out}
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hide_prob=self.hide_prob,
            fill_value=self.fill_value,
            seed=_plain(self.seed),
        )
        return config


@keras.saving.register_keras_serializable(package="has_tf")
class HideAndSeekLayer(_HidingLayer):
    """Hides random grid cells of images or conv feature maps in training.

    Per image, a patch size S is drawn uniformly from `patch_sizes`, an
    S x S grid anchored at the top-left corner is laid over it (edge cells
    cut short) and each cell is hidden with probability `hide_prob`, all
    channels at once, by setting it to `fill_value` (`has_tf.hide_patches`).

    Use it on raw images before normalisation with the dataset-mean pixel as
    fill, after normalisation with fill 0, or on conv1 feature maps (the
    paper's ablation: cells of 5 or 11 on 55x55 maps). In a tf.data pipeline
    call it with `training=True`. A dict input hides `inputs["images"]` and
    passes the other entries (labels, boxes) through unchanged.

    Args:
      patch_sizes: Python ints >= 0 to draw S from; 0 hides nothing. The
        paper's "mixed" setting is `(0, 16, 32, 44, 56)`.
      hide_prob: probability in [0, 1] that a cell is hidden.
      fill_value: a number, or one per channel, in the units of the input.
      seed: None or an int, for the layer's `keras.random.SeedGenerator`.
      **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape:
      `[B, H, W, C]` (or `[H, W, C]` unbatched in tf.data), channels last,
      any real dtype; or a dict with such a tensor under "images".

    Output shape:
      Same as the input, same dtype.

    References:
      Singh & Lee, "Hide-and-Seek: Forcing a Network to be Meticulous for
      Weakly-supervised Object and Action Localization", ICCV 2017.
    """

    def __init__(
        self,
        patch_sizes: Sequence[int] | int = (32,),
        hide_prob: float = 0.5,
        fill_value=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(hide_prob, fill_value, seed, **kwargs)
        self.patch_sizes = _checks.patch_sizes(patch_sizes)

    def transform_images(self, images, transformation):
        """Applies a drawn transformation (see `get_random_transformation`)."""
        if transformation is None:
            return images
        return hiding.hide_patches(
            images,
            self.patch_sizes,
            self.hide_prob,
            self.fill_value,
            seed=transformation["seed"],
        )

    _transform = transform_images

    def get_config(self):
        return {**super().get_config(), "patch_sizes": list(self.patch_sizes)}


@keras.saving.register_keras_serializable(package="has_tf")
class HideSegments(_HidingLayer):
    """Hides random contiguous segments of feature sequences in training.

    The time axis is cut into segments of `segment_size` steps (the last one
    cut short) and each is hidden with probability `hide_prob` by setting
    its steps to `fill_value` (`has_tf.hide_segments`); the paper hides
    segments of 100 of 2000 C3D features, filled with the dataset-mean
    feature.

    Args:
      segment_size: steps per segment, an int >= 1.
      hide_prob: probability in [0, 1] that a segment is hidden.
      fill_value: a number or one per feature (`[D]`).
      seed: None or an int, for the layer's `keras.random.SeedGenerator`.
      **kwargs: base `keras.layers.Layer` arguments.

    Input shape:
      `[B, T, D]` (or `[T, D]` unbatched in tf.data), any real dtype; or a
      dict with such a tensor under "sequences".

    Output shape:
      Same as the input, same dtype.

    References:
      Singh & Lee, ICCV 2017, Section 3.3 (action localization).
    """

    _data_key = "sequences"

    def __init__(
        self,
        segment_size: int,
        hide_prob: float = 0.5,
        fill_value=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(hide_prob, fill_value, seed, **kwargs)
        self.segment_size = _checks.positive_int(segment_size, "segment_size")

    def transform_sequences(self, sequences, transformation):
        """Applies a drawn transformation (see `get_random_transformation`)."""
        if transformation is None:
            return sequences
        return hiding.hide_segments(
            sequences,
            self.segment_size,
            self.hide_prob,
            self.fill_value,
            seed=transformation["seed"],
        )

    _transform = transform_sequences

    def get_config(self):
        return {**super().get_config(), "segment_size": self.segment_size}
