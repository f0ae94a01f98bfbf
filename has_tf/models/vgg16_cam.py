"""VGG16-CAM as wsolevaluation defines it (Choe et al., CVPR 2020).

`wsol/vgg.py`, architecture type "cam": torchvision's VGG16 convolutions
(13 3x3 convs with biases and ReLUs, 2x2 max pools), pool5 removed (and
pool4 with `large_feature_map`), then a new 3x3 512->1024 conv + ReLU
(`conv6` there, `cam_conv` here), global average pooling and a dense
classifier. The CAM is 14x14 at 224 input (28x28 with `large_feature_map`).
Parameters: 19,639,304 at 200 classes, 20,459,304 at 1000.

Layer names: `conv{block}_{i}` (torchvision's `features.{k}`), `pool1` ..
`pool4`, `cam_conv`, `gap`, `logits`. The new layers are initialised as the
tool does (He fan-out for convs, N(0, 0.01) for the classifier); the
torchvision convs come from `weights`.
"""

from __future__ import annotations

import keras
from keras import layers

from has_tf.models import acol
from has_tf.models import common
from has_tf.models import pretrained
from has_tf.models import table
from has_tf.models import torch_style

# (filters, convs) per block.
BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
# The layers wsolevaluation adds (its 10x learning-rate group).
NEW_LAYERS = ("cam_conv", "logits", acol.LAYER_NAME)


def _cam_side(side, large_feature_map):
    return side // (8 if large_feature_map else 16)


def vgg16_cam(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    large_feature_map: bool = False,
    weights: str | None = None,
    pooling: str = "avg",
    dropout_rate: float = 0.0,
    dropout_at_test: bool = False,
    model_input: common.ModelInput | None = None,
    method: common.BuiltIn | None = None,
    name: str = "vgg16_cam",
) -> keras.Model:
    """Builds VGG16-CAM.

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(height, width, 3)`, channels last; at least 16x16 (8x8
        with `large_feature_map`). Inputs are normalised float images (the
        weights' normalisation, `pretrained.describe`).
      large_feature_map: keep pool4 too: a 28x28 CAM at 224.
      weights: a pretrained weights file (`has_tf.models.pretrained`:
        torchvision's or timm's safetensors, or Keras's VGG16 `.h5`), or
        None for the tool's random initialisation.
      pooling: "avg" (GAP, the tool's) or "max" (GMP).
      dropout_rate: dropout before the classifier (the tool has none).
      dropout_at_test: keep that dropout active at inference.
      model_input: how the model takes its images and hides them in
        training (`has_tf.models.ModelInput`: normalisation, input hiding);
        None: float images already normalised, no hiding.
      method: what a method builds in (`common.BuiltIn`: has_tf.methods
        makes it; `has_tf.models.adl.built_in()`,
        `has_tf.models.acol.built_in()`), None for the plain classifier.
        wsolevaluation's places: ADL after pool3, conv4_3 and conv5_3
        (`adl1`..`adl3`);
        ACoL uses 3x3/s2/p1 max pools (pool4 3x3/s1 with
        `large_feature_map`), a 3x3/s1 max pool after conv5_3 and a 3x3
        average pool (`pool5`, `feature_avg`), then ACoL's two heads
        (`acol`, Glorot-initialised like the tool's whole model;
        `pooling` and `dropout_rate` do not apply).
      name: the model's name.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`; an ACoL model takes `[images, labels]`
      (`has_tf.models.acol`).

    Raises:
      ValueError: bad arguments, an input below the minimum, or a weights
        file that does not fit (naming the tensor).
    """
    shape = common.check_common(
        "vgg16_cam", num_classes, input_shape, pooling, dropout_rate
    )
    common.check_min_size(
        "vgg16_cam", shape, lambda n: _cam_side(n, large_feature_map)
    )
    method = common.check_method("vgg16_cam", method)
    init = method.backbone_init or torch_style.he_fan_out_init()
    model_input = common.check_model_input("vgg16_cam", model_input)
    inputs, x = common.input_layers(shape, model_input)
    for block, (filters, convs) in enumerate(BLOCKS, start=1):
        for index in range(1, convs + 1):
            x = common.conv_block(
                x, filters, 3, f"conv{block}_{index}", kernel_initializer=init
            )
        if block == 4:
            x = method.at(x, 2)
        if method.overlapping_pools:
            # The tool's 'M1' (3x3/s2/p1) and 'M2' (3x3/s1/p1) pools.
            stride = (
                1 if block == 5 or (block == 4 and large_feature_map) else 2
            )
            x = torch_style.max_pool(x, 3, stride, f"pool{block}", padding=1)
        elif block <= 3 or (block == 4 and not large_feature_map):
            x = layers.MaxPooling2D(2, 2, name=f"pool{block}")(x)
        if block == 3:
            x = method.at(x, 1)
    x = method.at(x, 3)
    if method.overlapping_pools:
        x = torch_style.avg_pool_include_pad(x, 3, "feature_avg", 1)
    if method.head is not None:
        inputs, logits = method.head(
            inputs, x, num_classes, 1024, "glorot_uniform"
        )
    else:
        logits = common.cam_head(
            x,
            num_classes,
            (1024,),
            False,
            pooling,
            dropout_rate,
            dropout_at_test,
            kernel_initializer=init,
            dense_initializer=torch_style.linear_init(),
        )
    model = keras.Model(inputs, logits, name=name)
    if weights is not None:
        pretrained.load(model, weights, "vgg16_cam")
    return model


# The table of models (`has_tf.models.table`): what the apps ask of it.
MODEL = table.register(
    table.ImageModel(
        "vgg16_cam",
        vgg16_cam,
        input_side=224,
        pretrained=pretrained.FORMATS,
        new_layers=NEW_LAYERS,
        method_places=True,
        large_feature_map=True,
    )
)
