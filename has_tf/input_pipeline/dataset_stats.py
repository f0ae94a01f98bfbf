"""Per-channel statistics of a tf.data dataset in one streaming pass.

Hide-and-Seek fills hidden pixels with the dataset-mean RGB (and hidden
video segments with the dataset-mean feature), and the input pipeline
normalises with the per-channel mean and std. `channel_moments` computes
both in one pass run inside the tf.data graph (`Dataset.reduce`), with
float64 accumulators combined batch by batch (Chan et al.'s parallel
variance update), so memory stays flat and the result does not drift on
ImageNet-sized datasets.
"""

from __future__ import annotations

import json
import os
from typing import NamedTuple

import numpy as np
import tensorflow as tf

__all__ = ["Moments", "channel_moments"]


class Moments(NamedTuple):
    """Per-channel moments over every value of a dataset.

    Attributes:
      mean: float64 `[C]` (pixel units for images: [0, 255] for uint8).
      std: float64 `[C]`, the population standard deviation.
      count: values averaged per channel (pixels, or time steps).
    """

    mean: np.ndarray
    std: np.ndarray
    count: int


def _select(element, key):
    if key is None:
        if isinstance(element, dict):
            raise ValueError(
                "The dataset yields dicts; pass `key` to pick the tensor. "
                f"Received: key=None, element keys={sorted(element)}"
            )
        return element
    if not isinstance(element, dict) or key not in element:
        found = sorted(element) if isinstance(element, dict) else "a tensor"
        raise ValueError(
            f"Expected dataset elements to be dicts with key {key!r}. "
            f"Received: {found}"
        )
    return element[key]


def channel_moments(
    dataset: tf.data.Dataset,
    key: str | None = None,
    max_elements: int | None = None,
) -> Moments:
    """Mean and std per channel (last axis) over all values of a dataset.

    Works for images (`[H, W, C]` or batched `[B, H, W, C]`, sizes may vary
    between elements) and feature sequences (`[T, D]` or `[B, T, D]`): every
    axis but the last is averaged over. Padded batches would count the
    padding: pass unpadded elements.

    >>> ds = tf.data.Dataset.from_tensor_slices(tf.constant([[[1., 10.]],
    ...                                                      [[3., 30.]]]))
    >>> channel_moments(ds).mean.tolist()
    [2.0, 20.0]

    Args:
      dataset: a `tf.data.Dataset` of tensors, or of dicts of tensors.
      key: the dict entry to use ("image" for TFDS image datasets).
      max_elements: only the first this many dataset elements, if set.

    Returns:
      `Moments(mean, std, count)`.

    Raises:
      ValueError: dict elements without `key`, a non-numeric tensor, a last
        axis of unknown size, an empty dataset, or `max_elements < 1`.
    """
    if max_elements is not None:
        if isinstance(max_elements, bool) or max_elements < 1:
            raise ValueError(
                "Expected `max_elements` to be None or an int >= 1. "
                f"Received: max_elements={max_elements!r}"
            )
        dataset = dataset.take(max_elements)
    spec = _select(dataset.element_spec, key)
    if spec.dtype == tf.bool or not (
        spec.dtype.is_integer or spec.dtype.is_floating
    ):
        raise ValueError(
            "Expected numeric values. "
            f"Received: dtype={spec.dtype.name} (key={key!r})"
        )
    channels = spec.shape[-1] if spec.shape.rank else None
    if channels is None:
        raise ValueError(
            "Expected a last (channel) axis of known size. "
            f"Received: element shape {spec.shape} (key={key!r})"
        )

    def combine(state, element):
        count, mean, m2 = state
        values = tf.reshape(
            tf.cast(_select(element, key), tf.float64), [-1, channels]
        )
        n = tf.cast(tf.shape(values)[0], tf.float64)
        batch_mean = tf.reduce_mean(values, axis=0)
        batch_m2 = tf.reduce_sum(tf.square(values - batch_mean), axis=0)
        total = count + n
        delta = batch_mean - mean
        # Chan et al. (1979): exact update of mean and sum of squared
        # deviations from two partial results. Empty elements change nothing.
        weight = tf.math.divide_no_nan(n, total)
        mean = tf.where(n > 0, mean + delta * weight, mean)
        m2 = tf.where(n > 0, m2 + batch_m2 + delta**2 * count * weight, m2)
        return total, mean, m2

    zeros = tf.zeros([channels], tf.float64)
    count, mean, m2 = dataset.reduce(
        (tf.constant(0.0, tf.float64), zeros, zeros), combine
    )
    count = int(count.numpy())
    if count == 0:
        raise ValueError("Expected a dataset with at least one value.")
    return Moments(
        mean=mean.numpy(), std=np.sqrt(m2.numpy() / count), count=count
    )


def cached_channel_moments(
    builder,
    split: str = "train",
    key: str = "image",
    max_elements: int | None = None,
) -> Moments:
    """`channel_moments` of a prepared TFDS split, cached beside its files.

    The first call makes one pass over the split and writes
    `has_tf_moments-<split>[-<max_elements>].json` into the builder's data
    directory; later calls read it back.

    Args:
      builder: a prepared `tfds.core.DatasetBuilder`.
      split: the split to average over.
      key: the feature holding the images.
      max_elements: only the first this many examples, if set.

    Returns:
      `Moments(mean, std, count)`.
    """
    suffix = f"-{max_elements}" if max_elements else ""
    path = os.path.join(
        os.fspath(builder.data_dir), f"has_tf_moments-{split}{suffix}.json"
    )
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            saved = json.load(f)
        return Moments(
            np.array(saved["mean"]), np.array(saved["std"]), int(saved["count"])
        )
    moments = channel_moments(
        builder.as_dataset(split=split), key=key, max_elements=max_elements
    )
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(
            {
                "mean": moments.mean.tolist(),
                "std": moments.std.tolist(),
                "count": moments.count,
                "split": split,
                "key": key,
            },
            f,
        )
    return moments
