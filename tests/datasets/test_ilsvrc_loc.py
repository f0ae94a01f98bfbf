"""Builder tests for ilsvrc_loc on tiny fake manual dirs (both layouts)."""

import os
import shutil
import tarfile

import numpy as np
import pytest
import tensorflow_datasets as tfds

from has_tf.datasets.ilsvrc_loc import IlsvrcLoc
from has_tf.datasets.ilsvrc_loc import detect_layout
from has_tf.datasets.ilsvrc_loc.ilsvrc_loc_dataset_builder import _parse_xml

DUMMY = os.path.join(
    os.path.dirname(__file__),
    os.pardir,
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


def _faulty_kaggle(tmp_path):
    """The Kaggle dummy dir with one fault of each kind injected."""
    root = tmp_path / "manual"
    shutil.copytree(os.path.join(DUMMY, "kaggle"), root)
    val = root / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    one = val / "ILSVRC2012_val_00000001.JPEG"
    one.write_bytes(one.read_bytes()[:-2])  # PIL accepts it; TF does not.
    (root / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000001,n01443537 1 1 8 8\n"
        # A good box, an inverted one, one outside the image, a partial.
        "ILSVRC2012_val_00000002,n01440764 0 0 5 5 n01440764 9 2 3 8 "
        "n01440764 50 50 60 60 n01440764 1 1\n"
        # Only a box outside the image: the image is left without one.
        "ILSVRC2012_val_00000003,n01484850 40 30 50 39\n"
        "short row\n"
        "ILSVRC2012_val_00000004,n01484850 a b c d\n"
        # Kaggle's mark of an image without boxes, and a 4-number row.
        "ILSVRC2012_val_00000005,\n"
        "ILSVRC2012_val_00000006,n01484850 1 2 3\n"
        # A class id that is none of the 1000.
        "ILSVRC2012_val_00000007,n99999999 1 1 8 8\n"
    )
    for stem in ("00000005", "00000006", "00000007"):
        shutil.copy(
            val / "ILSVRC2012_val_00000002.JPEG",
            val / f"ILSVRC2012_val_{stem}.JPEG",
        )
    return root


def test_data_faults_are_named_counted_and_skipped(tmp_path, caplog):
    root = _faulty_kaggle(tmp_path)
    caplog.set_level("INFO", logger="absl")
    builder = IlsvrcLoc(data_dir=tmp_path / "data")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(root), try_download_gcs=False
        )
    )
    log = caplog.text
    assert "ILSVRC2012_val_00000001.JPEG: does not decode" in log
    assert "LOC_val_solution.csv:5" in log  # The short row.
    assert "LOC_val_solution.csv:6: non-numeric box" in log
    assert "LOC_val_solution.csv:3: 3 values of a partial box dropped" in log
    assert "has min > max" in log
    assert "ILSVRC2012_val_00000003.JPEG: no box inside the image" in log
    assert "ILSVRC2012_val_00000005.JPEG: no box in LOC_val_solution" in log
    assert "ILSVRC2012_val_00000006.JPEG: no box in LOC_val_solution" in log
    assert "ILSVRC2012_val_00000007.JPEG: 'n99999999' is none" in log
    assert "boxes_outside_the_image 2" in log  # The build's summary.
    assert "1 examples built" in log
    val = list(builder.as_dataset(split="validation"))
    assert len(val) == 1  # Every example TensorFlow can read.
    np.testing.assert_allclose(
        val[0]["objects"]["bbox"].numpy(), [[0, 0, 6 / 20, 6 / 24]], atol=1e-6
    )


def test_strict_config_stops_at_the_first_fault_naming_it(tmp_path):
    root = _faulty_kaggle(tmp_path)
    builder = IlsvrcLoc(config="strict", data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match=r"LOC_\w+_solution.csv:\d+|\.JPEG"):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=str(root), try_download_gcs=False
            )
        )


def test_bad_annotation_xml_is_named():
    with pytest.raises(ValueError, match="<xmax> is missing"):
        _parse_xml(
            b"<annotation><filename>x</filename><object><name>n1</name>"
            b"<bndbox><xmin>1</xmin><ymin>1</ymin><ymax>3</ymax></bndbox>"
            b"</object></annotation>"
        )
    with pytest.raises(ValueError, match="malformed XML"):
        _parse_xml(b"<annotation><object>")


def test_a_truncated_archive_is_named_and_its_files_before_kept(
    tmp_path, caplog
):
    root = tmp_path / "manual"
    shutil.copytree(os.path.join(DUMMY, "archives"), root)
    val = root / "ILSVRC2012_img_val.tar"
    with tarfile.open(val) as tar:
        last = [m for m in tar.getmembers() if m.isfile()][-1]
    # Cut in the middle of the last image's bytes (a download cut short).
    val.write_bytes(val.read_bytes()[: last.offset_data + last.size // 2])
    caplog.set_level("INFO", logger="absl")
    builder = IlsvrcLoc(data_dir=tmp_path / "data")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(root), try_download_gcs=False
        )
    )
    assert "skipping ILSVRC2012_img_val.tar: unreadable after" in caplog.text
    assert "truncated_archives 1" in caplog.text
    assert 0 < len(list(builder.as_dataset(split="validation"))) < 3
