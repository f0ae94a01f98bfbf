"""Training batches that open with pairs of videos sharing a class.

W-TALC's co-activity loss and the methods built on it (CO2-Net, DELU)
compare videos (0, 1), (2, 3), ... of each batch, which their samplers
(`load_data(n_similar=3)`) fill with two distinct videos of one class,
the class drawn uniformly for each pair, and the rest of the batch with
videos drawn at random. Here, in tf.data (no Python per video):

- a stream of pairs per class: that class's videos shuffled anew each
  pass and taken two at a time (two distinct videos; within a pass a
  class's pairs do not share a video, and of a class with an odd count
  one video sits each pass out, where the references draw each pair
  independently);
- the class of each pair drawn uniformly (stateless, from the seed) among
  the classes with at least two videos (the references fail on a class
  with fewer; here such a class is never drawn, and a split without any
  such class is refused);
- the batch's other videos from the shuffled stream of all videos.

Each video is resampled (`resample`) on its way in, with seeds of its own
stream, so a seed gives the same batches every run.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from has_tf import _checks

__all__ = ["class_counts", "paired_batches"]


def class_counts(dataset: tf.data.Dataset) -> np.ndarray:
    """Videos per class of `(features, labels)` examples: int `[N]` (one
    pass over the dataset; a cached dataset is filled by it)."""
    total = dataset.reduce(
        tf.zeros([], tf.float32),
        lambda acc, pair: acc + tf.cast(pair[1] > 0, tf.float32),
    )
    return np.asarray(total).astype(np.int64)


def paired_batches(
    dataset: tf.data.Dataset,
    batch_size: int,
    pairs: int,
    resample,
    seed: int,
    shuffle_buffer: int = 1024,
) -> tf.data.Dataset:
    """Endless batches `(features [B, T, D], labels [B, N])` whose first
    `2 x pairs` videos are `pairs` pairs sharing a class (module
    docstring).

    Args:
      dataset: `(features [T_i, D], labels [N])` examples (cached or not).
      batch_size: B, at least `2 x pairs`.
      pairs: P >= 1.
      resample: `(stream, index, features, labels) -> (features [T, D],
        labels)`, stream 0 the shuffled stream's, `1 + c` class c's.
      seed: the shuffles' and the class draws' seed.
      shuffle_buffer: videos in each shuffle buffer.

    Raises:
      ValueError: B below `2 x pairs`, or no class with two videos.
    """
    pairs = _checks.positive_int(pairs, "similar_pairs")
    if batch_size < 2 * pairs:
        raise ValueError(
            f"Expected a batch of at least 2 x similar_pairs = {2 * pairs} "
            f"videos. Received: batch_size={batch_size}"
        )
    counts = class_counts(dataset)
    eligible = np.flatnonzero(counts >= 2)
    if eligible.size == 0:
        raise ValueError(
            "similar_pairs: no class has two training videos to pair. "
            f"Received: videos per class {counts.tolist()}"
        )

    def class_pairs(klass):
        # Each pass: the class's videos shuffled, an even number of them
        # (so no pair spans two passes and repeats a video), two at a time.
        even = int(counts[klass]) // 2 * 2
        stream = dataset.filter(lambda features, labels: labels[klass] > 0)
        stream = stream.shuffle(shuffle_buffer, seed=seed + 1 + int(klass))
        stream = stream.take(even).repeat().enumerate()
        stream = stream.map(
            tf.autograph.experimental.do_not_convert(
                lambda index, pair: resample(1 + int(klass), index, *pair)
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        return stream.batch(2, drop_remainder=True)

    streams = [class_pairs(klass) for klass in eligible]
    choices = tf.data.Dataset.random(
        seed=seed, rerandomize_each_iteration=False
    )
    choices = choices.map(lambda x: x % len(streams))
    paired = tf.data.Dataset.choose_from_datasets(
        streams, choices, stop_on_empty_dataset=False
    )
    paired = paired.batch(pairs, drop_remainder=True)
    rest_size = batch_size - 2 * pairs
    batches = paired
    if rest_size:
        rest = dataset.shuffle(shuffle_buffer, seed=seed).repeat()
        rest = rest.enumerate().map(
            tf.autograph.experimental.do_not_convert(
                lambda index, pair: resample(0, index, *pair)
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        batches = tf.data.Dataset.zip(
            paired, rest.batch(rest_size, drop_remainder=True)
        )

    @tf.autograph.experimental.do_not_convert
    def join(first, second=None):
        features, labels = first
        features = tf.reshape(
            features, tf.concat([[2 * pairs], tf.shape(features)[2:]], 0)
        )
        labels = tf.reshape(labels, [2 * pairs, -1])
        if second is not None:
            features = tf.concat([features, second[0]], 0)
            labels = tf.concat([labels, second[1]], 0)
        return features, labels

    if not rest_size:  # Elements `(features, labels)`: one pair of them.
        return batches.map(
            lambda features, labels: join((features, labels)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return batches.map(join, num_parallel_calls=tf.data.AUTOTUNE)
