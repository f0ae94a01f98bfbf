"""PyTorch's padding and pooling rules as Keras layers.

Weights trained in PyTorch (torchvision's ImageNet networks, the backbones
of wsolevaluation) only reproduce their outputs when every layer pads and
pools as PyTorch does, and Keras's "same" padding does not always agree:

- a strided conv with `padding=p` pads `p` on every side; Keras's "same"
  pads the odd pixel on the bottom/right only (7x7/2 on 224: PyTorch 3+3,
  Keras 2+3), which shifts every later feature by a pixel;
- `ceil_mode=True` pooling adds a last window that may run past the input
  (not counted in the maximum); Keras has no ceil mode;
- `avg_pool2d(3, stride=1, padding=1)` counts the zero padding in the
  mean (`count_include_pad=True`, its default); Keras's "same" average
  pooling leaves it out.

The helpers here build explicit `ZeroPadding2D` + "valid" layers where the
rules differ and Keras's own layers where they agree (stride 1 with
symmetric padding). Max pooling pads with zeros, which equals PyTorch's
minus infinity only on non-negative inputs: every max pool in these
networks follows a ReLU. All layers are channels-last.
"""

from __future__ import annotations

import math

from keras import initializers
from keras import layers

__all__ = [
    "avg_pool_include_pad",
    "batch_norm",
    "ceil_pool_padding",
    "conv",
    "he_fan_out_init",
    "linear_init",
    "max_pool",
]


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def conv(
    x,
    filters,
    kernel,
    name,
    strides=1,
    padding=0,
    use_bias=True,
    kernel_initializer="glorot_uniform",
):
    """`nn.Conv2d(..., stride=strides, padding=padding)` in channels-last.

    Args:
      x: `[B, H, W, C]`.
      filters: output channels.
      kernel: int or `(kh, kw)`.
      name: the conv layer's name (its padding layer is `name + '_pad'`).
      strides: int.
      padding: int or `(ph, pw)`, PyTorch's symmetric zero padding.
      use_bias: whether the conv has a bias.
      kernel_initializer: Keras initializer of the kernel.

    Returns:
      `[B, H', W', filters]` with H' = floor((H + 2 ph - kh) / s) + 1.
    """
    kh, kw = _pair(kernel)
    ph, pw = _pair(padding)
    same = strides == 1 and (kh - 1, kw - 1) == (2 * ph, 2 * pw)
    if not same and (ph or pw):
        x = layers.ZeroPadding2D(((ph, ph), (pw, pw)), name=f"{name}_pad")(x)
    return layers.Conv2D(
        filters,
        (kh, kw),
        strides=strides,
        padding="same" if same else "valid",
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        name=name,
    )(x)


def ceil_pool_padding(size, kernel, stride, padding, ceil_mode):
    """PyTorch's pooling output size and the padding that gives it.

    Args:
      size: input side (int).
      kernel, stride, padding: the pooling's (ints).
      ceil_mode: PyTorch's `ceil_mode`.

    Returns:
      `(out, (before, after))`: the output side and the padding a "valid"
      pooling needs on each side to produce it (`after` > `padding` when
      ceil mode adds a window that runs past the input).

    >>> ceil_pool_padding(110, 3, 2, 1, True)
    (56, (1, 2))
    >>> ceil_pool_padding(112, 3, 2, 1, False)
    (56, (1, 0))
    """
    span = size + 2 * padding - kernel
    out = (math.ceil if ceil_mode else math.floor)(span / stride) + 1
    # PyTorch drops a last window that would start in the right padding.
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    needed = (out - 1) * stride + kernel - size - padding
    return out, (padding, max(needed, 0))


def max_pool(x, kernel, stride, name, padding=0, ceil_mode=False):
    """`F.max_pool2d(kernel, stride, padding, ceil_mode)` on inputs >= 0.

    Ceil mode needs a static height and width (its extra padding depends
    on the size).

    Raises:
      ValueError: ceil mode on an unknown height or width.
    """
    if stride == 1 and 2 * padding == kernel - 1:
        return layers.MaxPooling2D(kernel, 1, padding="same", name=name)(x)
    pads = [(padding, padding), (padding, padding)]
    if ceil_mode:
        for axis, size in enumerate(x.shape[1:3]):
            if size is None:
                raise ValueError(
                    f"{name}: PyTorch's ceil_mode pooling needs a static "
                    f"input height and width. Received: input shape "
                    f"{x.shape}"
                )
            pads[axis] = ceil_pool_padding(
                size, kernel, stride, padding, ceil_mode
            )[1]
    if any(any(p) for p in pads):
        x = layers.ZeroPadding2D(tuple(pads), name=f"{name}_pad")(x)
    return layers.MaxPooling2D(kernel, stride, padding="valid", name=name)(x)


def avg_pool_include_pad(x, kernel, name, padding):
    """`F.avg_pool2d(kernel, stride=1, padding)`: zeros count in the mean."""
    x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    return layers.AveragePooling2D(kernel, 1, padding="valid", name=name)(x)


def linear_init():
    """wsolevaluation's classifier init: N(0, 0.01) weights (zero bias)."""
    return initializers.RandomNormal(0.0, 0.01)


def he_fan_out_init():
    """`kaiming_normal_(mode="fan_out", nonlinearity="relu")`."""
    return initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def batch_norm(x, name, epsilon):
    """`nn.BatchNorm2d(eps=epsilon)` with PyTorch's momentum 0.1.

    PyTorch's `momentum=0.1` is the weight of the new batch's statistics;
    Keras's `momentum` is that of the old running value, so 0.9.
    """
    return layers.BatchNormalization(momentum=0.9, epsilon=epsilon, name=name)(
        x
    )
