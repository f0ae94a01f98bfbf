"""ResNet50-CAM as wsolevaluation defines it (Choe et al., CVPR 2020).

`wsol/resnet.py`, architecture type "cam": torchvision's ResNet50 (the
v1.5 bottleneck: the stride on the 3x3 conv, convs without biases, batch
norm with epsilon 1e-5) with layer4 at stride 1 (layer3 too with
`large_feature_map`), global average pooling and a dense classifier on the
2048 channels. The CAM is 14x14 at 224 input (28x28 with
`large_feature_map`). Parameters (batch norm's moving statistics not
counted): 23,917,832 at 200 classes, 25,557,032 at 1000.

Layer names follow torchvision's modules with "_" for ".": `conv1`,
`bn1`, `layer{l}_{b}_conv{1,2,3}`, `layer{l}_{b}_bn{1,2,3}`,
`layer{l}_0_downsample_conv` / `_bn`, then `gap`, `logits` (torchvision's
`fc`).
"""

from __future__ import annotations

import keras
from keras import layers

from has_tf.models import common
from has_tf.models import pretrained
from has_tf.models import table
from has_tf.models import torch_style

# (planes, blocks) per layer; the output has planes * 4 channels.
LAYERS = ((64, 3), (128, 4), (256, 6), (512, 3))
EXPANSION = 4
BN_EPSILON = 1e-5
# wsolevaluation's 10x learning-rate group: layer4 and the classifier
# (`main.py` matches "layer4." and "fc."; ACoL's heads match neither and
# train at the base rate there, so here too).
NEW_LAYERS = ("layer4_", "logits")


def _strides(large_feature_map):
    return (1, 2, 1 if large_feature_map else 2, 1)


def _cam_side(side, large_feature_map):
    side = (side + 6 - 7) // 2 + 1  # conv1
    side = (side + 2 - 3) // 2 + 1  # maxpool
    for stride in _strides(large_feature_map):
        side = (side + 2 - 3) // stride + 1
    return side


def _bottleneck(x, planes, stride, name, downsample):
    width = planes
    shortcut = x
    out = torch_style.conv(x, width, 1, f"{name}_conv1", use_bias=False)
    out = torch_style.batch_norm(out, f"{name}_bn1", BN_EPSILON)
    out = layers.ReLU(name=f"{name}_relu1")(out)
    out = torch_style.conv(
        out,
        width,
        3,
        f"{name}_conv2",
        strides=stride,
        padding=1,
        use_bias=False,
    )
    out = torch_style.batch_norm(out, f"{name}_bn2", BN_EPSILON)
    out = layers.ReLU(name=f"{name}_relu2")(out)
    out = torch_style.conv(
        out, planes * EXPANSION, 1, f"{name}_conv3", use_bias=False
    )
    out = torch_style.batch_norm(out, f"{name}_bn3", BN_EPSILON)
    if downsample:
        shortcut = torch_style.conv(
            x,
            planes * EXPANSION,
            1,
            f"{name}_downsample_conv",
            strides=stride,
            use_bias=False,
        )
        shortcut = torch_style.batch_norm(
            shortcut, f"{name}_downsample_bn", BN_EPSILON
        )
    out = layers.Add(name=f"{name}_add")([out, shortcut])
    return layers.ReLU(name=f"{name}_out")(out)


def resnet50_cam(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    large_feature_map: bool = False,
    weights: str | None = None,
    pooling: str = "avg",
    dropout_rate: float = 0.0,
    dropout_at_test: bool = False,
    model_input: common.ModelInput | None = None,
    method: common.BuiltIn | None = None,
    name: str = "resnet50_cam",
) -> keras.Model:
    """Builds ResNet50-CAM.

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(height, width, 3)`, channels last; any size (the CAM
        side is ceil(side / 16), ceil(side / 8) with `large_feature_map`).
        Inputs are normalised float images (the weights' normalisation,
        `pretrained.describe`).
      large_feature_map: layer3 at stride 1 too: a 28x28 CAM at 224.
      weights: a pretrained weights file (`has_tf.models.pretrained`:
        torchvision's or timm's safetensors), or None for the tool's random
        initialisation (Glorot-uniform convs, unit batch norm).
      pooling: "avg" (GAP, the tool's) or "max" (GMP).
      dropout_rate: dropout before the classifier (the tool has none).
      dropout_at_test: keep that dropout active at inference.
      model_input: how the model takes its images and hides them in
        training (`has_tf.models.ModelInput`: normalisation, input hiding);
        None: float images already normalised, no hiding.
      method: what a method builds in (`common.BuiltIn`: has_tf.methods
        makes it; `has_tf.models.adl.built_in()`,
        `has_tf.models.acol.built_in()`), None for the plain classifier.
        wsolevaluation's places: ADL after blocks layer3.0, layer4.0 and
        layer4.2 (`adl1`..`adl3`); ACoL's two heads on layer4 (`acol`, He
        fan-out initialised as the tool's; `pooling` and `dropout_rate`
        do not apply) and takes `[images, labels]`.
      name: the model's name.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`.

    Raises:
      ValueError: bad arguments, an input below the minimum, or a weights
        file that does not fit (naming the tensor).
    """
    shape = common.check_common(
        "resnet50_cam", num_classes, input_shape, pooling, dropout_rate
    )
    common.check_min_size(
        "resnet50_cam", shape, lambda n: _cam_side(n, large_feature_map)
    )
    method = common.check_method("resnet50_cam", method)
    adl_after = {(3, 0): 1, (4, 0): 2, (4, 2): 3}
    model_input = common.check_model_input("resnet50_cam", model_input)
    inputs, x = common.input_layers(shape, model_input)
    x = torch_style.conv(
        x, 64, 7, "conv1", strides=2, padding=3, use_bias=False
    )
    x = torch_style.batch_norm(x, "bn1", BN_EPSILON)
    x = layers.ReLU(name="relu")(x)
    x = torch_style.max_pool(x, 3, 2, "maxpool", padding=1)
    channels = 64
    for index, ((planes, blocks), stride) in enumerate(
        zip(LAYERS, _strides(large_feature_map)), start=1
    ):
        for block in range(blocks):
            first = block == 0
            x = _bottleneck(
                x,
                planes,
                stride if first else 1,
                f"layer{index}_{block}",
                downsample=first
                and (stride != 1 or channels != planes * EXPANSION),
            )
            channels = planes * EXPANSION
            if (index, block) in adl_after:
                x = method.at(x, adl_after[index, block])
    if method.head is not None:
        inputs, logits = method.head(
            inputs, x, num_classes, 1024, torch_style.he_fan_out_init()
        )
    else:
        logits = common.cam_head(
            x,
            num_classes,
            (),
            False,
            pooling,
            dropout_rate,
            dropout_at_test,
            dense_initializer=torch_style.linear_init(),
        )
    model = keras.Model(inputs, logits, name=name)
    if weights is not None:
        pretrained.load(model, weights, "resnet50_cam")
    return model


# The table of models (`has_tf.models.table`): what the apps ask of it.
MODEL = table.register(
    table.ImageModel(
        "resnet50_cam",
        resnet50_cam,
        input_side=224,
        pretrained=pretrained.FORMATS,
        new_layers=NEW_LAYERS,
        method_places=True,
        large_feature_map=True,
    )
)
