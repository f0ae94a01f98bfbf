"""Batches that open with pairs of videos sharing a class (W-TALC's,
CO2-Net's and DELU's sampler), in tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from has_tf.input_pipeline import similar_pairs
from has_tf.input_pipeline import videos

CLASSES, DIM = 4, 3


def _dataset(classes_of):
    """Videos `i` of 12-40 steps whose every feature is i (to find them),
    labelled with `classes_of[i]`."""
    rng = np.random.default_rng(1)
    lengths = rng.integers(12, 40, len(classes_of))
    features = [np.full((n, DIM), i, np.float32) for i, n in enumerate(lengths)]
    labels = np.zeros((len(classes_of), CLASSES), np.float32)
    for i, classes in enumerate(classes_of):
        labels[i, list(classes)] = 1.0

    def examples():
        for f, y in zip(features, labels):
            yield {"features": f, "labels": y}

    return tf.data.Dataset.from_generator(
        examples,
        output_signature={
            "features": tf.TensorSpec([None, DIM], tf.float32),
            "labels": tf.TensorSpec([CLASSES], tf.float32),
        },
    )


# Class 3 has one video: never paired.
CLASSES_OF = [(i % 3,) for i in range(14)] + [(3, 0)]


def _batches(count, **options):
    pipeline = videos.train_pipeline(
        _dataset(CLASSES_OF),
        options.pop("batch_size", 10),
        num_steps=8,
        segment_size=0,
        seed=options.pop("seed", 4),
        sampling="random_perturb",
        similar_pairs=options.pop("pairs", 3),
        **options,
    )
    return [(x.numpy(), y.numpy()) for x, y in pipeline.take(count)]


def test_each_batch_opens_with_pairs_of_distinct_videos_of_one_class():
    drawn = set()
    for features, labels in _batches(30):
        assert features.shape == (10, 8, DIM)
        videos_ = features[:, 0, 0].astype(int)
        # Resampling keeps each video's own (constant) features.
        assert np.all(features == videos_[:, None, None])
        for i in range(0, 6, 2):
            assert videos_[i] != videos_[i + 1]
            shared = np.flatnonzero(labels[i] * labels[i + 1])
            assert shared.size >= 1 and 3 not in shared
            drawn.update(shared.tolist())
    assert drawn == {0, 1, 2}  # every class with two videos, uniformly


def test_a_seed_gives_the_same_batches_and_a_resumed_stream_goes_on():
    whole = _batches(6)
    again = _batches(6)
    for (a, y), (b, z) in zip(whole, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(y, z)
    resumed = _batches(2, start_batch=4)
    for (a, _), (b, _) in zip(whole[4:], resumed):
        np.testing.assert_array_equal(a, b)
    other = _batches(6, seed=5)
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in zip(whole, other))


def test_a_batch_of_pairs_alone():
    for features, labels in _batches(3, batch_size=4, pairs=2):
        assert features.shape[0] == 4
        assert all((labels[i] * labels[i + 1]).sum() >= 1 for i in (0, 2))


def test_class_counts_and_refusals():
    counts = similar_pairs.class_counts(
        _dataset(CLASSES_OF).map(lambda e: (e["features"], e["labels"]))
    )
    assert counts.tolist() == [6, 5, 4, 1]
    with pytest.raises(ValueError, match="batch_size=5"):
        _batches(1, batch_size=5, pairs=3)
    lonely = _dataset([(0,), (1,), (2,)]).map(
        lambda e: (e["features"], e["labels"])
    )
    with pytest.raises(ValueError, match="no class has two"):
        similar_pairs.paired_batches(lonely, 4, 1, None, 0)
