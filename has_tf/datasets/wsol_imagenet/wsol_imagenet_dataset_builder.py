"""TFDS builder `wsol_imagenet`: wsolevaluation's ILSVRC splits (README.md).

Annotations from wsolevaluation's `metadata/ILSVRC/`, images from the tool's
`dataset/ILSVRC/` layout, both in the manual dir
(`has_tf.datasets.wsol_metadata` reads them).
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from has_tf.datasets import wsol_metadata


class WsolImagenet(wsol_metadata.WsolBuilder, tfds.core.GeneratorBasedBuilder):
    """wsolevaluation's ILSVRC: train (train-weaksup), validation
    (train-fullsup), test."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    FOLDER = "ILSVRC"
    NUM_CLASSES = 1000
    HOMEPAGE = "https://image-net.org/challenges/LSVRC/2012/"
    MASKS = False
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put wsolevaluation's metadata/ folder and its dataset/ILSVRC/ "
        "images (as its README lays them out) in manual_dir: "
        "manual_dir/metadata/ILSVRC/{train,val,test}/*.txt and "
        "manual_dir/ILSVRC/<image ids>. See "
        "has_tf/datasets/wsol_imagenet/README.md."
    )
