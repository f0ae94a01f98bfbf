"""Builder tests for wsol_cub, wsol_imagenet and openimages30k on their
dummy data (wsolevaluation's layout, `make_wsol_dummy_data.py`)."""

import os
import re
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

from has_tf.datasets.openimages30k import Openimages30k
from has_tf.datasets.wsol_cub import WsolCub
from has_tf.datasets.wsol_imagenet import WsolImagenet

_DATASETS = os.path.join(
    os.path.dirname(__file__), os.pardir, os.pardir, "has_tf", "datasets"
)


def _dummy(name):
    return os.path.join(_DATASETS, name, "dummy_data")


class WsolCubTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = WsolCub
    EXAMPLE_DIR = _dummy("wsol_cub")
    # train: 4 ids, one without a label line (and a malformed line).
    SPLITS = {"train": 3, "validation": 3, "test": 2}
    SKIP_CHECKSUMS = True
    BUILDER_CONFIG_NAMES_TO_TEST = ["default"]


class WsolImagenetTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = WsolImagenet
    EXAMPLE_DIR = _dummy("wsol_imagenet")
    SPLITS = {"train": 2, "validation": 2, "test": 2}
    SKIP_CHECKSUMS = True
    BUILDER_CONFIG_NAMES_TO_TEST = ["default"]


class Openimages30kTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = Openimages30k
    EXAMPLE_DIR = _dummy("openimages30k")
    SPLITS = {"train": 2, "validation": 1, "test": 2}
    SKIP_CHECKSUMS = True
    BUILDER_CONFIG_NAMES_TO_TEST = ["default"]


def _build(builder_class, name, tmp_path, config="default"):
    builder = builder_class(data_dir=str(tmp_path), config=config)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=_dummy(name))
    )
    return builder


def _metadata(name, folder, split, file):
    path = os.path.join(_dummy(name), "metadata", folder, split, file)
    with open(path) as f:
        return [line.rstrip("\n").split(",") for line in f if line.strip()]


@pytest.mark.parametrize(
    "builder_class, name, folder",
    [(WsolCub, "wsol_cub", "CUB"), (WsolImagenet, "wsol_imagenet", "ILSVRC")],
)
def test_boxes_are_the_metadata_rows(tmp_path, builder_class, name, folder):
    builder = _build(builder_class, name, tmp_path)
    for split, tool in (("validation", "val"), ("test", "test")):
        rows = {}
        for image_id, *corners in _metadata(
            name, folder, tool, "localization.txt"
        ):
            rows.setdefault(image_id, []).append([int(c) for c in corners])
        sizes = {
            i: (int(w), int(h))
            for i, w, h in _metadata(name, folder, tool, "image_sizes.txt")
        }
        labels = {
            i: int(k)
            for i, k in _metadata(name, folder, tool, "class_labels.txt")
        }
        seen = 0
        for example in tfds.as_numpy(builder.as_dataset(split=split)):
            image_id = example["image_id"].decode()
            seen += 1
            np.testing.assert_array_equal(example["wsol_boxes"], rows[image_id])
            assert example["label"] == labels[image_id]
            width, height = sizes[image_id]
            assert tuple(example["image_size"]) == (width, height)
            assert example["image"].shape[:2] == (height, width)
            expected = [
                [y0 / height, x0 / width, (y1 + 1) / height, (x1 + 1) / width]
                for x0, y0, x1, y1 in rows[image_id]
            ]
            np.testing.assert_allclose(
                example["objects"]["bbox"], expected, rtol=1e-6
            )
        assert seen == len(rows)


def test_masks_are_the_union_and_the_ignore_mask_leaves_them_out(tmp_path):
    builder = _build(Openimages30k, "openimages30k", tmp_path)
    examples = {
        e["image_id"].decode(): e
        for e in tfds.as_numpy(builder.as_dataset(split="test"))
    }
    two = examples["test/0bt9lr/0a51958fcd523ae4.jpg"]
    mask, ignore = two["mask"][..., 0], two["ignore_mask"][..., 0]
    rows = np.arange(16)[:, None]
    cols = np.arange(20)[None, :]
    first = (rows >= 2) & (rows < 6) & (cols >= 3) & (cols < 12)
    second = (rows >= 7) & (rows < 11) & (cols >= 3) & (cols < 12)
    np.testing.assert_array_equal(mask, first | second)
    box = (rows >= 4) & (rows < 14) & (cols >= 10)
    np.testing.assert_array_equal(ignore, box & ~(first | second))
    assert set(np.unique(mask)) <= {0, 1}
    train = next(iter(tfds.as_numpy(builder.as_dataset(split="train"))))
    assert train["mask"].max() == 0  # No masks in train.


def test_bad_rows_are_counted_and_strict_stops_naming_them(tmp_path, caplog):
    with caplog.at_level("WARNING"):
        _build(WsolCub, "wsol_cub", tmp_path / "a")
    text = caplog.text
    assert "class_labels.txt:4: expected 2 fields" in text
    assert "California_Gull_0002_41026.jpg: no line in class_labels.txt" in text
    with pytest.raises(ValueError, match=r"wsol_cub train: .*class_labels"):
        _build(WsolCub, "wsol_cub", tmp_path / "b", config="strict")


def test_a_manual_dir_without_the_metadata_says_where_it_goes(tmp_path):
    builder = WsolCub(data_dir=str(tmp_path / "data"))
    with pytest.raises(
        AssertionError, match="no metadata/CUB/ .*wsol_cub/README"
    ):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=str(tmp_path)
            )
        )


_ALBATROSS = "001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"


def _edited(tmp_path, file, extra_lines=(), replace=None):
    """wsol_cub's dummy data with its test split's `file` edited."""
    manual = tmp_path / "manual"
    shutil.copytree(_dummy("wsol_cub"), manual)
    path = manual / "metadata" / "CUB" / "test" / file
    text = path.read_text()
    if replace:
        text = text.replace(*replace)
    path.write_text(text + "".join(f"{line}\n" for line in extra_lines))
    return manual


def _test_split(manual, tmp_path, config="default"):
    builder = WsolCub(data_dir=str(tmp_path / "data"), config=config)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual))
    )
    return {
        e["image_id"].decode(): e
        for e in tfds.as_numpy(builder.as_dataset(split="test"))
    }


def test_boxes_outside_the_image_are_named_and_dropped(tmp_path, caplog):
    """The albatross is 20 x 16: a box right of it and a negative one are
    faults (they were kept as zero-area boxes); one partly outside is
    clipped and kept."""
    manual = _edited(
        tmp_path,
        "localization.txt",
        [
            f"{_ALBATROSS},30,2,35,10",
            f"{_ALBATROSS},-9,-9,-2,-2",
            f"{_ALBATROSS},10,10,25,20",
        ],
    )
    # absl's logger too: an app run in this process may have raised its level.
    with caplog.at_level("INFO"), caplog.at_level("INFO", logger="absl"):
        examples = _test_split(manual, tmp_path)
    boxes = examples[_ALBATROSS]["wsol_boxes"].tolist()
    assert boxes == [[4, 2, 15, 13], [10, 10, 25, 20]]
    np.testing.assert_allclose(
        examples[_ALBATROSS]["objects"]["bbox"][1], [10 / 16, 0.5, 1.0, 1.0]
    )
    assert "box (30, 2, 35, 10) (x0, y0, x1, y1) is outside the 20 x 16" in (
        caplog.text
    )
    assert "box (-9, -9, -2, -2)" in caplog.text
    assert "boxes_clipped 1" in caplog.text
    assert "boxes_outside_images 2" in caplog.text


@pytest.mark.parametrize(
    "file, replace, extra, reason",
    [
        (
            "image_sizes.txt",
            (f"{_ALBATROSS},20,16", f"{_ALBATROSS},16,20"),
            (),
            "states 16 x 20 .* the file is 20 x 16: width and height swapped",
        ),
        (
            "image_sizes.txt",
            (f"{_ALBATROSS},20,16", f"{_ALBATROSS},40,32"),
            (),
            "states 40 x 32 .* the file is 20 x 16$",
        ),
        (
            "class_labels.txt",
            None,
            (f"{_ALBATROSS},5",),
            "has label 5 here and 0 on an earlier line",
        ),
        (
            "image_sizes.txt",
            None,
            (f"{_ALBATROSS},21,16",),
            r"has size \(21, 16\) here and \(20, 16\) on an earlier line",
        ),
    ],
    ids=["sizes_swapped", "sizes_differ", "second_label", "second_size"],
)
def test_an_image_whose_metadata_disagrees_is_named_and_skipped(
    tmp_path, caplog, file, replace, extra, reason
):
    manual = _edited(tmp_path, file, extra, replace)
    with caplog.at_level("WARNING"):
        examples = _test_split(manual, tmp_path)
    assert _ALBATROSS not in examples and len(examples) == 1
    assert re.search(reason, caplog.text, re.M), caplog.text
    # "strict" stops at it (the train split, the dummy's own bad lines
    # replaced by the edited test split's).
    metadata = manual / "metadata" / "CUB"
    shutil.rmtree(metadata / "train")
    shutil.copytree(metadata / "test", metadata / "train")
    with pytest.raises(ValueError, match=reason.rstrip("$")):
        _test_split(manual, tmp_path / "strict", config="strict")
