"""GoogLeNet-GAP: Inception-v1 up to inception_4e with a CAM head.

Inception-v1 (Szegedy et al., CVPR 2015, Table 1 filter counts) up to
inception_4e (14x14x832 at 224), no auxiliary heads, then one new
3x3/s1/same conv of 1024 channels, global average pooling and a dense
classifier (Zhou et al., CVPR 2016; Singh & Lee, ICCV 2017). Batch norm
after every conv by default; without it the convs carry biases. The LRN
layers of the original are left out (batch norm took their place in later
Inception versions).
"""

from __future__ import annotations

import math

import keras
from keras import layers

from has_tf.models import common
from has_tf.models import table

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION_FILTERS = {
    "inception_3a": (64, 96, 128, 16, 32, 32),
    "inception_3b": (128, 128, 192, 32, 96, 64),
    "inception_4a": (192, 96, 208, 16, 48, 64),
    "inception_4b": (160, 112, 224, 24, 64, 64),
    "inception_4c": (128, 128, 256, 24, 64, 64),
    "inception_4d": (112, 144, 288, 32, 64, 64),
    "inception_4e": (256, 160, 320, 32, 128, 128),
}

# The smallest input that leaves a 2x2 CAM: one CAM cell localises nothing.
_MIN_CAM_SIDE = 2


def _inception(x, name, filters, batch_norm):
    f1, f3r, f3, f5r, f5, fp = filters
    b1 = common.conv_block(x, f1, 1, f"{name}_1x1", batch_norm=batch_norm)
    b3 = common.conv_block(
        x, f3r, 1, f"{name}_3x3_reduce", batch_norm=batch_norm
    )
    b3 = common.conv_block(b3, f3, 3, f"{name}_3x3", batch_norm=batch_norm)
    b5 = common.conv_block(
        x, f5r, 1, f"{name}_5x5_reduce", batch_norm=batch_norm
    )
    b5 = common.conv_block(b5, f5, 5, f"{name}_5x5", batch_norm=batch_norm)
    bp = layers.MaxPooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = common.conv_block(
        bp, fp, 1, f"{name}_pool_proj", batch_norm=batch_norm
    )
    return layers.Concatenate(name=f"{name}_output")([b1, b3, b5, bp])


def googlenet_gap(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    batch_norm: bool = True,
    pooling: str = "avg",
    dropout_rate: float = 0.0,
    dropout_at_test: bool = False,
    model_input: common.ModelInput | None = None,
    name: str = "googlenet_gap",
) -> keras.Model:
    """Builds GoogLeNet-GAP.

    Layers: `conv1` (64, 7x7/2) - `pool1` - `conv2_reduce` (64, 1x1) -
    `conv2` (192, 3x3) - `pool2` - `inception_3a`, `inception_3b` - `pool3`
    - `inception_4a` .. `inception_4e` - `cam_conv` (1024, 3x3) - `gap` -
    [`dropout`] - `logits`. "same" padding throughout, so the CAM side is
    ceil(input side / 16): 14x14 at 224.

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(height, width, 3)`, channels last; at least 17x17 (a
        2x2 CAM). Inputs are normalised float images.
      batch_norm: BN after every conv (the paper's recipe) or plain convs
        with biases.
      pooling: "avg" (GAP) or "max" (the GMP ablation).
      dropout_rate: dropout before the classifier; 0 disables it.
      dropout_at_test: keep that dropout active at inference (the paper's
        "dropout-traintest" baseline).
      model_input: how the model takes its images and hides them in
        training (`has_tf.models.ModelInput`: normalisation, input hiding);
        None: float images already normalised, no hiding.
      name: the model's name.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`.

    Raises:
      ValueError: bad `num_classes`, `pooling`, `dropout_rate`,
        `input_shape` or an input smaller than the minimum.
    """
    shape = common.check_common(
        "googlenet_gap", num_classes, input_shape, pooling, dropout_rate
    )
    common.check_min_size(
        "googlenet_gap",
        shape,
        lambda n: math.ceil(n / 16) - _MIN_CAM_SIDE + 1,
        what=f"a {_MIN_CAM_SIDE}x{_MIN_CAM_SIDE} CAM",
    )
    bn = batch_norm
    model_input = common.check_model_input("googlenet_gap", model_input)
    inputs, x = common.input_layers(shape, model_input)
    x = common.conv_block(x, 64, 7, "conv1", strides=2, batch_norm=bn)
    x = layers.MaxPooling2D(3, 2, padding="same", name="pool1")(x)
    x = common.conv_block(x, 64, 1, "conv2_reduce", batch_norm=bn)
    x = common.conv_block(x, 192, 3, "conv2", batch_norm=bn)
    x = layers.MaxPooling2D(3, 2, padding="same", name="pool2")(x)
    for block in ("inception_3a", "inception_3b"):
        x = _inception(x, block, INCEPTION_FILTERS[block], bn)
    x = layers.MaxPooling2D(3, 2, padding="same", name="pool3")(x)
    for block in (
        "inception_4a",
        "inception_4b",
        "inception_4c",
        "inception_4d",
        "inception_4e",
    ):
        x = _inception(x, block, INCEPTION_FILTERS[block], bn)
    logits = common.cam_head(
        x, num_classes, (1024,), bn, pooling, dropout_rate, dropout_at_test
    )
    return keras.Model(inputs, logits, name=name)


# The table of models (`has_tf.models.table`): what the apps ask of it.
MODEL = table.register(
    table.ImageModel("googlenet_gap", googlenet_gap, input_side=224)
)
