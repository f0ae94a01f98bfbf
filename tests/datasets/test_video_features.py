"""The temporal datasets: synthetic_actions and thumos14_features (dummy)."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import has_tf.datasets
from has_tf import evaluate
from has_tf import train
from has_tf.datasets import thumos14_features
from has_tf.datasets.synthetic_actions import generator
from has_tf.datasets.thumos14_features import make_dummy_data
from has_tf.metrics import detection_files


def test_synthetic_actions_tiny(tmp_path):
    data, builder = has_tf.datasets.load(
        "synthetic_actions/tiny", "train", str(tmp_path)
    )
    assert builder.info.splits["train"].num_examples == 12
    for example in tfds.as_numpy(data.take(4)):
        features = example["features"]
        assert features.dtype == np.float32 and features.shape[1] == 32
        assert 48 <= len(features) <= 64
        rate = example["feature_rate"]
        assert rate == generator.FEATURE_RATE
        assert example["duration_s"] == pytest.approx(len(features) / rate)
        labels = example["labels"]
        assert labels.sum() == 1.0
        segments = example["segments"]
        assert set(segments["label"]) == {int(np.argmax(labels))}
        assert np.all(segments["start_s"] < segments["end_s"])
        assert np.all(segments["end_s"] <= example["duration_s"])


def test_synthetic_actions_key_span_is_inside_the_action():
    weak, key = generator.class_directions(5)
    features, spans = generator.draw_video(2, 5, np.random.default_rng(3))
    score = features @ key[2]
    peak = int(np.argmax(score))
    seconds = peak / generator.FEATURE_RATE
    assert any(s <= seconds < e for s, e in spans)


def test_thumos14_features_on_dummy_data(tmp_path):
    make_dummy_data.write(tmp_path / "manual")
    val, builder = has_tf.datasets.load(
        "thumos14_features/dummy",
        "validation",
        str(tmp_path / "data"),
        str(tmp_path / "manual"),
    )
    assert builder.info.splits["test"].num_examples == 2
    videos = {e["video"].decode(): e for e in tfds.as_numpy(val)}
    first = videos["video_validation_0000001"]
    index = detection_files.THUMOS14_CLASSES.index
    assert np.flatnonzero(first["labels"]).tolist() == sorted(
        [index("HighJump"), index("Diving")]
    )
    assert first["duration_s"] == 10.0 and first["feature_rate"] == 2.0
    test, _ = has_tf.datasets.load(
        "thumos14_features/dummy", "test", str(tmp_path / "data")
    )
    videos = {e["video"].decode(): e for e in tfds.as_numpy(test)}
    pair = videos["video_test_0000004"]
    assert pair["features"].shape == (15, 8)  # RGB + flow, shorter T.
    assert pair["ambiguous"]["start_s"].tolist() == [6.0]
    assert videos["video_test_0001292"]["labels"].sum() == 0.0
    assert not thumos14_features.keep_video(
        "video_test_0001292", "thumos14-test-212-v1"
    )
    assert thumos14_features.keep_video(
        "video_test_0001292", "thumos14-test-213-v1"
    )
    with pytest.raises(ValueError, match="test_list='210'"):
        thumos14_features.keep_video("v", "210")


def test_thumos14_features_missing_manual_data_explains(tmp_path):
    (tmp_path / "manual").mkdir()
    # One error naming the manual dir and the README that says what goes in.
    with pytest.raises(
        has_tf.datasets.DataMissingError,
        match="--manual_dir=.*thumos14_features/README.md",
    ):
        has_tf.datasets.load(
            "thumos14_features/dummy",
            "test",
            str(tmp_path / "data"),
            str(tmp_path / "manual"),
        )


def test_thumos14_train_and_evaluate_with_a_test_list(tmp_path):
    make_dummy_data.write(tmp_path / "manual")
    run, data = str(tmp_path / "run"), str(tmp_path / "data")
    train.train(
        train.TrainConfig(
            model_dir=run,
            dataset="thumos14_features/dummy",
            data_dir=data,
            manual_dir=str(tmp_path / "manual"),
            train_split="validation",
            num_steps=8,
            segment_size=2,
            units=4,
            batch_size=2,
            epochs=1,
            steps_per_epoch=2,
            patch_sizes=(),
            tensorboard_images=0,
        )
    )
    counts = {}
    for test_list in ("thumos14-test-213-v1", "thumos14-test-212-v1"):
        result = evaluate.evaluate(
            run,
            "thumos14_features/dummy",
            data_dir=data,
            num_plots=1,
            test_list=test_list,
        )
        assert result["test_list"] == test_list
        assert result["classes"] == ["PoleVault"]
        counts[test_list] = result["count"]
    assert counts == {"thumos14-test-213-v1": 2, "thumos14-test-212-v1": 1}
    lines = (
        (tmp_path / "run" / "eval" / "detections_thumos14.txt")
        .read_text()
        .splitlines()
    )
    assert lines and all(
        line.startswith("video_test_0000004 ") for line in lines
    )
    with pytest.raises(ValueError, match="test_list='210'"):
        evaluate.evaluate(
            run, "thumos14_features/dummy", data_dir=data, test_list="210"
        )


def test_thumos14_build_names_skipped_videos_and_rejects_bad_data(
    tmp_path, caplog
):
    manual = make_dummy_data.write(tmp_path / "manual")
    feats = manual / "features" / "test"
    # video_test_0000009 is annotated but has no features; give another
    # annotated video RGB features only.
    (manual / "annotations" / "test" / "Diving_test.txt").write_text(
        "video_test_0000011 0 1\n"
    )
    np.save(feats / "video_test_0000011_rgb.npy", np.zeros((4, 4)))
    caplog.set_level("INFO", logger="absl")
    has_tf.datasets.load(
        "thumos14_features/dummy", "test", str(tmp_path / "data"), str(manual)
    )
    log = caplog.text
    assert "skipping video_test_0000009 (no features)" in log
    assert "skipping video_test_0000011 (RGB features but no flow)" in log
    assert "2 videos built, 2 skipped" in log
    # Zero-length features and start > end stop the build, named.
    np.save(feats / "video_test_0000009.npy", np.zeros((0, 8)))
    with pytest.raises(ValueError, match="video_test_0000009"):
        has_tf.datasets.load(
            "thumos14_features/dummy",
            "test",
            str(tmp_path / "d2"),
            str(manual),
        )
    (feats / "video_test_0000009.npy").unlink()
    (manual / "annotations" / "test" / "Diving_test.txt").write_text(
        "video_test_0000011 0 1\nvideo_test_0000004 5 2\n"
    )
    with pytest.raises(
        ValueError, match=r"Diving_test.txt:2: expected start <= end"
    ):
        has_tf.datasets.load(
            "thumos14_features/dummy",
            "test",
            str(tmp_path / "d3"),
            str(manual),
        )
