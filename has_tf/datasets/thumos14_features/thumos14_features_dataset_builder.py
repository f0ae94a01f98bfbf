"""TFDS builder `thumos14_features`: THUMOS14 from per-video features.

Videos are not decoded here: people localize actions on features they
extracted or downloaded. The manual dir holds one published feature set as
it is downloaded (`layouts`: has_tf, W-TALC reduced and full, BaS-Net /
CoLA, ACM-Net, ActionFormer, CMCS), detected from its contents by the
`i3d` config or named by a layout config. Each video's feature rate and
time offset come from the layout (per video where it depends on the
video's fps), its true duration from the set or from the official meta
`.mat` (`meta`), and its length T is checked against duration x rate
(`layouts.check_length`): a mismatch stops the build naming the video, the
three numbers and the likely cause (config `check_lengths=False` skips
such videos instead, named). Annotations come from the official text files
where present, else from the set, with a warning naming what it lacks.
What was read (layout, rates, offsets, sources, videos, skipped videos and
why, warnings) is stored in the dataset's metadata (`info.metadata`).

Splits: "validation" (the annotated validation videos, 200; common
practice trains on them; all 1010 with 101-class labels in `wtalc_full`)
and "test" (the annotated test videos whose features exist). Which test
videos are scored is a named, versioned list (`TEST_LISTS`) applied at
evaluation and recorded with every result. Labels: multi-hot over the 20
detection classes (`THUMOS14_CLASSES`), or over the 101 of
`UCF101_CLASSES` (`wtalc_full`).
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds
from etils import epath

from has_tf.datasets import feature_bundles as bundles
from has_tf.datasets import video_features
from has_tf.datasets.thumos14_features import layouts
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
      layout: one of `layouts.LAYOUTS`, or "auto" (detected).
      feature_dim: D of the stored features (after RGB+flow concatenation).
      feature_rate: snippets per second of the has_tf layout (the others
        bring their own).
      classes: "thumos14" (the 20 detection classes) or "ucf101" (101).
      check_lengths: a video whose T disagrees with its duration x rate
        stops the build (True) or is skipped and named (False).
    """

    layout: str = "auto"
    feature_dim: int = 2048
    feature_rate: float = 25.0 / 16.0
    classes: str = "thumos14"
    check_lengths: bool = True


_LAYOUT_CONFIGS = {
    "wtalc": "W-TALC's Thumos14reduced I3D bundle (200 + 212 videos).",
    "wtalc_full": (
        "W-TALC's full Thumos14 I3D bundle: all 1010 validation videos "
        "with their 101-class labels (train), the annotated test videos."
    ),
    "basnet": "BaS-Net / CoLA / ASL / AICL I3D folders (200 + 210 videos).",
    "acmnet": "ACM-Net's I3D folders (2048-d, gt.json with durations).",
    "actionformer": "ActionFormer's I3D features (fps / 4 per second).",
    "cmcs": "CMCS's I3D npz files (crops averaged, each video's fps / 4).",
}


class Thumos14Features(tfds.core.GeneratorBasedBuilder):
    """THUMOS14 temporal action localization on precomputed features."""

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "First release.",
        "2.0.0": (
            "The published layouts, per-video rates and offsets "
            "(feature_offset_s), true durations with a length check, "
            "101-class wtalc_full, what was read in info.metadata; c3d at "
            "the paper's 10 per second."
        ),
    }
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put one published THUMOS14 feature set in manual_dir as it is "
        "downloaded (has_tf/datasets/thumos14_features/README.md lists the "
        "layouts and their sources), optionally with the official "
        "annotation text (TH14_Temporal_annotations_validation/test) and "
        "the official meta files (validation_set.mat, test_set_meta.mat)."
    )
    BUILDER_CONFIGS = [
        Thumos14FeaturesConfig(
            name="i3d",
            description=(
                "I3D RGB+flow, 2048-d, any published layout (detected); "
                "the has_tf layout at 25/16 per second."
            ),
        ),
        *[
            Thumos14FeaturesConfig(
                name=name,
                description=text,
                layout=name,
                classes="ucf101" if name == "wtalc_full" else "thumos14",
            )
            for name, text in _LAYOUT_CONFIGS.items()
        ],
        Thumos14FeaturesConfig(
            name="c3d",
            description="C3D fc7, 4096-d, 10 per second (the paper's).",
            layout="has_tf",
            feature_dim=4096,
            feature_rate=10.0,
        ),
        Thumos14FeaturesConfig(
            name="dummy",
            description="Tiny dummy data for tests: 8-d.",
            layout="has_tf",
            feature_dim=8,
            feature_rate=2.0,
        ),
    ]
    DEFAULT_CONFIG_NAME = "i3d"

    def _class_names(self):
        if self.builder_config.classes == "ucf101":
            return detection_files.UCF101_CLASSES
        return detection_files.THUMOS14_CLASSES

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__,
            features=video_features.features_dict(
                self._class_names(), self.builder_config.feature_dim
            ),
            homepage="https://www.crcv.ucf.edu/THUMOS14/",
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        root = epath.Path(dl_manager.manual_dir)
        try:
            reading = layouts.read(
                root, self.builder_config, self.builder_config.layout
            )
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"{error} " + self.MANUAL_DOWNLOAD_INSTRUCTIONS
            ) from None
        self.info.metadata["layout"] = reading.layout
        self.info.metadata["annotation_source"] = reading.annotation_source
        self.info.metadata["warnings"] = reading.warnings
        self.info.metadata["skipped"] = {}
        self.info.metadata["videos"] = {}
        return {
            split: self._generate_examples(reading, split)
            for split in layouts.SPLITS
        }

    def _generate_examples(self, reading, split: str):
        config = self.builder_config
        yield from bundles.examples(
            reading.videos[split],
            dict(reading.skipped[split]),
            self.info.metadata,
            dataset="thumos14_features",
            split=split,
            names=self._class_names(),
            feature_dim=config.feature_dim,
            layout=reading.layout,
            check_lengths=config.check_lengths,
        )
