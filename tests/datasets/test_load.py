"""`has_tf.datasets.load`: a dataset whose files are missing is one clear
error naming what is missing, where it goes, and which README says how."""

import pytest

import has_tf.datasets
from has_tf.datasets import DataMissingError


@pytest.mark.parametrize(
    "name, readme",
    [
        ("ilsvrc_loc", "has_tf/datasets/ilsvrc_loc/README.md"),
        ("thumos14_features", "has_tf/datasets/thumos14_features/README.md"),
    ],
)
def test_missing_manual_files_are_named(tmp_path, name, readme):
    manual = tmp_path / "manual"
    with pytest.raises(DataMissingError) as raised:
        has_tf.datasets.load(
            name, "validation", data_dir=str(tmp_path), manual_dir=str(manual)
        )
    message = str(raised.value)
    assert f"--dataset={name}" in message
    assert f"--manual_dir={manual}" in message and readme in message
    assert isinstance(raised.value, FileNotFoundError)


@pytest.mark.slow
def test_a_recipe_without_its_data_is_one_line(tmp_path, run_app):
    done = run_app(
        "has_tf.train",
        "--flagfile=flags/alexnet_has_mixed.cfg",
        f"--data_dir={tmp_path}",
        f"--manual_dir={tmp_path}/manual",
        f"--model_dir={tmp_path}/run",
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("has_tf.train: error: --dataset=ilsvrc_loc: ")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "run_config.json").exists()


def _images(tmp_path):
    """Three JPEG examples; the second cut short (no end-of-image marker,
    as a download cut short leaves it)."""
    import io

    import numpy as np
    import tensorflow as tf
    from PIL import Image

    files = []
    for seed in range(3):
        pixels = np.random.default_rng(seed).integers(0, 256, (32, 32, 3))
        buffer = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="JPEG")
        files.append(buffer.getvalue())
    files[1] = files[1][: len(files[1]) * 2 // 3]
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": np.array(files, dtype=object),
            "file_name": np.array(["a.jpg", "b.jpg", "c.jpg"], dtype=object),
        }
    )


def test_undecodable_images_are_named(tmp_path):
    assert has_tf.datasets.undecodable(_images(tmp_path)) == ["b.jpg"]


def test_a_pipeline_error_names_the_images(tmp_path, monkeypatch):
    monkeypatch.setattr(
        has_tf.datasets, "load", lambda *a, **k: (_images(tmp_path), None)
    )
    error = has_tf.datasets.decode_error(
        "synthetic_parts", "test", None, None, RuntimeError("JPEG failed")
    )
    assert isinstance(error, ValueError)
    assert "b.jpg" in str(error) and "a.jpg" not in str(error)
    assert "--dataset=synthetic_parts split 'test'" in str(error)
    # Video features: nothing to decode, the error stays.
    same = RuntimeError("other")
    assert (
        has_tf.datasets.decode_error(
            "synthetic_actions", "test", None, None, same
        )
        is same
    )


def test_a_split_is_screened_once_before_training(tmp_path, monkeypatch):
    class Builder:
        data_dir = str(tmp_path)

    images = _images(tmp_path)
    monkeypatch.setattr(
        has_tf.datasets, "load", lambda *a, **k: (images, Builder())
    )
    with pytest.raises(ValueError, match=r"split 'test'.*b\.jpg"):
        has_tf.datasets.screen("cub", "test")
    assert not (tmp_path / "has_tf_screened-test.json").exists()
    good = images.filter(lambda e: e["file_name"] != "b.jpg")
    monkeypatch.setattr(
        has_tf.datasets, "load", lambda *a, **k: (good, Builder())
    )
    has_tf.datasets.screen("cub", "test")
    assert (tmp_path / "has_tf_screened-test.json").exists()
    # Cached: not decoded again (a bad image now would go unseen).
    monkeypatch.setattr(
        has_tf.datasets, "load", lambda *a, **k: (images, Builder())
    )
    has_tf.datasets.screen("cub", "test")
    # Generated or builder-screened datasets and video features: skipped.
    has_tf.datasets.screen("synthetic_actions", "test")
    has_tf.datasets.screen("ilsvrc_loc", "validation")
