"""AlexNet-GAP: the CAM variant of AlexNet used by Hide-and-Seek.

AlexNet conv1..conv5 without filter groups (Krizhevsky et al. 2012, as in
Caffe's bvlc_alexnet but ungrouped), pool5 changed to 3x3 with stride 1,
then two new 3x3/s1/same conv layers of 512 channels, global average
pooling and a dense classifier (Zhou et al., CVPR 2016; Singh & Lee, ICCV
2017). A 224x224 input gives an 11x11 CAM (13x13 without pool5).
"""

from __future__ import annotations

import keras
from keras import layers

from has_tf.models import common
from has_tf.models import table


def _cam_side(side: int, pool5: bool) -> int:
    side = (side + 4 - 11) // 4 + 1  # conv1: 11x11/4, padding 2.
    side = (side - 3) // 2 + 1  # pool1: 3x3/2.
    side = (side - 3) // 2 + 1  # pool2: 3x3/2.
    return side - 2 if pool5 else side  # pool5: 3x3/1.


def alexnet_gap(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    pool5: bool = True,
    batch_norm: bool = False,
    lrn: bool = True,
    pooling: str = "avg",
    dropout_rate: float = 0.0,
    dropout_at_test: bool = False,
    model_input: common.ModelInput | None = None,
    name: str = "alexnet_gap",
) -> keras.Model:
    """Builds AlexNet-GAP.

    Layers: `conv1` (96, 11x11/4, padding 2) - [hide] - `norm1` - `pool1` -
    `conv2` (256, 5x5) - `norm2` - `pool2` - `conv3` (384) - `conv4` (384) -
    `conv5` (256) - `pool5` (3x3/1) - `cam_conv1`, `cam_conv2` (512, 3x3) -
    `gap` - [`dropout`] - `logits`. ReLU after every conv.

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(height, width, 3)`, channels last; at least 63x63
        (31x31 without pool5). Inputs are normalised float images.
      pool5: keep the 3x3/s1 pool5 (11x11 CAM at 224) or drop it (13x13).
      batch_norm: BN after every conv (and convs without bias).
      lrn: AlexNet's local response normalisation after conv1 and conv2.
      pooling: "avg" (GAP, the paper) or "max" (the GMP ablation).
      dropout_rate: dropout before the classifier (the paper compares
        dropout with hiding); 0 disables it.
      dropout_at_test: keep that dropout active at inference (the paper's
        "dropout-traintest" baseline).
      model_input: how the model takes its images and hides them in
        training (`has_tf.models.ModelInput`: normalisation, input
        hiding, conv1 hiding: the cells of conv1's maps, `conv1_hide`);
        None: float images already normalised, no hiding.
      name: the model's name.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`. `has_tf.models.cam_model` adds the CAMs.

    Raises:
      ValueError: bad `num_classes`, `pooling`, `dropout_rate`,
        `input_shape` or an input smaller than the minimum.
    """
    shape = common.check_common(
        "alexnet_gap", num_classes, input_shape, pooling, dropout_rate
    )
    common.check_min_size("alexnet_gap", shape, lambda n: _cam_side(n, pool5))
    bn = batch_norm
    model_input = common.check_model_input(
        "alexnet_gap", model_input, conv1_hiding=True
    )
    inputs, x = common.input_layers(shape, model_input)
    x = layers.ZeroPadding2D(2, name="conv1_pad")(x)
    x = common.conv_block(
        x, 96, 11, "conv1", strides=4, padding="valid", batch_norm=bn
    )
    x = common.hide_conv1(x, model_input)
    if lrn:
        x = common.LocalResponseNorm(name="norm1")(x)
    x = layers.MaxPooling2D(3, 2, name="pool1")(x)
    x = common.conv_block(x, 256, 5, "conv2", batch_norm=bn)
    if lrn:
        x = common.LocalResponseNorm(name="norm2")(x)
    x = layers.MaxPooling2D(3, 2, name="pool2")(x)
    x = common.conv_block(x, 384, 3, "conv3", batch_norm=bn)
    x = common.conv_block(x, 384, 3, "conv4", batch_norm=bn)
    x = common.conv_block(x, 256, 3, "conv5", batch_norm=bn)
    if pool5:
        x = layers.MaxPooling2D(3, 1, name="pool5")(x)
    logits = common.cam_head(
        x, num_classes, (512, 512), bn, pooling, dropout_rate, dropout_at_test
    )
    return keras.Model(inputs, logits, name=name)


# The table of models (`has_tf.models.table`): what the apps ask of it.
MODEL = table.register(
    table.ImageModel(
        "alexnet_gap", alexnet_gap, input_side=224, conv1_hiding=True
    )
)
