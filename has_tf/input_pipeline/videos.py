"""tf.data pipelines for video features: resample, hide segments, batch.

Examples follow `has_tf.datasets.video_features`. Every video is
resampled to `num_steps` steps (the paper's F_total, 2000) with
`has_tf.sample_uniform`, or in training with BaS-Net's and CoLA's random
perturbation (`sample_random_perturb`, 750 steps in their recipes); in
training, segments of `segment_size` steps (F_segment, 100) are hidden
with `hide_prob` and filled with the dataset-mean feature, in-graph and
deterministic for a seed. The mapped functions are traced without
AutoGraph, as `images`' are.

Memory: training caches each video's own `[T, D]` features (`cache`:
float32 in memory, float16 at half the bytes, or none: read again each
epoch) and resamples and hides per epoch, so memory follows the videos'
real lengths, not F_total x videos (`python -m has_tf.bench
video_memory`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from has_tf import _checks
from has_tf import vocabulary
from has_tf.augmentation import hiding
from has_tf.input_pipeline import similar_pairs as similar_pairs_lib
from has_tf.input_pipeline.dataset_stats import channel_moments


def feature_mean(dataset: tf.data.Dataset) -> np.ndarray:
    """The mean feature over every step of every video: float32 `[D]`.

    The hidden segments' fill (the paper's dataset-mean feature), from
    `has_tf.channel_moments` over the examples' "features".

    Raises:
      ValueError: the mean is not finite, naming the videos whose features
        hold NaN or infinite values (at most five; the builders refuse such
        features since 0.4: a dataset built before needs building again).
    """
    mean = channel_moments(dataset, key="features").mean.astype(np.float32)
    if np.isfinite(mean).all():
        return mean
    bad = dataset.filter(
        lambda e: tf.logical_not(
            tf.reduce_all(tf.math.is_finite(e["features"]))
        )
    )
    named = [
        e["video"].decode() if "video" in e else "(unnamed)"
        for e in bad.take(5).as_numpy_iterator()
    ]
    raise ValueError(
        "The training split's mean feature (the hiding fill) is not finite: "
        f"NaN or infinite features in {', '.join(named) or 'its videos'}. "
        "Rebuild the dataset from the downloaded files (python -m "
        "has_tf.datasets ...): its builder names the video and file."
    )


SAMPLINGS = vocabulary.VIDEO_SAMPLINGS
CACHES = vocabulary.VIDEO_CACHES


def sample_random_perturb(sequence, num_samples: int, seed) -> tf.Tensor:
    """BaS-Net's `random_perturb`: one random step in each of `num_samples`
    equal slices of a `[T, D]` sequence (stateless, for a seed).

    Slice i spans steps `[floor(i T / N), floor((i + 1) T / N)]`, both ends
    included as in the reference (Pilhyeon/BaSNet-pytorch,
    `thumos_features.py`), the last slice `[floor((N - 1) T / N), T - 1]`;
    a video of exactly N steps keeps all of them in order.

    Args:
      sequence: `[T, D]`, T >= 1.
      num_samples: N, an int >= 1.
      seed: a stateless seed, int `[2]`.

    Returns:
      `[num_samples, D]` of the dtype of `sequence`.
    """
    sequence = tf.convert_to_tensor(sequence)
    num_samples = _checks.positive_int(num_samples, "num_samples")
    length = tf.shape(sequence, out_type=tf.int64)[0]
    i = tf.range(num_samples, dtype=tf.int64)
    low = i * length // num_samples
    high = tf.where(
        i < num_samples - 1, (i + 1) * length // num_samples, length - 1
    )
    u = tf.random.stateless_uniform([num_samples], seed, dtype=tf.float64)
    picks = low + tf.cast(
        tf.floor(u * tf.cast(high - low + 1, tf.float64)), tf.int64
    )
    picks = tf.minimum(picks, high)
    picks = tf.where(length == num_samples, i, picks)
    return tf.gather(sequence, picks)


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
    sampling: str = "uniform",
    cache: str = "memory",
    labels_as_input: bool = False,
    similar_pairs: int = 0,
) -> tf.data.Dataset:
    """Endless training batches `(features [B, F, D], labels [B, N])`
    (`((features, labels), labels)` with `labels_as_input`).

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
      sampling: "uniform" (`has_tf.sample_uniform`, the paper) or
        "random_perturb" (`sample_random_perturb`, BaS-Net / CoLA), each
        epoch anew.
      cache: how the videos' own features are kept between epochs:
        "memory" (float32, exact), "memory_float16" (half the bytes,
        rounded), "none" (read from the dataset each epoch).
      labels_as_input: the labels are an input of the model too (a
        network whose objective needs them in its layers, e.g. AICL's
        pseudo target).
      similar_pairs: P > 0 opens each batch with P pairs of videos that
        share a class (W-TALC's, CO2-Net's and DELU's `load_data`:
        `similar_pairs.paired_batches`), then `batch_size - 2 P` from the
        shuffled stream; 0: the shuffled stream alone.

    Returns:
      float32 features and float32 multi-hot labels, batch after batch.
    """
    _check(batch_size, num_steps, segment_size, hide_prob)
    if input_context is not None:
        dataset = dataset.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )
    _checks.choice(sampling, "sampling", SAMPLINGS)
    _checks.choice(cache, "cache", CACHES)
    fill = np.asarray(fill_value, np.float32)
    stored = tf.float16 if cache == "memory_float16" else tf.float32

    @tf.autograph.experimental.do_not_convert
    def compact(example):
        return tf.cast(example["features"], stored), example["labels"]

    dataset = dataset.map(compact, num_parallel_calls=tf.data.AUTOTUNE)
    if cache != "none":
        dataset = dataset.cache()
    shard = input_context.input_pipeline_id if input_context else 0

    @tf.autograph.experimental.do_not_convert
    def resample(stream, index, features, labels):
        features = tf.cast(features, tf.float32)
        if sampling == "uniform":
            return hiding.sample_uniform(features, num_steps), labels
        base = tf.constant(seed, tf.int64) * 1000 + shard
        # Stream 0 is the shuffled one (its seeds as before pairs existed).
        seeds = tf.stack([base, tf.cast(stream, tf.int64) * 2**40 + index])
        return sample_random_perturb(features, num_steps, seeds), labels

    if similar_pairs:
        dataset = similar_pairs_lib.paired_batches(
            dataset,
            batch_size,
            similar_pairs,
            resample,
            seed,
            shuffle_buffer,
        )
    else:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed).repeat()
        dataset = dataset.enumerate().map(
            tf.autograph.experimental.do_not_convert(
                lambda index, pair: resample(0, index, *pair)
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        dataset = dataset.batch(batch_size, drop_remainder=True)
    start_batch = _checks.nonnegative_int(start_batch, "start_batch")
    if start_batch:
        dataset = dataset.skip(start_batch)
    if segment_size and hide_prob > 0:

        @tf.autograph.experimental.do_not_convert
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
    if labels_as_input:
        dataset = dataset.map(
            tf.autograph.experimental.do_not_convert(
                lambda features, labels: ((features, labels), labels)
            )
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

    @tf.autograph.experimental.do_not_convert
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
