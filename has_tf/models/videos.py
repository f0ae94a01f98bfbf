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
  loss) times that weight to the training loss;
- `background` (with `attention`; BaS-Net): one more class, background,
  and two branches through the same classifier, the base one on the
  features and the suppressed one on the attention-weighted features. The
  model outputs both branches' N + 1 logits side by side, `[B, 2 (N + 1)]`
  (suppressed first), for `background_suppression_loss`: BaS-Net's binary
  cross-entropies of the softmax scores against the labels with
  background on (base) and off (suppressed), each scaled to sum 1. The
  T-CAM model gives the suppressed branch's N action logits' scores, its
  T-CAM and the background class's CAS.
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


@keras.saving.register_keras_serializable(package="has_tf")
class TakeColumns(layers.Layer):
    """`x[..., start:stop]`."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[..., self.start : self.stop]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


def two_streams(features, owner: str):
    """The RGB and the flow half of two-stream features `[B, T, D]` (I3D's
    1024 + 1024, RGB first), as layers "rgb" and "flow": two
    `[B, T, D / 2]`.

    Raises:
      ValueError: an odd D, naming `owner`'s `feature_dim`.
    """
    dim = features.shape[-1]
    if dim % 2:
        raise ValueError(
            f"{owner}: expected an even `feature_dim` (RGB then flow, half "
            f"each). Received: feature_dim={dim}"
        )
    half = dim // 2
    return (
        TakeColumns(0, half, name="rgb")(features),
        TakeColumns(half, dim, name="flow")(features),
    )


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
    background: bool = False,
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
      background: add the background class and the base branch (needs
        `attention`); the output is then `[B, 2 (N + 1)]`.

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
    if background and not attention:
        raise ValueError(
            "temporal_net: `background` suppression needs the attention "
            "branch (attention=True). Received: attention=False"
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
        embedded = x
        x = layers.Multiply(name="suppressed")([x, a])
    classifier = TemporalClassifier(
        num_classes + int(background),
        pooling,
        topk_divisor,
        name="classifier",
        dtype="float32",
    )
    logits = classifier(x)
    if background:
        base = classifier(embedded)
        logits = layers.Concatenate(name="branches")([logits, base])
    return keras.Model(inputs, logits, name=name)


def has_background(model: keras.Model) -> bool:
    """Whether `model` has BaS-Net's background class and two branches."""
    return any(layer.name == "branches" for layer in model.layers)


def action_classes(model: keras.Model) -> int:
    """N, the action classes of a `temporal_net` (background not counted)
    or of a method's own network (its output's width)."""
    if has_background(model):
        return model.get_layer("classifier").num_classes - 1
    return int(model.output.shape[-1])


def temporal_cam_model(model: keras.Model) -> keras.Model:
    """A model sharing `model`'s weights that also outputs the T-CAM.

    Returns:
      A `keras.Model` from the same inputs to `{"logits": float32 [B, N],
      "tcam": float32 [B, T, N]}`, with "attention" float32 `[B, T]` when
      the model has the attention branch; with the background class,
      "logits" are the suppressed branch's N + 1 (background last) and
      "background" its background CAS `[B, T]`.

    A method's own network (CoLA's, AICL's, DELU's: a "video_logits"
    layer, the logits from the features alone, and a "tcam" or "cas"
    layer `[B, T, N]`, or a "cas_full" one `[B, T, N + 1]` whose last
    column is the background) gives `{"logits": video_logits, "tcam"}`
    with "background" (from "cas_full"), "actionness" and "attention"
    (its layers of those names, `[B, T]`) where it has them, from its
    first input (the features; a network that also takes the labels
    needs them in training only).

    Raises:
      ValueError: `model` has no `TemporalClassifier` named "classifier"
        nor a "video_logits" layer.
    """
    names = {layer.name for layer in model.layers}
    if "video_logits" in names:
        logits = model.get_layer("video_logits").output
        outputs = {"logits": logits}
        if "cas_full" in names:
            full, classes = model.get_layer("cas_full").output, logits.shape[-1]
            outputs["tcam"] = TakeColumns(0, classes, name="tcam")(full)
            outputs["background"] = layers.Reshape((-1,), name="background")(
                TakeColumns(classes, classes + 1, name="background_cas")(full)
            )
        else:
            layer = "tcam" if "tcam" in names else "cas"
            outputs["tcam"] = model.get_layer(layer).output
        for name in ("actionness", "attention"):
            if name in names:
                outputs[name] = model.get_layer(name).output
        return keras.Model(model.inputs[0], outputs, name=f"{model.name}_tcam")
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
    if has_background(model):
        classes = classifier.num_classes
        full = TemporalCam(classifier, name="tcam_with_background")(
            model.get_layer("suppressed").output
        )
        outputs = {
            "logits": TakeColumns(0, classes, name="suppressed_logits")(
                model.output
            ),
            "tcam": TakeColumns(0, classes - 1, name="tcam")(full),
            "background": layers.Reshape((-1,), name="background_cas")(
                TakeColumns(classes - 1, classes, name="background")(full)
            ),
        }
    else:
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


@keras.saving.register_keras_serializable(package="has_tf")
def background_suppression_loss(labels, packed):
    """BaS-Net's loss of a background net (without the attention's norm).

    Args:
      labels: float `[B, N]` multi-hot.
      packed: float `[B, 2 (N + 1)]`: suppressed then base logits.

    Returns:
      float32 `[B]`: the binary cross-entropy of softmax(base) against the
      labels with background 1, plus that of softmax(suppressed) with
      background 0, each label vector scaled to sum 1, averaged over the
      N + 1 classes (PyTorch's `BCELoss` over the batch, per video).
    """
    labels = ops.cast(labels, "float32")
    packed = ops.cast(packed, "float32")
    classes = ops.shape(packed)[-1] // 2
    supp, base = packed[:, :classes], packed[:, classes:]
    ones = ops.ones_like(labels[:, :1])

    def scaled(y):
        return y / ops.maximum(ops.sum(y, -1, keepdims=True), 1e-12)

    def bce(y, logits):
        p = ops.clip(ops.softmax(logits, axis=-1), 1e-7, 1.0 - 1e-7)
        return -ops.mean(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p), -1)

    base_labels = scaled(ops.concatenate([labels, ones], -1))
    supp_labels = scaled(ops.concatenate([labels, 0.0 * ones], -1))
    return bce(base_labels, base) + bce(supp_labels, supp)


@keras.saving.register_keras_serializable(package="has_tf")
def suppressed_accuracy(labels, packed):
    """Top-1 of the suppressed branch's action logits among the labels'."""
    classes = ops.shape(packed)[-1] // 2
    top = ops.argmax(packed[:, : classes - 1], axis=-1)
    return ops.cast(ops.equal(top, ops.argmax(labels, axis=-1)), "float32")


def temporal_loss(name: str):
    """The per-example loss `name` names (one of `LOSSES`).

    Returns:
      `(labels [B, N], logits [B, N]) -> float32 [B]`.
    """
    _checks.choice(name, "temporal_loss", LOSSES)
    if name == "softmax":
        return normalized_softmax_crossentropy
    return sigmoid_crossentropy
