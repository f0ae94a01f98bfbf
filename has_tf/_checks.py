"""Argument checks shared by the library's layers (plain Python and NumPy).

Each check is written once here and raises a `ValueError` that names the
argument and repeats the value received. The module imports no TensorFlow,
so the NumPy-only packages (`postprocess`, `metrics`) use it too; checks of
tensors (dtype, rank) stay with the TensorFlow code that owns them.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(value, name: str) -> int:
    """Returns `value` as an int, or raises unless it is an int >= 1."""
    if not _is_int(value) or value < 1:
        raise ValueError(
            f"Expected `{name}` to be an int >= 1. Received: {name}={value!r}"
        )
    return int(value)


def nonnegative_int(value, name: str, meaning: str = "") -> int:
    """Returns `value` as an int, or raises unless it is an int >= 0."""
    if not _is_int(value) or value < 0:
        note = f" ({meaning})" if meaning else ""
        raise ValueError(
            f"Expected `{name}` to be an int >= 0{note}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def probability(value, name: str) -> float:
    """Returns `value` as a float, or raises unless it lies in [0, 1].

    NaN is rejected with the other out-of-range values.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected `{name}` to be a number in [0, 1]. "
            f"Received: {name}={value!r}"
        ) from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(
            f"Expected `{name}` in [0, 1]. Received: {name}={value!r}"
        )
    return number


def optional_seed(seed):
    """Returns `seed` unless it is neither None nor an int (bools refused)."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
    ):
        raise ValueError(
            f"Expected `seed` to be None or an int. Received: seed={seed!r}"
        )
    return seed


def choice(value, name: str, choices) -> None:
    """Raises unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"Expected `{name}` in {tuple(choices)}. Received: {name}={value!r}"
        )


def patch_sizes(sizes) -> tuple[int, ...]:
    """Returns Hide-and-Seek patch sizes as a non-empty tuple of ints >= 0.

    A single int is one size; 0 means "hide nothing".
    """
    if _is_int(sizes):
        sizes = (sizes,)
    try:
        values = tuple(sizes)
    except TypeError:
        raise ValueError(
            "Expected `patch_sizes` to be an int or a sequence of ints. "
            f"Received: patch_sizes={sizes!r}"
        ) from None
    if not values:
        raise ValueError(
            f"Expected at least one patch size. Received: patch_sizes={sizes!r}"
        )
    for size in values:
        if not _is_int(size):
            raise ValueError(
                "Expected every patch size to be a Python int. "
                f"Received: patch_sizes={sizes!r}"
            )
        if size < 0:
            raise ValueError(
                "Expected patch sizes >= 0 (0 hides nothing). "
                f"Received: patch_sizes={sizes!r}"
            )
    return tuple(int(s) for s in values)


def thresholds(values) -> np.ndarray:
    """Returns CAM thresholds (fractions in [0, 1]) as float64 `[K]`.

    A single number is one threshold.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        array = array[None]
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            "Expected `thresholds` to be a number or a non-empty 1-D list. "
            f"Received: thresholds of shape {np.shape(values)}"
        )
    if not np.isfinite(array).all() or (array < 0).any() or (array > 1).any():
        raise ValueError(
            "Expected thresholds (fractions) in [0, 1]. Received: "
            f"min={float(array.min())!r}, max={float(array.max())!r}"
        )
    return array


_GRPC_ADDRESS = re.compile(
    r"^grpc://(?P<host>[A-Za-z0-9._\-]+|\[[0-9a-fA-F:.]+\])"
    r":(?P<port>[0-9]{1,5})$"
)


def grpc_address(address, name: str) -> tuple[str, int]:
    """`(host, port)` of a `grpc://host:port` address (a flag's value).

    Raises:
      ValueError: `address` is not of that form or its port is outside
        1-65535; the message names `--name` and the value received.
    """
    match = _GRPC_ADDRESS.match(address or "")
    port = int(match["port"]) if match else 0
    if not match or not 0 < port < 65536:
        raise ValueError(
            f"Expected --{name} of the form grpc://host:port (a tf.data "
            f"service dispatcher). Received: --{name}={address!r}"
        )
    return match["host"].strip("[]"), port


@contextlib.contextmanager
def json_record(path, what: str):
    """Reading a JSON record `what` (e.g. "the JSON python -m has_tf.seeds
    writes") from `path`: within it, an error its structure causes (a
    missing key, a wrong type, a value that is no number) becomes a
    `ValueError` naming `path`, what it should be and the fault. An error
    that already names `path` passes as it is."""
    try:
        yield
    except (
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        ValueError,
    ) as error:
        text = str(error)
        if isinstance(error, ValueError) and text.startswith(str(path)):
            raise
        fault = (
            f"no {text} field"
            if isinstance(error, KeyError)
            else f"{type(error).__name__}: {text}"
        )
        raise ValueError(f"{path}: expected {what} ({fault}).") from None


def of_type(value, kind, what: str):
    """`value` if it is a `kind`, else a TypeError naming `what` (for
    `json_record`)."""
    if not isinstance(value, kind):
        names = getattr(kind, "__name__", None) or " or ".join(
            k.__name__ for k in kind
        )
        raise TypeError(f"{what} is a {type(value).__name__}, not a {names}")
    return value
