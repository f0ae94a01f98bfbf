"""Tests for has_tf.input_pipeline.dataset_stats against NumPy over all
values at once."""

import numpy as np
import pytest
import tensorflow as tf

from has_tf.input_pipeline.dataset_stats import channel_moments


def test_images_of_varying_size_in_dicts():
    rng = np.random.default_rng(0)
    arrays = [
        rng.integers(0, 256, [h, w, 3], dtype=np.uint8)
        for h, w in [(5, 7), (9, 4), (3, 3), (12, 10)]
    ]
    ds = tf.data.Dataset.from_generator(
        lambda: ({"image": a, "label": 1} for a in arrays),
        output_signature={
            "image": tf.TensorSpec([None, None, 3], tf.uint8),
            "label": tf.TensorSpec([], tf.int32),
        },
    )
    moments = channel_moments(ds, key="image")
    values = np.concatenate([a.reshape(-1, 3) for a in arrays]).astype(
        np.float64
    )
    np.testing.assert_allclose(moments.mean, values.mean(0), rtol=1e-12)
    np.testing.assert_allclose(moments.std, values.std(0), rtol=1e-12)
    assert moments.count == len(values)


def test_batched_sequences_and_max_elements():
    rng = np.random.default_rng(1)
    seqs = rng.normal(5.0, 2.0, [10, 7, 4]).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(seqs).batch(3)
    moments = channel_moments(ds, max_elements=2)  # 2 batches: 6 sequences.
    values = seqs[:6].reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(moments.mean, values.mean(0), rtol=1e-10)
    np.testing.assert_allclose(moments.std, values.std(0), rtol=1e-10)
    assert moments.count == 42


def test_large_offset_does_not_lose_precision():
    # Sum-of-squares formulas lose the variance when the mean dwarfs it.
    values = 1e8 + np.arange(1000, dtype=np.float64).reshape(100, 10, 1)
    moments = channel_moments(tf.data.Dataset.from_tensor_slices(values))
    np.testing.assert_allclose(moments.std, [np.arange(1000).std()], rtol=1e-9)


@pytest.mark.parametrize(
    "ds, key, match",
    [
        (
            tf.data.Dataset.from_tensors({"image": tf.zeros([2, 2, 3])}),
            None,
            "pass `key`",
        ),
        (
            tf.data.Dataset.from_tensors(tf.zeros([2, 2, 3])),
            "image",
            "key 'image'",
        ),
        (
            tf.data.Dataset.from_tensors(tf.constant(["a"])),
            None,
            "dtype=string",
        ),
        (
            tf.data.Dataset.from_tensors(tf.zeros([2, 3])).take(0),
            None,
            "at least one value",
        ),
    ],
)
def test_bad_input(ds, key, match):
    with pytest.raises(ValueError, match=match):
        channel_moments(ds, key=key)


def test_bad_max_elements():
    ds = tf.data.Dataset.from_tensors(tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="max_elements=0"):
        channel_moments(ds, max_elements=0)
