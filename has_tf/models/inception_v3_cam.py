"""InceptionV3-CAM as wsolevaluation defines it (Choe et al., CVPR 2020).

`wsol/inception.py`, architecture type "cam": torchvision's Inception-v3
blocks (BasicConv2d = conv without bias + batch norm, epsilon 1e-3, +
ReLU) up to Mixed_6e, with the tool's changes: Conv2d_1a (3x3/2) and
Conv2d_2b pad 1; both stem max pools are 3x3/2 with padding 1 and ceil
mode; an extra 3x3/2 ceil-mode max pool after Mixed_5d (left out with
`large_feature_map`); Mixed_6a at stride 1 with padding 1; Mixed_7 and the
auxiliary head removed. The head: dropout 0.5, a 3x3 768->1024 conv +
ReLU, dropout, a 3x3 1024->1024 conv + ReLU, dropout, then the tool's 1x1
conv to the classes and global average pooling, written here in the
equivalent order GAP then dense (`logits`), so the CAM is the same
projection. Average pools count their zero padding (PyTorch's default).
The CAM is 14x14 at 224 input (28x28 with `large_feature_map`).
Parameters (batch norm's moving statistics not counted): 25,687,976 at 200
classes, 26,507,976 at 1000.

Layer names follow torchvision's modules with "_" for ".": the conv of
`Mixed_5b.branch1x1` is `Mixed_5b_branch1x1`, its batch norm
`Mixed_5b_branch1x1_bn`; the head is `cam_conv1`, `cam_conv2` (the tool's
`SPG_A3_1b`, `SPG_A3_2b`), `gap`, `logits` (`SPG_A4`).
"""

from __future__ import annotations

import keras
from keras import layers

from has_tf.models import acol
from has_tf.models import common
from has_tf.models import pretrained
from has_tf.models import table
from has_tf.models import torch_style

BN_EPSILON = 1e-3
# The layers wsolevaluation adds (its 10x learning-rate group).
NEW_LAYERS = ("cam_conv", "logits", acol.LAYER_NAME)
# InceptionA pool features; InceptionC 7x7 channels.
MIXED_5 = (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64))
MIXED_6 = (
    ("Mixed_6b", 128),
    ("Mixed_6c", 160),
    ("Mixed_6d", 160),
    ("Mixed_6e", 192),
)


def _basic(x, filters, kernel, name, strides=1, padding=0):
    x = torch_style.conv(
        x,
        filters,
        kernel,
        name,
        strides=strides,
        padding=padding,
        use_bias=False,
    )
    x = torch_style.batch_norm(x, f"{name}_bn", BN_EPSILON)
    return layers.ReLU(name=f"{name}_relu")(x)


def _inception_a(x, name, pool_features):
    b1 = _basic(x, 64, 1, f"{name}_branch1x1")
    b5 = _basic(x, 48, 1, f"{name}_branch5x5_1")
    b5 = _basic(b5, 64, 5, f"{name}_branch5x5_2", padding=2)
    b3 = _basic(x, 64, 1, f"{name}_branch3x3dbl_1")
    b3 = _basic(b3, 96, 3, f"{name}_branch3x3dbl_2", padding=1)
    b3 = _basic(b3, 96, 3, f"{name}_branch3x3dbl_3", padding=1)
    bp = torch_style.avg_pool_include_pad(x, 3, f"{name}_avgpool", 1)
    bp = _basic(bp, pool_features, 1, f"{name}_branch_pool")
    return layers.Concatenate(name=name)([b1, b5, b3, bp])


def _inception_b(x, name):
    # The tool's Mixed_6a: kernel 3, stride 1, padding 1.
    b3 = _basic(x, 384, 3, f"{name}_branch3x3", padding=1)
    bd = _basic(x, 64, 1, f"{name}_branch3x3dbl_1")
    bd = _basic(bd, 96, 3, f"{name}_branch3x3dbl_2", padding=1)
    bd = _basic(bd, 96, 3, f"{name}_branch3x3dbl_3", padding=1)
    bp = torch_style.max_pool(x, 3, 1, f"{name}_maxpool", padding=1)
    return layers.Concatenate(name=name)([b3, bd, bp])


def _inception_c(x, name, c7):
    b1 = _basic(x, 192, 1, f"{name}_branch1x1")
    b7 = _basic(x, c7, 1, f"{name}_branch7x7_1")
    b7 = _basic(b7, c7, (1, 7), f"{name}_branch7x7_2", padding=(0, 3))
    b7 = _basic(b7, 192, (7, 1), f"{name}_branch7x7_3", padding=(3, 0))
    bd = _basic(x, c7, 1, f"{name}_branch7x7dbl_1")
    bd = _basic(bd, c7, (7, 1), f"{name}_branch7x7dbl_2", padding=(3, 0))
    bd = _basic(bd, c7, (1, 7), f"{name}_branch7x7dbl_3", padding=(0, 3))
    bd = _basic(bd, c7, (7, 1), f"{name}_branch7x7dbl_4", padding=(3, 0))
    bd = _basic(bd, 192, (1, 7), f"{name}_branch7x7dbl_5", padding=(0, 3))
    bp = torch_style.avg_pool_include_pad(x, 3, f"{name}_avgpool", 1)
    bp = _basic(bp, 192, 1, f"{name}_branch_pool")
    return layers.Concatenate(name=name)([b1, b7, bd, bp])


def _cam_side(side, large_feature_map):
    side = (side + 2 - 3) // 2 + 1  # Conv2d_1a_3x3
    side -= 2  # Conv2d_2a_3x3
    side = torch_style.ceil_pool_padding(side, 3, 2, 1, True)[0]
    side -= 2  # Conv2d_4a_3x3
    if side < 1:
        return 0
    side = torch_style.ceil_pool_padding(side, 3, 2, 1, True)[0]
    if not large_feature_map:
        if side < 3:
            return 0
        side = torch_style.ceil_pool_padding(side, 3, 2, 0, True)[0]
    return side


def inception_v3_cam(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    large_feature_map: bool = False,
    weights: str | None = None,
    pooling: str = "avg",
    dropout_rate: float = 0.5,
    dropout_at_test: bool = False,
    model_input: common.ModelInput | None = None,
    method: common.BuiltIn | None = None,
    name: str = "inception_v3_cam",
) -> keras.Model:
    """Builds InceptionV3-CAM.

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(height, width, 3)`, channels last, a fixed size (the
        ceil-mode pools depend on it); at least 23x23 (11x11 with
        `large_feature_map`). Inputs are
        normalised float images (the weights' normalisation,
        `pretrained.describe`).
      large_feature_map: no pool after Mixed_5d: a 28x28 CAM at 224.
      weights: a pretrained weights file (`has_tf.models.pretrained`:
        torchvision's or timm's safetensors, or Keras's InceptionV3
        `.h5`), or None for the tool's random initialisation.
      pooling: "avg" (GAP, the tool's) or "max" (GMP).
      dropout_rate: the head's three dropouts (the tool's 0.5); 0 removes
        them.
      dropout_at_test: keep them active at inference.
      model_input: how the model takes its images and hides them in
        training (`has_tf.models.ModelInput`: normalisation, input hiding);
        None: float images already normalised, no hiding.
      method: what a method builds in (`common.BuiltIn`: has_tf.methods
        makes it; `has_tf.models.adl.built_in()`,
        `has_tf.models.acol.built_in()`), None for the plain classifier.
        wsolevaluation's places: ADL after Mixed_5d, Mixed_6e and the
        head's second conv (`adl1`..`adl3`) and no dropout (the tool's
        InceptionAdl); ACoL's two heads on Mixed_6e (`acol`, Glorot-
        initialised; no CAM convs, `pooling` and `dropout_rate` do not
        apply) and takes `[images, labels]`.
      name: the model's name.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`.

    Raises:
      ValueError: bad arguments, a variable or too small input, or a
        weights file that does not fit (naming the tensor).
    """
    shape = common.check_common(
        "inception_v3_cam", num_classes, input_shape, pooling, dropout_rate
    )
    if shape[0] is None or shape[1] is None:
        raise ValueError(
            "inception_v3_cam: expected a fixed input height and width (its "
            "ceil-mode pools depend on them). Received: "
            f"input_shape={tuple(input_shape)!r}"
        )
    common.check_min_size(
        "inception_v3_cam", shape, lambda n: _cam_side(n, large_feature_map)
    )
    method = common.check_method("inception_v3_cam", method)
    if not method.head_dropout:
        dropout_rate = 0.0
    dropout = common.AlwaysDropout if dropout_at_test else layers.Dropout
    model_input = common.check_model_input("inception_v3_cam", model_input)
    inputs, x = common.input_layers(shape, model_input)
    x = _basic(x, 32, 3, "Conv2d_1a_3x3", strides=2, padding=1)
    x = _basic(x, 32, 3, "Conv2d_2a_3x3")
    x = _basic(x, 64, 3, "Conv2d_2b_3x3", padding=1)
    x = torch_style.max_pool(x, 3, 2, "maxpool1", padding=1, ceil_mode=True)
    x = _basic(x, 80, 1, "Conv2d_3b_1x1")
    x = _basic(x, 192, 3, "Conv2d_4a_3x3")
    x = torch_style.max_pool(x, 3, 2, "maxpool2", padding=1, ceil_mode=True)
    for block, pool_features in MIXED_5:
        x = _inception_a(x, block, pool_features)
    x = method.at(x, 1)
    if not large_feature_map:
        x = torch_style.max_pool(x, 3, 2, "maxpool3", ceil_mode=True)
    x = _inception_b(x, "Mixed_6a")
    for block, c7 in MIXED_6:
        x = _inception_c(x, block, c7)
    x = method.at(x, 2)
    if method.head is not None:
        inputs, logits = method.head(
            inputs, x, num_classes, 1024, "glorot_uniform"
        )
    else:
        for index in (1, 2):
            if dropout_rate:
                x = dropout(dropout_rate, name=f"cam_dropout{index}")(x)
            x = common.conv_block(x, 1024, 3, f"cam_conv{index}")
        x = method.at(x, 3)
        if dropout_rate:
            x = dropout(dropout_rate, name="cam_dropout3")(x)
        logits = common.cam_head(
            x,
            num_classes,
            (),
            False,
            pooling,
            0.0,
            dense_initializer="glorot_uniform",
        )
    model = keras.Model(inputs, logits, name=name)
    if weights is not None:
        pretrained.load(model, weights, "inception_v3_cam")
    return model


# The table of models (`has_tf.models.table`): what the apps ask of it.
MODEL = table.register(
    table.ImageModel(
        "inception_v3_cam",
        inception_v3_cam,
        input_side=224,
        pretrained=pretrained.FORMATS,
        new_layers=NEW_LAYERS,
        method_places=True,
        large_feature_map=True,
    )
)
