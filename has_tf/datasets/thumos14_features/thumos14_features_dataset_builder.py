"""TFDS builder `thumos14_features`: THUMOS14 from per-video features.

Videos are not decoded here: people localize actions on features they
extracted (I3D RGB and flow, C3D fc7). The manual dir holds:

    features/validation/<video>.npy     [T, D] float, one row per snippet
    features/test/<video>.npy
    annotations/validation/<Class>_val.txt    "video start end" (seconds)
    annotations/validation/Ambiguous_val.txt  (optional)
    annotations/test/<Class>_test.txt
    annotations/test/Ambiguous_test.txt       (optional)

A video may instead have `<video>_rgb.npy` and `<video>_flow.npy`, which are
concatenated along D (cut to the shorter T). The feature rate (snippets per
second) cannot be read from the files: each config declares it, and a run
with other features declares its own config (`Thumos14FeaturesConfig`).

Splits: "validation" (the 200 annotated validation videos; common
practice trains on them) and "test" (every annotated test video whose
features exist). Which test videos are scored is a named, versioned list
(`TEST_LISTS`) applied at evaluation and recorded with every result.
Labels: multi-hot over the 20 detection classes (`THUMOS14_CLASSES`, index
i is the class with 101-list id `THUMOS14_IDS[i]`).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from has_tf.datasets import temporal_features
from has_tf.datasets.thumos14_features import annotations
from has_tf.metrics import detection_files

_SUBSETS = {"validation": "val", "test": "test"}

# Named, versioned lists of the test videos that are scored, as exclusions
# from the annotated test videos: "213" keeps all; "212" drops
# video_test_0001292 (only Ambiguous annotations); "210" also drops
# video_test_0000270 and video_test_0001496 (annotations past the video's
# end).
TEST_LISTS = {
    "thumos14-test-213-v1": (),
    "thumos14-test-212-v1": ("video_test_0001292",),
    "thumos14-test-210-v1": (
        "video_test_0000270",
        "video_test_0001292",
        "video_test_0001496",
    ),
}


def excluded_videos(test_list: str) -> tuple:
    """The test videos a `TEST_LISTS` name leaves out.

    Raises:
      ValueError: an unknown list name.
    """
    if test_list not in TEST_LISTS:
        raise ValueError(
            f"Expected a test list in {sorted(TEST_LISTS)}. "
            f"Received: test_list={test_list!r}"
        )
    return TEST_LISTS[test_list]


def keep_video(video: str, test_list: str) -> bool:
    """Whether `test_list` (a `TEST_LISTS` name) scores `video`."""
    return video not in excluded_videos(test_list)


@dataclasses.dataclass
class Thumos14FeaturesConfig(tfds.core.BuilderConfig):
    """Which features the manual dir holds.

    Attributes:
      feature_dim: D of the stored features (after RGB+flow concatenation).
      feature_rate: snippets per second (I3D on 16-frame snippets of 25 fps
        video: 25 / 16).
    """

    feature_dim: int = 2048
    feature_rate: float = 25.0 / 16.0


class Thumos14Features(tfds.core.GeneratorBasedBuilder):
    """THUMOS14 temporal action localization on precomputed features."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put per-video features in manual_dir/features/{validation,test}/"
        "<video>.npy (or <video>_rgb.npy and <video>_flow.npy) and the "
        "THUMOS14 temporal annotations in manual_dir/annotations/"
        "{validation,test}/ (<Class>_val.txt, <Class>_test.txt, "
        "Ambiguous_*.txt from TH14_Temporal_annotations_validation/test)."
    )
    BUILDER_CONFIGS = [
        Thumos14FeaturesConfig(
            name="i3d",
            description="I3D RGB+flow, 2048-d, 25/16 per second.",
            feature_dim=2048,
            feature_rate=25.0 / 16.0,
        ),
        Thumos14FeaturesConfig(
            name="c3d",
            description="C3D fc7, 4096-d, one per 16 frames.",
            feature_dim=4096,
            feature_rate=25.0 / 16.0,
        ),
        Thumos14FeaturesConfig(
            name="dummy",
            description="Tiny dummy data for tests: 8-d.",
            feature_dim=8,
            feature_rate=2.0,
        ),
    ]
    DEFAULT_CONFIG_NAME = "i3d"

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__,
            features=temporal_features.features_dict(
                detection_files.THUMOS14_CLASSES,
                self.builder_config.feature_dim,
            ),
            homepage="https://www.crcv.ucf.edu/THUMOS14/",
        )

    def _split_generators(self, dl_manager):
        root = epath.Path(dl_manager.manual_dir)
        for split in _SUBSETS:
            for sub in ("features", "annotations"):
                if not (root / sub / split).exists():
                    raise FileNotFoundError(
                        f"Missing {os.fspath(root / sub / split)}. "
                        + self.MANUAL_DOWNLOAD_INSTRUCTIONS
                    )
        return {
            split: self._generate_examples(root, split) for split in _SUBSETS
        }

    def _generate_examples(self, root, split: str):
        config = self.builder_config
        ground_truth, ambiguous = annotations.read_annotations(
            root / "annotations" / split, _SUBSETS[split]
        )
        videos = sorted(
            {row[0] for row in ground_truth} | {row[0] for row in ambiguous}
        )
        folder = root / "features" / split
        skipped = {}
        for video in videos:
            features, missing = _features(folder, video)
            if features is None:
                # Its ground truth leaves the split: say so, by name.
                logging.warning(
                    "thumos14_features/%s: skipping %s (%s).",
                    split,
                    video,
                    missing,
                )
                skipped.setdefault(missing, []).append(video)
                continue
            if features.ndim != 2 or features.shape[1] != config.feature_dim:
                raise ValueError(
                    f"Expected features [T, {config.feature_dim}] for "
                    f"{video} (config {config.name!r}). Received: shape "
                    f"{features.shape}"
                )
            if features.shape[0] == 0:
                raise ValueError(
                    f"Expected at least one feature step for {video} in "
                    f"{os.fspath(folder)}. Received: shape {features.shape}"
                )
            segments = [(s, e, c) for v, s, e, c in ground_truth if v == video]
            spans = [(s, e) for v, s, e in ambiguous if v == video]
            yield (
                video,
                temporal_features.example(
                    video,
                    features,
                    config.feature_rate,
                    segments,
                    len(detection_files.THUMOS14_CLASSES),
                    spans,
                ),
            )
        kept = len(videos) - sum(len(v) for v in skipped.values())
        reasons = "; ".join(
            f"{len(v)} {why}: {', '.join(v)}" for why, v in skipped.items()
        )
        logging.info(
            "thumos14_features/%s: %d of %d annotated videos built%s",
            split,
            kept,
            len(videos),
            f"; skipped {reasons}." if skipped else ".",
        )


def _features(folder, video):
    """`(features [T, D] float32, None)`, or `(None, why it is missing)`."""
    single = folder / f"{video}.npy"
    if single.exists():
        with single.open("rb") as f:
            return np.load(f).astype(np.float32), None
    rgb, flow = folder / f"{video}_rgb.npy", folder / f"{video}_flow.npy"
    if rgb.exists() and flow.exists():
        with rgb.open("rb") as f:
            a = np.load(f)
        with flow.open("rb") as f:
            b = np.load(f)
        steps = min(len(a), len(b))
        return np.concatenate([a[:steps], b[:steps]], 1).astype(
            np.float32
        ), None
    if rgb.exists():
        return None, "RGB features but no flow"
    if flow.exists():
        return None, "flow features but no RGB"
    return None, "no features"
