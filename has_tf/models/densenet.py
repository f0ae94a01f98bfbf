"""DenseNet-161 with a CAM head (Huang et al., CVPR 2017), as torchvision's
`torchvision.models.densenet161` builds it: PSOL's best box-regressor
backbone (`tzzcl/PSOL`, `models/models.py`, `choose_locmodel`).

The network (`torchvision/models/densenet.py`): a 7x7 / stride-2 conv
without bias (`conv0`), batch norm, ReLU and a 3x3 / stride-2 max pool
(padding 1); four dense blocks, each layer taking the concatenation of
all earlier maps through batch norm, ReLU, a 1x1 conv to
`4 * growth_rate` channels, batch norm, ReLU and a 3x3 conv (padding 1) to
`growth_rate` new channels, appended after the earlier ones; between the
blocks a transition (batch norm, ReLU, a 1x1 conv halving the channels,
2x2 / stride-2 average pooling); a last batch norm (`norm5`). torchvision's
`forward` then applies a ReLU, pools globally and classifies: here the
ReLU (`relu5`) ends the backbone and the CAM head (`common.cam_head`'s
`gap`/`gmp` and `logits`) is torchvision's pooling and classifier, so
`cam_model` gives a CAM of `side / 32` per side (7 x 7 at 224) from the
map PSOL's regressor pools. Batch norms have epsilon 1e-5; no dropout
(torchvision's `drop_rate` 0).

`VARIANTS` holds torchvision's four configurations (growth rate, layers
per block, initial channels); the table has `densenet161` (growth 48,
blocks (6, 12, 36, 24), 96 initial channels, 2208 channels at the end).
Parameters without the classifier (batch norms' running statistics not
counted), equal to torchvision's: densenet121 6,953,856, densenet161
26,472,000, densenet169 12,484,480, densenet201 18,092,928
(`tests/fixtures/densenet/PROVENANCE.json`).

Layer names follow torchvision's modules with "_" for ".": `conv0`,
`norm0`, `relu0`, `pool0`, `denseblock{b}_denselayer{l}_{norm1,relu1,
conv1,norm2,relu2,conv2}` (and `_concat`), `transition{t}_{norm,relu,
conv,pool}`, `norm5`, `relu5`, then `gap`/`gmp` and `logits`
(torchvision's `classifier`).

Weights from a local file (`--init_from`, `WeightsReader`): torchvision's
tensors as safetensors, e.g. timm's `densenet161.tv_in1k` (`huggingface-cli
download timm/densenet161.tv_in1k model.safetensors --local-dir
weights/densenet161.tv_in1k`) or a torchvision state dict saved with
`safetensors.torch.save_file`; the old `norm.1`-style names of
torchvision's first release are read too (torchvision's own
`_load_state_dict` renames them the same way). The classifier is dropped.
Inputs: RGB with ImageNet's mean and std.
"""

from __future__ import annotations

import re

import keras
import numpy as np
from keras import layers

from has_tf import vocabulary
from has_tf.models import common
from has_tf.models import pretrained
from has_tf.models import table
from has_tf.models import torch_style

# torchvision's (growth rate, layers per block, initial channels).
VARIANTS = {
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
}
BN_SIZE = 4  # The bottleneck's width, in growth rates.
BN_EPSILON = 1e-5
# torchvision: `kaiming_normal_` on every conv (fan in, ReLU's gain, not
# truncated); `nn.Linear`'s own init for the classifier, bias zero.
_CONV_INIT = keras.initializers.VarianceScaling(
    2.0, "fan_in", "untruncated_normal"
)
_LINEAR_INIT = keras.initializers.VarianceScaling(
    1.0 / 3.0, "fan_in", "uniform"
)


def check_variant(variant) -> tuple:
    """`(growth_rate, blocks, initial_channels)` of a `VARIANTS` name, or
    of such a triple (another size, as torchvision's `DenseNet(...)`).

    Raises:
      ValueError: naming `variant`.
    """
    if isinstance(variant, str):
        if variant not in VARIANTS:
            raise ValueError(
                f"Expected `variant` in {tuple(VARIANTS)} or (growth_rate, "
                f"blocks, initial_channels). Received: variant={variant!r}"
            )
        return VARIANTS[variant]
    try:
        growth, blocks, initial = variant
        growth, initial = int(growth), int(initial)
        blocks = tuple(int(b) for b in blocks)
    except (TypeError, ValueError):
        growth, blocks, initial = 0, (), 0
    if len(blocks) != 4 or min((growth, initial) + blocks) < 1:
        raise ValueError(
            "Expected `variant` as (growth_rate, four block depths, "
            f"initial channels), all >= 1. Received: variant={variant!r}"
        )
    return growth, blocks, initial


def _norm_relu(x, name, suffix=""):
    x = torch_style.batch_norm(x, f"{name}_norm{suffix}", BN_EPSILON)
    return layers.ReLU(name=f"{name}_relu{suffix}")(x)


def _conv(x, filters, kernel, name, **options):
    return torch_style.conv(
        x,
        filters,
        kernel,
        name,
        use_bias=False,
        kernel_initializer=_CONV_INIT,
        **options,
    )


def _dense_layer(x, growth, name):
    new = _norm_relu(x, name, "1")
    new = _conv(new, BN_SIZE * growth, 1, f"{name}_conv1")
    new = _norm_relu(new, name, "2")
    new = _conv(new, growth, 3, f"{name}_conv2", padding=1)
    return layers.Concatenate(name=f"{name}_concat")([x, new])


def features(x, variant):
    """torchvision's `features` and the ReLU of its `forward` on images
    `x` `[B, H, W, 3]` (normalised floats).

    Args:
      variant: a `VARIANTS` name or `(growth_rate, blocks,
        initial_channels)`.

    Returns:
      float `[B, h, w, C]`, h and w about `H / 32` and `W / 32`
      (`feature_side`), C = the last block's channels (2208 for
      densenet161), >= 0: the map the CAM head and PSOL's regressor pool.
    """
    growth, blocks, channels = check_variant(variant)
    x = _conv(x, channels, 7, "conv0", strides=2, padding=3)
    x = torch_style.batch_norm(x, "norm0", BN_EPSILON)
    x = layers.ReLU(name="relu0")(x)
    x = torch_style.max_pool(x, 3, 2, "pool0", padding=1)
    for block, depth in enumerate(blocks, start=1):
        for index in range(1, depth + 1):
            x = _dense_layer(x, growth, f"denseblock{block}_denselayer{index}")
        channels += depth * growth
        if block < len(blocks):
            name = f"transition{block}"
            x = _norm_relu(x, name)
            channels //= 2
            x = _conv(x, channels, 1, f"{name}_conv")
            x = layers.AveragePooling2D(2, 2, name=f"{name}_pool")(x)
    x = torch_style.batch_norm(x, "norm5", BN_EPSILON)
    return layers.ReLU(name="relu5")(x)


def feature_side(side: int) -> int:
    """The side of the map `features` gives for an input side."""
    side = (side + 6 - 7) // 2 + 1  # conv0
    side = (side + 2 - 3) // 2 + 1  # pool0
    for _ in range(3):  # the transitions' pools
        side //= 2
    return side


def densenet161(
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    pooling: str = "avg",
    dropout_rate: float = 0.0,
    dropout_at_test: bool = False,
    model_input: common.ModelInput | None = None,
    weights: str | None = None,
    name: str = "densenet161",
) -> keras.Model:
    """Builds torchvision's DenseNet-161 with a CAM head (module docstring).

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(H, W, 3)`, sides >= 32 (the CAM side is
        `feature_side(side)`, 7 at 224).
      pooling: "avg" (torchvision's) or "max".
      dropout_rate, dropout_at_test: dropout before the classifier
        (torchvision has none).
      model_input: how the model takes its images (`ModelInput`).
      weights: torchvision's DenseNet-161 tensors as `.safetensors`
        (module docstring), or None for torchvision's initialisation.
      name: the model's name.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`.

    Raises:
      ValueError: bad arguments or an input below the minimum;
        `pretrained.WeightsError` for a file that does not fit.
    """
    model = common.cam_network(
        "densenet161",
        lambda x: features(x, "densenet161"),
        feature_side,
        num_classes,
        input_shape,
        pooling,
        dropout_rate,
        dropout_at_test,
        model_input,
        name,
        dense_initializer=_LINEAR_INIT,
    )
    if weights is not None:
        pretrained.load(model, weights, "densenet161")
    return model


# --- weights -------------------------------------------------------------

# torchvision's batch norm tensors in Keras's weight order.
_NORM_PARTS = ("weight", "bias", "running_mean", "running_var")
# The first release's names (`norm.1.weight`), as torchvision renames them.
_LEGACY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
    r"running_mean|running_var))$"
)


def _layer_of(name):
    """`(layer, weight index)` of a torchvision DenseNet tensor, or None
    (the classifier and `num_batches_tracked` give "")."""
    if name.startswith("classifier.") or name.endswith("num_batches_tracked"):
        return "", 0
    legacy = _LEGACY.match(name)
    if legacy:
        name = legacy.group(1) + legacy.group(2)
    if not name.startswith("features."):
        return None
    module, _, kind = name[len("features.") :].rpartition(".")
    layer = module.replace(".", "_")
    if re.fullmatch(
        r"(conv0|denseblock\d_denselayer\d+_conv[12]|"
        r"transition\d_conv)",
        layer,
    ):
        return (layer, 0) if kind == "weight" else None
    if (
        re.fullmatch(
            r"(norm0|norm5|denseblock\d_denselayer\d+_norm[12]|"
            r"transition\d_norm)",
            layer,
        )
        and kind in _NORM_PARTS
    ):
        return layer, _NORM_PARTS.index(kind)
    return None


def _read_file(model, tensors, path) -> tuple:
    """`WeightsReader.load`: torchvision's DenseNet tensors into `model`
    (built by `features`); returns (loaded, fresh, dropped) layer and
    tensor names.

    Raises:
      pretrained.WeightsError: an unknown tensor, a layer without
        tensors or a wrong shape, named.
    """
    values, dropped, unknown = {}, [], []
    for name, value in tensors.items():
        found = _layer_of(name)
        if found is None:
            unknown.append(name)
            continue
        layer_name, index = found
        if not layer_name:
            dropped.append(name)
            continue
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            unknown.append(name)
            continue
        value = np.asarray(value)
        if value.ndim == 4:
            value = value.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        values.setdefault(layer.name, {})[index] = value
    backbone = [
        layer.name
        for layer in model.layers
        if layer.weights and layer.name not in ("logits", "cam_conv")
    ]
    missing = sorted(set(backbone) - set(values))
    if unknown or missing:
        raise pretrained.WeightsError(
            f"{path}: not torchvision's DenseNet of this size: unexpected "
            f"{sorted(unknown)[:5]}, layers without tensors {missing[:5]}"
        )
    pretrained.set_weights(model, values, path)
    fresh = [
        layer.name
        for layer in model.layers
        if layer.weights and layer.name not in values
    ]
    return sorted(values), fresh, sorted(dropped)


READER = table.WeightsReader(
    {
        "torchvision": (
            vocabulary.IMAGENET_MEAN_RGB,
            vocabulary.IMAGENET_STD_RGB,
        )
    },
    _read_file,
)
MODEL = table.register(
    table.ImageModel(
        "densenet161",
        densenet161,
        input_side=224,
        pretrained=("torchvision",),
        new_layers=("logits",),
        weights_reader=READER,
        timm_name="densenet161",
    )
)
