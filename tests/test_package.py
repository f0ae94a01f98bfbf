"""Package-level promises: lazy exports, doctests in the modules."""

import doctest
import importlib
import pathlib

import pytest
from setuptools import find_packages

import has_tf


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no_such_name"):
        has_tf.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "module",
    [
        "has_tf.augmentation.hiding",
        "has_tf.input_pipeline.dataset_stats",
        "has_tf.postprocess.boxes",
        "has_tf.metrics.boxes",
        "has_tf.input_pipeline.image_windows",
        "has_tf.models.torch_style",
    ],
)
def test_doctests(module):

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_every_source_folder_is_an_installed_package():
    # A folder of modules without __init__.py imports from a checkout but is
    # left out of a wheel (setup.py's find_packages skips it).
    root = pathlib.Path(has_tf.__file__).parent.parent
    packages = set(find_packages(str(root), include=["has_tf", "has_tf.*"]))
    folders = {
        ".".join(path.parent.relative_to(root).parts)
        for path in (root / "has_tf").rglob("*.py")
    }
    assert folders - packages == set()
