"""Pieces the CAM models share: conv blocks, LRN, the GAP head, checks.

Every model here is a Keras functional model with stable layer names:
the backbone's convs (`conv1`...), the new CAM conv layers (`cam_conv...`),
the global pooling layer (`gap`, or `gmp` for global max pooling) and the
classifier (`logits`, always float32 so mixed precision keeps float32
logits). Models output logits; use `from_logits=True` losses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
from keras import layers
from keras import ops

from has_tf import vocabulary
from has_tf.augmentation.layers import HideAndSeekLayer
from has_tf.augmentation.layers import PixelNormalization

POOLINGS = vocabulary.POOLINGS
POOL_NAMES = {"avg": "gap", "max": "gmp"}


@keras.saving.register_keras_serializable(package="has_tf")
class LocalResponseNorm(layers.Layer):
    """Cross-channel local response normalisation (AlexNet, Caffe's LRN).

    `y = x / (bias + alpha / size * sum_{window} x**2) ** beta`, the sum over
    `size` neighbouring channels centred on each channel (zero-padded at the
    ends), as Caffe's `LRN` layer with `local_size=size`. Written with
    `keras.ops` (a cumulative sum over channels), so it runs in float16,
    bfloat16 and under XLA.

    Input shape / Output shape: `[B, H, W, C]`, channels last.
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, bias=1.0, **kwargs):
        super().__init__(**kwargs)
        if size < 1 or size % 2 == 0:
            raise ValueError(
                f"Expected an odd LRN `size` >= 1. Received: size={size}"
            )
        self.size, self.alpha, self.beta, self.bias = size, alpha, beta, bias

    def call(self, x):
        half = self.size // 2
        squares = ops.square(ops.cast(x, "float32"))
        padded = ops.pad(squares, [[0, 0], [0, 0], [0, 0], [half + 1, half]])
        totals = ops.cumsum(padded, axis=-1)
        window = totals[..., self.size :] - totals[..., : -self.size]
        scale = ops.power(
            self.bias + self.alpha / self.size * window, self.beta
        )
        return ops.cast(ops.cast(x, "float32") / scale, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "alpha": self.alpha,
            "beta": self.beta,
            "bias": self.bias,
        }


@keras.saving.register_keras_serializable(package="has_tf")
class AlwaysDropout(layers.Dropout):
    """Dropout also at inference: a model's output is then random.

    The paper's "dropout-traintest" baseline (Table 3) drops at test time
    as in training; Keras's `Dropout` is the identity unless training.
    """

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def conv_block(
    x,
    filters,
    kernel,
    name,
    strides=1,
    padding="same",
    batch_norm=False,
    kernel_initializer="glorot_uniform",
):
    """Conv (+ BN) + ReLU; the conv is named `name`, its BN `name + '_bn'`."""
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=not batch_norm,
        kernel_initializer=kernel_initializer,
        name=name,
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


@dataclasses.dataclass(frozen=True)
class ModelInput:
    """How a model takes its images, and the hiding it does in training.

    The builders' `model_input=`; None there is `ModelInput()`: a model
    taking float images already normalised (the weights' normalisation,
    `pretrained.describe`) that hides nothing.

    Attributes:
      normalization: None, or `(mean, std)` in pixel units (each a float
        or one per channel): the model then takes uint8 pixels
        `[B, H, W, C]` in [0, 255] and normalises them to float in its
        first op (`input_pixels`, a `has_tf.PixelNormalization`, which
        also does the input hiding): how has_tf's apps build every model.
      hide_patch_sizes: Hide-and-Seek on the normalised input, inside the
        model and in training only (`--hide_on=device`): patch sides in
        pixels, one drawn per image (0 hides nothing); None: off. Hidden
        pixels take 0, the dataset mean after normalisation.
      hide_prob: each patch's hiding probability, in [0, 1].
      conv1_hide_patch_sizes: hide cells of conv1's feature maps in
        training (the paper's ablation: 5 or 11 on AlexNet's 55x55 maps);
        None: off. Only a model whose table row has `conv1_hiding` takes
        it. Hidden activations are 0.
      conv1_hide_prob: their hiding probability, in [0, 1].
      token_hide_patch_sizes: hide grid cells of a transformer's patch
        tokens in training, sides in tokens (`augmentation.token_hiding.
        HideTokens`: a learned mask token in their place); None: off. Only
        a model whose table row has `token_hiding` takes it.
      token_hide_prob: their hiding probability, in [0, 1].

    Raises:
      ValueError: a bad field, named with the value received.
    """

    normalization: tuple | None = None
    hide_patch_sizes: tuple | None = None
    hide_prob: float = 0.5
    conv1_hide_patch_sizes: tuple | None = None
    conv1_hide_prob: float = 0.5
    token_hide_patch_sizes: tuple | None = None
    token_hide_prob: float = 0.5

    def __post_init__(self):
        norm = self.normalization
        if norm is not None and (
            not isinstance(norm, (tuple, list)) or len(norm) != 2
        ):
            raise ValueError(
                "ModelInput: expected `normalization` to be None or "
                f"(mean, std) in pixel units. Received: normalization={norm!r}"
            )
        for field in (
            "hide_patch_sizes",
            "conv1_hide_patch_sizes",
            "token_hide_patch_sizes",
        ):
            sizes = getattr(self, field)
            if sizes is None:
                continue
            if isinstance(sizes, int) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0
                for s in sizes
            ):
                raise ValueError(
                    f"ModelInput: expected `{field}` to be None or a "
                    f"sequence of ints >= 0. Received: {field}={sizes!r}"
                )
            object.__setattr__(self, field, tuple(sizes))
        if norm is not None:
            object.__setattr__(self, "normalization", tuple(norm))
        for field in ("hide_prob", "conv1_hide_prob", "token_hide_prob"):
            prob = getattr(self, field)
            if isinstance(prob, bool) or not 0.0 <= prob <= 1.0:
                raise ValueError(
                    f"ModelInput: expected `{field}` in [0, 1]. "
                    f"Received: {field}={prob!r}"
                )


def check_model_input(
    model_name, model_input, conv1_hiding=False, token_hiding=False
):
    """`model_input` (None or a `ModelInput`) as a `ModelInput`; refuses
    conv1 hiding on a model without it (`conv1_hiding=False`), and token
    hiding likewise (`token_hiding=False`)."""
    model_input = _record(model_name, "model_input", model_input, ModelInput)
    for field, has_it, what in (
        ("conv1_hide_patch_sizes", conv1_hiding, "conv1_hiding"),
        ("token_hide_patch_sizes", token_hiding, "token_hiding"),
    ):
        if getattr(model_input, field) is not None and not has_it:
            raise ValueError(
                f"{model_name}: has no {what.replace('_', ' ')} (the models "
                f"with it have `{what}` in `has_tf.models.table`). "
                f"Received: model_input.{field}="
                f"{getattr(model_input, field)!r}"
            )
    return model_input


def input_layers(shape, model_input: ModelInput):
    """A model's input and its first op: `(inputs, x)`.

    Without `model_input.normalization` the input takes float images
    already normalised (hiding, if any, by `hide_input`); with it, uint8
    pixels `[B, H, W, C]` in [0, 255] that `PixelNormalization` (named
    `input_pixels`) normalises and, with `hide_patch_sizes`, hides in
    training in the same op.
    """
    spec = model_input
    if spec.normalization is None:
        inputs = keras.Input(shape, name="images")
        return inputs, hide_input(inputs, spec.hide_patch_sizes, spec.hide_prob)
    inputs = keras.Input(shape, dtype="uint8", name="images")
    x = PixelNormalization(
        *spec.normalization,
        spec.hide_patch_sizes,
        spec.hide_prob,
        name="input_pixels",
    )(inputs)
    return inputs, x


def hide_input(x, patch_sizes, hide_prob, seed=None):
    """Hide-and-Seek on the device: `HideAndSeekLayer` named `input_hide`.

    For normalised images (hidden pixels take 0, the dataset mean after
    normalisation), as the model's first op, so that the host's input
    pipeline does no per-pixel hiding work (`--hide_on=device`); XLA fuses
    it with what follows. Active in training only. None as `patch_sizes`
    adds nothing.
    """
    if patch_sizes is None:
        return x
    return HideAndSeekLayer(
        patch_sizes, hide_prob, 0.0, seed=seed, name="input_hide"
    )(x)


def hide_conv1(x, model_input: ModelInput):
    """The conv1 hiding ablation: `HideAndSeekLayer` named `conv1_hide`,
    with `model_input`'s conv1 sizes and probability.

    Hidden activations take 0; no conv1 sizes add nothing.
    """
    sizes = model_input.conv1_hide_patch_sizes
    if sizes is None:
        return x
    return HideAndSeekLayer(
        sizes, model_input.conv1_hide_prob, 0.0, name="conv1_hide"
    )(x)


def cam_head(
    x,
    num_classes,
    cam_filters,
    batch_norm,
    pooling,
    dropout_rate,
    dropout_at_test=False,
    kernel_initializer="glorot_uniform",
    dense_initializer="glorot_uniform",
    adl=None,
):
    """The CAM head: new 3x3 convs, global pooling, dropout, classifier.

    Args:
      x: the backbone's feature maps.
      num_classes: classifier width.
      cam_filters: filters of each new 3x3/s1/same conv, named
        `cam_conv1`, `cam_conv2`, ... (`cam_conv` when there is one).
      batch_norm: BN after each new conv.
      pooling: "avg" (GAP, named `gap`) or "max" (GMP, named `gmp`).
      dropout_rate: dropout before the classifier (0 disables it).
      dropout_at_test: keep the dropout active at inference too (the
        paper's "dropout-traintest" baseline); else training only.
      kernel_initializer: Keras initializer of the new convs' kernels.
      dense_initializer: Keras initializer of the classifier's kernel.
      adl: None, or a function applied to the new convs' output before
        the pooling (an ADL layer).

    Returns:
      float32 logits `[B, num_classes]`.
    """
    for index, filters in enumerate(cam_filters, start=1):
        name = "cam_conv" if len(cam_filters) == 1 else f"cam_conv{index}"
        x = conv_block(
            x,
            filters,
            3,
            name,
            batch_norm=batch_norm,
            kernel_initializer=kernel_initializer,
        )
    if adl is not None:
        x = adl(x)
    pool = (
        layers.GlobalAveragePooling2D
        if pooling == "avg"
        else layers.GlobalMaxPooling2D
    )
    x = pool(name=POOL_NAMES[pooling])(x)
    if dropout_rate:
        dropout = AlwaysDropout if dropout_at_test else layers.Dropout
        x = dropout(dropout_rate, name="dropout")(x)
    return layers.Dense(
        num_classes,
        kernel_initializer=dense_initializer,
        name="logits",
        dtype="float32",
    )(x)


def cam_network(
    model_name: str,
    backbone: Callable,
    side_of: Callable,
    num_classes,
    input_shape,
    pooling,
    dropout_rate,
    dropout_at_test,
    model_input,
    name: str,
    dense_initializer="glorot_uniform",
) -> keras.Model:
    """A backbone with the plain CAM head (no new convs), its arguments
    checked: what the ConvNeXt and DenseNet builders share.

    Args:
      model_name: the builder's name, for error messages.
      backbone: `x [B, H, W, 3] -> feature map [B, h, w, C]` on the
        normalised images.
      side_of: input side -> feature side (`check_min_size`).
      num_classes, input_shape, pooling, dropout_rate, dropout_at_test:
        as every builder takes them (`check_common`, `cam_head`).
      model_input: a `ModelInput` or None.
      name: the model's name.
      dense_initializer: the classifier kernel's initializer.

    Returns:
      A `keras.Model` from images to float32 logits `[B, num_classes]`.
    """
    shape = check_common(
        model_name, num_classes, input_shape, pooling, dropout_rate
    )
    check_min_size(model_name, shape, side_of)
    model_input = check_model_input(model_name, model_input)
    inputs, x = input_layers(shape, model_input)
    logits = cam_head(
        backbone(x),
        num_classes,
        (),
        False,
        pooling,
        dropout_rate,
        dropout_at_test,
        dense_initializer=dense_initializer,
    )
    return keras.Model(inputs, logits, name=name)


def check_common(model_name, num_classes, input_shape, pooling, dropout_rate):
    """Validates the arguments every model builder takes."""
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or num_classes < 1
    ):
        raise ValueError(
            f"{model_name}: expected `num_classes` to be an int >= 1. "
            f"Received: num_classes={num_classes!r}"
        )
    if pooling not in POOLINGS:
        raise ValueError(
            f"{model_name}: expected `pooling` in {POOLINGS}. "
            f"Received: pooling={pooling!r}"
        )
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(
            f"{model_name}: expected `dropout_rate` in [0, 1). "
            f"Received: dropout_rate={dropout_rate!r}"
        )
    shape = tuple(input_shape)
    if (
        len(shape) != 3
        or shape[-1] is None
        or any(
            d is not None and (not isinstance(d, int) or d < 1) for d in shape
        )
    ):
        raise ValueError(
            f"{model_name}: expected `input_shape` (height, width, "
            f"channels) of positive ints (None for a variable size). "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


def check_min_size(
    model_name,
    input_shape,
    out_size: Callable[[int], int],
    what="a 1x1 feature map",
):
    """Rejects an input whose height or width `out_size` maps below 1.

    `out_size` maps an input side to the CAM side; the error names the
    smallest input side that works.
    """
    smallest = next(n for n in range(1, 4096) if out_size(n) >= 1)
    for side in input_shape[:2]:
        if side is not None and out_size(side) < 1:
            raise ValueError(
                f"{model_name}: input_shape={tuple(input_shape)} is too "
                f"small; the smallest height and width giving {what} are "
                f"{smallest}."
            )


@dataclasses.dataclass(frozen=True)
class BuiltIn:
    """What a method builds into a backbone (`method=` of the builders).

    A plain CAM classifier (what CAM, Hide-and-Seek and CutMix train) is
    `BuiltIn()`. A method module (`has_tf.methods`) makes the record; the
    builders read its fields and never a method's name. The layers' own
    modules give the records of the methods wsolevaluation builds in:
    `has_tf.models.adl.built_in` and `has_tf.models.acol.built_in`.

    Attributes:
      stage: None, or `(x, index) -> x` applied at the backbone's method
        places 1, 2, 3 (wsolevaluation's ADL places: VGG16 after pool3,
        conv4_3, conv5_3; ResNet50 after layer3.0, layer4.0, layer4.2;
        Inception-v3 after Mixed_5d, Mixed_6e, the head's second conv;
        small_gap after its last pool, last stage and CAM conv).
      head: None (the CAM head), or `(inputs, x, num_classes, width,
        kernel_initializer) -> (model_inputs, logits)` in its place, on the
        last features `x` (`width`: the head's suggested conv width).
      overlapping_pools: VGG16's pools as the tool's ACoL VGG has them
        (3x3/s2/p1, 3x3/s1 after conv5_3, a 3x3 average pool).
      backbone_init: None, or the Keras initializer of every conv of
        VGG16 (the tool's ACoL VGG initialises its whole model so).
      head_dropout: Inception-v3's head keeps its three dropouts (the
        tool's InceptionAdl and ACoL heads have none).
      attention: its head also takes a transformer's attention, every
        block's `[B, heads, T, T]` in a list, as `attention=` (SCM's), or
        what `backbone` gives in its place.
      backbone: None, or a transformer's token network in place of a
        DeiT's, with `deit.tokens_and_attention`'s arguments and results
        (SAT's spatial token).
    """

    stage: Callable | None = None
    head: Callable | None = None
    overlapping_pools: bool = False
    backbone_init: str | None = None
    head_dropout: bool = True
    attention: bool = False
    backbone: Callable | None = None

    def at(self, x, index: int):
        """`x` after the method's layers at place `index` (1, 2, 3)."""
        return x if self.stage is None else self.stage(x, index)


def check_method(model_name, method) -> BuiltIn:
    """`method` (None or a `BuiltIn`) as a `BuiltIn`."""
    return _record(
        model_name,
        "method",
        method,
        BuiltIn,
        " (e.g. has_tf.models.adl.built_in())",
    )


def _record(model_name, argument, value, record, example=""):
    """`value` as a `record` (a builder's record argument): None is the
    default record; anything but a `record` is refused, naming
    `argument` and the value received."""
    if value is None:
        return record()
    if not isinstance(value, record):
        raise ValueError(
            f"{model_name}: expected `{argument}` to be None or a "
            f"has_tf.models.{record.__name__}{example}. Received: "
            f"{argument}={value!r}"
        )
    return value
