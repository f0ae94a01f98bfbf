"""One word, one list: `has_tf.vocabulary` and the modules that own each
choice agree, and the flags accept exactly those choices."""

import dataclasses

import pytest

from has_tf import config
from has_tf import models
from has_tf import tasks
from has_tf import vocabulary
from has_tf.input_pipeline import images
from has_tf.metrics import boxes as box_metrics
from has_tf.metrics import segments as segment_metrics
from has_tf.models import common
from has_tf.models import delu
from has_tf.models import videos
from has_tf.postprocess import boxes
from has_tf.postprocess import segments

# (owner, its name for the list, the vocabulary's name).
OWNERS = [
    (images, "TRAIN_CROPS", "TRAIN_CROPS"),
    (images, "EVAL_CROPS", "EVAL_CROPS"),
    (images, "RESIZE_METHODS", "RESIZE_METHODS"),
    (common, "POOLINGS", "POOLINGS"),
    (models, "POOLINGS", "POOLINGS"),
    (videos, "POOLINGS", "TEMPORAL_POOLINGS"),
    (videos, "LOSSES", "TEMPORAL_LOSSES"),
    (delu, "EDL_LOSSES", "DELU_EDL_LOSSES"),
    (boxes, "CAM_NORMALIZATIONS", "CAM_NORMALIZATIONS"),
    (boxes, "CONNECTIVITIES", "CONNECTIVITIES"),
    (segments, "SCORES", "SEGMENT_SCORES"),
    (box_metrics, "BOX_PROTOCOLS", "BOX_PROTOCOLS"),
    (segment_metrics, "MAP_PROTOCOLS", "MAP_PROTOCOLS"),
    (config, "STRATEGIES", "STRATEGIES"),
    (config, "PRECISIONS", "PRECISIONS"),
]


@pytest.mark.parametrize(
    "owner, name, word",
    OWNERS,
    ids=[f"{o.__name__}.{n}" for o, n, _ in OWNERS],
)
def test_an_owner_re_exports_the_vocabulary_list(owner, name, word):
    assert tuple(getattr(owner, name)) == getattr(vocabulary, word)


def test_the_tasks_are_the_named_ones():
    assert tuple(tasks.TASKS) == vocabulary.TASKS


def test_every_list_is_a_tuple_of_distinct_values():
    lists = {
        name: value
        for name, value in vars(vocabulary).items()
        if name.isupper() and not name.startswith("_")
    }
    assert len(lists) >= 15
    for name, value in lists.items():
        assert isinstance(value, tuple) and value, name
        assert len(set(value)) == len(value), name


def test_no_word_means_two_things():
    """A value names one choice of one list, except where two lists share
    a word on purpose (the pooling "max"/"avg", both tasks' pooling)."""
    shared = {"max", "avg"}  # Image pooling, temporal pooling, CAM scaling.
    # Lists that pick some choices of another, meaning the same.
    subsets = {"BOX_RULES": "BOX_RULE_CHOICES"}
    for subset, of in subsets.items():
        assert set(getattr(vocabulary, subset)) < set(getattr(vocabulary, of))
    seen = {}
    for name, value in vars(vocabulary).items():
        if not name.isupper() or not isinstance(value, tuple):
            continue
        if name in subsets:
            continue
        for word in value:
            if isinstance(word, str) and word not in shared:
                assert word not in seen, (word, seen.get(word), name)
                seen[word] = name


def test_each_flag_with_choices_takes_a_vocabulary_list():
    lists = [v for k, v in vars(vocabulary).items() if k.isupper()]
    for klass in (config.TrainConfig, config.EvalConfig, config.CamsConfig):
        for field in dataclasses.fields(klass):
            choices = field.metadata.get("choices")
            if choices is not None:
                assert tuple(choices) in lists, field.name
