"""TS-CAM's network (Gao et al., ICCV 2021; vasgaowei/TS-CAM,
`lib/models/deit.py`, class `TSCAM`) on has_tf's DeiT (`models.deit`).

The DeiT's patch tokens, after the final LayerNorm, laid on their grid;
a 3x3 convolution (stride 1, padding 1, with bias: its `head`) turns them
into one semantic map per class, `[B, h, w, K]`, whose spatial means are
the logits. The CAM of class k (its evaluation mode) is that class's
semantic map times the class token's attention to each patch, averaged
over the heads and summed over all blocks:
`sum_blocks(mean_heads(A))[:, 0, 1:]` on the grid. The `SemanticMaps`
layer knows how the model's CAMs are read, so `cam_model` gives both
(`{"logits", "cams"}`) as it does for the CNNs.

`tscam` builds the network on any DeiT variant; `built_in` is the same
head as a `BuiltIn` for the table's `deit_*` models (`--method=tscam`).

`load_tscam` reads TS-CAM's state dict (timm's names for the DeiT and
`head.weight` `[K, D, 3, 3]`, `head.bias`); TS-CAM itself starts from
timm's DeiT weights, whose classifier it drops (`vit_weights.load_timm`).
Tested against the reference's own `TSCAM` on recorded random weights
(`tests/fixtures/tscam/`).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers
from keras import ops

from has_tf.models import common
from has_tf.models import deit
from has_tf.models import vit_weights
from has_tf.models.pretrained import WeightsError


@keras.saving.register_keras_serializable(package="has_tf")
class SemanticMaps(layers.Layer):
    """TS-CAM's semantic maps `[B, h, w, K]` as float32 (the identity
    otherwise); the layer `cam_model` asks for the model's CAMs
    (`cams_of`).

    Args:
      normalize_attention: min-max normalise the attention map over the
        patches before it weights the maps (SCM's CAM); TS-CAM's is raw.
    """

    def __init__(self, normalize_attention: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.normalize_attention = bool(normalize_attention)

    def get_config(self):
        return {
            **super().get_config(),
            "normalize_attention": self.normalize_attention,
        }

    def call(self, maps):
        return ops.cast(maps, "float32")

    def compute_output_shape(self, input_shape):
        return input_shape

    def cams_of(self, model: keras.Model):
        """The CAMs of `model` (whose layer this is), a tensor of its
        graph: `TokenAttentionMaps` over this layer's output and every
        block's attention."""
        attention = [
            layer.output[1]
            for layer in model.layers
            if isinstance(layer, deit.SelfAttention)
        ]
        if not attention:
            raise ValueError(
                "Expected TS-CAM's semantic maps on a DeiT (its attention "
                f"layers). Received: model {model.name!r} without any"
            )
        return TokenAttentionMaps(self.normalize_attention, name="tscam_cams")(
            [self.output, *attention]
        )


@keras.saving.register_keras_serializable(package="has_tf")
class TokenAttentionMaps(layers.Layer):
    """TS-CAM's CAM from semantic maps and every block's attention.

    Inputs `[semantic_maps, attention_1, ..., attention_L]`: semantic maps
    float `[B, h, w, K]`, each attention `[B, heads, 1 + h * w, 1 + h * w]`
    (softmax rows, the class token first). Output `[B, h, w, K]`: each
    class's map times the class token's attention to the patches, averaged
    over heads and summed over blocks (`attention_map`; min-max normalised
    over the patches first with `normalize`, SCM's way).
    """

    def __init__(self, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.normalize = bool(normalize)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}

    def call(self, inputs):
        maps, attention = inputs[0], inputs[1:]
        height, width = maps.shape[1], maps.shape[2]
        weights = attention_map(attention)
        if self.normalize:
            weights = min_max(weights)
        to_patches = ops.reshape(weights, (-1, height, width, 1))
        return ops.cast(to_patches, maps.dtype) * maps

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


def attention_map(attention):
    """The class token's attention to the patches, averaged over heads and
    summed over blocks: float `[B, N]` from `[B, heads, 1 + N, 1 + N]`
    each."""
    summed = ops.sum(ops.stack([ops.mean(a, axis=1) for a in attention]), 0)
    return summed[:, 0, 1:]


def min_max(values):
    """`[B, N]` rescaled to [0, 1] per row, as SCM's `norm_cam` (no
    epsilon: a constant row gives NaN there too)."""
    values = values - ops.min(values, axis=1, keepdims=True)
    return values / ops.max(values, axis=1, keepdims=True)


def head_initializers(width):
    """PyTorch's default `nn.Conv2d` initialisation, which TS-CAM's head
    keeps (its `_init_weights` touches only Linear and LayerNorm layers):
    kaiming uniform with a = sqrt(5), and a uniform bias, both within
    1 / sqrt(fan_in)."""
    bound = 1.0 / math.sqrt(width * 9)
    kernel = keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")
    return kernel, keras.initializers.RandomUniform(-bound, bound)


def head_conv(patches, num_classes):
    """TS-CAM's head: a 3x3 conv (stride 1, padding 1, with bias) named
    `tscam_head` on the patch grid, one map per class `[B, h, w, K]`
    (SCM's and SAT's too)."""
    kernel, bias = head_initializers(patches.shape[-1])
    return layers.Conv2D(
        num_classes,
        3,
        padding="same",
        kernel_initializer=kernel,
        bias_initializer=bias,
        name="tscam_head",
    )(patches)


def semantic_maps(patches, num_classes, normalize_attention=False):
    """`head_conv` and its `SemanticMaps`: float32 `[B, h, w, K]`."""
    maps = head_conv(patches, num_classes)
    return SemanticMaps(normalize_attention, name="semantic_maps")(maps)


def logits_of(maps):
    """The maps' spatial means: float32 logits `[B, K]`, named `logits`."""
    return layers.GlobalAveragePooling2D(name="logits", dtype="float32")(maps)


def built_in() -> common.BuiltIn:
    """TS-CAM's head in place of the CAM head of a table DeiT
    (`deit_tiny`, `deit_small`, `deit_base`; `method=` of their builders):
    the same layers as `tscam`'s."""

    def head(inputs, x, num_classes, width, kernel_initializer):
        return inputs, logits_of(semantic_maps(x, num_classes))

    return common.BuiltIn(head=head)


def tscam(
    variant="deit_small",
    num_classes: int = 200,
    input_shape=(224, 224, 3),
    model_input: common.ModelInput | None = None,
    name: str = "tscam",
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """TS-CAM's network on a DeiT.

    Args:
      variant: a `deit.VARIANTS` name or `(width, depth, heads)`.
      num_classes: semantic maps and logits, >= 1.
      input_shape: `(H, W, 3)`, sides multiples of 16.
      model_input: how the model takes its images (`ModelInput`); None:
        float images normalised as the weights expect.
      name: the model's name.
      drop_path_rate: the blocks' stochastic depth in training (TS-CAM
        trains with 0.1).

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]` (the semantic maps' means); layers `tscam_head`
      (the 3x3 conv), `semantic_maps` (`SemanticMaps`) and the DeiT's
      (`deit`). `cam_model` gives its logits and CAMs.
    """
    return deit.method_network(
        "tscam",
        variant,
        num_classes,
        input_shape,
        model_input,
        built_in(),
        drop_path_rate,
        name,
    )


def load_tscam(model: keras.Model, tensors: dict, source="the weights"):
    """Sets a `tscam` model's weights from TS-CAM's state dict.

    Args:
      model: built by `tscam`.
      tensors: the DeiT's tensors under timm's names plus `head.weight`
        `[K, D, 3, 3]` and `head.bias` `[K]`.
      source: the file, for messages.

    Raises:
      WeightsError: naming a missing, unexpected or mis-shaped tensor.
    """
    head = {k: v for k, v in tensors.items() if k.startswith("head.")}
    missing = sorted({"head.weight", "head.bias"} - set(head))
    if missing:
        raise WeightsError(f"{source}: no TS-CAM head: missing {missing}")
    vit_weights.load_timm(model, tensors, source)  # Drops head.* (no "head").
    layer = model.get_layer("tscam_head")
    kernel = np.asarray(head["head.weight"]).transpose(2, 3, 1, 0)
    current = layer.get_weights()
    if kernel.shape != current[0].shape:
        raise WeightsError(
            f"{source}: tensor 'head.weight' has shape "
            f"{head['head.weight'].shape}; this model takes a kernel of "
            f"{current[0].shape} (HWIO)"
        )
    layer.set_weights([kernel, np.asarray(head["head.bias"])])
