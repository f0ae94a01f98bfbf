"""PSOL's class-agnostic box regressor (Zhang et al., CVPR 2020;
`tzzcl/PSOL`, `models/models.py`, `PSOL_training.py`), in keras.ops.

The second stage of two-stage localization: a backbone and a small head
that regress one box per image, whatever its class, trained on the first
stage's pseudo-boxes (`python -m has_tf.pseudo_labels`); the class comes
from any classifier (`has_tf.evaluate --classes_from`).

The head is PSOL's: the backbone's last feature map, averaged over its
positions, then `Linear(C, 512) -> ReLU -> Linear(512, 4) -> Sigmoid`
(its `resnet50`, `densenet161` and `vgggap` heads), each linear layer
initialised as PyTorch's `nn.Linear` (weights and bias uniform in
`+-1/sqrt(fan_in)`). The 4 outputs are PSOL's box parametrisation:
`(x, y, w, h)`, the left and top edges and the width and height, each a
fraction of the crop's side, in [0, 1]; `to_corners` turns them into
has_tf's `(ymin, xmin, ymax, xmax)` (not clipped: PSOL scores the box
as predicted, `x + w` may pass 1). The loss is PSOL's: 50 times the
mean squared error over the four numbers (`box_loss`).

Here the backbone is any CAM classifier of the model table (its feature
map is the input of its `gap`/`gmp` pooling, or another layer's with
`features_layer`), e.g. torchvision's `densenet161` (PSOL's map exactly:
`features` then ReLU), wsolevaluation's `resnet50_cam`, whose layer 4
keeps stride 1 (PSOL's torchvision ResNet50 halves it; the weights are the
same), and `vgg16_cam`, whose CAM head reads wsolevaluation's extra conv6:
PSOL's `vgggap` pools conv5 after pool5, `features_layer="conv5_3_relu"`,
`features_pool=2`.
"""

from __future__ import annotations

import math

import keras
from keras import layers
from keras import ops

from has_tf.models.cam import _pool_layer
from has_tf.models.cam import feature_map

__all__ = [
    "HEAD_LAYERS",
    "LOSS_WEIGHT",
    "box_accuracy",
    "box_loss",
    "box_regressor",
    "to_corners",
]

# The head's layers, by name (what trains at PSOL's twice the rate).
HEAD_LAYERS = ("box_pool", "box_fc1", "box_fc2")
# PSOL's `lambda_reg`: the weight of its mean squared error.
LOSS_WEIGHT = 50.0
HIDDEN = 512


def _torch_linear(fan_in: int, seed):
    """`nn.Linear`'s default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
    the weights (`kaiming_uniform_(a=sqrt(5))`) and the bias."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound, seed=seed)


def box_regressor(
    classifier: keras.Model,
    hidden: int = HIDDEN,
    seed: int | None = None,
    features_layer: str = "",
    features_pool: int = 1,
) -> keras.Model:
    """PSOL's regressor on a CAM classifier's feature map.

    Args:
      classifier: a has_tf CAM classifier (a `gap` or `gmp` pooling on its
        feature map); its weights are shared, its `logits` left out.
      hidden: the head's hidden units (PSOL: 512).
      seed: the head's initialisation seed (None: Keras's global one).
      features_layer: the layer whose map the head pools
        (`--box_features`); empty: the CAM head's input. PSOL's `vgggap`
        pools torchvision's VGG16 `features`, pool5 included: on
        `vgg16_cam`, `conv5_3_relu` with `features_pool=2`.
      features_pool: max-pool that map `p x p` with stride `p` first
        (PyTorch's `MaxPool2d(p)`: the last rows and columns that fill no
        window dropped), >= 1.

    Returns:
      A `keras.Model` from the classifier's input (uint8 pixels `[B, S,
      S, 3]` for the table's models) to float32 `[B, 4]` boxes `(x, y,
      w, h)`, fractions of the crop in [0, 1].

    Raises:
      ValueError: a model without the pooling layer, an unknown
        `features_layer` or a map smaller than `features_pool`.
    """
    if not isinstance(features_pool, int) or features_pool < 1:
        raise ValueError(
            "--box_features_pool: expected an int >= 1. Received: "
            f"{features_pool!r}"
        )
    if features_layer:
        features = feature_map(classifier, features_layer, "--box_features")
    else:
        features = _pool_layer(classifier).input
    if features_pool > 1:
        sides = [side for side in features.shape[1:3] if side is not None]
        if any(side < features_pool for side in sides):
            raise ValueError(
                f"--box_features_pool: the feature map {features.shape[1:3]} "
                f"is smaller than the pool. Received: {features_pool}"
            )
        features = layers.MaxPooling2D(
            features_pool, features_pool, name="box_features_pool"
        )(features)
    channels = int(features.shape[-1])
    x = layers.GlobalAveragePooling2D(name="box_pool")(features)
    x = layers.Dense(
        hidden,
        activation="relu",
        kernel_initializer=_torch_linear(channels, seed),
        bias_initializer=_torch_linear(channels, seed),
        name="box_fc1",
    )(x)
    boxes = layers.Dense(
        4,
        activation="sigmoid",
        kernel_initializer=_torch_linear(hidden, seed),
        bias_initializer=_torch_linear(hidden, seed),
        dtype="float32",
        name="box_fc2",
    )(x)
    return keras.Model(
        classifier.inputs[0], boxes, name=f"{classifier.name}_box_regressor"
    )


def box_loss(targets, boxes):
    """PSOL's loss per image: `50 * mean((boxes - targets)^2)` over its
    four numbers, float32 `[B]`; Keras's mean over the batch then gives
    PSOL's `lambda_reg * nn.MSELoss()` (the mean over batch and numbers).

    Args:
      targets, boxes: float `[B, 4]` `(x, y, w, h)`.
    """
    targets = ops.cast(targets, "float32")
    boxes = ops.cast(boxes, "float32")
    return LOSS_WEIGHT * ops.mean(ops.square(boxes - targets), axis=-1)


def to_corners(boxes):
    """PSOL's `(x, y, w, h)` as `(ymin, xmin, ymax, xmax)`, the same units
    (fractions of the crop, or pixels), not clipped: `[..., 4]`."""
    boxes = ops.convert_to_tensor(boxes)
    x, y, w, h = (boxes[..., k] for k in range(4))
    return ops.stack([y, x, y + h, x + w], axis=-1)


def box_accuracy(targets, boxes):
    """PSOL's training `Loc Acc` per image (`compute_reg_acc`): 1.0 where
    the box's IoU with the target is at least 0.5, float32 `[B]`.

    Args:
      targets, boxes: float `[B, 4]` `(x, y, w, h)`.
    """
    a = to_corners(ops.cast(targets, "float32"))
    b = to_corners(ops.cast(boxes, "float32"))
    top = ops.maximum(a[:, 0], b[:, 0])
    left = ops.maximum(a[:, 1], b[:, 1])
    bottom = ops.minimum(a[:, 2], b[:, 2])
    right = ops.minimum(a[:, 3], b[:, 3])
    inter = ops.maximum(bottom - top, 0.0) * ops.maximum(right - left, 0.0)

    def area(c):
        return ops.maximum(c[:, 2] - c[:, 0], 0.0) * ops.maximum(
            c[:, 3] - c[:, 1], 0.0
        )

    union = area(a) + area(b) - inter
    iou = ops.where(union > 0, inter / ops.maximum(union, 1e-12), 0.0)
    return ops.cast(iou >= 0.5, "float32")
