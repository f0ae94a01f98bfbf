"""DeiT backbones as timm's `VisionTransformer` builds them (Touvron et
al., ICML 2021; the non-distilled `deit_*_patch16_224.fb_in1k` models).

Patch embedding (a 16x16 conv at stride 16), a class token and a learned
position embedding, then pre-norm blocks: `x + attn(norm1(x))`,
`x + mlp(norm2(x))` with LayerNorm epsilon 1e-6, one fused `qkv` dense
with bias, softmax attention scaled by `head_dim ** -0.5`, an MLP of 4x
width with exact GELU; a final LayerNorm. Widths, depths, heads
(`VARIANTS`): tiny 192 / 12 / 3, small 384 / 12 / 6, base 768 / 12 / 12.
Parameters without a head: 5,524,416 (tiny), 21,665,664 (small),
85,798,656 (base) at 224 (the position embedding grows with the input).

Layer names follow timm's modules with "_" for ".": `patch_embed_proj`,
`tokens` (class token and position embedding), `blocks_{i}_norm1`,
`blocks_{i}_attn_qkv`, `blocks_{i}_attn` (the attention itself, no
weights), `blocks_{i}_attn_proj`, `blocks_{i}_norm2`,
`blocks_{i}_mlp_fc1`, `blocks_{i}_mlp_fc2`, `norm`, and `head` (timm's
classifier on the class token) when asked.

`deit_tiny`, `deit_small` and `deit_base` are the table's models: the
backbone, its patch tokens on their grid and `common.cam_head` (pooling
and a classifier): a CAM of `side / 16` per side (14 x 14 at 224).

timm's files are read by `vit_weights` (`load_timm`, with the position
embedding resampled to the model's grid).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers
from keras import ops

from has_tf import vocabulary
from has_tf.augmentation.token_hiding import HideTokens
from has_tf.models import common
from has_tf.models import pretrained
from has_tf.models import table
from has_tf.models import vit_weights

PATCH = 16
LN_EPSILON = 1e-6
MLP_RATIO = 4
# name -> (width, depth, heads).
VARIANTS = {
    "deit_tiny": (192, 12, 3),
    "deit_small": (384, 12, 6),
    "deit_base": (768, 12, 12),
}


@keras.saving.register_keras_serializable(package="has_tf")
class TokenEmbedding(layers.Layer):
    """Prepends the class token to patch tokens and adds the learned
    position embedding (timm's `cls_token`, `pos_embed`).

    Input float `[B, N, D]` patch tokens (N = `grid[0] * grid[1]`, row
    major); output `[B, 1 + N, D]`, the class token first.
    """

    def __init__(self, grid, width, **kwargs):
        super().__init__(**kwargs)
        self.grid = tuple(int(g) for g in grid)
        self.width = int(width)

    def build(self, input_shape):
        tokens = 1 + self.grid[0] * self.grid[1]
        # timm's initialisation: normal(1e-6) and truncated normal(0.02).
        self.cls_token = self.add_weight(
            shape=(1, 1, self.width),
            initializer=keras.initializers.RandomNormal(stddev=1e-6),
            name="cls_token",
        )
        self.pos_embed = self.add_weight(
            shape=(1, tokens, self.width),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="pos_embed",
        )

    def call(self, x):
        cls = ops.broadcast_to(
            ops.cast(self.cls_token, x.dtype), (ops.shape(x)[0], 1, self.width)
        )
        return ops.concatenate([cls, x], axis=1) + ops.cast(
            self.pos_embed, x.dtype
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1 + self.grid[0] * self.grid[1], self.width)

    def get_config(self):
        return {**super().get_config(), "grid": self.grid, "width": self.width}


@keras.saving.register_keras_serializable(package="has_tf")
class SelfAttention(layers.Layer):
    """Multi-head softmax attention from a fused `qkv` projection, as timm's
    `Attention` computes it between its `qkv` and `proj` layers.

    Input `[B, T, 3 * D]` (q, k, v, each head's `D / heads` channels in
    order); output `(values [B, T, D], probabilities [B, heads, T, T])`,
    the probabilities' rows summing to 1. With `key_weights` (float
    `[B, T]`) each key's column of the probabilities is scaled by its
    weight after the softmax (SAT's spatial-query attention).
    """

    def __init__(self, heads, **kwargs):
        super().__init__(**kwargs)
        self.heads = int(heads)

    def call(self, qkv, key_weights=None):
        batch, tokens = ops.shape(qkv)[0], ops.shape(qkv)[1]
        width = qkv.shape[-1] // 3
        head_dim = width // self.heads
        parts = ops.reshape(qkv, (batch, tokens, 3, self.heads, head_dim))
        parts = ops.transpose(parts, (2, 0, 3, 1, 4))
        q, k, v = parts[0], parts[1], parts[2]
        scores = ops.matmul(q * head_dim**-0.5, ops.swapaxes(k, -1, -2))
        probabilities = ops.softmax(scores, axis=-1)
        if key_weights is not None:
            probabilities = probabilities * ops.cast(
                key_weights[:, None, None, :], probabilities.dtype
            )
        values = ops.transpose(ops.matmul(probabilities, v), (0, 2, 1, 3))
        return ops.reshape(values, (batch, tokens, width)), probabilities

    def compute_output_shape(self, qkv_shape, key_weights_shape=None):
        batch, tokens, fused = qkv_shape
        return (
            (batch, tokens, fused // 3),
            (batch, self.heads, tokens, tokens),
        )

    def get_config(self):
        return {**super().get_config(), "heads": self.heads}


@keras.saving.register_keras_serializable(package="has_tf")
class DropPath(layers.Layer):
    """timm's stochastic depth on a residual branch `[B, ...]`: in training
    each example's branch is zeroed with probability `rate` and kept ones
    are scaled by `1 / (1 - rate)`; the identity at inference."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(
                f"Expected `rate` in [0, 1). Received: rate={rate!r}"
            )
        self.rate = float(rate)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training or not self.rate:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        draw = keras.random.uniform(shape, seed=self.generator, dtype=x.dtype)
        return x * ops.floor(keep + draw) / keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def grid_of(input_shape) -> tuple:
    """The patch grid `(rows, cols)` of an input `(H, W, 3)`."""
    return input_shape[0] // PATCH, input_shape[1] // PATCH


def check_variant(variant) -> tuple:
    """`(width, depth, heads)` of a `VARIANTS` name, or of such a tuple
    (a ViT of another size, as timm's `VisionTransformer(embed_dim,
    depth, num_heads)`; the width a multiple of the heads).

    Raises:
      ValueError: naming `variant` and the known names.
    """
    if isinstance(variant, str) and variant in VARIANTS:
        return VARIANTS[variant]
    if (
        isinstance(variant, tuple)
        and len(variant) == 3
        and all(isinstance(v, int) and v >= 1 for v in variant)
        and variant[0] % variant[2] == 0
    ):
        return variant
    raise ValueError(
        f"Expected `variant` in {tuple(VARIANTS)} or a (width, depth, "
        "heads) tuple of ints, width a multiple of heads. Received: "
        f"variant={variant!r}"
    )


def _dense(x, units, name):
    # timm initialises its Linear layers truncated normal(0.02), zero bias.
    return layers.Dense(
        units,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        name=name,
    )(x)


def _norm(x, name):
    return layers.LayerNormalization(epsilon=LN_EPSILON, name=name)(x)


def _block(x, width, heads, name, drop_path=0.0, attend=None):
    """One pre-norm block; returns `(tokens, attention probabilities)`.
    `drop_path`: its branches' stochastic depth (none when 0); `attend`:
    None, or `qkv -> (values, output)` in place of `SelfAttention` (its
    attention layer named `{name}_attn`), whose output is returned in the
    probabilities' place."""

    def branch(y, suffix):
        if not drop_path:
            return y
        return DropPath(drop_path, name=f"{name}_drop_path{suffix}")(y)

    qkv = _dense(_norm(x, f"{name}_norm1"), 3 * width, f"{name}_attn_qkv")
    attend = attend or SelfAttention(heads, name=f"{name}_attn")
    values, probabilities = attend(qkv)
    x = layers.Add(name=f"{name}_add1")(
        [x, branch(_dense(values, width, f"{name}_attn_proj"), 1)]
    )
    hidden = _dense(
        _norm(x, f"{name}_norm2"), MLP_RATIO * width, f"{name}_mlp_fc1"
    )
    # Keras's "gelu" is the exact one (erf), as timm's nn.GELU.
    hidden = layers.Activation("gelu", name=f"{name}_mlp_act")(hidden)
    x = layers.Add(name=f"{name}_add2")(
        [x, branch(_dense(hidden, width, f"{name}_mlp_fc2"), 2)]
    )
    return x, probabilities


def tokens_and_attention(
    images,
    variant,
    input_shape,
    drop_path_rate=0.0,
    model_input=None,
    tokens_hook=None,
    attention_hook=None,
):
    """The backbone on a functional input: `(tokens, attention)`.

    Args:
      images: float `[B, H, W, 3]`, normalised as the weights were.
      variant: a `VARIANTS` name or `(width, depth, heads)`.
      input_shape: `(H, W, 3)`, both sides multiples of 16 (so no pixel
        is dropped).
      drop_path_rate: timm's `drop_path_rate`, in [0, 1): block i's
        branches dropped with probability `rate * i / (depth - 1)` in
        training (`DropPath`; timm's linear rule).
      model_input: None, or a `common.ModelInput` whose
        `token_hide_patch_sizes` hides patch tokens in training
        (`HideTokens`, named `token_hide`, before the position embedding).
      tokens_hook: None, or `tokens -> tokens` after the position
        embedding (SAT appends its spatial token).
      attention_hook: None, or `(block index, depth, heads, name) ->
        attend` (`_block`'s) for the blocks it returns one for.

    Returns:
      tokens: `[B, 1 + N, D]` after the final LayerNorm, the class token
        first, then the N = (H / 16) x (W / 16) patch tokens row by row.
      attention: a list, one `[B, heads, 1 + N, 1 + N]` per block, the
        softmax probabilities (rows: queries).
    """
    width, depth, heads = check_variant(variant)
    if not 0.0 <= drop_path_rate < 1.0:
        raise ValueError(
            f"{variant}: expected `drop_path_rate` in [0, 1). Received: "
            f"drop_path_rate={drop_path_rate!r}"
        )
    rates = np.linspace(0.0, drop_path_rate, depth)
    grid = grid_of(input_shape)
    if input_shape[0] % PATCH or input_shape[1] % PATCH or min(grid) < 1:
        raise ValueError(
            f"{variant}: expected an input whose sides are multiples of "
            f"{PATCH} (the patches). Received: input_shape={tuple(input_shape)}"
        )
    x = layers.Conv2D(width, PATCH, strides=PATCH, name="patch_embed_proj")(
        images
    )
    if model_input is not None and model_input.token_hide_patch_sizes:
        x = HideTokens(
            model_input.token_hide_patch_sizes,
            model_input.token_hide_prob,
            name="token_hide",
        )(x)
    x = layers.Reshape((grid[0] * grid[1], width), name="patch_tokens")(x)
    x = TokenEmbedding(grid, width, name="tokens")(x)
    if tokens_hook is not None:
        x = tokens_hook(x)
    attention = []
    for index in range(depth):
        name = f"blocks_{index}"
        attend = attention_hook and attention_hook(index, depth, heads, name)
        x, probabilities = _block(
            x, width, heads, name, float(rates[index]), attend
        )
        attention.append(probabilities)
    return _norm(x, "norm"), attention


def vision_transformer(
    variant: str = "deit_small",
    input_shape=(224, 224, 3),
    num_classes: int | None = None,
    attention: bool = False,
    name: str | None = None,
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """timm's DeiT as a Keras model.

    Args:
      variant: "deit_tiny", "deit_small", "deit_base" or `(width, depth,
        heads)`.
      input_shape: `(H, W, 3)`, sides multiples of 16.
      num_classes: None: no head, the model gives the tokens; else timm's
        classifier (`head`) on the class token gives float logits
        `[B, num_classes]`.
      attention: also give every block's attention probabilities.
      name: the model's name (default: the variant).
      drop_path_rate: stochastic depth in training (`tokens_and_attention`).

    Returns:
      A `keras.Model` from normalised float images `[B, H, W, 3]` to the
      tokens `[B, 1 + N, D]` (or the logits), followed by the `depth`
      attention tensors `[B, heads, 1 + N, 1 + N]` when `attention`.
    """
    images = keras.Input(tuple(input_shape), name="images")
    tokens, probabilities = tokens_and_attention(
        images, variant, input_shape, drop_path_rate
    )
    out = tokens
    if num_classes is not None:
        out = _dense(tokens[:, 0], num_classes, "head")
    outputs = [out, *probabilities] if attention else out
    default = variant if isinstance(variant, str) else "vision_transformer"
    return keras.Model(images, outputs, name=name or default)


def patch_grid(
    model_name,
    variant,
    num_classes,
    input_shape,
    model_input,
    pooling="avg",
    dropout_rate=0.0,
    drop_path_rate=0.0,
    backbone=None,
):
    """A DeiT model's checked arguments, input, patch tokens on their grid
    and attention: `(inputs, patches, attention)`, patches `[B, H / 16,
    W / 16, D]` after the final LayerNorm (the class token left out),
    attention a list of every block's `[B, heads, 1 + N, 1 + N]`;
    `drop_path_rate`: the blocks' stochastic depth in training;
    `backbone`: None, or a function with `tokens_and_attention`'s
    arguments and results in its place (a method's own token network).

    Raises:
      ValueError: bad arguments, each named with `model_name`.
    """
    shape = common.check_common(
        model_name, num_classes, input_shape, pooling, dropout_rate
    )
    model_input = common.check_model_input(
        model_name, model_input, token_hiding=True
    )
    inputs, x = common.input_layers(shape, model_input)
    tokens, attention = (backbone or tokens_and_attention)(
        x, variant, shape, drop_path_rate, model_input
    )
    patches = layers.Reshape(
        (*grid_of(shape), tokens.shape[-1]), name="patch_grid"
    )(tokens[:, 1:])
    return inputs, patches, attention


def method_network(
    model_name,
    variant,
    num_classes,
    input_shape,
    model_input,
    method: common.BuiltIn,
    drop_path_rate=0.0,
    name=None,
) -> keras.Model:
    """A DeiT with a method's own head in place of the CAM head, and its
    own token network where it has one (`method.backbone`): TS-CAM's, SCM's,
    SAT's networks, for the table's DeiTs and any `(width, depth, heads)`.

    Returns:
      A `keras.Model` named `name` (default `model_name`) from images to
      the head's float32 logits `[B, num_classes]`.

    Raises:
      ValueError: bad arguments, each named with `model_name`.
    """
    inputs, patches, attention = patch_grid(
        model_name,
        variant,
        num_classes,
        input_shape,
        model_input,
        drop_path_rate=drop_path_rate,
        backbone=method.backbone,
    )
    extra = {"attention": attention} if method.attention else {}
    inputs, logits = method.head(
        inputs,
        patches,
        num_classes,
        patches.shape[-1],
        "glorot_uniform",
        **extra,
    )
    return keras.Model(inputs, logits, name=name or model_name)


def _cam_builder(variant):
    """The table's builder of a DeiT with a CAM head (module docstring)."""

    def build(
        num_classes: int = 1000,
        input_shape=(224, 224, 3),
        pooling: str = "avg",
        dropout_rate: float = 0.0,
        dropout_at_test: bool = False,
        model_input: common.ModelInput | None = None,
        method: common.BuiltIn | None = None,
        drop_path_rate: float = 0.0,
        weights: str | None = None,
        name: str = variant,
    ) -> keras.Model:
        method = _head_only(variant, method)
        if method.head is not None:
            model = method_network(
                variant,
                variant,
                num_classes,
                input_shape,
                model_input,
                method,
                drop_path_rate,
                name,
            )
        else:
            inputs, patches, _ = patch_grid(
                variant,
                variant,
                num_classes,
                input_shape,
                model_input,
                pooling,
                dropout_rate,
                drop_path_rate,
            )
            logits = common.cam_head(
                patches,
                num_classes,
                (),
                False,
                pooling,
                dropout_rate,
                dropout_at_test,
                dense_initializer=keras.initializers.TruncatedNormal(
                    stddev=0.02
                ),
            )
            model = keras.Model(inputs, logits, name=name)
        if weights is not None:
            pretrained.load(model, weights, variant)
        return model

    build.__name__ = variant
    build.__doc__ = f"""Builds {variant} with a CAM head: its patch tokens
    laid on their grid, global pooling and a dense classifier (`cam_head`),
    so `cam_model` gives a CAM of `input_side / 16` per side.

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(H, W, 3)`, sides multiples of 16.
      pooling: "avg" or "max" over the patch grid.
      dropout_rate, dropout_at_test: dropout before the classifier.
      model_input: how the model takes its images (`ModelInput`).
      method: None, or a `BuiltIn` with a head of its own in place of the
        CAM head (`tscam.built_in()`: TS-CAM); a transformer has no
        stages, so no `stage` layers.
      drop_path_rate: the blocks' stochastic depth in training, timm's
        `drop_path_rate` (rising linearly to it over the blocks), [0, 1).
      weights: timm's `deit_*_patch16_224.fb_in1k` `model.safetensors`
        of this size (`vit_weights.load_timm`; the position embedding
        resampled to `input_shape`, timm's classifier dropped), or None.
      name: the model's name.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`.
    """
    return build


def _head_only(variant, method) -> common.BuiltIn:
    """`method` checked: a DeiT takes a method's head, not its stages."""
    method = common.check_method(variant, method)
    if method.stage is not None:
        raise ValueError(
            f"{variant}: a transformer has no stages where a method's layers "
            "go (ADL's places); it takes a head of its own only "
            f"(BuiltIn.head, e.g. TS-CAM's). Received: method={method!r}"
        )
    return method


deit_tiny = _cam_builder("deit_tiny")
deit_small = _cam_builder("deit_small")
deit_base = _cam_builder("deit_base")


def _read_file(model, tensors, path) -> tuple:
    """`WeightsReader.load`: timm's tensors into a table model."""
    dropped = vit_weights.load_timm(model, tensors, path)
    with_weights = [layer.name for layer in model.layers if layer.weights]
    fresh = [name for name in with_weights if name.startswith(NEW_LAYERS)]
    loaded = [name for name in with_weights if name not in fresh]
    return loaded, fresh, dropped


# The layers the CAM models add to the backbone (`--lr_multiplier`; left
# as initialised by timm's files): the CAM head's or TS-CAM's, the mask
# token of token hiding and SAT's spatial token.
NEW_LAYERS = ("cam_conv", "logits", "tscam_head", "token_hide", "sat_token")
# timm's DeiT files expect ImageNet's mean and std (timm's
# IMAGENET_DEFAULT_MEAN / STD), RGB in [0, 1].
READER = table.WeightsReader(
    {
        "torchvision": (
            vocabulary.IMAGENET_MEAN_RGB,
            vocabulary.IMAGENET_STD_RGB,
        )
    },
    _read_file,
)
# The table of models: the three DeiTs with a CAM head, at 224.
MODELS = tuple(
    table.register(
        table.ImageModel(
            builder.__name__,
            builder,
            input_side=224,
            pretrained=("torchvision",),
            new_layers=NEW_LAYERS,
            method_places=True,
            drop_path=True,
            token_hiding=True,
            weights_reader=READER,
            timm_name=f"{builder.__name__}_patch16_224",
        )
    )
    for builder in (deit_tiny, deit_small, deit_base)
)
