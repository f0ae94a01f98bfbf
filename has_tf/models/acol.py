"""ACoL, adversarial complementary learning (Zhang et al., CVPR 2018).

As wsolevaluation runs it (`wsol/method/acol.py`, `wsol/method/util.py`,
the `*Acol` models): two classifier heads on the backbone's features `F`
`[B, h, w, C]`, each a 3x3 conv + ReLU, a 3x3 conv + ReLU and a 1x1 conv to
the classes (maps `[B, h, w, N]`, logits their spatial mean):

1. head A on `F`: maps `A`, logits (what the model outputs);
2. the attention: `A`'s map of the label (the true class in training;
   the top-1 class of A when the label is -1), min-max normalised over
   space; `F` erased (set to 0) where it is >= `threshold`;
3. head B on the erased `F`: maps `B`, logits `logit_b`;
4. loss: `CE(logits) + CE(logit_b)` (A's is the compiled loss; B's is
   added by the layer in training, `add_loss`);
5. the CAM: `max(minmax(A), minmax(B))` per class (of the B that erasing
   by that class gives: `AcolHeads.cams` with the class as label).

An ACoL model therefore takes the labels as a second input (int32 `[B]`,
-1 for "the top-1 class"): `takes_labels(model)`.
"""

from __future__ import annotations

import keras
from keras import layers
from keras import ops

from has_tf import _checks
from has_tf.models import common

__all__ = [
    "AcolHeads",
    "DEFAULT_THRESHOLD",
    "acol_heads",
    "labels_input",
    "minmax",
    "takes_labels",
]

# wsolevaluation's default (config.py: --acol_threshold).
DEFAULT_THRESHOLD = 0.7
LAYER_NAME = "acol"


def minmax(maps):
    """wsolevaluation's `normalize_tensor`: `(x - min) / (max - min)` per
    image and channel over space. float `[B, h, w, N]` -> float32."""
    maps = ops.cast(maps, "float32")
    low = ops.min(maps, axis=(1, 2), keepdims=True)
    high = ops.max(maps, axis=(1, 2), keepdims=True)
    return (maps - low) / (high - low)


def _pair(features, labels):
    """`(features, labels)` from two arguments, a pair or a dict (the one
    structured input Keras's `fit` hands a layer); shapes alike."""
    if labels is None and isinstance(features, dict):
        return features["features"], features["labels"]
    if (
        labels is None
        and isinstance(features, (list, tuple))
        and len(features) == 2
        and not isinstance(features[0], int | None)
    ):
        return features[0], features[1]
    return features, labels


def _select(maps, labels):
    index = ops.reshape(ops.cast(labels, "int32"), (-1, 1, 1, 1))
    return ops.take_along_axis(maps, index, axis=3)


@keras.saving.register_keras_serializable(package="has_tf")
class AcolHeads(keras.layers.Layer):
    """ACoL's two heads, the erasing and the second head's loss.

    Args:
      num_classes: classes, >= 1.
      width: filters of each head's two 3x3 convs (1024 in the tool).
      threshold: the erasing threshold on the normalised attention, in
        [0, 1] (`--acol_threshold`, 0.7).
      kernel_initializer: the heads' conv kernels' initializer (the tool:
        Glorot-uniform for VGG16 and Inception-v3, He fan-out for
        ResNet50); biases start at 0.

    Call: `(features [B, h, w, C], labels int [B])` (two arguments, or one
    list or `{"features", "labels"}` dict) -> float32 logits
    `[B, num_classes]` of head A, float32 under a mixed-precision policy
    too. In training it adds head B's mean softmax cross-entropy to the
    model's losses.
    """

    def __init__(
        self,
        num_classes: int,
        width: int = 1024,
        threshold: float = DEFAULT_THRESHOLD,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        num_classes = _checks.positive_int(num_classes, "num_classes")
        width = _checks.positive_int(width, "width")
        number = _checks.probability(threshold, "acol_threshold")
        self.num_classes, self.width, self.threshold = (
            num_classes,
            width,
            number,
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.heads = {
            key: [
                layers.Conv2D(
                    width,
                    3,
                    padding="same",
                    activation="relu",
                    kernel_initializer=self.kernel_initializer,
                    name=f"{key}_conv{index}",
                )
                for index in (1, 2)
            ]
            + [
                layers.Conv2D(
                    num_classes,
                    1,
                    kernel_initializer=self.kernel_initializer,
                    name=f"{key}_classes",
                    dtype="float32",  # float32 maps and logits, as `logits`
                )
            ]
            for key in ("head_a", "head_b")
        }

    def build(self, features_shape, labels_shape=None):
        features_shape, _ = _pair(features_shape, labels_shape)
        for convs in self.heads.values():
            shape = features_shape
            for conv in convs:
                conv.build(shape)
                shape = conv.compute_output_shape(shape)

    def _head(self, key, x):
        for conv in self.heads[key]:
            x = conv(x)
        return ops.cast(x, "float32")

    def branches(self, features, labels):
        """Both heads' maps and logits.

        Returns:
          `{"maps_a", "maps_b"}` float32 `[B, h, w, N]`, `{"logits",
          "logit_b"}` float32 `[B, N]`, `"labels"` int32 `[B]` (the labels
          used: the given ones, or A's top-1 where -1), `"erased"` (the
          features head B took).
        """
        maps_a = self._head("head_a", features)
        logits = ops.mean(maps_a, axis=(1, 2))
        labels = ops.cast(labels, "int32")
        labels = ops.where(
            labels < 0, ops.cast(ops.argmax(logits, axis=-1), "int32"), labels
        )
        attention = minmax(ops.stop_gradient(_select(maps_a, labels)))
        keep = ops.logical_not(attention >= self.threshold)
        erased = features * ops.cast(keep, features.dtype)
        maps_b = self._head("head_b", erased)
        return {
            "maps_a": maps_a,
            "maps_b": maps_b,
            "logits": logits,
            "logit_b": ops.mean(maps_b, axis=(1, 2)),
            "labels": labels,
            "erased": erased,
        }

    def call(self, features, labels=None, training=None):
        features, labels = _pair(features, labels)
        out = self.branches(features, labels)
        if training:
            self.add_loss(
                ops.mean(
                    keras.losses.sparse_categorical_crossentropy(
                        out["labels"], out["logit_b"], from_logits=True
                    )
                )
            )
        return out["logits"]

    def cams(self, features, labels):
        """The merged CAMs `max(minmax(A), minmax(B))`, float32
        `[B, h, w, N]`, with head B on the features erased by `labels`
        (int `[B]`, -1: A's top-1): the map of channel `labels[i]` is
        image i's CAM of that class."""
        out = self.branches(features, labels)
        return ops.maximum(minmax(out["maps_a"]), minmax(out["maps_b"]))

    def compute_output_shape(self, features_shape, labels_shape=None):
        features_shape, _ = _pair(features_shape, labels_shape)
        return (features_shape[0], self.num_classes)

    def compute_output_spec(self, features, labels=None, training=None):
        features, _ = _pair(features, labels)
        return keras.KerasTensor(
            (features.shape[0], self.num_classes), dtype="float32"
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "width": self.width,
            "threshold": self.threshold,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
        }


def labels_input():
    """The labels input of an ACoL model: int32 `[B]`, -1 = top-1."""
    return keras.Input((), dtype="int32", name="labels")


def acol_heads(
    features, labels, num_classes, width, threshold, kernel_initializer
):
    """Adds `AcolHeads` (named `acol`) on `features`: float32 logits."""
    return AcolHeads(
        num_classes,
        width,
        threshold,
        kernel_initializer=kernel_initializer,
        name=LAYER_NAME,
    )(features, labels)


def built_in(threshold: float = DEFAULT_THRESHOLD) -> common.BuiltIn:
    """ACoL as wsolevaluation builds it into its backbones: two heads in
    place of the CAM head (the model then takes `[images, labels]`), VGG16
    with the tool's ACoL pools and Glorot-initialised convs, no
    Inception-v3 head dropout.

    Args:
      threshold: erase where the first head's normalised map is >= this,
        in [0, 1].
    """
    _checks.probability(threshold, "acol_threshold")

    def head(inputs, x, num_classes, width, kernel_initializer):
        labels = labels_input()
        logits = acol_heads(
            x, labels, num_classes, width, threshold, kernel_initializer
        )
        return [inputs, labels], logits

    return common.BuiltIn(
        head=head,
        overlapping_pools=True,
        backbone_init="glorot_uniform",
        head_dropout=False,
    )


def takes_labels(model: keras.Model) -> bool:
    """Whether `model` is an ACoL model (images and labels in)."""
    return any(isinstance(layer, AcolHeads) for layer in model.layers)
