"""ADL: equal to wsolevaluation's layer on its own draws; the Keras layer."""

import keras
import numpy as np
import pytest

import has_tf
from has_tf.models import adl
from tests import wsol_golden

CASES = wsol_golden.cases("adl")


@pytest.mark.parametrize("index", range(len(CASES)))
def test_equal_to_the_reference_given_its_draw(index):
    scalars, arrays = CASES[index]
    out = adl.adl(
        arrays["inputs"],
        np.float32(scalars["draw"]),
        scalars["drop_rate"],
        scalars["threshold"],
    )
    np.testing.assert_allclose(
        np.asarray(out), arrays["outputs"], rtol=1e-6, atol=1e-6
    )


def test_the_cases_cover_both_maps():
    picked = {
        np.floor(np.float32(s["draw"]) + np.float32(s["drop_rate"]))
        for s, _ in CASES
    }
    assert picked == {0.0, 1.0}


def test_layer_identity_at_inference_and_seeded_in_training():
    _, arrays = CASES[0]
    x = arrays["inputs"]
    layer = has_tf.ADL(0.75, 0.8, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(x)), arrays["eval_outputs"])
    outs = [np.asarray(layer(x, training=True)) for _ in range(40)]
    drop = np.asarray(adl.adl(x, np.float32(0.9), 0.75, 0.8))
    importance = np.asarray(adl.adl(x, np.float32(0.0), 0.75, 0.8))
    kinds = [
        "drop" if np.array_equal(o, drop) else "importance"
        for o in outs
        if np.array_equal(o, drop) or np.array_equal(o, importance)
    ]
    assert len(kinds) == 40
    assert 20 <= kinds.count("drop") <= 38  # drop_rate 0.75
    again = has_tf.ADL(0.75, 0.8, seed=3)
    np.testing.assert_array_equal(np.asarray(again(x, training=True)), outs[0])


def test_layer_in_a_model_saves_and_loads(tmp_path):
    inputs = keras.Input((6, 6, 4))
    model = keras.Model(inputs, has_tf.ADL(0.5, 0.7, name="adl")(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    layer = loaded.get_layer("adl")
    assert (layer.drop_rate, layer.threshold) == (0.5, 0.7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(drop_rate=1.5), "adl_drop_rate"),
        (dict(threshold=-0.1), "adl_threshold"),
        (dict(seed="x"), "seed"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        has_tf.ADL(**kwargs)
