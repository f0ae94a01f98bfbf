"""The action network of Hide-and-Seek on per-snippet video features.

The paper's network: two width-1 temporal conv layers of 500 units (ReLU)
on `[T, D]` features, global max pooling over time, a dense classifier
and softmax. Its temporal CAM (T-CAM) is the image CAM in one dimension:
`tcam[t, c] = sum_k W[k, c] * F[t, k]`, F the last conv layer's features
and W the classifier's kernel (no bias).

Pooling options (`pooling`):

- "max_features" (the paper): max over time of each feature, then the
  classifier. Logits are not a function of the T-CAM alone.
- "max": the classifier on every step (the T-CAM plus the bias), then the
  max over time per class.
- "topk" (later work, e.g. W-TALC): the mean of the k largest T-CAM
  values per class plus the bias, k = max(1, T // topk_divisor) (T/8 by
  default).
- "avg": the mean over time, GAP's twin (logits = mean T-CAM + bias).

Heads of later methods (options of `temporal_net`):

- `kernel_size`: the temporal convs' width (the paper: 1; BaS-Net's and
  CoLA's embedding convs: 3), "same" padding;
- `attention`: a foreground-attention branch on the input features
  (STPN's attention, BaS-Net's filter module, CO2-Net's attention): a
  width-1 conv of `units` channels (LeakyReLU) then one sigmoid channel,
  a `[B, T, 1]` weight in [0, 1] by which the last conv layer's features
  are multiplied before the classifier, so logits and T-CAM see the
  suppressed features; `attention_l1` adds its mean (STPN's sparsity
  loss) times that weight to the training loss.
"""

from __future__ import annotations

import keras
from keras import layers
from keras import ops

from has_tf import _checks
from has_tf import vocabulary

POOLINGS = vocabulary.TEMPORAL_POOLINGS
# Losses: "softmax" (the paper; for videos with several classes, against
# the multi-hot labels scaled to sum 1) or "sigmoid" (independent binary
# cross-entropies, later work's multi-label loss).
LOSSES = vocabulary.TEMPORAL_LOSSES


@keras.saving.register_keras_serializable(package="has_tf")
class TemporalClassifier(layers.Layer):
    """Classifier and T-CAM over `[B, T, K]` features.

    Call with `return_tcam=True` to get `(logits [B, N], tcam [B, T, N])`,
    else logits alone; both float32.
    """

    def __init__(
        self,
        num_classes: int,
        pooling: str = "max_features",
        topk_divisor: int = 8,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if pooling not in POOLINGS:
            raise ValueError(
                f"Expected `pooling` in {POOLINGS}. Received: "
                f"pooling={pooling!r}"
            )
        if not isinstance(topk_divisor, int) or topk_divisor < 1:
            raise ValueError(
                "Expected `topk_divisor` an int >= 1. Received: "
                f"topk_divisor={topk_divisor!r}"
            )
        self.num_classes = int(num_classes)
        self.pooling = pooling
        self.topk_divisor = topk_divisor

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], self.num_classes),
            initializer="glorot_uniform",
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.num_classes,), initializer="zeros"
        )

    def call(self, features, return_tcam: bool = False):
        features = ops.cast(features, "float32")
        kernel = ops.cast(self.kernel, "float32")
        bias = ops.cast(self.bias, "float32")
        tcam = ops.einsum("btk,kn->btn", features, kernel)
        if self.pooling == "max_features":
            logits = ops.matmul(ops.max(features, axis=1), kernel) + bias
        elif self.pooling == "max":
            logits = ops.max(tcam, axis=1) + bias
        elif self.pooling == "avg":
            logits = ops.mean(tcam, axis=1) + bias
        else:
            steps = ops.shape(tcam)[1]
            k = ops.maximum(1, steps // self.topk_divisor)
            ranked = ops.flip(ops.sort(tcam, axis=1), axis=1)
            mask = ops.cast(ops.arange(steps) < k, "float32")[None, :, None]
            logits = (
                ops.sum(ranked * mask, axis=1) / ops.cast(k, "float32") + bias
            )
        return (logits, tcam) if return_tcam else logits

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "pooling": self.pooling,
            "topk_divisor": self.topk_divisor,
        }


@keras.saving.register_keras_serializable(package="has_tf")
class AttentionSparsity(layers.Layer):
    """Passes the attention through; adds `weight` x its mean to the loss."""

    def __init__(self, weight: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)

    def call(self, attention, training=None):
        if self.weight and training:
            self.add_loss(self.weight * ops.mean(attention))
        return attention

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def temporal_net(
    num_classes: int,
    feature_dim: int,
    steps=None,
    units: int = 500,
    num_layers: int = 2,
    pooling: str = "max_features",
    topk_divisor: int = 8,
    dropout_rate: float = 0.0,
    name: str = "temporal_net",
    kernel_size: int = 1,
    attention: bool = False,
    attention_l1: float = 0.0,
) -> keras.Model:
    """Builds the action network.

    Args:
      num_classes: N, >= 1.
      feature_dim: D of the input features.
      steps: T if fixed (the resampled F_total), else None.
      units: width of each temporal conv layer (the paper: 500).
      num_layers: temporal conv layers (the paper: 2), >= 1.
      pooling: one of `POOLINGS` (module docstring).
      topk_divisor: k = T // topk_divisor for "topk".
      dropout_rate: dropout after each conv layer in training; 0: none.
      name: the model's name.
      kernel_size: width of the temporal convs (odd, >= 1; the paper: 1).
      attention: add the foreground-attention branch (module docstring);
        its output layer is named "attention".
      attention_l1: weight of the attention's sparsity loss (>= 0).

    Returns:
      A `keras.Model` from float `[B, T, D]` features to float32 logits
      `[B, N]`; its classifier layer is named "classifier".

    Raises:
      ValueError: bad sizes, pooling or rates.
    """
    for arg, value in (
        ("num_classes", num_classes),
        ("feature_dim", feature_dim),
        ("units", units),
        ("num_layers", num_layers),
        ("kernel_size", kernel_size),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"temporal_net: expected `{arg}` an int >= 1. "
                f"Received: {arg}={value!r}"
            )
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(
            "temporal_net: expected `dropout_rate` in [0, 1). "
            f"Received: dropout_rate={dropout_rate!r}"
        )
    if kernel_size % 2 == 0:
        raise ValueError(
            "temporal_net: expected an odd `kernel_size` (centred "
            f"windows). Received: kernel_size={kernel_size!r}"
        )
    if not attention_l1 >= 0:
        raise ValueError(
            "temporal_net: expected `attention_l1` >= 0. Received: "
            f"attention_l1={attention_l1!r}"
        )
    inputs = keras.Input((steps, feature_dim), name="features")
    x = inputs
    for index in range(1, num_layers + 1):
        x = layers.Conv1D(
            units,
            kernel_size,
            padding="same",
            activation="relu",
            name=f"tconv{index}",
        )(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"dropout{index}")(x)
    if attention:
        a = layers.Conv1D(units, 1, name="attention_conv")(inputs)
        a = layers.LeakyReLU(negative_slope=0.01, name="attention_relu")(a)
        a = layers.Conv1D(1, 1, activation="sigmoid", name="attention_logit")(a)
        a = AttentionSparsity(attention_l1, name="attention")(a)
        x = layers.Multiply(name="suppressed")([x, a])
    logits = TemporalClassifier(
        num_classes, pooling, topk_divisor, name="classifier", dtype="float32"
    )(x)
    return keras.Model(inputs, logits, name=name)


def temporal_cam_model(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s weights that also outputs the T-CAM.

    Returns:
      A `keras.Model` from the same inputs to `{"logits": float32 [B, N],
      "tcam": float32 [B, T, N]}`, with "attention" float32 `[B, T]` when
      the model has the attention branch.

    Raises:
      ValueError: `model` has no `TemporalClassifier` named "classifier".
    """
    try:
        classifier = model.get_layer("classifier")
    except ValueError:
        classifier = None
    if not isinstance(classifier, TemporalClassifier):
        raise ValueError(
            "Expected a model built by has_tf.models.temporal_net (a "
            "TemporalClassifier named 'classifier'). Received: model "
            f"{model.name!r}"
        )
    tcam = TemporalCam(classifier, name="tcam")(classifier.input)
    outputs = {"logits": model.output, "tcam": tcam}
    names = {layer.name for layer in model.layers}
    if "attention" in names:
        outputs["attention"] = layers.Reshape((-1,), name="attention_steps")(
            model.get_layer("attention").output
        )
    return keras.Model(model.input, outputs, name=f"{model.name}_tcam")


class TemporalCam(layers.Layer):
    """The T-CAM of a `TemporalClassifier`, sharing its weights.

    Input `[B, T, K]` features; output float32 `[B, T, N]`.
    """

    def __init__(self, classifier: TemporalClassifier, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier

    def call(self, features):
        return self.classifier(features, return_tcam=True)[1]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.classifier.num_classes)


@keras.saving.register_keras_serializable(package="has_tf")
def normalized_softmax_crossentropy(labels, logits):
    """Softmax cross-entropy against multi-hot labels scaled to sum 1.

    Args:
      labels: float `[B, N]` multi-hot.
      logits: float `[B, N]`.

    Returns:
      float32 `[B]` per-video losses.
    """
    labels = keras.ops.cast(labels, "float32")
    total = keras.ops.maximum(keras.ops.sum(labels, -1, keepdims=True), 1.0)
    return keras.losses.categorical_crossentropy(
        labels / total, keras.ops.cast(logits, "float32"), from_logits=True
    )


@keras.saving.register_keras_serializable(package="has_tf")
def sigmoid_crossentropy(labels, logits):
    """Binary cross-entropy per class, averaged: float32 `[B]`."""
    return keras.losses.binary_crossentropy(
        keras.ops.cast(labels, "float32"),
        keras.ops.cast(logits, "float32"),
        from_logits=True,
    )


def temporal_loss(name: str):
    """The per-example loss `name` names (one of `LOSSES`).

    Returns:
      `(labels [B, N], logits [B, N]) -> float32 [B]`.
    """
    _checks.choice(name, "temporal_loss", LOSSES)
    if name == "softmax":
        return normalized_softmax_crossentropy
    return sigmoid_crossentropy
