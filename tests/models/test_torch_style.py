"""Tests for has_tf.models.torch_style: PyTorch's padding and pooling."""

import keras
import numpy as np
import pytest

from has_tf.models import torch_style
from tests.models import torch_reference


def _run(build, x):
    inputs = keras.Input(x.shape[1:])
    return keras.Model(inputs, build(inputs))(x).numpy()


@pytest.mark.parametrize("size", [7, 8, 9, 28, 54, 110, 111])
@pytest.mark.parametrize(
    "kernel, stride, padding, ceil",
    [
        (3, 2, 1, True),
        (3, 2, 0, True),
        (3, 2, 1, False),
        (2, 2, 0, False),
        (3, 1, 1, False),
    ],
)
def test_max_pool_equals_pytorchs(size, kernel, stride, padding, ceil):
    x = np.random.default_rng(size).uniform(0, 1, (1, size, size + 1, 2))
    x = x.astype("f4")
    ours = _run(
        lambda t: torch_style.max_pool(
            t, kernel, stride, "p", padding=padding, ceil_mode=ceil
        ),
        x,
    )
    ref = torch_reference.max_pool2d(
        x.transpose(0, 3, 1, 2), kernel, stride, padding, ceil
    ).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(ours, ref)
    out, _ = torch_style.ceil_pool_padding(size, kernel, stride, padding, ceil)
    assert ours.shape[1] == out


def test_average_pool_counts_the_padding():
    x = np.ones((1, 4, 4, 1), "f4")
    ours = _run(lambda t: torch_style.avg_pool_include_pad(t, 3, "a", 1), x)
    assert ours[0, 0, 0, 0] == pytest.approx(4 / 9)  # a corner: 4 of 9
    ref = torch_reference.avg_pool2d(x.transpose(0, 3, 1, 2), 3, 1, 1)
    np.testing.assert_allclose(ours, ref.transpose(0, 2, 3, 1), rtol=1e-6)


@pytest.mark.parametrize(
    "stride, padding, kernel", [(2, 3, 7), (2, 1, 3), (1, (0, 3), (1, 7))]
)
def test_conv_pads_symmetrically_as_pytorch(stride, padding, kernel):
    x = np.random.default_rng(0).normal(size=(1, 10, 11, 2)).astype("f4")
    inputs = keras.Input(x.shape[1:])
    out = torch_style.conv(
        inputs, 3, kernel, "c", strides=stride, padding=padding, use_bias=False
    )
    model = keras.Model(inputs, out)
    kernel_hwio = model.get_layer("c").kernel.numpy()
    ref = torch_reference.conv2d(
        x.transpose(0, 3, 1, 2),
        kernel_hwio.transpose(3, 2, 0, 1),
        stride=stride,
        padding=padding,
    ).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(model(x).numpy(), ref, rtol=1e-5, atol=1e-5)
