"""activitynet_features: the published ActivityNet 1.2 / 1.3 layouts."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

import has_tf.datasets
from has_tf.datasets.activitynet_features import classes
from has_tf.datasets.activitynet_features import make_fixtures as fx


def _load(tmp_path, config, split):
    data, builder = has_tf.datasets.load(
        f"activitynet_features/{config}",
        split,
        str(tmp_path / "data"),
        str(tmp_path / "manual"),
        allow_pickle=True,  # W-TALC's bundles are pickled.
    )
    return {e["video"].decode(): e for e in tfds.as_numpy(data)}, builder


@pytest.mark.parametrize(
    "layout, config, names",
    [
        ("wtalc", "wtalc_v1_2", classes.V1_2),
        ("acmnet", "acmnet_v1_3", classes.V1_3),
    ],
)
def test_each_layout_reads_as_published(tmp_path, layout, config, names):
    fx.write(layout, tmp_path / "manual")
    for split, subset in (("train", "training"), ("validation", "validation")):
        videos, builder = _load(tmp_path, config, split)
        expected = {v for v, row in fx.VIDEOS.items() if row[0] == subset}
        assert set(videos) == expected  # Ids without "v_".
        for name in expected:
            _, duration, segments = fx.VIDEOS[name]
            example = videos[name]
            assert example["features"].shape == (
                round(duration * 25 / 16),
                2048,
            )
            assert example["duration_s"] == pytest.approx(duration)
            got = sorted(
                zip(
                    example["segments"]["start_s"].round(3),
                    example["segments"]["end_s"].round(3),
                    [names[c] for c in example["segments"]["label"]],
                )
            )
            assert got == sorted(segments)
            assert len(example["ambiguous"]["start_s"]) == 0
    assert builder.info.features["labels"].shape == (len(names),)
    assert builder.info.metadata["annotation_source"] == "bundle"
    assert builder.info.metadata["missing"] == {"train": [], "validation": []}


def test_the_official_file_names_the_missing_videos(tmp_path):
    fx.write("acmnet", tmp_path / "manual", official=True)
    videos, builder = _load(tmp_path, "acmnet_v1_3", "validation")
    metadata = builder.info.metadata
    assert metadata["annotation_source"] == "official"
    assert metadata["missing"]["validation"] == [fx.MISSING]
    assert fx.MISSING not in videos
    assert (
        metadata["videos"]["validation"]["nd50oUKdygI"]["duration_source"]
        == "official"
    )


def test_a_wrong_rate_is_named(tmp_path):
    fx.write("wtalc", tmp_path / "manual")
    path = tmp_path / "manual" / "ActivityNet1.2-I3D-JOINTFeatures.npy"
    features = np.load(path, allow_pickle=True)
    features[0] = np.zeros((int(20.0 * 30 / 16), 2048), np.float32)
    np.save(path, features, allow_pickle=True)
    with pytest.raises(ValueError, match="5wOmHw6Boj8.*30 fps / 16-frame"):
        _load(tmp_path, "wtalc_v1_2", "train")


def test_class_lists():
    assert len(classes.V1_2) == 100 and len(classes.V1_3) == 200
    assert list(classes.V1_2) == sorted(classes.V1_2)
    assert list(classes.V1_3) == sorted(classes.V1_3)
