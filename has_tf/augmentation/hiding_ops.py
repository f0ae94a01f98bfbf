"""Hide-and-Seek masks in `keras.ops`: `hiding`'s rules, any backend.

`augmentation.hiding` writes the masks as TensorFlow ops (tf.data, XLA,
stateless seeds). This module writes the same rules with `keras.ops` and
`keras.random`, so the hiding layers run inside models under JAX and
PyTorch too:

- images: per image one patch size S drawn uniformly from the sizes (0
  hides nothing), an S x S grid anchored at the top-left corner (edge cells
  cut short), each cell hidden with probability `hide_prob`, one mask for
  all channels;
- sequences: segments of `segment_size` steps (the last one cut short),
  each hidden with probability `hide_prob`.

The draws are split from the rule (`draw_patches` / `patch_mask_from`), so
that a layer draws in `get_random_transformation` with its
`keras.random.SeedGenerator` and applies in `transform_*`. One uniform
number is drawn per pixel (per step) and a cell reads the number at its
top-left pixel: vectorised, static shapes, one gather. The masks follow the
same distribution as `augmentation.hiding`'s; the random streams differ (each
backend has its own generator), so equal seeds give equal masks only
within one backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

__all__ = [
    "draw_patches",
    "draw_segments",
    "hide_with",
    "patch_mask_from",
    "segment_mask_from",
]


def _static(value, name):
    if value is None:
        raise ValueError(
            f"Expected a static (known when the model is built) {name}. "
            f"Received: {name}=None"
        )
    return int(value)


def draw_patches(shape, num_sizes: int, seed) -> dict:
    """The randomness of one image batch: size choices and cell numbers.

    Args:
      shape: `(B, H, W, ...)` of the batch, static ints.
      num_sizes: how many patch sizes to choose from (>= 1).
      seed: a `keras.random.SeedGenerator` or an int.

    Returns:
      `{"choice": int32 [B] in [0, num_sizes), "uniform": float32 [B, H, W]
      in [0, 1)}`.
    """
    batch, height, width = (
        _static(shape[0], "batch size"),
        _static(shape[1], "height"),
        _static(shape[2], "width"),
    )
    choice = keras.random.randint((batch,), 0, num_sizes, seed=seed)
    uniform = keras.random.uniform((batch, height, width), seed=seed)
    return {"choice": ops.cast(choice, "int32"), "uniform": uniform}


def patch_mask_from(draws: dict, patch_sizes: Sequence[int], hide_prob: float):
    """The hide mask from `draw_patches`' draws: bool `[B, H, W]`.

    Pixel (y, x) of image b is hidden when the number drawn at its cell's
    top-left pixel, `uniform[b, S*(y//S), S*(x//S)]`, is below `hide_prob`,
    S = `patch_sizes[choice[b]]`; S == 0 hides nothing.
    """
    uniform = draws["uniform"]
    batch, height, width = ops.shape(uniform)
    sizes = ops.convert_to_tensor(list(patch_sizes), "int32")
    size = ops.take(sizes, draws["choice"])  # [B]
    safe = ops.maximum(size, 1)[:, None]
    rows = ops.arange(height, dtype="int32")[None, :]
    cols = ops.arange(width, dtype="int32")[None, :]
    top = (rows // safe) * safe  # [B, H]
    left = (cols // safe) * safe  # [B, W]
    index = top[:, :, None] * width + left[:, None, :]  # [B, H, W]
    corner = ops.take_along_axis(
        ops.reshape(uniform, (batch, height * width)),
        ops.reshape(index, (batch, height * width)),
        axis=1,
    )
    hidden = ops.reshape(corner, (batch, height, width)) < hide_prob
    return ops.logical_and(hidden, (size > 0)[:, None, None])


def draw_segments(shape, seed) -> dict:
    """The randomness of one sequence batch: `{"uniform": float32 [B, T]}`."""
    batch, steps = _static(shape[0], "batch size"), _static(shape[1], "steps")
    return {"uniform": keras.random.uniform((batch, steps), seed=seed)}


def segment_mask_from(draws: dict, segment_size: int, hide_prob: float):
    """The hide mask from `draw_segments`' draws: bool `[B, T]`.

    Step t is hidden when the number drawn at its segment's first step,
    `uniform[b, segment_size * (t // segment_size)]`, is below `hide_prob`.
    """
    uniform = draws["uniform"]
    steps = ops.shape(uniform)[1]
    first = (ops.arange(steps, dtype="int32") // segment_size) * segment_size
    return ops.take(uniform, first, axis=1) < hide_prob


def hide_with(x, mask, fill_value):
    """`x` with masked positions set to `fill_value`, in `x`'s dtype.

    As in `augmentation.hiding`, integer inputs take the fill rounded to the
    nearest integer and saturated to the dtype's range (a mean of 123.7
    fills uint8 images with 124).

    Args:
      x: `[B, ..., C]`, any real dtype.
      mask: bool, `x`'s shape without the last axis.
      fill_value: a Python number or one per channel (`[C]`), finite.
    """
    dtype = keras.backend.standardize_dtype(x.dtype)
    fill = np.asarray(fill_value, np.float64)
    if np.issubdtype(np.dtype(dtype), np.integer):
        limits = np.iinfo(dtype)
        fill = np.clip(np.round(fill), limits.min, limits.max)
    fill = ops.cast(ops.convert_to_tensor(fill.astype(np.float32)), dtype)
    return ops.where(ops.expand_dims(mask, -1), fill, x)
