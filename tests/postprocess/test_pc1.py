"""PC1 maps against CAM Back Again's own code (tests/fixtures/pc1; see
make_golden.py there)."""

import pathlib

import numpy as np
import pytest

from has_tf.postprocess import pc1

GOLDEN = np.load(
    pathlib.Path(__file__).parents[1] / "fixtures" / "pc1" / "golden.npz"
)


@pytest.mark.parametrize("key", ["large", "small"])
def test_maps_equal_the_reference(key):
    features = GOLDEN[f"features_{key}"].transpose(0, 2, 3, 1)  # NHWC
    weights = GOLDEN[f"weights_{key}"][GOLDEN[f"targets_{key}"]]
    expected = GOLDEN[f"pc1_{key}"]
    turned = 0
    for f, w, want in zip(features, weights, expected):
        got = pc1.pc1_map(f, w)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
        turned += int(got.min() >= 0)
    if key == "small":  # The fixtures hold maps turned over and not.
        assert 0 < turned < len(expected)


def test_the_class_enters_by_its_signs_only():
    features = GOLDEN["features_small"][0].transpose(1, 2, 0)
    weights = GOLDEN["weights_small"][0]
    scaled = np.abs(np.random.default_rng(0).normal(size=weights.shape)) + 0.1
    np.testing.assert_allclose(
        pc1.pc1_map(features, weights),
        pc1.pc1_map(features, np.sign(weights) * scaled),
        atol=1e-6,
    )
    # Without a class: every channel as it is.
    np.testing.assert_allclose(
        pc1.pc1_map(features),
        pc1.pc1_map(features, np.ones(features.shape[-1])),
    )


def test_a_constant_channel_counts_as_zero():
    features = GOLDEN["features_small"][1].transpose(1, 2, 0).copy()
    features[..., 3] = 2.5
    out = pc1.pc1_map(features)
    assert np.isfinite(out).all() and out.shape == (7, 7)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"features.shape=\(2, 7, 8\)"):
        pc1.pc1_map(np.zeros((2, 7, 8)))
    with pytest.raises(ValueError, match=r"weights.shape=\(3,\)"):
        pc1.pc1_map(np.zeros((7, 7, 4)), np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        pc1.pc1_map(np.full((7, 7, 4), np.nan))
