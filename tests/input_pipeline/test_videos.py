"""Temporal pipelines: resampling, segment hiding with the mean feature."""

import numpy as np
import pytest
import tensorflow as tf

from has_tf.input_pipeline import videos as tp


def _videos(lengths, dim=3):
    def gen():
        for i, length in enumerate(lengths):
            features = (
                np.arange(length * dim, dtype=np.float32).reshape(length, dim)
                + 1.0
            )
            yield {
                "features": features,
                "labels": np.eye(2, dtype=np.float32)[i % 2],
                "video": f"v{i}",
                "duration_s": np.float32(length / 2),
                "feature_rate": np.float32(2.0),
                "feature_offset_s": np.float32(0.25 * i),
                "segments": {
                    "start_s": np.array([0.5], np.float32),
                    "end_s": np.array([1.5], np.float32),
                    "label": np.array([i % 2]),
                },
                "ambiguous": {
                    "start_s": np.zeros(0, np.float32),
                    "end_s": np.zeros(0, np.float32),
                },
            }

    spec = {
        "features": tf.TensorSpec([None, dim], tf.float32),
        "labels": tf.TensorSpec([2], tf.float32),
        "video": tf.TensorSpec([], tf.string),
        "duration_s": tf.TensorSpec([], tf.float32),
        "feature_rate": tf.TensorSpec([], tf.float32),
        "feature_offset_s": tf.TensorSpec([], tf.float32),
        "segments": {
            "start_s": tf.TensorSpec([None], tf.float32),
            "end_s": tf.TensorSpec([None], tf.float32),
            "label": tf.TensorSpec([None], tf.int64),
        },
        "ambiguous": {
            "start_s": tf.TensorSpec([None], tf.float32),
            "end_s": tf.TensorSpec([None], tf.float32),
        },
    }
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def test_feature_mean():
    mean = tp.feature_mean(_videos([2, 4], dim=1))
    np.testing.assert_allclose(mean, [(1 + 2 + 1 + 2 + 3 + 4) / 6])


def test_a_non_finite_mean_names_the_videos():
    """A dataset built before the builders refused NaN features: training
    stopped at the fill ("Expected a finite `fill_value`"), naming no
    video."""

    def poison(example):
        bad = tf.equal(example["video"], "v1")
        features = tf.where(bad, np.nan, example["features"])
        return {**example, "features": features}

    data = _videos([2, 4, 3]).map(poison)
    with pytest.raises(ValueError, match="not finite: NaN or infinite") as e:
        tp.feature_mean(data)
    assert "features in v1." in str(e.value)


def test_eval_pipeline_resamples_without_hiding():
    batch = next(iter(tp.eval_pipeline(_videos([8, 4]), 2, num_steps=4)))
    # Video 0 (8 steps) keeps steps 1, 3, 5, 7; video 1 (4 steps) all.
    np.testing.assert_array_equal(batch["features"][0, :, 0], [4, 10, 16, 22])
    np.testing.assert_array_equal(batch["features"][1, :, 0], [1, 4, 7, 10])
    assert batch["video"].numpy().tolist() == [b"v0", b"v1"]
    assert batch["segments"].shape == (2, 1, 3)
    # The time the features cover (T / rate, not the resampled length) and
    # their offset.
    np.testing.assert_allclose(batch["span_s"], [4.0, 2.0])
    np.testing.assert_allclose(batch["offset_s"], [0.0, 0.25])


def test_train_pipeline_hides_whole_segments_with_the_fill():
    fill = np.array([-5.0, -6.0, -7.0], np.float32)
    data = tp.train_pipeline(
        _videos([40] * 4),
        4,
        num_steps=20,
        segment_size=5,
        hide_prob=0.5,
        fill_value=fill,
        seed=3,
    )
    features, labels = next(iter(data))
    assert features.shape == (4, 20, 3) and labels.shape == (4, 2)
    hidden = np.all(features.numpy() == fill, axis=-1)  # [B, T]
    segments = hidden.reshape(4, 4, 5)
    # Each segment is hidden as a whole or not at all, and some are.
    assert np.all(segments.all(-1) == segments.any(-1))
    assert 0 < hidden.mean() < 1
    again, _ = next(
        iter(
            tp.train_pipeline(
                _videos([40] * 4),
                4,
                num_steps=20,
                segment_size=5,
                hide_prob=0.5,
                fill_value=fill,
                seed=3,
            )
        )
    )
    np.testing.assert_array_equal(features, again)
    plain, _ = next(
        iter(
            tp.train_pipeline(
                _videos([40] * 4), 4, num_steps=20, segment_size=0, seed=3
            )
        )
    )
    assert not np.any(np.all(plain.numpy() == fill, axis=-1))


def test_start_batch_resumes_the_stream_exactly():
    def stream(start):
        return tp.train_pipeline(
            _videos([40] * 4),
            2,
            num_steps=20,
            segment_size=5,
            hide_prob=0.5,
            seed=3,
            start_batch=start,
        )

    whole = list(stream(0).take(6))
    resumed = list(stream(4).take(2))
    for (a, la), (b, lb) in zip(whole[4:], resumed):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(la.numpy(), lb.numpy())


def _reference_random_perturb(length, num_segments, draws):
    """BaS-Net's `random_perturb` (Pilhyeon/BaSNet-pytorch, commit c8c6bbd,
    thumos_features.py), line for line, with `np.random.choice(r)` taking
    `r[int(u * len(r))]` for the next of `draws` so a draw can be shared."""
    draws = iter(draws)

    def choice(r):
        u = next(draws)
        return r[int(u * len(r))]

    if num_segments == length:
        return np.arange(num_segments).astype(int)
    samples = np.arange(num_segments) * length / num_segments
    for i in range(num_segments):
        if i < num_segments - 1:
            if int(samples[i]) != int(samples[i + 1]):
                samples[i] = choice(
                    range(int(samples[i]), int(samples[i + 1]) + 1)
                )
            else:
                samples[i] = int(samples[i])
                next(draws)
        else:
            if int(samples[i]) < length - 1:
                samples[i] = choice(range(int(samples[i]), length))
            else:
                samples[i] = int(samples[i])
    return samples.astype(int)


def test_random_perturb_equals_basnets_for_the_same_draws():
    for length, steps in ((37, 10), (10, 10), (6, 10), (750, 750), (2000, 750)):
        sequence = tf.reshape(tf.range(length, dtype=tf.int64), [length, 1])
        seed = tf.constant([4, length], tf.int64)
        got = tp.sample_random_perturb(sequence, steps, seed)[:, 0].numpy()
        u = tf.random.stateless_uniform([steps], seed, dtype=tf.float64)
        expected = _reference_random_perturb(length, steps, u.numpy())
        np.testing.assert_array_equal(got, expected)


def test_random_perturb_varies_per_epoch_and_repeats_per_seed():
    def first_two_epochs(seed):
        data = tp.train_pipeline(
            _videos([40]),
            1,
            num_steps=8,
            segment_size=0,
            seed=seed,
            sampling="random_perturb",
        )
        return [f.numpy()[0, :, 0] for f, _ in data.take(2)]

    one, two = first_two_epochs(1)
    assert not np.array_equal(one, two)  # A new draw each epoch.
    np.testing.assert_array_equal(first_two_epochs(1)[1], two)
    # Each step stays inside its slice (5 steps of 3 features each).
    index = (one - 1) / 3
    assert np.all(index // 5 >= np.arange(8)) and np.all(
        index <= np.arange(1, 9) * 5
    )


def test_the_cache_modes_keep_the_batches():
    def batches(cache):
        videos = _videos([40, 17, 9, 30]).map(
            lambda e: {**e, "features": e["features"] / 7.0}  # Not in fp16.
        )
        data = tp.train_pipeline(
            videos,
            2,
            num_steps=12,
            segment_size=3,
            seed=5,
            cache=cache,
        )
        return [f.numpy() for f, _ in data.take(5)]

    exact = batches("memory")
    np.testing.assert_array_equal(np.stack(batches("none")), np.stack(exact))
    half = np.stack(batches("memory_float16"))
    np.testing.assert_allclose(half, np.stack(exact), rtol=1e-3)
    assert not np.array_equal(half, np.stack(exact))  # Rounded.
