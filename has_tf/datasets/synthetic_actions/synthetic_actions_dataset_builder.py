"""TFDS builder `synthetic_actions`: offline temporal action localization.

Generated, not downloaded, deterministic for a config's seed; the default
config builds in seconds. See `generator.py` for the design and
`has_tf.datasets.video_features` for the schema (shared with
`thumos14_features`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from has_tf.datasets import video_features
from has_tf.datasets.synthetic_actions import generator

_SPLIT_SEEDS = {"train": 0, "test": 2}


@dataclasses.dataclass
class SyntheticActionsConfig(tfds.core.BuilderConfig):
    """Size of the generated dataset.

    Attributes:
      num_classes: number of action classes (>= 2).
      num_train, num_test: videos per split.
      length: (min, max) snippets per video.
      seed: the generator's seed.
    """

    num_classes: int = 5
    num_train: int = 400
    num_test: int = 200
    length: tuple = (160, 320)
    seed: int = 0


class SyntheticActions(tfds.core.GeneratorBasedBuilder):
    """Synthetic feature sequences with known action spans."""

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First release.",
        "1.1.0": "feature_offset_s (always 0 here).",
    }
    BUILDER_CONFIGS = [
        SyntheticActionsConfig(
            name="default",
            description="5 classes, 400/200 videos of 160-320 snippets.",
        ),
        SyntheticActionsConfig(
            name="tiny",
            description="3 classes, 12/6 short videos: tests.",
            num_classes=3,
            num_train=12,
            num_test=6,
            length=(48, 64),
        ),
    ]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> tfds.core.DatasetInfo:
        names = [f"action_{i}" for i in range(self.builder_config.num_classes)]
        return self.dataset_info_from_configs(
            description=generator.__doc__,
            features=video_features.features_dict(names, generator.FEATURE_DIM),
            homepage="https://arxiv.org/abs/1704.04232",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        config = self.builder_config
        return {
            "train": self._generate_examples("train", config.num_train),
            "test": self._generate_examples("test", config.num_test),
        }

    def _generate_examples(self, split: str, count: int):
        config = self.builder_config
        for index in range(count):
            rng = np.random.default_rng(
                [config.seed, _SPLIT_SEEDS[split], index]
            )
            label = index % config.num_classes
            features, spans = generator.draw_video(
                label, config.num_classes, rng, tuple(config.length)
            )
            name = f"video_{split}_{index:07d}"
            yield (
                name,
                video_features.example(
                    name,
                    features,
                    generator.FEATURE_RATE,
                    [(s, e, label) for s, e in spans],
                    config.num_classes,
                ),
            )
