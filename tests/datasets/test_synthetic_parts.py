"""Tests for the TFDS builders in has_tf.datasets (built offline)."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import has_tf.datasets  # noqa: F401  (registers the builders)
from has_tf.datasets.synthetic_parts import SyntheticPartsConfig
from has_tf.datasets.synthetic_parts import generator

OFFLINE = tfds.download.DownloadConfig(try_download_gcs=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    builder = tfds.builder(
        "synthetic_parts/tiny", data_dir=tmp_path_factory.mktemp("tfds")
    )
    builder.download_and_prepare(download_config=OFFLINE)
    return builder


def test_registered_under_its_name():
    assert "synthetic_parts" in tfds.list_builders()


def test_tiny_splits_and_features(tiny):
    splits = tiny.info.splits
    assert (
        splits["train"].num_examples,
        splits["validation"].num_examples,
        splits["test"].num_examples,
    ) == (12, 6, 6)
    examples = list(tiny.as_dataset(split="train"))
    labels = sorted(int(e["label"]) for e in examples)
    assert labels == [0] * 4 + [1] * 4 + [2] * 4  # Balanced.
    for example in examples:
        assert example["image"].shape == (32, 32, 3)
        assert example["image"].dtype.name == "uint8"
        assert example["mask"].shape == (32, 32, 1)
        box = example["objects"]["bbox"].numpy()
        assert box.shape == (1, 4)
        mask = example["mask"].numpy()[..., 0] > 0
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        tight = np.array([rows[0], cols[0], rows[-1] + 1, cols[-1] + 1])
        np.testing.assert_allclose(box[0] * 32, tight, atol=1e-4)


def test_deterministic_for_a_seed(tmp_path, tiny):
    again = tfds.builder("synthetic_parts/tiny", data_dir=tmp_path)
    again.download_and_prepare(download_config=OFFLINE)
    first = {
        int(e["tfds_id"] if "tfds_id" in e else i): e["image"].numpy()
        for i, e in enumerate(
            tiny.as_dataset(split="test", shuffle_files=False)
        )
    }
    second = {
        int(e["tfds_id"] if "tfds_id" in e else i): e["image"].numpy()
        for i, e in enumerate(
            again.as_dataset(split="test", shuffle_files=False)
        )
    }
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def _head(label, seed):
    image, _, mask = generator.draw_example(
        label, 10, 64, np.random.default_rng(seed)
    )
    headless, _, _ = generator.draw_example(
        label, 10, 64, np.random.default_rng(seed), head=False
    )
    return image, np.any(image != headless, axis=-1), mask[..., 0] > 0


def test_the_head_is_small_and_tells_the_class():
    means, labels = [], []
    for seed in range(100):
        label = seed % 10
        image, head, object_pixels = _head(label, seed)
        assert head.sum() > 20
        assert np.all(object_pixels[head])
        # The head is a small part of the object.
        assert head.sum() < 0.3 * object_pixels.sum()
        means.append(image[head].astype(float).mean(0))
        labels.append(label)
    # The head's colour alone tells the class (nearest class centroid,
    # fitted on half, tested on the other half).
    means, labels = np.array(means), np.array(labels)
    centroids = np.stack(
        [means[:50][labels[:50] == c].mean(0) for c in range(10)]
    )
    nearest = np.argmin(((means[50:, None] - centroids) ** 2).sum(-1), 1)
    assert np.mean(nearest == labels[50:]) >= 0.9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(image_size=8), "image_size >= 16"),
        (dict(num_classes=1), "num_classes >= 2"),
        (dict(num_test=0), "num_test >= 1"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticPartsConfig(name="bad", **kwargs)
