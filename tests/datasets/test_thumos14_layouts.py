"""The published THUMOS14 feature layouts, read as downloaded."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import has_tf.datasets
from has_tf.datasets.feature_bundles import PickleRefused
from has_tf.datasets.feature_bundles import allowing_pickles
from has_tf.datasets.thumos14_features import layouts
from has_tf.datasets.thumos14_features import make_layout_fixtures as fx
from has_tf.datasets.thumos14_features import meta
from has_tf.metrics import detection_files

CLASSES = detection_files.THUMOS14_CLASSES


def _load(tmp_path, config="i3d", split="validation", manual="manual"):
    data, builder = has_tf.datasets.load(
        f"thumos14_features/{config}",
        split,
        str(tmp_path / f"data_{config}_{manual}"),
        str(tmp_path / manual),
        allow_pickle=True,  # W-TALC's bundles are pickled.
    )
    return {e["video"].decode(): e for e in tfds.as_numpy(data)}, builder


def _rate(layout, fps):
    if layout in ("actionformer", "cmcs"):
        return fps / 4
    return 25 / 16


@pytest.mark.parametrize(
    "layout",
    ["wtalc", "basnet", "acmnet", "actionformer", "cmcs"],
)
def test_each_layout_is_detected_and_read_as_published(tmp_path, layout):
    fx.write(layout, tmp_path / "manual")
    assert layouts.detect(tmp_path / "manual") == layout
    for split in ("validation", "test"):
        videos, builder = _load(tmp_path, split=split)
        expected = {v for v, row in fx.VIDEOS.items() if row[0] == split}
        assert set(videos) == expected
        for name, (_, duration, fps, segments, spans) in fx.VIDEOS.items():
            if name not in videos:
                continue
            example = videos[name]
            assert example["features"].shape == (
                fx.steps_of(layout, duration, fps),
                2048,
            )
            assert example["feature_rate"] == pytest.approx(_rate(layout, fps))
            offset = 6 / fps if layout in ("actionformer", "cmcs") else 0.0
            assert example["feature_offset_s"] == pytest.approx(offset)
            if layout != "basnet":  # BaS-Net's set has no durations.
                assert example["duration_s"] == pytest.approx(duration)
            got = sorted(
                zip(
                    example["segments"]["start_s"].round(3),
                    example["segments"]["end_s"].round(3),
                    [CLASSES[c] for c in example["segments"]["label"]],
                )
            )
            assert got == sorted(segments)
            assert np.flatnonzero(example["labels"]).tolist() == sorted(
                {CLASSES.index(c) for _, _, c in segments}
            )
            # The Ambiguous intervals come with W-TALC's bundle and the
            # official text (CMCS) only.
            if layout in ("wtalc", "cmcs"):
                assert example["ambiguous"]["start_s"].tolist() == [
                    s for s, _ in spans
                ]
    metadata = builder.info.metadata
    assert metadata["layout"] == layout
    assert set(metadata["videos"]["test"]) == {
        v for v, row in fx.VIDEOS.items() if row[0] == "test"
    }
    video = metadata["videos"]["test"]["video_test_0000004"]
    assert video["rate"] == pytest.approx(_rate(layout, 30.0))
    if layout in ("basnet", "acmnet", "actionformer"):
        assert any(
            "no Ambiguous" in w and w.startswith("test")
            for w in metadata["warnings"]
        )
        assert metadata["annotation_source"]["test"] == "bundle"


def test_cmcs_averages_the_crops_and_joins_the_streams(tmp_path):
    fx.write("cmcs", tmp_path / "manual")
    videos, _ = _load(tmp_path)
    name = "video_validation_0000052"
    part = tmp_path / "manual" / "I3D-4"
    rgb = np.load(part / "thumos-val-rgb-oversample" / f"{name}-rgb.npz")
    flow = np.load(part / "thumos-val-flow-oversample" / f"{name}-flow.npz")
    expected = np.concatenate(
        [rgb["feature"].mean(0), flow["feature"].mean(0)], 1
    )
    np.testing.assert_allclose(videos[name]["features"], expected, atol=1e-6)


def test_official_text_and_meta_replace_the_bundles_own(tmp_path):
    fx.write("basnet", tmp_path / "manual", official=True, with_meta=True)
    videos, builder = _load(tmp_path, split="test")
    example = videos["video_test_0000004"]
    assert example["ambiguous"]["start_s"].tolist() == [6.0]
    assert example["duration_s"] == pytest.approx(14.0)  # From the meta file.
    metadata = builder.info.metadata
    assert metadata["annotation_source"] == {
        "validation": "official",
        "test": "official",
    }
    assert (
        metadata["videos"]["test"]["video_test_0000004"]["duration_source"]
        == "meta"
    )
    assert not metadata["warnings"]


def test_a_wrong_frame_rate_fails_naming_the_video_and_the_cause(tmp_path):
    fx.write("wtalc", tmp_path / "manual", wrong_fps="video_validation_0000051")
    with pytest.raises(ValueError) as error:
        _load(tmp_path)
    message = str(error.value)
    assert "video_validation_0000051" in message
    assert "32.000 s x 1.562/s = 50.0 steps" in message
    assert "T = 60" in message
    assert "30 fps / 16-frame stride" in message


def test_a_wrong_frame_rate_is_skipped_when_asked(tmp_path):
    fx.write("wtalc", tmp_path / "manual", wrong_fps="video_validation_0000051")
    with allowing_pickles():
        reading = layouts.read(tmp_path / "manual", None)
    video = {v.name: v for v in reading.videos["validation"]}[
        "video_validation_0000051"
    ]
    layouts.check_length(video, 50, "wtalc")  # Within tolerance: silent.
    layouts.check_length(video, 53, "wtalc")
    with pytest.raises(ValueError, match="T = 55"):
        layouts.check_length(video, 55, "wtalc")


def test_the_full_wtalc_set_trains_on_1010_style_101_class_labels(tmp_path):
    fx.write("wtalc_full", tmp_path / "manual")
    videos, builder = _load(tmp_path, config="wtalc_full")
    names = builder.info.features["segments"]["label"].names
    assert tuple(names) == detection_files.UCF101_CLASSES
    # Every validation video, with or without temporal annotations.
    assert set(videos) == {
        "video_validation_0000001",
        "video_validation_0000051",
        "video_validation_0000052",
    }
    plain = videos["video_validation_0000001"]
    assert [names[i] for i in np.flatnonzero(plain["labels"])] == [
        "ApplyEyeMakeup"
    ]
    assert len(plain["segments"]["label"]) == 0
    both = videos["video_validation_0000052"]
    assert sorted(names[i] for i in np.flatnonzero(both["labels"])) == [
        "CliffDiving",
        "Diving",
    ]
    # Test: the annotated videos only (the unannotated one is left out).
    test, _ = _load(tmp_path, config="wtalc_full", split="test")
    assert set(test) == {"video_test_0000004", "video_test_0000007"}


def test_several_layouts_in_one_dir_must_be_named(tmp_path):
    fx.write("wtalc", tmp_path / "manual")
    fx.write("acmnet", tmp_path / "manual")
    with pytest.raises(ValueError, match=r"\['wtalc', 'acmnet'\]"):
        layouts.detect(tmp_path / "manual")
    videos, builder = _load(tmp_path, config="acmnet")
    assert builder.info.metadata["layout"] == "acmnet"
    with pytest.raises(FileNotFoundError, match="Expected one of"):
        layouts.detect(tmp_path / "empty")


def test_cmcs_without_meta_files_says_why_it_needs_them(tmp_path):
    fx.write("cmcs", tmp_path / "manual")
    for path in (tmp_path / "manual" / "labels").glob("*.mat"):
        path.unlink()
    with pytest.raises(FileNotFoundError, match="each video's own fps"):
        layouts.read(tmp_path / "manual", None)


def test_meta_files_read_like_the_official_ones(tmp_path):
    path = tmp_path / "test_set_meta.mat"
    fx.write_meta(path, "test")
    table = meta.read_meta(path)
    assert table["video_test_0000004"].duration_s == 14.0
    assert table["video_test_0000004"].fps == 30.0
    assert table["video_test_0000004"].class_ids == (68,)  # PoleVault.
    assert meta.find_meta(tmp_path, "test") == path
    assert meta.find_meta(tmp_path, "validation") is None


def test_ucf101_ids_are_the_official_ones():
    # The kit's ids of the 20 detection classes, from THUMOS14_IDS.
    ids = [detection_files.id_of_class_name(c) for c in CLASSES]
    assert ids == list(detection_files.THUMOS14_IDS)
    assert detection_files.UCF101_CLASSES[35 - 1] == "Hammering"
    assert len(set(detection_files.UCF101_CLASSES)) == 101


def test_a_pickled_bundle_is_read_only_on_the_users_word(tmp_path, run_app):
    """W-TALC's files are pickles: without `allow_pickle` the preparation
    stops before unpickling anything, saying why and how."""
    fx.write("wtalc", tmp_path / "manual")
    with pytest.raises(PickleRefused, match="run any code") as refused:
        has_tf.datasets.prepare(
            "thumos14_features/wtalc",
            str(tmp_path / "data"),
            str(tmp_path / "manual"),
        )
    assert "--allow_pickle" in str(refused.value)
    assert "Annotations" in str(refused.value)  # The file, by its path.
    command = [
        "has_tf.datasets",
        "thumos14_features/wtalc",
        f"--data_dir={tmp_path / 'data'}",
        f"--manual_dir={tmp_path / 'manual'}",
    ]
    done = run_app(*command)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "--allow_pickle" in done.stderr.strip().splitlines()[-1]
    done = run_app(*command, "--allow_pickle")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "{'validation': 2, 'test': 2}" in done.stdout


_VIDEO = "video_validation_0000051"


def _basnet_file(root, stream):
    return root / "features" / "train" / stream / f"{_VIDEO}.npy"


def test_nan_features_stop_the_build_naming_the_video(tmp_path):
    root = fx.write("basnet", tmp_path / "manual")
    rgb = np.load(_basnet_file(root, "rgb"))
    rgb[7, 3] = np.nan
    rgb[9, 0] = np.inf
    np.save(_basnet_file(root, "rgb"), rgb)
    with pytest.raises(ValueError, match="NaN or infinite") as error:
        _load(tmp_path)
    message = str(error.value)
    assert _VIDEO in message and "layout basnet" in message
    assert "2 NaN or infinite values in 2 of 50 steps, the first at step 7" in (
        message
    )


def test_streams_of_different_lengths_are_refused_naming_both(tmp_path):
    for manual, cut in (("one", 1), ("five", 5)):
        root = fx.write("basnet", tmp_path / manual)
        flow = np.load(_basnet_file(root, "flow"))
        np.save(_basnet_file(root, "flow"), flow[:-cut])
    # One step apart (optical flow's usual): cut to the shorter.
    videos, _ = _load(tmp_path, manual="one")
    assert videos[_VIDEO]["features"].shape == (49, 2048)
    with pytest.raises(ValueError, match="same length") as error:
        _load(tmp_path, manual="five")
    message = str(error.value)
    assert f"rgb/{_VIDEO}.npy: T = 50" in message
    assert f"flow/{_VIDEO}.npy: T = 45" in message


@pytest.mark.parametrize(
    "segment, problem",
    [([3.5, 1.0], "ends before it starts"), ([-2.0, 1.0], "starts before")],
)
def test_reversed_or_negative_segments_are_refused(tmp_path, segment, problem):
    import json

    root = fx.write("basnet", tmp_path / "manual")
    gt = json.loads((root / "gt.json").read_text())
    gt["database"][_VIDEO]["annotations"][0]["segment"] = [
        str(v) for v in segment
    ]
    (root / "gt.json").write_text(json.dumps(gt))
    with pytest.raises(ValueError, match=problem) as error:
        _load(tmp_path)
    assert _VIDEO in str(error.value) and "HighJump" in str(error.value)
