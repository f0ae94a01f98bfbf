"""SAT's network (Wu et al., ICCV 2023; wpy1999/SAT, `Model/SAT.py` class
`SAT`) on has_tf's DeiT.

A spatial-aware token joins the DeiT's tokens, last, with a position
embedding of its own (`SpatialToken`). In every block its query gives a
mask over the tokens: the sigmoid of its attention logits to each key,
averaged over the heads (`SpatialQuery`); in the last three blocks the
softmax attention of every query is multiplied by that mask, key by key
(`deit.SelfAttention`'s `key_weights`). The localization map is the mean of the
last three masks over the patches, one map for every class; the class
comes from TS-CAM's head (a 3x3 conv on the patch grid to one map per
class, their means the logits). Training adds two terms to the
cross-entropy (`SpatialLosses`): the batch area, `|mean(map) - area|`
over the batch, and the normalisation loss, the mean of `(1 - m) m` of
the map smoothed by a 3x3 Gaussian kernel.

The reference masks from block 9 of its 12 (`cur_depth >= 9`); here the
last three blocks of any depth (the same for the DeiTs, all of depth 12).
Tested against the reference's own `SAT` on recorded random weights
(`tests/fixtures/sat/`).
"""

from __future__ import annotations

import keras
import numpy as np
import scipy.stats
from keras import layers
from keras import ops

from has_tf.models import common
from has_tf.models import deit
from has_tf.models.pretrained import WeightsError
from has_tf.models.tscam import head_conv
from has_tf.models.tscam import load_tscam
from has_tf.models.tscam import logits_of

__all__ = [
    "SpatialLosses",
    "SpatialQuery",
    "SpatialToken",
    "built_in",
    "gaussian_kernel",
    "load_sat",
    "sat",
]

# The blocks whose attention the spatial token masks, and whose masks
# make the map: the last three.
MASKED_BLOCKS = 3
# `--sat_area`'s default: the reference's `--area_thr`.
AREA = 0.25


def gaussian_kernel(size: int = 3, nsig: float = 6.0) -> np.ndarray:
    """SAT's `get_kernel`: the square root of the outer product of a
    normal's mass over `size` equal bins of [-nsig, nsig] widened by half a
    bin each side, summing to 1. float32 `[size, size]`."""
    interval = (2 * nsig + 1.0) / size
    x = np.linspace(-nsig - interval / 2.0, nsig + interval / 2.0, size + 1)
    kern1d = np.diff(scipy.stats.norm.cdf(x))
    kernel = np.sqrt(np.outer(kern1d, kern1d))
    return (kernel / kernel.sum()).astype(np.float32)


@keras.saving.register_keras_serializable(package="has_tf")
class SpatialToken(layers.Layer):
    """Appends SAT's spatial token (`loc_token` plus its position
    embedding `loc_embed`, both `[1, 1, D]`) after the other tokens:
    `[B, T, D]` -> `[B, T + 1, D]`."""

    def build(self, input_shape):
        width = input_shape[-1]
        for name in ("loc_token", "loc_embed"):
            setattr(
                self,
                name,
                self.add_weight(
                    shape=(1, 1, width),
                    initializer=keras.initializers.TruncatedNormal(stddev=0.02),
                    name=name,
                ),
            )

    def call(self, x):
        token = ops.cast(self.loc_token + self.loc_embed, x.dtype)
        token = ops.broadcast_to(token, (ops.shape(x)[0], 1, x.shape[-1]))
        return ops.concatenate([x, token], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] + 1, input_shape[2])


@keras.saving.register_keras_serializable(package="has_tf")
class SpatialQuery(layers.Layer):
    """The spatial token's mask over the tokens: the sigmoid of its
    (last) query's scaled attention logits to each key, averaged over the
    heads. `qkv` `[B, T, 3 D]` -> float `[B, T]` in (0, 1)."""

    def __init__(self, heads, **kwargs):
        super().__init__(**kwargs)
        self.heads = int(heads)

    def call(self, qkv):
        batch, tokens = ops.shape(qkv)[0], ops.shape(qkv)[1]
        width = qkv.shape[-1] // 3
        head_dim = width // self.heads
        parts = ops.reshape(qkv, (batch, tokens, 3, self.heads, head_dim))
        q = parts[:, -1, 0]  # [B, heads, head_dim]: the spatial token's.
        k = ops.transpose(parts[:, :, 1], (0, 2, 1, 3))  # [B, heads, T, hd]
        scores = ops.einsum("bhd,bhtd->bht", q, k) * head_dim**-0.5
        return ops.sigmoid(ops.mean(scores, axis=1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1])

    def get_config(self):
        return {**super().get_config(), "heads": self.heads}


def _attention_hook(index, depth, heads, name):
    """Every block's attention with the spatial query; masked in the last
    three: `(values, mask [B, T])`."""

    def attend(qkv):
        mask = SpatialQuery(heads, name=f"{name}_spatial_query")(qkv)
        attention = deit.SelfAttention(heads, name=f"{name}_attn")
        masked = index >= depth - MASKED_BLOCKS
        values, _ = attention(qkv, mask) if masked else attention(qkv)
        return values, mask

    return attend


def backbone(
    images, variant, input_shape, drop_path_rate=0.0, model_input=None
):
    """SAT's token network (`BuiltIn.backbone`): `(tokens, masks)`, the
    tokens `[B, 1 + N, D]` without the spatial token, the last three
    blocks' masks over the patches `[B, N]`."""
    tokens, masks = deit.tokens_and_attention(
        images,
        variant,
        input_shape,
        drop_path_rate,
        model_input,
        tokens_hook=SpatialToken(name="sat_token"),
        attention_hook=_attention_hook,
    )
    return tokens[:, :-1], [m[:, 1:-1] for m in masks[-MASKED_BLOCKS:]]


@keras.saving.register_keras_serializable(package="has_tf")
class SpatialLosses(layers.Layer):
    """SAT's localization map and its two losses.

    Call `([maps, mask_1, ..., mask_3])`: maps float `[B, h, w, K]`
    (returned as they are: the layer sits on the logits' path), masks
    `[B, h * w]`. In training it adds (`add_loss`) the batch area
    `|mean over the batch of mean(map) - area|` and the normalisation loss,
    the batch mean of `mean((1 - s) s)`, `s` the map smoothed by
    `gaussian_kernel()` (zero padding). `cams_of(model)` gives the map for
    every class.

    Args:
      area: the target share of the image the map covers, in (0, 1).
    """

    def __init__(self, area: float = AREA, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < area < 1.0:
            raise ValueError(
                f"Expected `area` in (0, 1). Received: area={area!r}"
            )
        self.area = float(area)
        self._kernel = gaussian_kernel()[:, :, None, None]

    def call(self, inputs, training=None):
        maps = ops.cast(inputs[0], "float32")
        if training:
            rows, cols = maps.shape[1], maps.shape[2]
            spatial = spatial_map(inputs[1:], rows, cols)  # [B, h, w]
            area = ops.mean(ops.mean(spatial, axis=(1, 2)))
            kernel = ops.convert_to_tensor(self._kernel, "float32")
            smooth = ops.conv(spatial[..., None], kernel, padding="same")
            self.add_loss(ops.abs(area - self.area))
            self.add_loss(ops.mean((1.0 - smooth) * smooth))
        return maps

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "area": self.area}

    def cams_of(self, model: keras.Model):
        """The map of `model` (whose layer this is), `[B, h, w, K]`: the
        same for every class."""
        maps, *masks = self.input
        return SpatialMaps(name="sat_cams")([maps, *masks])


@keras.saving.register_keras_serializable(package="has_tf")
class SpatialMaps(layers.Layer):
    """SAT's map broadcast to every class: `([maps [B, h, w, K], masks
    ...])` -> float32 `[B, h, w, K]`."""

    def call(self, inputs):
        maps = inputs[0]
        spatial = spatial_map(inputs[1:], maps.shape[1], maps.shape[2])
        return ops.broadcast_to(spatial[..., None], ops.shape(maps))

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


def spatial_map(masks, rows, cols):
    """The mean of the masks `[B, rows * cols]`: float32 `[B, rows, cols]`."""
    mean = ops.mean(ops.stack([ops.cast(m, "float32") for m in masks]), 0)
    return ops.reshape(mean, (-1, rows, cols))


def _head(x, num_classes, masks, area):
    # TS-CAM's head (and initialisation), which SAT keeps; not its
    # SemanticMaps, whose CAMs are not SAT's.
    maps = head_conv(x, num_classes)
    maps = SpatialLosses(area, name="sat_losses")([maps, *masks])
    return logits_of(maps)


def built_in(area: float = AREA) -> common.BuiltIn:
    """SAT in a table DeiT (`deit_tiny`, `deit_small`, `deit_base`;
    `method=` of their builders): its token network and head."""

    def head(inputs, x, num_classes, width, kernel_initializer, attention):
        return inputs, _head(x, num_classes, attention, area)

    return common.BuiltIn(head=head, attention=True, backbone=backbone)


def sat(
    variant="deit_small",
    num_classes: int = 200,
    input_shape=(224, 224, 3),
    model_input: common.ModelInput | None = None,
    area: float = AREA,
    name: str = "sat",
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """SAT's network on a DeiT.

    Args:
      variant: a `deit.VARIANTS` name or `(width, depth, heads)`, depth
        >= 3.
      num_classes: class maps and logits, >= 1.
      input_shape: `(H, W, 3)`, sides multiples of 16.
      model_input: how the model takes its images (`ModelInput`).
      area: the batch area loss's target.
      name: the model's name.
      drop_path_rate: the blocks' stochastic depth in training.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`, adding SAT's two losses in training; layers
      `sat_token`, `blocks_{i}_spatial_query`, `tscam_head`, `sat_losses`
      and the DeiT's. `cam_model` gives its logits and maps.
    """
    return deit.method_network(
        "sat",
        variant,
        num_classes,
        input_shape,
        model_input,
        built_in(area),
        drop_path_rate,
        name,
    )


def load_sat(model: keras.Model, tensors: dict, source="the weights"):
    """Sets a `sat` model's weights from SAT's state dict: TS-CAM's names
    (`tscam.load_tscam`) plus `loc_token`, `loc_embed` and `weight` (the
    fixed Gaussian kernel, checked against `gaussian_kernel()`).

    Raises:
      WeightsError: naming a missing, unexpected or mis-shaped tensor.
    """
    own = ("loc_token", "loc_embed", "weight")
    missing = sorted(set(own) - set(tensors))
    if missing:
        raise WeightsError(f"{source}: no SAT spatial token: missing {missing}")
    kernel = np.asarray(tensors["weight"], np.float32).reshape(-1)
    if not np.allclose(kernel, gaussian_kernel().reshape(-1), atol=1e-6):
        raise WeightsError(
            f"{source}: tensor 'weight' is not SAT's 3x3 Gaussian kernel"
        )
    load_tscam(
        model, {k: v for k, v in tensors.items() if k not in own}, source
    )
    layer = model.get_layer("sat_token")
    values = []
    for name, current in zip(("loc_token", "loc_embed"), layer.get_weights()):
        value = np.asarray(tensors[name], np.float32)
        if value.shape != current.shape:
            raise WeightsError(
                f"{source}: tensor {name!r} has shape {value.shape}; this "
                f"model takes {current.shape}"
            )
        values.append(value)
    layer.set_weights(values)
