"""A CAM classifier from any Keras backbone (`keras.applications`, KerasHub).

`cam_classifier(backbone, num_classes, feature_layer=...)` takes the
backbone's feature maps at `feature_layer` and adds a CAM head with the
names `cam_model` looks for (`gap`/`gmp`, `logits`), so that
`has_tf.cam_model`, the image task and `python -m has_tf.train
--model=<file>.keras` take it as they take the project's own builders.

A transformer's tokens `[B, T, D]` are laid on their patch grid first
(`token_grid`): the leading tokens that are no patch's (a class token,
registers) dropped, the rest `[B, H / s, W / s, D]` row by row.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from has_tf.models import common

HEADS = ("conv", "gap_dense")
# The layers cam_classifier adds (what --lr_multiplier speeds up).
NEW_LAYERS = ("cam_conv", "logits")
__all__ = ["HEADS", "NEW_LAYERS", "cam_classifier", "token_grid"]


def token_grid(tokens, input_shape, patch_size=None, prefix_tokens=None):
    """A transformer's tokens on their patch grid.

    Args:
      tokens: a symbolic `[B, T, D]`: `prefix_tokens` tokens that are no
        patch's (a class token, register tokens) first, then the patches
        row by row (ViT's, DeiT's, DINOv2's layout).
      input_shape: the backbone's `(H, W, C)`.
      patch_size: the patch side in pixels; None: the side that, with the
        fewest prefix tokens, accounts for the tokens exactly.
      prefix_tokens: how many leading tokens to drop; None: inferred with
        `patch_size` (at most 16).

    Returns:
      `[B, H / s, W / s, D]`, a layer named `token_grid`.

    Raises:
      ValueError: no (patch size, prefix) accounts for the tokens, or the
        given ones do not (the message names the counts).
    """
    count = tokens.shape[1]
    height, width = input_shape[0], input_shape[1]
    sizes = [patch_size] if patch_size else range(1, min(height, width) + 1)
    prefixes = [prefix_tokens] if prefix_tokens is not None else range(17)
    for prefix in prefixes:
        for size in sizes:
            if height % size or width % size:
                continue
            grid = (height // size, width // size)
            if count is not None and grid[0] * grid[1] == count - prefix:
                patches = layers.Reshape(
                    (*grid, tokens.shape[-1]), name="token_grid"
                )(tokens[:, prefix:])
                return patches
    raise ValueError(
        "cam_classifier: expected tokens [B, T, D] whose last T - prefix are "
        f"the patches of a {height} x {width} input. Received: T={count}, "
        f"patch_size={patch_size!r}, prefix_tokens={prefix_tokens!r}; pass "
        "the backbone's patch size and its number of class and register "
        "tokens."
    )


def _feature_output(backbone: keras.Model, feature_layer, tokens=None):
    """The feature maps at `feature_layer` (or the backbone's output; a
    KerasHub `pyramid_outputs` key, "P3", ...), tokens laid on their grid
    (`tokens`: `(patch_size, prefix_tokens)`)."""
    pyramid = getattr(backbone, "pyramid_outputs", None) or {}
    if feature_layer in pyramid:
        output = pyramid[feature_layer]
        where = f"pyramid output {feature_layer!r}"
    elif feature_layer is None:
        output = backbone.outputs[0] if backbone.outputs else None
        where = "its output"
    else:
        try:
            output = backbone.get_layer(feature_layer).output
        except ValueError:
            names = [layer.name for layer in backbone.layers]
            raise ValueError(
                f"cam_classifier: backbone {backbone.name!r} has no layer "
                f"named {feature_layer!r}. Received: feature_layer="
                f"{feature_layer!r}; its last layers are {names[-6:]}"
            ) from None
        where = f"layer {feature_layer!r}"
    if output is not None and len(output.shape) == 3:
        shape = tuple(backbone.inputs[0].shape[1:])
        output = token_grid(output, shape, *(tokens or (None, None)))
    if output is None or len(output.shape) != 4:
        shape = None if output is None else tuple(output.shape)
        raise ValueError(
            "cam_classifier: expected feature maps [B, h, w, K] (channels "
            "last) or a transformer's tokens [B, T, D] at the backbone's "
            f"{where}; got shape {shape}. Pass "
            "`feature_layer`, the name of a conv block's output (e.g. "
            "'out_relu' for MobileNetV2, 'top_activation' for "
            "EfficientNetB0, 'conv5_block3_out' for ResNet50)."
        )
    return output


def cam_classifier(
    backbone: keras.Model,
    num_classes: int,
    feature_layer: str | None = None,
    head: str = "conv",
    cam_filters: Sequence[int] = (1024,),
    batch_norm: bool = False,
    pooling: str = "avg",
    dropout_rate: float = 0.0,
    model_input: common.ModelInput | None = None,
    name: str | None = None,
    patch_size: int | None = None,
    prefix_tokens: int | None = None,
) -> keras.Model:
    """A functional CAM classifier on `backbone`'s feature maps.

    Args:
      backbone: a Keras model with one image input (channels last), e.g.
        `keras.applications.MobileNetV2(include_top=False, weights=None)`
        or a KerasHub image backbone. Its weights are shared, not copied.
      num_classes: classifier width, >= 1.
      feature_layer: the layer whose output are the CAM feature maps
        `[B, h, w, K]`, or a transformer's tokens `[B, T, D]` (laid on
        their grid, `token_grid`), or a key of the backbone's
        `pyramid_outputs` (KerasHub's "P3", ...); None takes the
        backbone's output (a backbone built without its top, a
        transformer's sequence output).
      head: "conv", the CAM papers' head (new 3x3/s1 convs of
        `cam_filters` + ReLU, named `cam_conv...`, then global pooling and
        the classifier); or "gap_dense", global pooling and the classifier
        straight on the features.
      cam_filters: filters of each new conv of the "conv" head.
      batch_norm: BN after each new conv.
      pooling: "avg" (`gap`: logits = mean(CAM) + bias) or "max" (`gmp`).
      dropout_rate: dropout before the classifier, in [0, 1).
      model_input: how the model takes its images and hides them in
        training (`has_tf.models.ModelInput`: normalisation, input hiding);
        None: float images already normalised, no hiding.
      name: the model's name; default `<backbone name>_cam`.
      patch_size, prefix_tokens: a transformer's patch side and its
        leading non-patch tokens (class, registers); None: inferred from
        the token count (`token_grid`).

    Returns:
      A `keras.Model` from the backbone's input shape (uint8 pixels with
      `model_input.normalization`; else float `[B, H, W, C]` in the units the
      backbone expects) to float32 logits `[B, num_classes]`, with layers
      `input_pixels` or `input_hide` (optional), the backbone's feature part
      (a nested model named after the backbone), `cam_conv...` ("conv"),
      `gap`/`gmp`, `dropout` (optional) and `logits`. `cam_model` adds the
      CAMs `[B, h, w, num_classes]`.

    Raises:
      ValueError: an unknown head, a bad argument, or no 4-D feature maps
        at `feature_layer` (the message names the layer and its shape).
    """
    if not isinstance(backbone, keras.Model):
        raise ValueError(
            "cam_classifier: expected `backbone` to be a keras.Model. "
            f"Received: backbone of type {type(backbone).__name__}"
        )
    if head not in HEADS:
        raise ValueError(
            f"cam_classifier: expected `head` in {HEADS}. Received: "
            f"head={head!r}"
        )
    if len(backbone.inputs) != 1:
        raise ValueError(
            "cam_classifier: expected a backbone with one image input. "
            f"Received: {len(backbone.inputs)} inputs"
        )
    features = _feature_output(
        backbone, feature_layer, (patch_size, prefix_tokens)
    )
    input_shape = common.check_common(
        "cam_classifier",
        num_classes,
        tuple(backbone.inputs[0].shape[1:]),
        pooling,
        dropout_rate,
    )
    trunk = keras.Model(backbone.inputs[0], features, name=backbone.name)
    model_input = common.check_model_input("cam_classifier", model_input)
    inputs, x = common.input_layers(input_shape, model_input)
    x = trunk(x)
    logits = common.cam_head(
        x,
        num_classes,
        tuple(cam_filters) if head == "conv" else (),
        batch_norm,
        pooling,
        dropout_rate,
    )
    return keras.Model(inputs, logits, name=name or f"{backbone.name}_cam")
