"""A small GAP network for CPU work: the synthetic quickstart and tests.

A few conv stages (3x3 conv + BN + ReLU, then 2x2 max pooling) and the
same CAM head as the paper's models (a new 3x3 conv, global pooling, a
dense classifier). At 64x64 input with the default three stages the CAM is
16x16; it trains on the synthetic dataset in minutes on 2 CPU cores.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from has_tf.models import common
from has_tf.models import table


def small_gap(
    num_classes: int = 10,
    input_shape=(64, 64, 3),
    widths: Sequence[int] = (32, 64, 128),
    cam_filters: int = 128,
    batch_norm: bool = True,
    pooling: str = "avg",
    dropout_rate: float = 0.0,
    dropout_at_test: bool = False,
    model_input: common.ModelInput | None = None,
    method: common.BuiltIn | None = None,
    name: str = "small_gap",
) -> keras.Model:
    """Builds the small GAP network.

    Layers: `conv1` .. `conv{n}` (3x3, `widths[i]` filters; a 2x2 max pool
    `pool{i}` after every stage but the last) - `cam_conv` (3x3) - `gap` -
    [`dropout`] - `logits`. The CAM side is input side / 2**(n - 1).

    Args:
      num_classes: classifier width, >= 1.
      input_shape: `(height, width, channels)`; at least 2**(n-1) pixels
        per side (a 1x1 CAM), 64 to 128 is the intended range.
      widths: filters of each stage (at least one stage).
      cam_filters: filters of the CAM conv.
      batch_norm: BN after every conv.
      pooling: "avg" (GAP) or "max" (GMP).
      dropout_rate: dropout before the classifier; 0 disables it.
      dropout_at_test: keep that dropout active at inference (the paper's
        "dropout-traintest" baseline).
      model_input: how the model takes its images and hides them in
        training (`has_tf.models.ModelInput`: normalisation, input
        hiding, conv1 hiding: the cells of conv1's maps, `conv1_hide`);
        None: float images already normalised, no hiding.
      method: what a method builds in (`common.BuiltIn`, from
        has_tf.methods; None: the plain classifier). wsolevaluation has no
        small net; placed as on its VGG16, at the last three
        stage boundaries: ADL goes after the last pool, the last
        stage and the CAM conv (`adl1`..`adl3`); ACoL's two
        heads (`cam_filters` wide, `acol`) on the last stage and takes
        `[images, labels]` (`pooling`, `dropout_rate` do not apply).
      name: the model's name.

    Returns:
      A `keras.Model` from images to float32 logits `[B, num_classes]`.

    Raises:
      ValueError: bad arguments or an input below the minimum size.
    """
    shape = common.check_common(
        "small_gap", num_classes, input_shape, pooling, dropout_rate
    )
    widths = tuple(widths)
    if not widths or any(
        not isinstance(w, int) or isinstance(w, bool) or w < 1
        for w in widths + (cam_filters,)
    ):
        raise ValueError(
            "small_gap: expected `widths` to be a non-empty list of ints "
            f">= 1 and `cam_filters` >= 1. Received: widths={widths!r}, "
            f"cam_filters={cam_filters!r}"
        )
    pools = len(widths) - 1
    common.check_min_size("small_gap", shape, lambda n: n // 2**pools)
    method = common.check_method("small_gap", method)
    model_input = common.check_model_input(
        "small_gap", model_input, conv1_hiding=True
    )
    inputs, x = common.input_layers(shape, model_input)
    for index, width in enumerate(widths, start=1):
        x = common.conv_block(
            x, width, 3, f"conv{index}", batch_norm=batch_norm
        )
        if index == 1:
            x = common.hide_conv1(x, model_input)
        if index <= pools:
            x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
        if index == len(widths) - 1:
            x = method.at(x, 1)
    x = method.at(x, 2)
    if method.head is not None:
        inputs, logits = method.head(
            inputs, x, num_classes, cam_filters, "glorot_uniform"
        )
        return keras.Model(inputs, logits, name=name)
    x = common.cam_head(
        x,
        num_classes,
        (cam_filters,),
        batch_norm,
        pooling,
        dropout_rate,
        dropout_at_test,
        adl=lambda features: method.at(features, 3),
    )
    return keras.Model(inputs, x, name=name)


# The table of models (`has_tf.models.table`): what the apps ask of it.
MODEL = table.register(
    table.ImageModel(
        "small_gap",
        small_gap,
        input_side=64,
        method_places=True,
        conv1_hiding=True,
    )
)
