"""A figure's spread over seeds: what `python -m has_tf.seeds` records and
`python -m has_tf.table` prints.

The field reports one number per method, often its best checkpoint or its
best seed (DELU's issues 4 and 5: seeds 0-4 give 45.7-45.9 average mAP
against the paper's 46.4); a figure over seeds is read here as its mean,
standard deviation (NumPy's, over the runs: `ddof=0`), minimum and
maximum, and the best seed is labelled a best-of-N, never the result.

Plain Python and NumPy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["best_of", "spread"]


def spread(values) -> dict:
    """`{"mean", "std", "min", "max", "n"}` of a figure over runs.

    Args:
      values: the figure of each finished run (floats, at least one).

    Raises:
      ValueError: no value, or one that is not finite.
    """
    values = np.asarray(list(values), float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(
            "Expected at least one finite figure to summarise. Received: "
            f"{values.tolist()}"
        )
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "n": int(values.size),
    }


def best_of(runs: list, figure: str) -> dict:
    """The run with the highest `figure` (the first of equals):
    `{"seed", "figure", "value", "of"}`, `of` the runs compared: a
    best-of-N, to label as such.

    Args:
      runs: dicts with "seed" and `figure`.
    """
    if not runs:
        raise ValueError(f"Expected runs with {figure!r}. Received: none")
    best = max(runs, key=lambda run: run[figure])
    return {
        "seed": best["seed"],
        "figure": figure,
        "value": float(best[figure]),
        "of": len(runs),
    }
