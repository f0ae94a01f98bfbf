"""TFDS builder `activitynet_features`: ActivityNet 1.2 / 1.3 on features.

The manual dir holds one published feature set as downloaded:

- `wtalc_v1_2`: W-TALC's ActivityNet 1.2 I3D bundle
  (github.com/sujoyp/wtalc-pytorch's features link; CO2-Net, DELU):
  `ActivityNet1.2-I3D-JOINTFeatures.npy` and `ActivityNet1.2-Annotations/`
  (`feature_bundles.read_wtalc_bundle`), 100 classes;
- `acmnet_v1_3`: ACM-Net's ActivityNet 1.3 folders
  (github.com/ispc-lab/ACM-Net's features link): `train/<video>.npy`,
  `test/<video>.npy` (2048-d), `gt.json` (with durations),
  `split_train.txt`, `split_test.txt` (its "test" is ActivityNet's
  validation set), 200 classes.

Both are I3D on 16-frame chunks of 25 fps video: 25/16 steps per second,
offset 0; every video's T is checked against its duration x rate
(`feature_bundles.check_length`). Where the manual dir also holds the
official annotation file (`activity_net.v1-2.min.json`,
`activity_net.v1-3.min.json`, from github.com/activitynet/ActivityNet),
its segments and durations are used, and every video it lists in a split
without features is named in the metadata's `missing` list (the videos
lost from YouTube that each feature set lacks).

Splits: "train" (ActivityNet's training subset) and "validation" (the
scored split: ActivityNet's test labels are not public). Video ids are
YouTube ids without the "v_" some sets prefix, as the official files
name them. No Ambiguous intervals exist. What was read is in
`info.metadata` (layout, annotation source, videos, skipped, missing).
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds
from absl import logging
from etils import epath

from has_tf.datasets import feature_bundles as bundles
from has_tf.datasets import video_features
from has_tf.datasets.activitynet_features import classes

SPLITS = ("train", "validation")
# ActivityNet's subset names -> has_tf's splits.
_SUBSETS = {"training": "train", "validation": "validation"}
OFFICIAL = {
    "1.2": "activity_net.v1-2.min.json",
    "1.3": "activity_net.v1-3.min.json",
}


@dataclasses.dataclass
class ActivitynetFeaturesConfig(tfds.core.BuilderConfig):
    """Which feature set the manual dir holds.

    Attributes:
      layout: "wtalc" or "acmnet".
      version_name: ActivityNet "1.2" or "1.3" (the class list).
      feature_dim: D of the features.
      check_lengths: a video whose T disagrees with duration x rate stops
        the build (True) or is skipped and named (False).
    """

    layout: str = "wtalc"
    version_name: str = "1.2"
    feature_dim: int = 2048
    check_lengths: bool = True


def _strip(name: str) -> str:
    return name[2:] if name.startswith("v_") else name


class ActivitynetFeatures(tfds.core.GeneratorBasedBuilder):
    """ActivityNet temporal action localization on precomputed features."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put W-TALC's ActivityNet 1.2 bundle (ActivityNet1.2-I3D-"
        "JOINTFeatures.npy, ActivityNet1.2-Annotations/) or ACM-Net's "
        "ActivityNet 1.3 folders (train/, test/, gt.json, split_*.txt) in "
        "manual_dir, optionally with the official activity_net.v1-*.min.json "
        "(has_tf/datasets/activitynet_features/README.md)."
    )
    BUILDER_CONFIGS = [
        ActivitynetFeaturesConfig(
            name="wtalc_v1_2",
            description="W-TALC's ActivityNet 1.2 I3D bundle, 100 classes.",
        ),
        ActivitynetFeaturesConfig(
            name="acmnet_v1_3",
            description="ACM-Net's ActivityNet 1.3 I3D folders, 200 classes.",
            layout="acmnet",
            version_name="1.3",
        ),
    ]
    DEFAULT_CONFIG_NAME = "wtalc_v1_2"

    def _class_names(self):
        return (
            classes.V1_2
            if self.builder_config.version_name == "1.2"
            else classes.V1_3
        )

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__,
            features=video_features.features_dict(
                self._class_names(), self.builder_config.feature_dim
            ),
            homepage="http://activity-net.org/",
            metadata=tfds.core.MetadataDict(),
        )

    def _read(self, root):
        config = self.builder_config
        if config.layout == "wtalc":
            stem = f"ActivityNet{config.version_name}"
            found = {split: {} for split in SPLITS}
            for subset, video in bundles.read_wtalc_bundle(root, stem):
                split = _SUBSETS.get(subset)
                if split is not None:
                    video.name = _strip(video.name)
                    found[split][video.name] = video
            return found
        return bundles.read_split_folders(
            root,
            {
                "train": ("split_train.txt", root / "train"),
                "validation": ("split_test.txt", root / "test"),
            },
            joined=False,
            rename=_strip,
        )

    def _split_generators(self, dl_manager):
        root = epath.Path(dl_manager.manual_dir)
        try:
            found = self._read(root)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"{error} " + self.MANUAL_DOWNLOAD_INSTRUCTIONS
            ) from None
        official = root / OFFICIAL[self.builder_config.version_name]
        missing = {split: [] for split in SPLITS}
        source = "bundle"
        if official.exists():
            source = "official"
            database = bundles.read_json(official).get("database", {})
            for name, entry in sorted(database.items()):
                split = _SUBSETS.get(entry.get("subset"))
                if split is None:
                    continue
                video = found[split].get(name)
                if not isinstance(video, bundles.Video):
                    missing[split].append(name)
                    continue
                video.segments = bundles.gt_entries(database, name, official)
                video.duration_s = float(entry["duration"])
                video.duration_source = "official"
        self.info.metadata["layout"] = self.builder_config.layout
        self.info.metadata["annotation_source"] = source
        self.info.metadata["missing"] = missing
        self.info.metadata["videos"] = {}
        self.info.metadata["skipped"] = {}
        for split in SPLITS:
            if missing[split]:
                logging.warning(
                    "activitynet_features/%s: %d videos of %s have no "
                    "features (listed in the metadata's 'missing').",
                    split,
                    len(missing[split]),
                    official.name,
                )
        return {
            split: self._generate_examples(found, split) for split in SPLITS
        }

    def _generate_examples(self, found, split):
        config = self.builder_config
        videos = [found[split][n] for n in sorted(found[split])]
        yield from bundles.examples(
            [v for v in videos if isinstance(v, bundles.Video)],
            {n: v for n, v in found[split].items() if isinstance(v, str)},
            self.info.metadata,
            dataset="activitynet_features",
            split=split,
            names=self._class_names(),
            feature_dim=config.feature_dim,
            layout=config.layout,
            check_lengths=config.check_lengths,
            strict_classes=True,
        )
