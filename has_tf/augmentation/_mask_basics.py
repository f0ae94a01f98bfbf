"""The groundwork of `hiding`'s masks: argument checks, seeds, fill
values, the XLA test and the integer draws (Philox) every mask is made
from. Private to `has_tf.augmentation`; `hiding` re-exports what it uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np
import tensorflow as tf

from has_tf import _checks

# TensorFlow offers no public way to ask whether XLA compiles the function
# being traced; its internals are read where present (see _in_xla_context).
try:
    from tensorflow.python.framework import ops as _tf_ops
    from tensorflow.python.ops import control_flow_util as _control_flow_util
except ImportError:  # pragma: no cover - a TensorFlow that moved them.
    _tf_ops = _control_flow_util = None

SeedLike = Union[int, Sequence[int], tf.Tensor, None]
FillLike = Union[float, int, Sequence[float], np.ndarray, tf.Tensor]


_INT64_MAX = np.iinfo(np.int64).max
# A fixed algorithm: "auto_select" may pick another one under XLA or on
# another device, and then the same seed would give another mask.
_ALG = "philox"


# --------------------------------------------------------------------------
# Argument checks (Python, run once at trace time).
# --------------------------------------------------------------------------


def _check_hide_prob(hide_prob):
    """Checks `hide_prob` lies in [0, 1] (NaN is outside).

    A Python number is checked now; a tensor when the op runs (an
    `InvalidArgumentError`), except under XLA, which compiles no checks.
    """
    if isinstance(hide_prob, (tf.Tensor, tf.Variable)):
        value = tf.cast(hide_prob, tf.float32)
        if _in_xla_context():
            return value
        message = "Expected `hide_prob` in [0, 1]."
        checks = [
            tf.debugging.assert_greater_equal(value, 0.0, message=message),
            tf.debugging.assert_less_equal(value, 1.0, message=message),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(value)
    return _checks.probability(hide_prob, "hide_prob")


def _check_real_dtype(x: tf.Tensor, name: str) -> None:
    dtype = x.dtype
    if dtype == tf.bool or not (dtype.is_integer or dtype.is_floating):
        raise ValueError(
            f"Expected `{name}` of a real numeric dtype (an integer or "
            f"floating type). Received: {name}.dtype={dtype.name}"
        )


def _check_rank(x: tf.Tensor, name: str, ranks: tuple[int, int], layout):
    rank = x.shape.rank
    if rank not in ranks:
        raise ValueError(
            f"Expected `{name}` of rank {ranks[0]} {layout[0]} or rank "
            f"{ranks[1]} {layout[1]}. Received: {name}.shape={x.shape}"
        )


def _as_seed(seed: SeedLike) -> tf.Tensor:
    """Returns a stateless-RNG seed: an int64 tensor of shape [2]."""
    if seed is None:
        return tf.random.uniform([2], maxval=_INT64_MAX, dtype=tf.int64)
    if isinstance(seed, (tf.Tensor, tf.Variable, np.ndarray)):
        tensor = tf.convert_to_tensor(seed)
        if not tensor.dtype.is_integer or tensor.shape != (2,):
            raise ValueError(
                "Expected a seed tensor of an integer dtype and shape [2]. "
                f"Received: seed.dtype={tensor.dtype.name}, "
                f"seed.shape={tensor.shape}"
            )
        return tf.cast(tensor, tf.int64)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return tf.constant([int(seed), 0], tf.int64)
    if (
        isinstance(seed, (tuple, list))
        and len(seed) == 2
        and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool)
            for s in seed
        )
    ):
        return tf.constant([int(s) for s in seed], tf.int64)
    raise ValueError(
        "Expected `seed` to be None, an int, a pair of ints or an integer "
        f"tensor of shape [2]. Received: seed={seed!r}"
    )


def _fill_vector(fill_value: FillLike, channels, dtype, name="fill_value"):
    """Returns the fill as a `[channels]` tensor of `dtype`.

    Integer targets round the fill to the nearest integer and saturate it to
    the dtype's range (a mean of 123.7 fills uint8 images with 124).
    """
    fill = tf.convert_to_tensor(fill_value)
    if fill.dtype == tf.bool or not (
        fill.dtype.is_integer or fill.dtype.is_floating
    ):
        raise ValueError(
            f"Expected `{name}` to be numeric. Received: {name}={fill_value!r}"
        )
    static = tf.get_static_value(fill)
    if static is not None and not np.isfinite(np.asarray(static)).all():
        raise ValueError(
            f"Expected a finite `{name}`. Received: {name}="
            f"{_short_repr(fill_value)}"
        )
    if fill.shape.rank not in (0, 1) or (
        fill.shape.rank == 1
        and isinstance(channels, int)
        and fill.shape[0] is not None
        and fill.shape[0] not in (1, channels)
    ):
        raise ValueError(
            f"Expected `{name}` to be a scalar or to hold one value per "
            f"channel ({channels}). Received: {name} of shape {fill.shape}"
            f" ({_short_repr(fill_value)})"
        )
    if dtype.is_integer:
        if fill.dtype.is_floating:
            fill = tf.round(fill)
        fill = tf.saturate_cast(fill, dtype)
    else:
        cast = tf.cast(fill, dtype)
        before, after = tf.get_static_value(fill), tf.get_static_value(cast)
        if (
            before is not None
            and np.all(np.isfinite(before))
            and not np.all(np.isfinite(np.asarray(after, np.float64)))
        ):
            raise ValueError(
                f"Expected `{name}` to fit {dtype.name} (it overflows to "
                f"inf). Received: {name}={_short_repr(fill_value)}"
            )
        fill = cast
    return tf.broadcast_to(tf.reshape(fill, [-1]), [channels])


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _static_zero(fill_value) -> bool:
    """True when `fill_value` is known at trace time to be all zeros."""
    if isinstance(fill_value, (tf.Tensor, tf.Variable)):
        constant = tf.get_static_value(fill_value)
        return constant is not None and not np.any(constant)
    try:
        return not np.any(np.asarray(fill_value, dtype=np.float64))
    except (TypeError, ValueError):
        return False


def _in_xla_context() -> bool:
    """True while tracing a function that XLA compiles (`jit_compile=True`).

    XLA fuses a broadcasting select into one loop, while TensorFlow's own
    kernels run `tf.where` a value at a time; the integer path picks its
    formulation by this. False if TensorFlow's internals have moved.
    """
    if _control_flow_util is None:
        return False
    try:
        graph = _tf_ops.get_default_graph()
        return bool(_control_flow_util.GraphOrParentsInXlaContext(graph))
    except AttributeError:
        return False


def _dim(x: tf.Tensor, axis: int):
    """The static size of `axis` if known, else a scalar int32 tensor."""
    static = x.shape[axis]
    return static if static is not None else tf.shape(x)[axis]


# --------------------------------------------------------------------------
# Images.
# --------------------------------------------------------------------------


def _random_bits(shape, seed) -> tf.Tensor:
    """Stateless raw 32-bit draws: int64 `shape`, values in [0, 2**32).

    Integer draws, not float ones: TensorFlow's float uniforms differ
    between XLA and its own kernels for one seed, integer draws do not, so
    a mask is the same everywhere. One call per mask keeps the graph short.
    """
    bits = tf.random.stateless_uniform(
        shape, seed=seed, minval=None, maxval=None, dtype=tf.uint32, alg=_ALG
    )
    return tf.cast(bits, tf.int64)


def _below(bits: tf.Tensor, prob) -> tf.Tensor:
    """True with probability `prob` for uniform 32-bit `bits`."""
    threshold = tf.cast(
        tf.math.floor(tf.cast(prob, tf.float64) * 2.0**32), tf.int64
    )
    return bits < threshold
