"""ACoL: heads, erasing, loss and CAM merge equal to wsolevaluation's."""

import keras
import numpy as np
import pytest

import has_tf
from has_tf.models import acol
from tests import wsol_golden

CASES = wsol_golden.cases("acol")


def _heads(scalars, arrays):
    feature = arrays["feature"]
    layer = acol.AcolHeads(
        arrays["logits"].shape[1],
        arrays["head_a"][0].shape[-1],
        scalars["threshold"],
    )
    layer.build(feature.shape)
    for key in ("head_a", "head_b"):
        weights = arrays[key]
        for index, conv in enumerate(layer.heads[key]):
            conv.set_weights(weights[2 * index : 2 * index + 2])
    labels = (
        arrays["labels"]
        if scalars["labels_given"]
        else np.full(len(feature), -1, np.int32)
    )
    return layer, feature, labels


@pytest.mark.parametrize("index", range(len(CASES)))
def test_branches_and_cams_equal_the_reference(index):
    scalars, arrays = CASES[index]
    layer, feature, labels = _heads(scalars, arrays)
    out = {k: np.asarray(v) for k, v in layer.branches(feature, labels).items()}
    np.testing.assert_array_equal(out["labels"], arrays["used_labels"])
    np.testing.assert_array_equal(out["erased"], arrays["erased"])
    for ours, theirs in (
        ("maps_a", "feat_map_a"),
        ("maps_b", "feat_map_b"),
        ("logits", "logits"),
        ("logit_b", "logit_b"),
    ):
        np.testing.assert_allclose(
            out[ours], arrays[theirs], rtol=1e-5, atol=1e-6
        )
    cams = np.asarray(layer.cams(feature, labels))
    picked = np.take_along_axis(
        cams, arrays["used_labels"].astype(int)[:, None, None, None], axis=3
    )[..., 0]
    np.testing.assert_allclose(picked, arrays["cams"], rtol=1e-6, atol=1e-6)


def test_erasing_removes_something_and_keeps_something():
    for _, arrays in CASES:
        erased = np.all(arrays["erased"] == 0, axis=-1)
        assert erased.any() and not erased.all()


@pytest.mark.parametrize("index", [0, 2, 3])
def test_the_two_losses_sum_to_the_reference(index):
    scalars, arrays = CASES[index]
    layer, feature, labels = _heads(scalars, arrays)
    features = keras.Input(feature.shape[1:])
    label_input = acol.labels_input()
    model = keras.Model(
        [features, label_input],
        layer(features, label_input),
    )
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    loss = model.evaluate([feature, labels], labels, verbose=0)
    # evaluate() runs in inference mode: only head A's loss.
    a_only = keras.losses.sparse_categorical_crossentropy(
        labels, arrays["logits"], from_logits=True
    )
    assert loss == pytest.approx(float(np.mean(a_only)), rel=1e-5)
    model(
        [feature, labels], training=True
    )  # adds head B's loss to model.losses
    total = float(np.mean(a_only)) + float(np.asarray(model.losses[0]))
    assert total == pytest.approx(scalars["loss"], rel=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="acol_threshold"):
        has_tf.AcolHeads(4, threshold=2.0)
    with pytest.raises(ValueError, match="num_classes"):
        has_tf.AcolHeads(0)
