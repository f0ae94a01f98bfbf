"""A figure's spread over seeds (`has_tf.metrics.spread`)."""

import pytest

from has_tf.metrics import spread


def test_mean_sd_min_max_over_the_runs():
    out = spread.spread([0.457, 0.459, 0.458, 0.457, 0.459])
    assert out["mean"] == pytest.approx(0.458)
    assert out["std"] == pytest.approx(0.000894427, rel=1e-5)  # ddof=0
    assert (out["min"], out["max"], out["n"]) == (0.457, 0.459, 5)


def test_the_best_run_is_a_best_of_n():
    runs = [{"seed": s, "map": v} for s, v in ((0, 0.4), (1, 0.6), (2, 0.6))]
    assert spread.best_of(runs, "map") == {
        "seed": 1,
        "figure": "map",
        "value": 0.6,
        "of": 3,
    }


@pytest.mark.parametrize("values", [[], [0.1, float("nan")]])
def test_nothing_to_summarise_is_named(values):
    with pytest.raises(ValueError, match="finite figure"):
        spread.spread(values)
    with pytest.raises(ValueError, match="runs"):
        spread.best_of([], "map")
