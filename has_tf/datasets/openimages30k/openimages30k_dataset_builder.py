"""TFDS builder `openimages30k`: wsolevaluation's OpenImages splits (README.md).

Annotations from wsolevaluation's `metadata/OpenImages/`, images from the tool's
`dataset/OpenImages/` layout, both in the manual dir
(`has_tf.datasets.wsol_metadata` reads them).
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from has_tf.datasets import wsol_metadata


class Openimages30k(wsol_metadata.WsolBuilder, tfds.core.GeneratorBasedBuilder):
    """wsolevaluation's OpenImages: train (train-weaksup), validation
    (train-fullsup), test."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    FOLDER = "OpenImages"
    NUM_CLASSES = 100
    HOMEPAGE = "https://github.com/clovaai/wsolevaluation"
    MASKS = True
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put wsolevaluation's metadata/ folder and its dataset/OpenImages/ "
        "images (as its README lays them out) in manual_dir: "
        "manual_dir/metadata/OpenImages/{train,val,test}/*.txt and "
        "manual_dir/OpenImages/<image ids>. See "
        "has_tf/datasets/openimages30k/README.md."
    )
