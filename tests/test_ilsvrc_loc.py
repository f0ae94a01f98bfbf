"""Builder tests for ilsvrc_loc on tiny fake manual dirs (both layouts)."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from has_tf.datasets.ilsvrc_loc import IlsvrcLoc
from has_tf.datasets.ilsvrc_loc import detect_layout

DUMMY = os.path.join(
    os.path.dirname(__file__),
    os.pardir,
    "has_tf",
    "datasets",
    "ilsvrc_loc",
    "dummy_data",
)


class KaggleLayoutTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = IlsvrcLoc
    EXAMPLE_DIR = os.path.join(DUMMY, "kaggle")
    # 6 RGB, 1 grayscale and 1 CMYK training images; the corrupt one is
    # skipped.
    SPLITS = {"train": 8, "validation": 3}
    SKIP_CHECKSUMS = True
    BUILDER_CONFIG_NAMES_TO_TEST = ["default"]


class ArchiveLayoutTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = IlsvrcLoc
    EXAMPLE_DIR = os.path.join(DUMMY, "archives")
    SPLITS = {"train": 6, "validation": 3}
    SKIP_CHECKSUMS = True
    BUILDER_CONFIG_NAMES_TO_TEST = ["default"]


def build(tmp_path, layout, config="default"):
    builder = IlsvrcLoc(config=config, data_dir=tmp_path)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=os.path.join(DUMMY, layout), try_download_gcs=False
        )
    )
    return builder


@pytest.mark.parametrize("layout", ["kaggle", "archives"])
def test_labels_boxes_and_rgb(tmp_path, layout):
    builder = build(tmp_path, layout)
    names = builder.info.features["label"].names
    assert names[:3] == ["n01440764", "n01443537", "n01484850"]
    assert len(names) == 1000  # TFDS imagenet2012's order.
    val = {
        e["file_name"].numpy().decode(): e
        for e in builder.as_dataset(split="validation")
    }
    two = val["ILSVRC2012_val_00000002.JPEG"]
    assert int(two["label"]) == 0
    # (0, 0, 5, 5) inclusive pixels on a 24x20 image: continuous 6x6.
    np.testing.assert_allclose(
        two["objects"]["bbox"].numpy(),
        [[0, 0, 6 / 20, 6 / 24], [10 / 20, 10 / 24, 16 / 20, 21 / 24]],
        atol=1e-6,
    )
    train = {
        e["file_name"].numpy().decode(): e
        for e in builder.as_dataset(split="train")
    }
    clipped = train["n01484850_2.JPEG"]["objects"]["bbox"].numpy()
    np.testing.assert_allclose(clipped, [[0, 0, 1, 1]])  # Clipped box.
    assert len(train["n01443537_1.JPEG"]["objects"]["bbox"]) == 0
    for example in train.values():
        assert example["image"].shape == (20, 24, 3)  # Gray, CMYK: RGB.


def test_strict_config_fails_on_the_corrupt_file(tmp_path):
    with pytest.raises(ValueError, match="n01440764_9.JPEG"):
        build(tmp_path, "kaggle", config="strict")


def test_missing_manual_dir_lists_expected_files(tmp_path):
    with pytest.raises(ValueError) as error:
        detect_layout(tmp_path)
    message = str(error.value)
    for name in (
        "LOC_train_solution.csv",
        "ILSVRC2012_img_val.tar",
        "ILSVRC2012_bbox_val_v3.tgz",
    ):
        assert name in message
    assert detect_layout(os.path.join(DUMMY, "kaggle")) == "kaggle"
    assert detect_layout(os.path.join(DUMMY, "archives")) == "archives"
