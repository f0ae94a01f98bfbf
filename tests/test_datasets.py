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
    builder = tfds.builder("synthetic_parts/tiny",
                           data_dir=tmp_path_factory.mktemp("tfds"))
    builder.download_and_prepare(download_config=OFFLINE)
    return builder


def test_registered_under_its_name():
    assert "synthetic_parts" in tfds.list_builders()


def test_tiny_splits_and_features(tiny):
    splits = tiny.info.splits
    assert (splits["train"].num_examples, splits["validation"].num_examples,
            splits["test"].num_examples) == (12, 6, 6)
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
    first = {int(e["tfds_id"] if "tfds_id" in e else i): e["image"].numpy()
             for i, e in enumerate(tiny.as_dataset(split="test",
                                                   shuffle_files=False))}
    second = {int(e["tfds_id"] if "tfds_id" in e else i): e["image"].numpy()
              for i, e in enumerate(again.as_dataset(split="test",
                                                     shuffle_files=False))}
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_the_head_is_the_class_colour_and_small():
    rng = np.random.default_rng(0)
    colors = generator.class_colors(10)
    for label in range(10):
        image, bbox, mask = generator.draw_example(label, 10, 64, rng)
        distance = np.abs(image.astype(float) - colors[label]).sum(-1)
        head = distance < 40  # The head's pixels: near the class colour.
        object_pixels = mask[..., 0] > 0
        assert head.sum() > 20
        assert (head & object_pixels).sum() >= 0.9 * head.sum()
        # The head is a small part of the object.
        assert head.sum() < 0.3 * object_pixels.sum()


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(image_size=8), "image_size >= 16"),
     (dict(num_classes=1), "num_classes >= 2"),
     (dict(num_test=0), "num_test >= 1")],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticPartsConfig(name="bad", **kwargs)
