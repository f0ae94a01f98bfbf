"""Package-level promises: lazy exports, doctests in the modules."""

import doctest
import importlib

import pytest

import has_tf


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no_such_name"):
        has_tf.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "module",
    [
        "has_tf.hiding",
        "has_tf.dataset_stats",
        "has_tf.postprocess.boxes",
        "has_tf.metrics.boxes",
        "has_tf.input_pipeline.images",
    ],
)
def test_doctests(module):

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
