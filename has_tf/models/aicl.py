"""AICL's network and training objective (Li et al., AAAI 2023;
`lizhilin-ustc/AAAI2023-AICL` 2d0ec13, `models/model.py`,
`main_thumos.py`, `utils/loss.py`), in keras.ops.

The network (`BaseModel`), on `[B, T, D]` features whose first and
second halves are the RGB and the flow stream (I3D's 1024 + 1024):

- a width-3 conv of 512 units (`units`) with ReLU embeds all D (the
  embedding), and a width-1 conv with bias gives the class activation
  sequence (CAS, `[B, T, N]`, not rectified); actionness 1 is
  `sigmoid(sum of the CAS over classes)`;
- per stream, a width-3 conv of 512 units with ReLU (that stream's
  embedding) and a width-1 conv to one channel with a sigmoid: the
  stream's class-agnostic actionness (`[B, T]` each); actionness 2 is
  their mean;
- the combined CAS, `(softmax(CAS over classes) + flow + RGB) / 3`
  (`instance_selection_function`), is the T-CAM handed to
  post-processing (`--postprocess=aicl`);
- the video's logits: per class, the mean CAS at that class's `T // 8`
  steps of highest combined CAS (their softmax is AICL's scores).

The objective (`calculate_all_losses1`): the base loss, the
cross-entropy of the logits against the labels scaled to sum 1, plus
`1e-10` (`CrossEntropyLoss`, `base_loss`); the two streams' generalized
cross-entropy (GCE, q 0.7) against a pseudo target, 1 at the top steps
of the video's labelled classes (`calculate_pesudo_target`); 5 x the
mean squared difference of the two streams; 0.1 x that of actionness 1
and 2; and 0.01 x the contrast of snippets mined from both actionness
(`mine_snippets`) on each of the three embeddings: each actionness
binarised at its median over time (`>`), the steps where both are 1
(consistent action, CA) or both 0 (consistent background, CB), and where
they disagree (inconsistent, IA and IB), the `T // 20` of each ranked by
actionness 1 (CA, IA) or by `max - actionness 1` (CB, IB). The contrast
(`ContrastiveLoss`) is four InfoNCE terms at temperature 0.1 (CoLA's
NCE, `has_tf.models.cola`): mean IA against mean CA and the CB, mean IB
against mean CB and the CA, mean CA against mean IA and the CB, mean CB
against mean IB and the CA. Gradients reach the CAS at the top steps,
both streams' heads, the actionness and the mined embeddings; the
choices of steps (top steps, pseudo target, mining) have none.

The model takes `[features, labels]` (the pseudo target needs the
labels; the training pipeline passes them, `labels_as_input`); its
logits and T-CAM depend on the features alone, so evaluation
(`temporal_cam_model`) runs on the features.
"""

from __future__ import annotations

import keras
from keras import layers
from keras import ops

from has_tf import _checks
from has_tf.models import cola as _cola
from has_tf.models.videos import two_streams

__all__ = [
    "AiclObjective",
    "CombinedCas",
    "TopStepsMean",
    "aicl_net",
    "base_loss",
    "generalized_ce",
    "mine_snippets",
    "pseudo_target",
]

EMBED_UNITS = 512  # Each of its three embeddings' width.
TOP_DIVISOR = 8  # The video score's and pseudo target's T // 8 steps.
R_MINE = 20  # r_C = r_I: T // 20 snippets of each kind.
Q = 0.7  # GCE's q (`--q_val`).
TEMPERATURE = 0.1  # ContrastiveLoss.NCE's T.
# calculate_all_losses1: base + GCE + 5 x modality + 0.01 x contrast +
# 0.1 x actionness consistency.
MODALITY_WEIGHT, CONTRAST_WEIGHT, ACTIONNESS_WEIGHT = 5.0, 0.01, 0.1


def _top_mask(values, k: int):
    """1 at each column's k largest steps of `[B, T, N]` (over T), else 0:
    `[B, T, N]` float32 (`torch.topk(values, k, dim=1)`'s steps; a tie at
    the k-th value marks every tied step)."""
    ranked = ops.top_k(ops.transpose(values, (0, 2, 1)), k, sorted=True)[0]
    kth = ops.transpose(ranked[..., k - 1 : k], (0, 2, 1))
    return ops.cast(values >= kth, "float32")


def pseudo_target(labels, combined, k: int):
    """`calculate_pesudo_target`: float32 `[B, T]`, 1 at the steps among
    the k of highest combined CAS of any labelled class.

    Args:
      labels: `[B, N]` multi-hot (a class counts where its label is not 0).
      combined: float `[B, T, N]`, the combined CAS.
      k: top steps per class (AICL: T // 8).
    """
    marked = _top_mask(ops.stop_gradient(combined), k)
    positive = ops.cast(ops.not_equal(labels, 0), "float32")[:, None, :]
    return ops.max(marked * positive, axis=-1)


def generalized_ce(scores, target, q: float = Q):
    """`GeneralizedCE`: float32 scalar. `scores` `[B, T]` in (0, 1),
    `target` `[B, T]` 0 / 1; each video's `(1 - (s + 1e-7)^q) / q` over
    its target steps and `(1 - (1 - s + 1e-7)^q) / q` over the rest, each
    divided by its count (+ 1e-7), averaged over videos, summed."""
    pos = ops.sum(target, axis=1) + 1e-7
    neg = ops.sum(1.0 - target, axis=1) + 1e-7
    first = (1.0 - ops.power(scores + 1e-7, q)) / q
    second = (1.0 - ops.power(1.0 - scores + 1e-7, q)) / q
    return ops.mean(ops.sum(first * target, axis=1) / pos) + ops.mean(
        ops.sum(second * (1.0 - target), axis=1) / neg
    )


def base_loss(labels, logits):
    """AICL's `CrossEntropyLoss` per video, float32 `[B]`: `-sum((y /
    sum(y) + 1e-10) x log_softmax(logits))` over the N classes (Keras's
    mean over the batch gives its `torch.mean`).

    Args:
      labels: `[B, N]` multi-hot, at least one class per video.
      logits: float `[B, N]`, the model's output.
    """
    labels = ops.cast(labels, "float32")
    target = labels / ops.sum(labels, axis=-1, keepdims=True) + 1e-10
    log_p = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    return -ops.sum(target * log_p, axis=-1)


def mine_snippets(actionness1, actionness2, embeddings, k: int) -> dict:
    """AICL's consistent and inconsistent snippets (module docstring).

    Args:
      actionness1, actionness2: float `[B, T]`.
      embeddings: float `[B, T, E]`.
      k: snippets of each kind (AICL: T // 20), >= 1.

    Returns:
      `{"CA", "CB", "IA", "IB": [B, k, E]}`, each in descending order of
      its score (AICL's `select_topk_embeddings`; where fewer than k steps
      qualify, steps of score 0 fill the rest, in the sort's order).
    """
    a1 = ops.stop_gradient(ops.cast(actionness1, "float32"))
    a2 = ops.stop_gradient(ops.cast(actionness2, "float32"))
    agree = ops.cast(a1 > _cola._median(a1), "float32") + ops.cast(
        a2 > _cola._median(a2), "float32"
    )
    reverse = ops.max(a1, axis=1, keepdims=True) - a1

    def where(value):
        return ops.cast(ops.equal(agree, value), "float32")

    return {
        "CA": _cola._top_steps(a1 * where(2.0), embeddings, k),
        "CB": _cola._top_steps(reverse * where(0.0), embeddings, k),
        "IA": _cola._top_steps(a1 * where(1.0), embeddings, k),
        "IB": _cola._top_steps(reverse * where(1.0), embeddings, k),
    }


def contrast_loss(pairs: dict, temperature: float = TEMPERATURE):
    """AICL's `ContrastiveLoss` of `mine_snippets`' output: float32."""
    pairs = {key: ops.cast(v, "float32") for key, v in pairs.items()}

    def mean(key):
        return ops.mean(pairs[key], axis=1)

    return sum(
        _cola._nce(mean(q), mean(k), pairs[neg], temperature)
        for q, k, neg in (
            ("IA", "CA", "CB"),
            ("IB", "CB", "CA"),
            ("CA", "IA", "CB"),
            ("CB", "IB", "CA"),
        )
    )


@keras.saving.register_keras_serializable(package="has_tf")
class CombinedCas(layers.Layer):
    """`(softmax(cas) + flow + rgb) / 3`: `cas` `[B, T, N]`, the streams'
    actionness `[B, T]`; float32 `[B, T, N]` in [0, 1]."""

    def build(self, cas_shape=None, flow_shape=None, rgb_shape=None):
        self.built = True  # No weights.

    def call(self, cas, flow=None, rgb=None):
        if isinstance(cas, dict):  # One dict of the three (Keras's fit).
            cas, flow, rgb = (cas[key] for key in ("cas", "flow", "rgb"))
        probabilities = ops.softmax(ops.cast(cas, "float32"), axis=-1)
        streams = ops.cast(flow, "float32") + ops.cast(rgb, "float32")
        return (probabilities + streams[..., None]) / 3.0

    def compute_output_spec(self, cas, flow=None, rgb=None):
        cas = cas["cas"] if isinstance(cas, dict) else cas
        return keras.KerasTensor(cas.shape, "float32")


@keras.saving.register_keras_serializable(package="has_tf")
class TopStepsMean(layers.Layer):
    """Per class, the mean of `values` at the `T // divisor` steps of
    highest `ranking` (both `[B, T, N]`): float32 `[B, N]` (AICL's
    `cas_top`: the CAS at the combined CAS's top steps)."""

    def __init__(self, divisor: int = TOP_DIVISOR, **kwargs):
        super().__init__(**kwargs)
        self.divisor = int(divisor)

    def build(self, values_shape=None, ranking_shape=None):
        self.built = True  # No weights.

    def call(self, values, ranking=None):
        if isinstance(values, dict):  # One dict of the two (Keras's fit).
            values, ranking = values["values"], values["ranking"]
        k = values.shape[1] // self.divisor
        _, steps = ops.top_k(ops.transpose(ranking, (0, 2, 1)), k)
        picked = ops.take_along_axis(
            ops.transpose(ops.cast(values, "float32"), (0, 2, 1)), steps, 2
        )
        return ops.mean(picked, axis=-1)

    def compute_output_spec(self, values, ranking=None):
        values = values["values"] if isinstance(values, dict) else values
        return keras.KerasTensor((values.shape[0], values.shape[2]), "float32")

    def get_config(self):
        return {**super().get_config(), "divisor": self.divisor}


@keras.saving.register_keras_serializable(package="has_tf")
class AiclObjective(layers.Layer):
    """In training, adds AICL's terms beyond the base loss to the model's
    losses (GCE of both streams, 5 x modality, 0.1 x actionness
    consistency, 0.01 x the contrast of the three embeddings); passes the
    logits `[B, N]` through.

    Call on `logits` and the parts by name (keyword or in this order):
    `labels` `[B, N]`, `combined` `[B, T, N]`, `flow`, `rgb`,
    `actionness1`, `actionness2` `[B, T]`, and `embedding`,
    `embedding_rgb`, `embedding_flow` `[B, T, E]`. No weights, no
    randomness.
    """

    def __init__(
        self,
        q: float = Q,
        top_divisor: int = TOP_DIVISOR,
        r_mine: int = R_MINE,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.q, self.top_divisor, self.r_mine = float(q), top_divisor, r_mine

    def build(self, logits_shape=None, **parts_shapes):
        self.built = True

    def terms(self, parts: dict) -> dict:
        """Each weighted term of the objective, float32 scalars."""
        steps = parts["combined"].shape[1]
        target = pseudo_target(
            parts["labels"], parts["combined"], steps // self.top_divisor
        )
        flow, rgb, a1, a2 = (
            ops.cast(parts[k], "float32")
            for k in ("flow", "rgb", "actionness1", "actionness2")
        )
        k = steps // self.r_mine
        contrast = sum(
            contrast_loss(mine_snippets(a1, a2, parts[name], k))
            for name in ("embedding", "embedding_rgb", "embedding_flow")
        )
        return {
            "class_agnostic": generalized_ce(flow, target, self.q)
            + generalized_ce(rgb, target, self.q),
            "modality": MODALITY_WEIGHT * ops.mean(ops.square(flow - rgb)),
            "contrast": CONTRAST_WEIGHT * contrast,
            "actionness": ACTIONNESS_WEIGHT * ops.mean(ops.square(a1 - a2)),
        }

    def call(
        self,
        logits,
        labels=None,
        combined=None,
        flow=None,
        rgb=None,
        actionness1=None,
        actionness2=None,
        embedding=None,
        embedding_rgb=None,
        embedding_flow=None,
        training=None,
    ):
        if isinstance(logits, dict):  # One dict of them all (Keras's fit).
            return self.call(**logits, training=training)
        if training:
            parts = {
                "labels": labels,
                "combined": combined,
                "flow": flow,
                "rgb": rgb,
                "actionness1": actionness1,
                "actionness2": actionness2,
                "embedding": embedding,
                "embedding_rgb": embedding_rgb,
                "embedding_flow": embedding_flow,
            }
            self.add_loss(sum(self.terms(parts).values()))
        return logits

    def compute_output_shape(self, logits_shape, *parts_shapes, **named):
        if isinstance(logits_shape, dict):
            return logits_shape["logits"]
        return logits_shape

    def get_config(self):
        return {
            **super().get_config(),
            "q": self.q,
            "top_divisor": self.top_divisor,
            "r_mine": self.r_mine,
        }


def _conv(units, width, fan_in, name, activation=None):
    return layers.Conv1D(
        units,
        width,
        padding="same",
        activation=activation,
        kernel_initializer=_cola._TORCH_CONV,
        bias_initializer=_cola._torch_bias(width * fan_in),
        name=name,
    )


def aicl_net(
    num_classes: int,
    feature_dim: int,
    steps: int,
    units: int = EMBED_UNITS,
    q: float = Q,
    top_divisor: int = TOP_DIVISOR,
    r_mine: int = R_MINE,
    name: str = "aicl",
) -> keras.Model:
    """Builds AICL's network with its objective (module docstring).

    Args:
      num_classes: N, >= 1.
      feature_dim: D, even: the RGB stream's D / 2 then the flow's.
      steps: T, fixed, with `T // top_divisor >= 1`, `T // r_mine >= 1`.
      units: each embedding's width (AICL: 512).
      q: GCE's q, in (0, 1].
      top_divisor, r_mine: the top steps' and the mining's T // r.
      name: the model's name.

    Returns:
      A `keras.Model` from `[features float [B, T, D], labels [B, N]]`
      to float32 logits `[B, N]`; layers "cas", "tcam" (the combined
      CAS), "action_flow", "action_rgb", "actionness" (actionness 1),
      "video_logits" (the logits from the features alone), "objective".

    Raises:
      ValueError: naming the argument.
    """
    for arg, value in (
        ("num_classes", num_classes),
        ("feature_dim", feature_dim),
        ("steps", steps),
        ("units", units),
        ("top_divisor", top_divisor),
        ("r_mine", r_mine),
    ):
        _checks.positive_int(value, arg)
    if steps // top_divisor < 1 or steps // r_mine < 1:
        raise ValueError(
            f"aicl_net: `steps` {steps} gives no step to pick: expected at "
            f"least top_divisor={top_divisor} and r_mine={r_mine} steps."
        )
    if not 0 < q <= 1:
        raise ValueError(f"aicl_net: expected `q` in (0, 1]. Received: q={q!r}")
    features = keras.Input((steps, feature_dim), name="features")
    labels = keras.Input((num_classes,), name="labels")
    embedding = _conv(units, 3, feature_dim, "embed", "relu")(features)
    cas = _conv(num_classes, 1, units, "cas")(embedding)
    cas = layers.Activation("linear", dtype="float32", name="cas_float32")(cas)
    streams = {}
    halves = two_streams(features, "aicl_net")
    for stream, part in zip(("rgb", "flow"), halves):
        embedded = _conv(units, 3, part.shape[-1], f"embed_{stream}", "relu")(
            part
        )
        score = _conv(1, 1, units, f"cls_{stream}", "sigmoid")(embedded)
        streams[stream] = (
            embedded,
            layers.Reshape((steps,), dtype="float32", name=f"action_{stream}")(
                score
            ),
        )
    flow, rgb = streams["flow"][1], streams["rgb"][1]
    actionness1 = layers.Activation(
        "sigmoid", dtype="float32", name="actionness"
    )(_cola.ClassSum(name="cas_sum")(cas))
    actionness2 = layers.Average(dtype="float32", name="actionness2")(
        [flow, rgb]
    )
    combined = CombinedCas(name="tcam")(cas, flow, rgb)
    logits = TopStepsMean(top_divisor, name="video_logits")(cas, combined)
    logits = AiclObjective(q, top_divisor, r_mine, name="objective")(
        logits,
        labels,
        combined,
        flow,
        rgb,
        actionness1,
        actionness2,
        embedding,
        streams["rgb"][0],
        streams["flow"][0],
    )
    return keras.Model([features, labels], logits, name=name)
