"""tf.data pipelines for video features: resample, hide segments, batch.

Examples follow `has_tf.datasets.temporal_features`. Every video is
resampled to `num_steps` steps (the paper's F_total, 2000) with
`has_tf.sample_uniform`; in training, segments of `segment_size` steps
(F_segment, 100) are hidden with `hide_prob` and filled with the
dataset-mean feature, in-graph and deterministic for a seed.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from has_tf import _checks
from has_tf import hiding
from has_tf.dataset_stats import channel_moments


def feature_mean(dataset: tf.data.Dataset) -> np.ndarray:
    """The mean feature over every step of every video: float32 `[D]`.

    The hidden segments' fill (the paper's dataset-mean feature), from
    `has_tf.channel_moments` over the examples' "features".
    """
    return channel_moments(dataset, key="features").mean.astype(np.float32)


def _check(batch_size, num_steps, segment_size, hide_prob):
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_int(num_steps, "num_steps")
    _checks.nonnegative_int(segment_size, "segment_size", "0: no hiding")
    _checks.probability(hide_prob, "hide_prob")


def train_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    num_steps: int = 2000,
    segment_size: int = 100,
    hide_prob: float = 0.5,
    fill_value=0.0,
    seed: int = 0,
    shuffle_buffer: int = 1024,
    input_context: tf.distribute.InputContext | None = None,
    start_batch: int = 0,
) -> tf.data.Dataset:
    """Endless training batches `(features [B, F, D], labels [B, N])`.

    Args:
      dataset: temporal-feature examples.
      batch_size: videos per batch (per replica under a strategy).
      num_steps: F, the resampled length.
      segment_size: steps per hidden segment; 0 turns hiding off.
      hide_prob: probability that a segment is hidden.
      fill_value: a scalar or the `[D]` mean feature (the paper).
      seed: shuffling and hiding seed.
      shuffle_buffer: videos in the shuffle buffer.
      input_context: shards the input per worker.
      start_batch: begin with this batch of the stream (a resumed run
        passes its step): the same batches and masks as an uninterrupted
        run from its k-th batch on.

    Returns:
      float32 features and float32 multi-hot labels, batch after batch.
    """
    _check(batch_size, num_steps, segment_size, hide_prob)
    if input_context is not None:
        dataset = dataset.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )
    fill = np.asarray(fill_value, np.float32)

    def prepare(example):
        features = hiding.sample_uniform(
            tf.cast(example["features"], tf.float32), num_steps
        )
        return features, example["labels"]

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.cache().shuffle(shuffle_buffer, seed=seed).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=True)
    start_batch = _checks.nonnegative_int(start_batch, "start_batch")
    if start_batch:
        dataset = dataset.skip(start_batch)
    if segment_size and hide_prob > 0:
        shard = input_context.input_pipeline_id if input_context else 0

        def hide(index, batch):
            features, labels = batch
            seeds = tf.stack(
                [tf.constant(seed, tf.int64) * 1000 + shard, index]
            )
            return hiding.hide_segments(
                features, segment_size, hide_prob, fill, seed=seeds
            ), labels

        dataset = dataset.enumerate(start=start_batch).map(
            hide, num_parallel_calls=tf.data.AUTOTUNE
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def eval_pipeline(
    dataset: tf.data.Dataset, batch_size: int, num_steps: int = 2000
) -> tf.data.Dataset:
    """Evaluation batches: resampled features, no hiding.

    Returns:
      Dicts: "features" float32 `[B, F, D]`, "labels" `[B, N]`, "video"
      string `[B]`, "duration_s" float32 `[B]` (the true length),
      "span_s" (seconds the features cover: T / rate), "offset_s" (the
      features' time offset), "segments" (start_s,
      end_s, label padded with -1 to the batch's most) and "ambiguous"
      (start_s, end_s padded with -1).
    """
    _check(batch_size, num_steps, 0, 0.0)

    def prepare(example):
        return {
            "features": hiding.sample_uniform(
                tf.cast(example["features"], tf.float32), num_steps
            ),
            "labels": example["labels"],
            "video": example["video"],
            "duration_s": example["duration_s"],
            "span_s": tf.cast(tf.shape(example["features"])[0], tf.float32)
            / example["feature_rate"],
            # Datasets prepared before feature_offset_s existed have none.
            "offset_s": example.get("feature_offset_s", tf.constant(0.0)),
            "segments": tf.stack(
                [
                    example["segments"]["start_s"],
                    example["segments"]["end_s"],
                    tf.cast(example["segments"]["label"], tf.float32),
                ],
                -1,
            ),
            "ambiguous": tf.stack(
                [
                    example["ambiguous"]["start_s"],
                    example["ambiguous"]["end_s"],
                ],
                -1,
            ),
        }

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.padded_batch(
        batch_size,
        padding_values={
            "features": 0.0,
            "labels": 0.0,
            "video": "",
            "duration_s": 0.0,
            "span_s": 0.0,
            "offset_s": 0.0,
            "segments": -1.0,
            "ambiguous": -1.0,
        },
    ).prefetch(tf.data.AUTOTUNE)
