"""ConvNeXt CAM backbones (Liu et al., CVPR 2022), as timm's `ConvNeXt`
and keras.applications' `ConvNeXt*` build them, with a CAM head.

The network (both references agree): a 4x4 / stride-4 conv and a
LayerNorm (the stem); four stages, the last three opening with a LayerNorm
and a 2x2 / stride-2 conv (the downsampling); each block a 7x7 depthwise
conv, a LayerNorm, a dense layer to 4x the width, exact GELU, a dense
layer back, a per-channel layer scale (initialised 1e-6) and stochastic
depth on the residual branch. Every LayerNorm has epsilon 1e-6. The CAM is
the last stage's map (stride 32: 7 x 7 at 224, 12 x 12 at 384) through
the CAM head (global pooling and a dense classifier), as CAM Back Again
(`snskysk/CAM-Back-Again`, `convnext_func.Net2Head`) puts its head on
timm's stages, without the final LayerNorm of timm's head.

Layer names are keras.applications': `<variant>_stem_conv`,
`<variant>_stem_layernorm`, `<variant>_downsampling_layernorm_<i>`,
`<variant>_downsampling_conv_<i>`,
`<variant>_stage_<s>_block_<b>_{depthwise_conv,layernorm,pointwise_conv_1,
gelu,pointwise_conv_2,layer_scale}`, then `gap`/`gmp` and `logits`.

Parameters without a head (equal to timm's `num_classes=0` models and to
keras.applications' `include_top=False`, each counting a final LayerNorm
this model does not have; without it): convnext_tiny 27,818,592,
convnext_small 49,453,152, convnext_base 87,564,416, convnext_large
196,227,264.

Weights from a local file (`--init_from`, `WeightsReader`):
- timm's `model.safetensors` of `convnext_{tiny,small,base,large}.*`
  (e.g. `convnext_base.fb_in22k_ft_in1k_384`, CAM Back Again's
  checkpoint: `huggingface-cli download
  timm/convnext_base.fb_in22k_ft_in1k_384 model.safetensors --local-dir
  weights/convnext_base_384`); its head (`head.norm`, `head.fc`) dropped;
- keras.applications' `convnext_{tiny,small,base,large}_notop.h5`
  (`https://storage.googleapis.com/tensorflow/keras-applications/
  convnext/`), read layer by layer in the file's weight order as Keras's
  own HDF5 loader reads it; its final LayerNorm dropped.
Both expect RGB with ImageNet's mean and std (keras.applications' models
normalise in their first layer, which these files do not carry).
"""

from __future__ import annotations

import re

import keras
import numpy as np
from keras import layers
from keras import ops

from has_tf import vocabulary
from has_tf.models import common
from has_tf.models import pretrained
from has_tf.models import table
from has_tf.models.deit import DropPath

# (depths, widths) of each stage: timm's `convnext_*`, keras.applications'.
VARIANTS = {
    "convnext_tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "convnext_small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "convnext_base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "convnext_large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
}
LN_EPSILON = 1e-6
LAYER_SCALE_INIT = 1e-6
STRIDE = 32
# timm initialises its convs and dense layers normal(0.02) truncated at
# +-2 (100 standard deviations: a plain normal), biases zero.
_INIT = keras.initializers.RandomNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="has_tf")
class LayerScale(layers.Layer):
    """A learned per-channel scale of a residual branch `[..., C]`
    (timm's `gamma`, keras.applications' `LayerScale`)."""

    def __init__(self, init_value=LAYER_SCALE_INIT, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            name="gamma",
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.init_value),
        )

    def call(self, x):
        return x * ops.cast(self.gamma, x.dtype)

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}


def check_variant(variant) -> tuple:
    """`(depths, widths)` of a `VARIANTS` name, or of such a pair (a
    ConvNeXt of another size, as timm's `ConvNeXt(depths, dims)`).

    Raises:
      ValueError: naming `variant`.
    """
    if isinstance(variant, str):
        if variant not in VARIANTS:
            raise ValueError(
                f"Expected `variant` in {tuple(VARIANTS)} or (depths, "
                f"widths). Received: variant={variant!r}"
            )
        return VARIANTS[variant]
    try:
        depths, widths = (tuple(int(v) for v in part) for part in variant)
    except (TypeError, ValueError):
        depths, widths = (), ()
    if len(depths) != 4 or len(widths) != 4 or min(depths + widths) < 1:
        raise ValueError(
            "Expected `variant` as four stage depths and four widths, all "
            f">= 1. Received: variant={variant!r}"
        )
    return depths, widths


def _norm(name):
    return layers.LayerNormalization(epsilon=LN_EPSILON, name=name)


def _block(x, width, rate, name, seed):
    branch = layers.DepthwiseConv2D(
        7,
        padding="same",
        depthwise_initializer=_INIT,
        name=f"{name}_depthwise_conv",
    )(x)
    branch = _norm(f"{name}_layernorm")(branch)
    branch = layers.Dense(
        4 * width, kernel_initializer=_INIT, name=f"{name}_pointwise_conv_1"
    )(branch)
    # Keras's "gelu" is the exact one (approximate=False), as timm's.
    branch = layers.Activation("gelu", name=f"{name}_gelu")(branch)
    branch = layers.Dense(
        width, kernel_initializer=_INIT, name=f"{name}_pointwise_conv_2"
    )(branch)
    branch = LayerScale(name=f"{name}_layer_scale")(branch)
    if rate:
        branch = DropPath(rate, seed=seed, name=f"{name}_drop_path")(branch)
    return layers.Add(name=f"{name}_add")([x, branch])


def stages(x, variant, prefix, drop_path_rate=0.0, seed=None):
    """The stem and the four stages on images `x` `[B, H, W, 3]`.

    Args:
      x: normalised float images.
      variant: a `VARIANTS` name or `(depths, widths)`.
      prefix: the layers' name prefix (keras.applications' model name).
      drop_path_rate: stochastic depth of the last block, rising linearly
        from 0 over all blocks (timm's `drop_path_rate`), in [0, 1).
      seed: the stochastic depth's seed.

    Returns:
      float `[B, H / 32, W / 32, widths[-1]]` (floors), the map the CAM
      head reads.
    """
    depths, widths = check_variant(variant)
    if not 0.0 <= drop_path_rate < 1.0:
        raise ValueError(
            "Expected `drop_path_rate` in [0, 1). Received: "
            f"drop_path_rate={drop_path_rate!r}"
        )
    rates = np.linspace(0.0, drop_path_rate, sum(depths))
    x = layers.Conv2D(
        widths[0],
        4,
        strides=4,
        kernel_initializer=_INIT,
        name=f"{prefix}_stem_conv",
    )(x)
    x = _norm(f"{prefix}_stem_layernorm")(x)
    index = 0
    for stage, (depth, width) in enumerate(zip(depths, widths)):
        if stage:
            x = _norm(f"{prefix}_downsampling_layernorm_{stage - 1}")(x)
            x = layers.Conv2D(
                width,
                2,
                strides=2,
                kernel_initializer=_INIT,
                name=f"{prefix}_downsampling_conv_{stage - 1}",
            )(x)
        for block in range(depth):
            x = _block(
                x,
                width,
                float(rates[index]),
                f"{prefix}_stage_{stage}_block_{block}",
                None if seed is None else seed + index,
            )
            index += 1
    return x


def _cam_builder(variant):
    """The table's builder of a ConvNeXt with a CAM head."""

    def build(
        num_classes: int = 1000,
        input_shape=(224, 224, 3),
        pooling: str = "avg",
        dropout_rate: float = 0.0,
        dropout_at_test: bool = False,
        model_input: common.ModelInput | None = None,
        drop_path_rate: float = 0.0,
        weights: str | None = None,
        name: str = variant,
    ) -> keras.Model:
        model = common.cam_network(
            variant,
            lambda x: stages(x, variant, variant, drop_path_rate),
            lambda n: n // STRIDE,
            num_classes,
            input_shape,
            pooling,
            dropout_rate,
            dropout_at_test,
            model_input,
            name,
            dense_initializer=_INIT,
        )
        if weights is not None:
            pretrained.load(model, weights, variant)
        return model

    build.__name__ = variant
    build.__doc__ = f"""Builds {variant} with a CAM head (module docstring):
    its last stage's map, global pooling and a dense classifier, so
    `cam_model` gives a CAM of `input_side / 32` per side.

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(H, W, 3)`, sides >= 32.
      pooling: "avg" (CAM Back Again's) or "max".
      dropout_rate, dropout_at_test: dropout before the classifier.
      model_input: how the model takes its images (`ModelInput`).
      drop_path_rate: the blocks' stochastic depth in training, timm's
        `drop_path_rate`, [0, 1).
      weights: timm's `convnext_*` `model.safetensors` or
        keras.applications' `convnext_*_notop.h5` of this size, or None.
      name: the model's name.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`.
    """
    return build


convnext_tiny = _cam_builder("convnext_tiny")
convnext_small = _cam_builder("convnext_small")
convnext_base = _cam_builder("convnext_base")
convnext_large = _cam_builder("convnext_large")


# --- weights -------------------------------------------------------------

_BLOCK_PARTS = {
    "conv_dw": "depthwise_conv",
    "norm": "layernorm",
    "mlp.fc1": "pointwise_conv_1",
    "mlp.fc2": "pointwise_conv_2",
}


def _timm_layer(name, prefix):
    """`(layer, weight index)` of a timm ConvNeXt tensor, or None."""
    stem = re.fullmatch(r"stem\.([01])\.(weight|bias)", name)
    if stem:
        part = ("stem_conv", "stem_layernorm")[int(stem.group(1))]
        return f"{prefix}_{part}", int(stem.group(2) == "bias")
    down = re.fullmatch(
        r"stages\.(\d)\.downsample\.([01])\.(weight|bias)", name
    )
    if down:
        part = ("downsampling_layernorm", "downsampling_conv")[
            int(down.group(2))
        ]
        stage = int(down.group(1)) - 1
        return f"{prefix}_{part}_{stage}", int(down.group(3) == "bias")
    block = re.fullmatch(r"stages\.(\d)\.blocks\.(\d+)\.(.+)", name)
    if not block:
        return None
    where = f"{prefix}_stage_{block.group(1)}_block_{block.group(2)}"
    rest = block.group(3)
    if rest == "gamma":
        return f"{where}_layer_scale", 0
    module, _, kind = rest.rpartition(".")
    if module not in _BLOCK_PARTS or kind not in ("weight", "bias"):
        return None
    return f"{where}_{_BLOCK_PARTS[module]}", int(kind == "bias")


def _torch_to_keras(value, layer):
    """A PyTorch tensor in the layout of `layer`'s weight."""
    if value.ndim == 4 and isinstance(layer, layers.DepthwiseConv2D):
        return value.transpose(2, 3, 0, 1)  # [C, 1, 7, 7] -> [7, 7, C, 1]
    if value.ndim == 4:
        return value.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    if value.ndim == 2:
        return value.T  # Linear [out, in] -> [in, out]
    return value


def _backbone_layers(model, prefix):
    return [
        layer.name
        for layer in model.layers
        if layer.name.startswith(f"{prefix}_") and layer.weights
    ]


def _load_timm(model, tensors, source, prefix):
    values, dropped, unknown = {}, [], []
    for name, value in tensors.items():
        if name.startswith("head."):
            dropped.append(name)
            continue
        found = _timm_layer(name, prefix)
        if found is None:
            unknown.append(name)
            continue
        layer_name, index = found
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            unknown.append(name)
            continue
        values.setdefault(layer_name, {})[index] = _torch_to_keras(
            np.asarray(value), layer
        )
    missing = sorted(set(_backbone_layers(model, prefix)) - set(values))
    if unknown or missing:
        raise pretrained.WeightsError(
            f"{source}: not timm's ConvNeXt of this size: unexpected "
            f"{sorted(unknown)[:5]}, layers without tensors {missing[:5]}"
        )
    pretrained.set_weights(model, values, source, "another ConvNeXt size?")
    return sorted(dropped)


# keras.applications' Sequential groups: their weights in order, split
# over the layers this model has in their place.
def _keras_groups(layer, prefix, theirs):
    rest = layer[len(theirs) + 1 :]
    if rest == "stem":
        return [f"{prefix}_stem_conv", f"{prefix}_stem_layernorm"]
    down = re.fullmatch(r"downsampling_block_(\d)", rest)
    if down:
        i = down.group(1)
        return [
            f"{prefix}_downsampling_layernorm_{i}",
            f"{prefix}_downsampling_conv_{i}",
        ]
    return [f"{prefix}_{rest}"]


def _load_keras(model, tensors, source, prefix):
    by_layer = {}
    for key, value in tensors.items():
        layer, _, _ = key.partition("/")
        by_layer.setdefault(layer, []).append(np.asarray(value))
    stems = [name for name in by_layer if name.endswith("_stem")]
    if len(stems) != 1:
        raise pretrained.WeightsError(
            f"{source}: not a keras.applications ConvNeXt file (no single "
            f"'<model>_stem' layer among {sorted(by_layer)[:5]})"
        )
    theirs = stems[0][: -len("_stem")]
    values, dropped = {}, []
    for layer, arrays in by_layer.items():
        if not layer.startswith(f"{theirs}_") or layer.endswith(
            "prestem_normalization"
        ):
            # Its input normalisation and the final LayerNorm of
            # include_top=False, which this model does not have.
            dropped.extend(f"{layer}/{i}" for i in range(len(arrays)))
            continue
        arrays = list(arrays)
        for target in _keras_groups(layer, prefix, theirs):
            try:
                count = len(model.get_layer(target).weights)
            except ValueError:
                raise pretrained.WeightsError(
                    f"{source}: layer {layer!r} has no place in this model "
                    "(another ConvNeXt size?)"
                ) from None
            taken, arrays = arrays[:count], arrays[count:]
            if target.endswith("_depthwise_conv") and taken:
                # Keras's grouped conv [7, 7, 1, C] -> depthwise [7, 7, C, 1].
                taken[0] = taken[0].transpose(0, 1, 3, 2)
            values[target] = dict(enumerate(taken))
        if arrays:
            raise pretrained.WeightsError(
                f"{source}: layer {layer!r} holds more tensors than this "
                "model's layers in its place take"
            )
    missing = sorted(set(_backbone_layers(model, prefix)) - set(values))
    if missing:
        raise pretrained.WeightsError(
            f"{source}: not keras.applications' ConvNeXt of this size: "
            f"layers without tensors {missing[:5]}"
        )
    pretrained.set_weights(model, values, source, "another ConvNeXt size?")
    return sorted(dropped)


def _read_file(model, tensors, path) -> tuple:
    """`WeightsReader.load`: timm's or Keras's tensors into a table model."""
    prefix = next(
        layer.name[: -len("_stem_conv")]
        for layer in model.layers
        if layer.name.endswith("_stem_conv")
    )
    keras_file = any("/" in key for key in tensors)
    loader = _load_keras if keras_file else _load_timm
    dropped = loader(model, tensors, path, prefix)
    loaded = _backbone_layers(model, prefix)
    fresh = [
        layer.name
        for layer in model.layers
        if layer.weights and layer.name not in loaded
    ]
    return loaded, fresh, dropped


NEW_LAYERS = ("logits",)
_IMAGENET = (vocabulary.IMAGENET_MEAN_RGB, vocabulary.IMAGENET_STD_RGB)
READER = table.WeightsReader(
    {"torchvision": _IMAGENET, "keras": _IMAGENET}, _read_file
)
MODELS = tuple(
    table.register(
        table.ImageModel(
            builder.__name__,
            builder,
            input_side=224,
            pretrained=("torchvision", "keras"),
            new_layers=NEW_LAYERS,
            drop_path=True,
            weights_reader=READER,
            timm_name=builder.__name__,
        )
    )
    for builder in (
        convnext_tiny,
        convnext_small,
        convnext_base,
        convnext_large,
    )
)
