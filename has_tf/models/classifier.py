"""A CAM classifier from any Keras backbone (`keras.applications`, KerasHub).

`cam_classifier(backbone, num_classes, feature_layer=...)` takes the
backbone's feature maps at `feature_layer` and adds a CAM head with the
names `cam_model` looks for (`gap`/`gmp`, `logits`), so that
`has_tf.cam_model`, the image task and `python -m has_tf.train
--model=<file>.keras` take it as they take the project's own builders.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from has_tf.models import common

HEADS = ("conv", "gap_dense")
# The layers cam_classifier adds (what --lr_multiplier speeds up).
NEW_LAYERS = ("cam_conv", "logits")
__all__ = ["HEADS", "NEW_LAYERS", "cam_classifier"]


def _feature_output(backbone: keras.Model, feature_layer):
    if feature_layer is None:
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
    if output is None or len(output.shape) != 4:
        shape = None if output is None else tuple(output.shape)
        raise ValueError(
            "cam_classifier: expected feature maps [B, h, w, K] (channels "
            f"last) at the backbone's {where}; got shape {shape}. Pass "
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
) -> keras.Model:
    """A functional CAM classifier on `backbone`'s feature maps.

    Args:
      backbone: a Keras model with one image input (channels last), e.g.
        `keras.applications.MobileNetV2(include_top=False, weights=None)`
        or a KerasHub image backbone. Its weights are shared, not copied.
      num_classes: classifier width, >= 1.
      feature_layer: the layer whose output are the CAM feature maps
        `[B, h, w, K]`; None takes the backbone's output (a backbone built
        without its top).
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
    features = _feature_output(backbone, feature_layer)
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
