"""TFDS's own builder checks (`DatasetBuilderTestCase`) for the builders
without a test module of their own; ilsvrc_loc's are in test_ilsvrc_loc."""

import os

import tensorflow_datasets as tfds

from has_tf.datasets.synthetic_actions import SyntheticActions
from has_tf.datasets.synthetic_parts import SyntheticParts
from has_tf.datasets.thumos14_features import Thumos14Features

_DATASETS = os.path.join(
    os.path.dirname(__file__), os.pardir, os.pardir, "has_tf", "datasets"
)


class SyntheticPartsTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = SyntheticParts
    # Generated, nothing downloaded: the builder's folder stands in for
    # the dummy data TFDS asks for.
    EXAMPLE_DIR = os.path.join(_DATASETS, "synthetic_parts")
    BUILDER_CONFIG_NAMES_TO_TEST = ["tiny"]
    SPLITS = {"train": 12, "validation": 6, "test": 6}
    SKIP_CHECKSUMS = True


class SyntheticActionsTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = SyntheticActions
    EXAMPLE_DIR = os.path.join(_DATASETS, "synthetic_actions")
    BUILDER_CONFIG_NAMES_TO_TEST = ["tiny"]
    SPLITS = {"train": 12, "test": 6}
    SKIP_CHECKSUMS = True


class Thumos14FeaturesTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = Thumos14Features
    # dummy_data/ (make_dummy_data.py): two validation videos; of the
    # test videos, the one without features is skipped.
    BUILDER_CONFIG_NAMES_TO_TEST = ["dummy"]
    SPLITS = {"validation": 2, "test": 2}
    SKIP_CHECKSUMS = True
