"""DDT boxes against PSOL's own code (tests/fixtures/ddt; see
make_golden.py there)."""

import pathlib

import numpy as np
import pytest

from has_tf.postprocess import ddt

GOLDEN = np.load(
    pathlib.Path(__file__).parents[1] / "fixtures" / "ddt" / "golden.npz"
)


@pytest.mark.parametrize("key", ["eight", "two"])
def test_boxes_equal_psols(key):
    features = GOLDEN[f"features_{key}"]
    mean, axis = ddt.ddt_axis(features)
    np.testing.assert_allclose(mean, GOLDEN[f"mean_{key}"], atol=1e-5)
    np.testing.assert_allclose(axis, GOLDEN[f"axis_{key}"], atol=1e-5)
    x, y, w, h = GOLDEN[f"boxes_{key}"].T  # PSOL's [x, y, w, h] / 448.
    np.testing.assert_allclose(
        ddt.ddt_boxes(features),
        np.stack([y, x, y + h, x + w], axis=1),
        rtol=0,
        atol=1e-12,
    )


def test_the_boxes_follow_the_nearest_rule_at_any_side():
    features = GOLDEN["features_eight"]
    # PSOL's 448 is 32 pixels a cell: its boxes are the component's cells.
    x, y, w, h = GOLDEN["boxes_eight"].T * 14
    cells = np.stack([y, x, y + h, x + w], axis=1).round().astype(int)
    # At 100 pixels, pixel d shows cell floor(d * 14 / 100) (OpenCV's
    # nearest rule): the box is the pixels showing the component's cells.
    shown = np.floor(np.arange(100) * 14 / 100)
    want = [
        [
            np.flatnonzero(shown >= c[0])[0],
            np.flatnonzero(shown >= c[1])[0],
            np.flatnonzero(shown < c[2])[-1] + 1,
            np.flatnonzero(shown < c[3])[-1] + 1,
        ]
        for c in cells
    ]
    np.testing.assert_allclose(ddt.ddt_boxes(features, side=100) * 100, want)


def test_no_cell_above_zero_gives_the_whole_image():
    flat = np.ones((2, 14, 14, 8))
    np.testing.assert_array_equal(ddt.ddt_boxes(flat), [[0, 0, 1, 1]] * 2)


def test_bad_features_are_named():
    with pytest.raises(ValueError, match=r"features.shape=\(14, 14, 8\)"):
        ddt.ddt_boxes(np.zeros((14, 14, 8)))
    with pytest.raises(ValueError, match="NaN"):
        ddt.ddt_boxes(np.full((1, 3, 3, 2), np.nan))
