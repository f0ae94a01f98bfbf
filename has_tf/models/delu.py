"""DELU's networks and training objective (Chen et al., ECCV 2022;
`MengyuanChen21/ECCV2022-DELU` a60e46d, `model.py`, `edl_loss.py`), in
keras.ops.

The network (`DELU`, CO2-Net's), on `[B, T, D]` features whose first
and second halves are the RGB and the flow stream:

- per stream, a bit-wise attention block (`BWA_fusion_dropout_feat_v2`):
  its features gated by `sigmoid(conv3(other stream) x conv3(mean of its
  own over time))` (leaky ReLUs 0.2, dropout 0.5), then an attention of
  three convs (width 3 to `units`, 3 to `units`, 1 to one channel; the
  last one's output dropped out at 0.5 before its sigmoid): the stream's
  attention `[B, T]` and gated features;
- the attention is the mean of the two; the gated features, joined
  (`[B, T, D]`), pass a width-1 conv (leaky ReLU, dropout 0.7: "feat")
  and the classifier (dropout 0.7, width-3 conv of D, leaky ReLU, dropout
  0.7, width-1 conv) to the class activation sequence of the N classes
  and background (CAS, `[B, T, N + 1]`);
- ActivityNet's network (`DELU_ACT`, `smoothing` > 0) averages the CAS
  and the three attentions over `smoothing` steps (zero-padded, the
  padding counted: `nn.AvgPool1d(count_include_pad=True)`).

The objective (`criterion`), on the CAS suppressed by the attention
(`supp = attention x (CAS - its minimum over classes) + that minimum`):
the evidential loss of the video's N logits, the mean of `supp` at the
`T // rat_atn` steps of highest attention (`edl`: "log", exp evidence, on
THUMOS14; "mse", ReLU evidence, on ActivityNet); the uncertainty-guided
loss (`uct`): the guide terms `|1 - attention - softmax(CAS)_background|`
of the three attentions, weighted per step by the progressive curve
`amplitude x tanh(theta x (1 - 2 i / I)) + 1` (theta from -1 to 1 over
the steps, i the iteration of I) taken in the order of the steps'
uncertainty `N / sum(exp evidence + 1)` (`torch.gather(curve, argsort)`,
as the code does); both MIL losses (top `T // k` mean, with background on
the CAS, without on `supp`); CO2-Net's co-activity contrast of the batch's
first `pairs` pairs of videos (which share a class: the sampler's similar
pairs); the streams' mutual MSE (each against the other held fixed); the
attentions' mean and guide losses. Weights as DELU's scripts set them.

The model takes `[features, labels]` (the objective needs the labels;
the training pipeline passes them, `labels_as_input`) and counts its
training iterations in a weight (the curve's i; checkpointed with the
rest). Its logits (the mean of each action class's top `ceil(T / 8)`
CAS values, DELU's test-time classification), T-CAM, attention and
background CAS depend on the features alone (`temporal_cam_model`).
"""

from __future__ import annotations

import math

import keras
from keras import layers
from keras import ops

from has_tf import _checks
from has_tf import vocabulary
from has_tf.models.videos import two_streams

__all__ = ["BoxSmooth", "DeluObjective", "bwa_block", "delu_net"]

ATTENTION_UNITS = 512  # Each attention's hidden convs.
STREAM_DROPOUT, CLASSIFIER_DROPOUT = 0.5, 0.7
EDL_LOSSES = vocabulary.DELU_EDL_LOSSES
# scripts/train_thumos.sh over options.py.
THUMOS = dict(
    edl="log",
    alpha_edl=1.3,
    alpha_uct=0.4,
    amplitude=0.7,
    alpha1=0.8,
    alpha2=0.4,
    alpha3=1.0,
    alpha4=1.0,
    rat_atn=9,
    k=7,
    pairs=3,
)

# PyTorch's kaiming_uniform_ (a = 0): U(+-sqrt(6 / fan_in)); `weights_init`
# zeroes the biases.
_KAIMING = keras.initializers.VarianceScaling(2.0, "fan_in", "uniform")


def _conv(units, width, name):
    return layers.Conv1D(
        units,
        width,
        padding="same",
        kernel_initializer=_KAIMING,
        bias_initializer="zeros",
        name=name,
    )


def _leaky(name):
    return layers.LeakyReLU(0.2, name=name)


class _Dropouts:
    """Dropout layers with distinct seeds drawn from one (None: unseeded)
    and names of their own (a checkpoint keeps their seed generators'
    states by layer name, `training.checkpoints.seed_states`)."""

    def __init__(self, seed):
        self.seed, self.count = seed, 0

    def __call__(self, rate):
        self.count += 1
        seed = None if self.seed is None else self.seed * 100 + self.count
        return layers.Dropout(rate, seed=seed, name=f"dropout{self.count}")


@keras.saving.register_keras_serializable(package="has_tf")
class BoxSmooth(layers.Layer):
    """The mean over `kernel` steps centred on each step of `[B, T, C]`,
    the steps past either end counted as zeros (`nn.AvgPool1d(kernel, 1,
    kernel // 2, count_include_pad=True)`, kernel odd)."""

    def __init__(self, kernel: int, **kwargs):
        super().__init__(**kwargs)
        self.kernel = _checks.positive_int(kernel, "kernel")
        if self.kernel % 2 == 0:
            raise ValueError(
                f"Expected an odd `kernel`. Received: kernel={kernel!r}"
            )

    def call(self, x):
        half = self.kernel // 2
        padded = ops.pad(x, [[0, 0], [half, half], [0, 0]])
        return ops.average_pool(padded, self.kernel, 1, padding="valid")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kernel": self.kernel}


def bwa_block(own, other, units: int, dropout, prefix: str):
    """One stream's bit-wise attention (module docstring): `(attention
    [B, T, 1], gated features [B, T, H])` from its features `own` and the
    other stream's `other`, both `[B, T, H]`; `dropout(rate)` makes its
    dropout layers."""
    width = own.shape[-1]
    mean = layers.GlobalAveragePooling1D(keepdims=True, name=f"{prefix}_mean")(
        own
    )
    channel = _conv(width, 3, f"{prefix}_channel_conv")(mean)
    channel = _leaky(f"{prefix}_channel_lrelu")(channel)
    channel = dropout(STREAM_DROPOUT)(channel)
    bits = _conv(width, 3, f"{prefix}_bit_conv")(other)
    bits = _leaky(f"{prefix}_bit_lrelu")(bits)
    bits = dropout(STREAM_DROPOUT)(bits)
    gate = layers.Activation("sigmoid")(layers.Multiply()([bits, channel]))
    gated = layers.Multiply(name=f"{prefix}_gated")([gate, own])
    x = _conv(units, 3, f"{prefix}_attention_conv1")(gated)
    x = _leaky(f"{prefix}_attention_lrelu1")(x)
    x = dropout(STREAM_DROPOUT)(x)
    x = _conv(units, 3, f"{prefix}_attention_conv2")(x)
    x = _leaky(f"{prefix}_attention_lrelu2")(x)
    x = _conv(1, 1, f"{prefix}_attention_conv3")(x)
    x = dropout(STREAM_DROPOUT)(x)
    attention = layers.Activation("sigmoid", dtype="float32")(x)
    return attention, gated


def _supp(cas, attention):
    """`_multiply(include_min=True)`: attention x (CAS - min) + min, the
    minimum over classes; `cas` `[B, T, N + 1]`, `attention` `[B, T]`."""
    low = ops.min(cas, axis=-1, keepdims=True)
    return attention[..., None] * (cas - low) + low


def _top_mean(values, k: int):
    """Per column, the mean of the k largest over time of `[B, T, C]`."""
    top = ops.top_k(ops.transpose(values, (0, 2, 1)), k)[0]
    return ops.mean(top, axis=-1)


def _mil(labels, cas, k: int, background: float):
    """`topkloss`: per video, `-sum(y' log_softmax(top-k mean))`, y' the
    labels with `background` appended, over their sum + 1e-4."""
    column = ops.full_like(labels[:, :1], background)
    target = ops.concatenate([labels, column], axis=-1)
    target = target / (ops.sum(target, axis=1, keepdims=True) + 1e-4)
    logits = _top_mean(cas, k)
    return -ops.sum(target * ops.log_softmax(logits, axis=-1), axis=-1)


def edl_loss(video_logits, labels, kind: str):
    """`EvidenceLoss(...)['loss_cls']` averaged over videos, float32.

    "log" (THUMOS14): exp evidence (logits clamped to +-10), alpha = e + 1,
    S = sum(alpha), `sum(g (log S - log alpha))` with `g = (1 - N / S)
    x |y| x (y / alpha) / sum(y / alpha)` (its `1 - N / S` held fixed);
    "mse" (ActivityNet): ReLU evidence, `sum((y - alpha / S)^2)`.
    """
    classes = video_logits.shape[-1]
    if kind == "log":
        alpha = ops.exp(ops.clip(video_logits, -10.0, 10.0)) + 1.0
        strength = ops.sum(alpha, axis=1, keepdims=True)
        certainty = ops.stop_gradient(1.0 - classes / strength)
        count = ops.sum(labels, axis=1, keepdims=True)
        inverse = labels / alpha
        g = certainty * count * inverse / ops.sum(inverse, 1, keepdims=True)
        terms = g * (ops.log(strength) - ops.log(alpha))
    else:
        alpha = ops.relu(video_logits) + 1.0
        strength = ops.sum(alpha, axis=1, keepdims=True)
        terms = ops.square(labels - alpha / strength)
    return ops.mean(ops.sum(terms, axis=1))


def progress_curve(steps: int, iteration, total: int, amplitude: float):
    """`course_function`: `amplitude x tanh(theta x delta) + 1` over the
    steps, theta = `2 (t + 0.5) / T - 1`, delta = `1 - 2 i / I`: `[T]`."""
    theta = 2.0 * (ops.arange(steps, dtype="float32") + 0.5) / steps - 1.0
    delta = 1.0 - 2.0 * ops.cast(iteration, "float32") / float(total)
    return amplitude * ops.tanh(theta * delta) + 1.0


def co_activity(feat, supp, labels, pairs: int):
    """`Contrastive` (CO2-Net's, W-TALC's co-activity): over videos
    (0, 1), (2, 3), ... of the first `pairs` pairs, the hinge 0.5 on the
    cosine distances of their class-weighted features against the
    other's background-weighted ones, per shared class, over the shared
    classes' count (the background column never shared)."""
    steps = feat.shape[1]
    column = ops.zeros_like(labels[:, :1])
    labels = ops.concatenate([labels, column], axis=-1)
    total, shared = 0.0, 0.0

    def cosine_distance(a, b):
        dot = ops.sum(a * b, axis=0)
        return 1.0 - dot / (ops.norm(a, axis=0) * ops.norm(b, axis=0))

    n = float(max(steps - 1, 1))
    for i in range(0, 2 * pairs, 2):
        weights = [ops.softmax(supp[j], axis=0) for j in (i, i + 1)]
        high = [
            ops.matmul(ops.transpose(feat[j]), w)
            for j, w in zip((i, i + 1), weights)
        ]
        low = [
            ops.matmul(ops.transpose(feat[j]), (1.0 - w) / n)
            for j, w in zip((i, i + 1), weights)
        ]
        d1 = cosine_distance(high[0], high[1])
        d2 = cosine_distance(high[0], low[1])
        d3 = cosine_distance(high[1], low[0])
        both = labels[i] * labels[i + 1]
        total = total + 0.5 * ops.sum(ops.relu(d1 - d2 + 0.5) * both)
        total = total + 0.5 * ops.sum(ops.relu(d1 - d3 + 0.5) * both)
        shared = shared + ops.sum(both)
    # No shared class (a batch not from the paired sampler): 0, where the
    # reference divides 0 by 0.
    return total / ops.maximum(shared, 1.0)


@keras.saving.register_keras_serializable(package="has_tf")
class DeluObjective(layers.Layer):
    """In training, adds DELU's whole objective (module docstring) to the
    model's losses and counts the iteration; passes the logits through.

    Call on `logits` `[B, N]` and, by name or in this order, `labels`
    `[B, N]`, `cas` `[B, T, N + 1]`, `attention`, `rgb_attention`,
    `flow_attention` `[B, T]`, `feat` `[B, T, D]`. The batch holds at
    least `2 x pairs` videos, its first pairs sharing a class.
    """

    def __init__(
        self,
        total_iterations: int,
        edl: str = THUMOS["edl"],
        alpha_edl: float = THUMOS["alpha_edl"],
        alpha_uct: float = THUMOS["alpha_uct"],
        amplitude: float = THUMOS["amplitude"],
        alpha1: float = THUMOS["alpha1"],
        alpha2: float = THUMOS["alpha2"],
        alpha3: float = THUMOS["alpha3"],
        alpha4: float = THUMOS["alpha4"],
        rat_atn: int = THUMOS["rat_atn"],
        k: int = THUMOS["k"],
        pairs: int = THUMOS["pairs"],
        **kwargs,
    ):
        super().__init__(**kwargs)
        _checks.choice(edl, "edl", EDL_LOSSES)
        self.total_iterations = _checks.positive_int(
            total_iterations, "total_iterations"
        )
        self.edl = edl
        self.weights_ = dict(
            alpha_edl=float(alpha_edl),
            alpha_uct=float(alpha_uct),
            amplitude=float(amplitude),
            alpha1=float(alpha1),
            alpha2=float(alpha2),
            alpha3=float(alpha3),
            alpha4=float(alpha4),
        )
        self.rat_atn = _checks.positive_int(rat_atn, "rat_atn")
        self.k = _checks.positive_int(k, "k")
        self.pairs = _checks.positive_int(pairs, "pairs")

    def build(self, logits_shape=None, **parts_shapes):
        # The progressive curve's i: checkpointed, so a resumed run goes on
        # where it stopped.
        self.iteration = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            aggregation="only_first_replica",
            name="iteration",
        )

    def terms(self, parts: dict, iteration) -> dict:
        """Each weighted term of the objective (float32 scalars) at
        `iteration` (0 for the first)."""
        w = self.weights_
        f32 = {k: ops.cast(v, "float32") for k, v in parts.items()}
        labels, cas, feat = f32["labels"], f32["cas"], f32["feat"]
        attentions = [
            f32[k] for k in ("attention", "rgb_attention", "flow_attention")
        ]
        attention, rgb, flow = attentions
        steps, classes = cas.shape[1], labels.shape[-1]
        supp = _supp(cas, attention)
        k_atn = max(1, steps // self.rat_atn)
        _, top = ops.top_k(attention, k_atn)
        picked = ops.take_along_axis(supp[..., :classes], top[..., None], 1)
        edl = edl_loss(ops.mean(picked, axis=1), labels, self.edl)
        background = ops.softmax(cas, axis=-1)[..., -1]
        guides = [ops.abs(1.0 - a - background) for a in attentions]
        evidence = ops.exp(ops.clip(supp, -10.0, 10.0)) + 1.0
        uncertainty = classes / ops.sum(evidence, axis=-1)
        curve = progress_curve(
            steps, iteration, self.total_iterations, w["amplitude"]
        )
        ordered = ops.take(curve, ops.argsort(uncertainty, axis=1))
        uct = ops.mean(ordered * sum(guides) / 3.0)
        k_mil = max(1, steps // self.k)
        mutual = 0.5 * ops.mean(
            ops.square(rgb - ops.stop_gradient(flow))
        ) + 0.5 * ops.mean(ops.square(flow - ops.stop_gradient(rgb)))
        return {
            "edl": w["alpha_edl"] * edl,
            "uct_guide": w["alpha_uct"] * uct,
            "mil_orig": ops.mean(_mil(labels, cas, k_mil, 1.0)),
            "mil_supp": ops.mean(_mil(labels, supp, k_mil, 0.0)),
            "contrastive": w["alpha3"]
            * co_activity(feat, supp, labels, self.pairs),
            "mutual": w["alpha4"] * mutual,
            "norm": w["alpha1"] * sum(ops.mean(a) for a in attentions) / 3.0,
            "guide": w["alpha2"] * sum(ops.mean(g) for g in guides) / 3.0,
        }

    def call(
        self,
        logits,
        labels=None,
        cas=None,
        attention=None,
        rgb_attention=None,
        flow_attention=None,
        feat=None,
        training=None,
    ):
        if isinstance(logits, dict):  # One dict of them all (Keras's fit).
            return self.call(**logits, training=training)
        if training:
            parts = {
                "labels": labels,
                "cas": cas,
                "attention": attention,
                "rgb_attention": rgb_attention,
                "flow_attention": flow_attention,
                "feat": feat,
            }
            self.add_loss(sum(self.terms(parts, self.iteration).values()))
            self.iteration.assign(self.iteration + 1.0)
        return logits

    def compute_output_shape(self, logits_shape, *parts_shapes, **named):
        if isinstance(logits_shape, dict):
            return logits_shape["logits"]
        return logits_shape

    def get_config(self):
        return {
            **super().get_config(),
            "total_iterations": self.total_iterations,
            "edl": self.edl,
            **self.weights_,
            "rat_atn": self.rat_atn,
            "k": self.k,
            "pairs": self.pairs,
        }


@keras.saving.register_keras_serializable(package="has_tf")
class ClassTopMean(layers.Layer):
    """DELU's test-time logits: per action class (the first `classes`
    columns of `[B, T, N + 1]`), the mean of its `ceil(T / 8)` largest
    values over time; float32 `[B, N]`."""

    def __init__(self, classes: int, **kwargs):
        super().__init__(**kwargs)
        self.classes = int(classes)

    def call(self, cas):
        k = math.ceil(cas.shape[1] / 8)
        return _top_mean(ops.cast(cas[..., : self.classes], "float32"), k)

    def compute_output_spec(self, cas):
        return keras.KerasTensor((cas.shape[0], self.classes), "float32")

    def get_config(self):
        return {**super().get_config(), "classes": self.classes}


def delu_net(
    num_classes: int,
    feature_dim: int,
    steps: int,
    total_iterations: int,
    units: int = ATTENTION_UNITS,
    smoothing: int = 0,
    seed: int | None = None,
    name: str = "delu",
    **objective,
) -> keras.Model:
    """Builds DELU's network with its objective (module docstring).

    Args:
      num_classes: N, >= 1.
      feature_dim: D, even: the RGB stream's D / 2 then the flow's.
      steps: T, fixed.
      total_iterations: I, the run's training iterations (the curve's).
      units: the attentions' hidden width (DELU: 512).
      smoothing: 0 (THUMOS14's `DELU`) or the odd window of ActivityNet's
        `DELU_ACT` (`(max_seqlen // t) // 2 x 2 + 1`).
      seed: the dropouts' seed.
      name: the model's name.
      **objective: `DeluObjective`'s options (default: THUMOS14's).

    Returns:
      A `keras.Model` from `[features float [B, T, D], labels [B, N]]`
      to float32 logits `[B, N]`; layers "cas_full" (`[B, T, N + 1]`,
      the background last), "attention" (`[B, T]`), "feat",
      "video_logits", "objective".

    Raises:
      ValueError: naming the argument.
    """
    for arg, value in (
        ("num_classes", num_classes),
        ("feature_dim", feature_dim),
        ("steps", steps),
        ("units", units),
    ):
        _checks.positive_int(value, arg)
    _checks.nonnegative_int(smoothing, "smoothing", "0: none")
    features = keras.Input((steps, feature_dim), name="features")
    labels = keras.Input((num_classes,), name="labels")
    rgb, flow = two_streams(features, "delu_net")
    dropout = _Dropouts(seed)
    rgb_atn, rgb_gated = bwa_block(rgb, flow, units, dropout, "rgb")
    flow_atn, flow_gated = bwa_block(flow, rgb, units, dropout, "flow")
    attention = layers.Average(name="attention_mean")([flow_atn, rgb_atn])
    joined = layers.Concatenate(name="gated")([rgb_gated, flow_gated])
    x = _conv(feature_dim, 1, "fusion_conv")(joined)
    x = _leaky("fusion_lrelu")(x)
    feat = layers.Activation("linear", name="feat")(
        dropout(CLASSIFIER_DROPOUT)(x)
    )
    x = dropout(CLASSIFIER_DROPOUT)(feat)
    x = _conv(feature_dim, 3, "classifier_conv1")(x)
    x = _leaky("classifier_lrelu")(x)
    x = dropout(CLASSIFIER_DROPOUT)(x)
    cas = _conv(num_classes + 1, 1, "classifier_conv2")(x)
    maps = [cas, attention, rgb_atn, flow_atn]
    if smoothing:
        maps = [
            BoxSmooth(smoothing, name=f"smooth_{n}")(m)
            for n, m in zip(("cas", "attention", "rgb", "flow"), maps)
        ]
    cas = layers.Activation("linear", dtype="float32", name="cas_full")(maps[0])
    attention, rgb_atn, flow_atn = (
        layers.Reshape((steps,), dtype="float32", name=n)(m)
        for n, m in zip(
            ("attention", "rgb_attention", "flow_attention"), maps[1:]
        )
    )
    logits = ClassTopMean(num_classes, name="video_logits")(cas)
    logits = DeluObjective(total_iterations, name="objective", **objective)(
        logits,
        labels,
        cas,
        attention,
        rgb_atn,
        flow_atn,
        feat,
    )
    return keras.Model([features, labels], logits, name=name)
