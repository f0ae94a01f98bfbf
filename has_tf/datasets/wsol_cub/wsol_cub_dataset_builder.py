"""TFDS builder `wsol_cub`: wsolevaluation's CUB splits (README.md).

Annotations from wsolevaluation's `metadata/CUB/`, images from the tool's
`dataset/CUB/` layout, both in the manual dir
(`has_tf.datasets.wsol_metadata` reads them).
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from has_tf.datasets import wsol_metadata


class WsolCub(wsol_metadata.WsolBuilder, tfds.core.GeneratorBasedBuilder):
    """wsolevaluation's CUB: train (train-weaksup), validation
    (train-fullsup), test."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    FOLDER = "CUB"
    NUM_CLASSES = 200
    HOMEPAGE = "https://www.vision.caltech.edu/datasets/cub_200_2011/"
    MASKS = False
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put wsolevaluation's metadata/ folder and its dataset/CUB/ "
        "images (as its README lays them out) in manual_dir: "
        "manual_dir/metadata/CUB/{train,val,test}/*.txt and "
        "manual_dir/CUB/<image ids>. See "
        "has_tf/datasets/wsol_cub/README.md."
    )
