"""Search spaces of `python -m has_tf.search`: a JSON object from
training flag names to one distribution each (`read_space`), and the
trials drawn from it (`draw_trials`: they depend only on the seed and the
space). Plain Python and NumPy."""

from __future__ import annotations

import json
import math

import numpy as np

from has_tf.config.flags import flag_fields
from has_tf.config.training import TrainConfig

__all__ = ["DISTRIBUTIONS", "draw_trials", "read_space"]

DISTRIBUTIONS = ("log_uniform", "uniform", "int_uniform", "choice")


def read_space(path: str) -> dict:
    """Reads and checks a search space file (module docstring).

    Returns:
      `{flag name: (distribution, argument)}`.

    Raises:
      ValueError: an unreadable file, an unknown flag or distribution, or
        bad bounds, each named.
    """
    try:
        with open(path) as f:
            raw = json.load(f)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--space={path}: {error}") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(
            f"--space={path}: expected a JSON object of flag name -> "
            f"distribution. Received: {str(raw)[:100]}"
        )
    known = {f.name for f in flag_fields(TrainConfig)}
    space, problems = {}, []
    for name, spec in raw.items():
        if name not in known:
            problems.append(f"{name}: not a training flag")
            continue
        if not isinstance(spec, dict) or len(spec) != 1:
            problems.append(
                f"{name}: expected one of {DISTRIBUTIONS} as the only key. "
                f"Received: {spec!r}"
            )
            continue
        ((kind, argument),) = spec.items()
        if kind not in DISTRIBUTIONS:
            problems.append(
                f"{name}: unknown distribution {kind!r}; expected one of "
                f"{DISTRIBUTIONS}"
            )
        elif kind == "choice":
            if not isinstance(argument, list) or not argument:
                problems.append(
                    f"{name}: choice takes a non-empty list. Received: "
                    f"{argument!r}"
                )
        elif not (
            isinstance(argument, list)
            and len(argument) == 2
            and all(
                isinstance(a, (int, float)) and not isinstance(a, bool)
                for a in argument
            )
            and argument[0] < argument[1]
            and (kind != "log_uniform" or argument[0] > 0)
            and (
                kind != "int_uniform"
                or all(float(a).is_integer() for a in argument)
            )
        ):
            problems.append(
                f"{name}: {kind} takes [low, high] with low < high"
                + (" and low > 0" if kind == "log_uniform" else "")
                + (" (integers)" if kind == "int_uniform" else "")
                + f". Received: {argument!r}"
            )
        space[name] = (kind, argument)
    if problems:
        raise ValueError(f"--space={path}:\n  " + "\n  ".join(problems))
    return space


def draw_trials(space: dict, trials: int, seed: int) -> list:
    """`trials` dicts of flag values, drawn in a fixed order.

    Each trial draws every flag in sorted name order from one generator
    seeded by `seed`, so trial k depends only on the space and the seed.
    """
    rng = np.random.default_rng(seed)
    drawn = []
    for _ in range(trials):
        values = {}
        for name in sorted(space):
            kind, argument = space[name]
            if kind == "choice":
                values[name] = argument[int(rng.integers(len(argument)))]
            elif kind == "uniform":
                values[name] = float(rng.uniform(*argument))
            elif kind == "log_uniform":
                low, high = (math.log(a) for a in argument)
                values[name] = float(math.exp(rng.uniform(low, high)))
            else:
                values[name] = int(rng.integers(argument[0], argument[1] + 1))
        drawn.append(values)
    return drawn
