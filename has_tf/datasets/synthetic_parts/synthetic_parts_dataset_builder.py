"""TFDS builder `synthetic_parts`: offline weakly-supervised localization.

Generated, not downloaded: deterministic for a config's seed, and the
default config builds in seconds. See `generator.py` for the design.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from has_tf.datasets.synthetic_parts import generator

_DESCRIPTION = """
One object per image on a cluttered background: a small head in the class's
hue (very discriminative), a large body with a class-specific but noisy,
tinted stripe texture, and legs. Label-independent distractors. Boxes cover
the whole object; masks mark its pixels. A plain GAP classifier localizes
mostly the head; Hide-and-Seek has room to do better.
"""

_SPLIT_SEEDS = {"train": 0, "validation": 1, "test": 2}


@dataclasses.dataclass
class SyntheticPartsConfig(tfds.core.BuilderConfig):
    """Size of the generated dataset.

    Attributes:
      image_size: image side in pixels (>= 16).
      num_classes: number of classes (>= 2).
      num_train, num_validation, num_test: examples per split.
      seed: the generator's seed (changes every image).
    """

    image_size: int = 64
    num_classes: int = 10
    num_train: int = 6000
    num_validation: int = 500
    num_test: int = 1000
    seed: int = 0

    def __post_init__(self):
        if self.image_size < 16:
            raise ValueError(
                f"Expected image_size >= 16. Received: {self.image_size}"
            )
        if self.num_classes < 2:
            raise ValueError(
                f"Expected num_classes >= 2. Received: {self.num_classes}"
            )
        for split in ("num_train", "num_validation", "num_test"):
            if getattr(self, split) < 1:
                raise ValueError(
                    f"Expected {split} >= 1. Received: {getattr(self, split)}"
                )


class SyntheticParts(tfds.core.GeneratorBasedBuilder):
    """Synthetic parts dataset for weakly-supervised localization."""

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "First release.",
        "2.0.0": "Larger bodies with coarser, class-tinted stripes and a "
        "head blended towards the body colour, so hiding's effect "
        "on the CAM shows (README Results).",
    }
    BUILDER_CONFIGS = [
        SyntheticPartsConfig(
            name="default",
            description="64x64, 10 classes, 6000/500/1000 images.",
        ),
        SyntheticPartsConfig(
            name="tiny",
            description="32x32, 3 classes, 12/6/6 images: for tests.",
            image_size=32,
            num_classes=3,
            num_train=12,
            num_validation=6,
            num_test=6,
        ),
    ]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> tfds.core.DatasetInfo:
        size = self.builder_config.image_size
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(size, size, 3)),
                    "label": tfds.features.ClassLabel(
                        num_classes=self.builder_config.num_classes
                    ),
                    "objects": tfds.features.Sequence(
                        {
                            "bbox": tfds.features.BBoxFeature(),
                        }
                    ),
                    "mask": tfds.features.Image(shape=(size, size, 1)),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://arxiv.org/abs/1704.04232",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        config = self.builder_config
        return {
            "train": self._generate_examples("train", config.num_train),
            "validation": self._generate_examples(
                "validation", config.num_validation
            ),
            "test": self._generate_examples("test", config.num_test),
        }

    def _generate_examples(self, split: str, count: int):
        config = self.builder_config
        for index in range(count):
            rng = np.random.default_rng(
                [config.seed, _SPLIT_SEEDS[split], index]
            )
            label = index % config.num_classes  # Balanced classes.
            image, bbox, mask = generator.draw_example(
                label, config.num_classes, config.image_size, rng
            )
            yield (
                index,
                {
                    "image": image,
                    "label": label,
                    "objects": {"bbox": [tfds.features.BBox(*bbox.tolist())]},
                    "mask": mask,
                },
            )
