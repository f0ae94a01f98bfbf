"""CoLA's network and training objective (Zhang et al., CVPR 2021;
`zhang-can/CoLA` d21f1b5, `core/model.py`, `core/loss.py`), in keras.ops.

The network (`Actionness_Module`): a width-3 temporal conv of 2048 units
(`units`) with ReLU embeds the `[B, T, D]` features (the embeddings);
dropout 0.7; a width-1 conv without bias to the N classes and a ReLU give
the class activation sequence (CAS, `[B, T, N]`, >= 0: the T-CAM handed to
post-processing); the actionness is its sum over classes (`[B, T]`). The
video's class scores are the softmax of the mean of each class's
`T // r_easy` largest CAS values (`get_video_cls_scores`); the model's
output is that mean (the logits: their softmax is CoLA's scores).

The objective (`TotalLoss`): the action loss, binary cross-entropy of the
scores against the labels scaled to sum 1 (`ActionLoss`, `action_loss`),
plus `0.01 x` SniCo, the snippet contrast (`SniCoLoss`), on snippets
mined in training (`mine_snippets`):

- easy: the `T // r_easy` steps of highest actionness (easy actions, EA)
  and of highest `max - actionness` (easy background, EB), among the
  steps a dropout mask keeps (p = 0.6: each step kept with probability
  0.4);
- hard: the actionness binarised at its median over time (`>`); its
  binary erosions by windows of `m` and `M` steps differ in a band just
  inside each action run (hard actions, HA) and its dilations in a band
  just outside (hard background, HB), as `scipy.ndimage`'s
  `binary_erosion` / `binary_dilation` with `np.ones((1, w))` draw them
  (`erode`, `dilate`); the `T // r_hard` band steps of highest actionness.

SniCo is `NCE(mean HA, mean EA, EB) + NCE(mean HB, mean EB, EA)`, NCE the
InfoNCE of a query against one positive and the given negatives, all L2
normalised, temperature 0.07 (`snico_loss`). Its gradient reaches the
embeddings of the mined steps; the mining's choice has none.

Inference is the network alone (dropout off): `temporal_cam_model` gives
the logits, the CAS as "tcam" and the actionness, for `--postprocess=cola`.
"""

from __future__ import annotations

import keras
from keras import layers
from keras import ops

from has_tf import _checks

__all__ = [
    "EMBED_UNITS",
    "SnippetContrast",
    "action_loss",
    "cola_net",
    "dilate",
    "erode",
    "mine_snippets",
    "snico_loss",
]

EMBED_UNITS = 2048  # CoLA's embedding width (`f_embed`).
EMBED_DROPOUT = 0.7  # Before the classifier (`Actionness_Module.dropout`).
EASY_DROPOUT = 0.6  # The easy mining's mask (`CoLA.dropout`).
TEMPERATURE = 0.07  # `SniCoLoss.NCE`'s T.
SNICO_WEIGHT = 0.01  # `TotalLoss`: loss_cls + 0.01 x loss_snico.
# Its config (`core/config.py`): R_EASY, R_HARD, m, M.
R_EASY, R_HARD, SMALL_WINDOW, LARGE_WINDOW = 5, 20, 3, 6

# PyTorch's Conv1d init: kaiming_uniform(a=sqrt(5)) -> U(+-1/sqrt(fan_in)),
# the bias U(+-1/sqrt(fan_in)) too.
_TORCH_CONV = keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def _torch_bias(fan_in):
    bound = fan_in**-0.5
    return keras.initializers.RandomUniform(-bound, bound)


def _window(values, size: int, offsets_from: int, reduce):
    """`reduce` over steps `t + offsets_from .. t + offsets_from + size - 1`
    of `[B, T]` 0/1 values, zero outside (scipy's `border_value=0`)."""
    steps = ops.shape(values)[1]
    before, after = max(-offsets_from, 0), max(offsets_from + size - 1, 0)
    padded = ops.pad(values, [[0, 0], [before, after]])
    shifted = [
        padded[:, before + offset : before + offset + steps]
        for offset in range(offsets_from, offsets_from + size)
    ]
    return reduce(ops.stack(shifted, axis=0), axis=0)


def erode(binary, size: int):
    """`scipy.ndimage.binary_erosion(binary, structure=np.ones((1,
    size)))` along time: 1 where every step of the window
    `t - size // 2 .. t + (size - 1) // 2` is 1 (steps before the start or
    past the end count as 0). `binary`: float `[B, T]` of 0 / 1;
    returns the same."""
    return _window(binary, size, -(size // 2), ops.min)


def dilate(binary, size: int):
    """`scipy.ndimage.binary_dilation(binary, structure=np.ones((1,
    size)))` along time: 1 where any step of the reflected window
    `t - (size - 1) // 2 .. t + size // 2` is 1. `binary`: float `[B, T]`
    of 0 / 1; returns the same."""
    return _window(binary, size, -((size - 1) // 2), ops.max)


def _median(values):
    """`np.median` over axis 1 of `[B, T]` (the mean of the two middle
    values when T is even), `[B, 1]`."""
    steps = values.shape[1]
    ranked = ops.sort(values, axis=1)
    low, high = (steps - 1) // 2, steps // 2
    return (ranked[:, low : low + 1] + ranked[:, high : high + 1]) / 2.0


def _top_steps(scores, embeddings, k: int):
    """The embeddings `[B, k, E]` of the k highest `scores` `[B, T]`
    (CoLA's `select_topk_embeddings`: descending order)."""
    _, steps = ops.top_k(scores, k, sorted=True)
    return ops.take_along_axis(embeddings, steps[..., None], axis=1)


def mine_snippets(
    actionness,
    embeddings,
    keep,
    r_easy: int = R_EASY,
    r_hard: int = R_HARD,
    small: int = SMALL_WINDOW,
    large: int = LARGE_WINDOW,
) -> dict:
    """CoLA's easy and hard snippet mining (module docstring).

    Args:
      actionness: float `[B, T]`, >= 0 (T static).
      embeddings: float `[B, T, E]`.
      keep: float `[B, T]`, 1 where the easy mining's dropout keeps a step,
        else 0 (CoLA's `nn.Dropout(0.6)` on ones; its 1 / 0.4 scale
        changes no ranking and is left out).
      r_easy, r_hard: k = T // r of each kind (CoLA: 5 and 20), each k >= 1.
      small, large: the windows m and M of the hard mining (CoLA: 3, 6).

    Returns:
      `{"EA", "EB": [B, T // r_easy, E], "HA", "HB": [B, T // r_hard,
      E]}`, each in descending order of its score.
    """
    steps = actionness.shape[1]
    k_easy, k_hard = steps // r_easy, steps // r_hard
    actionness = ops.stop_gradient(ops.cast(actionness, "float32"))
    keep = ops.cast(keep, "float32")
    reverse = ops.max(actionness, axis=1, keepdims=True) - actionness
    binary = ops.cast(actionness > _median(actionness), "float32")
    inner = erode(binary, small) - erode(binary, large)
    outer = dilate(binary, large) - dilate(binary, small)
    return {
        "EA": _top_steps(actionness * keep, embeddings, k_easy),
        "EB": _top_steps(reverse * keep, embeddings, k_easy),
        "HA": _top_steps(actionness * inner, embeddings, k_hard),
        "HB": _top_steps(actionness * outer, embeddings, k_hard),
    }


def _normalize(x, axis=-1):
    """`F.normalize`: x / max(||x||, 1e-12)."""
    norm = ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True))
    return x / ops.maximum(norm, 1e-12)


def _nce(query, positive, negatives, temperature):
    """`SniCoLoss.NCE`: the mean over the batch of the cross-entropy of
    `[q.k, q.n_1, ..., q.n_K] / T` with the positive as the class."""
    query, positive = _normalize(query), _normalize(positive)
    negatives = _normalize(negatives)
    positive_logit = ops.sum(query * positive, axis=-1, keepdims=True)
    negative_logits = ops.einsum("bc,bkc->bk", query, negatives)
    logits = ops.concatenate([positive_logit, negative_logits], -1)
    logits = logits / temperature
    return -ops.mean(ops.log_softmax(logits, axis=-1)[:, 0])


def snico_loss(pairs: dict, temperature: float = TEMPERATURE):
    """CoLA's SniCo loss of `mine_snippets`' output, a float32 scalar."""
    pairs = {k: ops.cast(v, "float32") for k, v in pairs.items()}

    def mean(key):
        return ops.mean(pairs[key], axis=1)

    return _nce(mean("HA"), mean("EA"), pairs["EB"], temperature) + _nce(
        mean("HB"), mean("EB"), pairs["EA"], temperature
    )


def action_loss(labels, logits):
    """CoLA's `ActionLoss` per video, float32 `[B]`: the binary
    cross-entropy of `softmax(logits)` against the labels scaled to sum 1,
    averaged over the N classes (Keras's mean over the batch then gives
    `nn.BCELoss`'s mean; its logarithms clamped at -100, as there).

    Args:
      labels: `[B, N]` multi-hot, at least one class per video.
      logits: float `[B, N]`, the model's output.
    """
    labels = ops.cast(labels, "float32")
    targets = labels / ops.sum(labels, axis=-1, keepdims=True)
    scores = ops.softmax(ops.cast(logits, "float32"), axis=-1)
    log_p = ops.maximum(ops.log(scores), -100.0)
    log_q = ops.maximum(ops.log(1.0 - scores), -100.0)
    return -ops.mean(targets * log_p + (1.0 - targets) * log_q, axis=-1)


@keras.saving.register_keras_serializable(package="has_tf")
class SnippetContrast(layers.Layer):
    """In training, mines CoLA's snippets and adds `weight x snico_loss`
    to the model's losses; passes the logits `[B, N]` through.

    Call on `(logits [B, N], actionness [B, T], embeddings [B, T, E])`
    (or one dict of them by those names); the easy mining's dropout mask
    is drawn per call from the layer's seed.
    """

    def __init__(
        self,
        weight: float = SNICO_WEIGHT,
        r_easy: int = R_EASY,
        r_hard: int = R_HARD,
        small: int = SMALL_WINDOW,
        large: int = LARGE_WINDOW,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.weight, self.seed = float(weight), seed
        self.r_easy, self.r_hard = int(r_easy), int(r_hard)
        self.small, self.large = int(small), int(large)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(
        self, logits_shape=None, actionness_shape=None, embeddings_shape=None
    ):
        self.built = True  # No weights: the seed generator is its state.

    def call(self, logits, actionness=None, embeddings=None, training=None):
        if isinstance(logits, dict):  # One dict of the three (Keras's fit).
            logits, actionness, embeddings = (
                logits[key] for key in ("logits", "actionness", "embeddings")
            )
        if training and self.weight:
            keep = (
                keras.random.uniform(
                    ops.shape(actionness), seed=self.seed_generator
                )
                >= EASY_DROPOUT
            )
            pairs = mine_snippets(
                actionness,
                embeddings,
                keep,
                self.r_easy,
                self.r_hard,
                self.small,
                self.large,
            )
            self.add_loss(self.weight * snico_loss(pairs))
        return logits

    def compute_output_shape(
        self, logits_shape, actionness_shape=None, embeddings_shape=None
    ):
        if isinstance(logits_shape, dict):
            return logits_shape["logits"]
        return logits_shape

    def get_config(self):
        return {
            **super().get_config(),
            "weight": self.weight,
            "r_easy": self.r_easy,
            "r_hard": self.r_hard,
            "small": self.small,
            "large": self.large,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="has_tf")
class ClassSum(layers.Layer):
    """CoLA's actionness: `[B, T, N]` summed over classes, `[B, T]`."""

    def call(self, cas):
        return ops.sum(cas, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


@keras.saving.register_keras_serializable(package="has_tf")
class TopKMean(layers.Layer):
    """Per class, the mean of the `T // divisor` largest values of
    `[B, T, N]` over time (CoLA's `get_video_cls_scores` before its
    softmax): float32 `[B, N]`."""

    def __init__(self, divisor: int = R_EASY, **kwargs):
        super().__init__(**kwargs)
        self.divisor = int(divisor)

    def call(self, cas):
        k = cas.shape[1] // self.divisor
        ranked = ops.flip(ops.sort(ops.cast(cas, "float32"), axis=1), axis=1)
        return ops.mean(ranked[:, :k], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "divisor": self.divisor}


def cola_net(
    num_classes: int,
    feature_dim: int,
    steps: int,
    units: int = EMBED_UNITS,
    snico_weight: float = SNICO_WEIGHT,
    r_easy: int = R_EASY,
    r_hard: int = R_HARD,
    small: int = SMALL_WINDOW,
    large: int = LARGE_WINDOW,
    seed: int | None = None,
    name: str = "cola",
) -> keras.Model:
    """Builds CoLA's network with its SniCo loss (module docstring).

    Args:
      num_classes: N, >= 1.
      feature_dim: D of the input features.
      steps: T, fixed (the mining's k are `T // r_easy`, `T // r_hard`),
        with `T // r_hard >= 1`.
      units: the embedding's width (CoLA: 2048).
      snico_weight: SniCo's weight (CoLA: 0.01), >= 0.
      r_easy, r_hard, small, large: the mining's (`mine_snippets`).
      seed: the easy mining's and the dropout's seed.
      name: the model's name.

    Returns:
      A `keras.Model` from float `[B, T, D]` features to float32 logits
      `[B, N]`; layers "embed" (the embeddings), "cas" (the CAS, the
      T-CAM), "actionness" (`[B, T]`), "video_logits", "snico" (the
      loss, passing the logits through).

    Raises:
      ValueError: naming the argument.
    """
    for arg, value in (
        ("num_classes", num_classes),
        ("feature_dim", feature_dim),
        ("steps", steps),
        ("units", units),
        ("r_easy", r_easy),
        ("r_hard", r_hard),
        ("small", small),
        ("large", large),
    ):
        _checks.positive_int(value, arg)
    if steps // r_easy < 1 or steps // r_hard < 1:
        raise ValueError(
            f"cola_net: `steps` {steps} gives no snippet to mine: expected "
            f"at least r_easy={r_easy} and r_hard={r_hard} steps."
        )
    if not snico_weight >= 0:
        raise ValueError(
            "cola_net: expected `snico_weight` >= 0. Received: "
            f"snico_weight={snico_weight!r}"
        )
    inputs = keras.Input((steps, feature_dim), name="features")
    embeddings = layers.Conv1D(
        units,
        3,
        padding="same",
        activation="relu",
        kernel_initializer=_TORCH_CONV,
        bias_initializer=_torch_bias(3 * feature_dim),
        name="embed",
    )(inputs)
    x = layers.Dropout(EMBED_DROPOUT, seed=seed, name="embed_dropout")(
        embeddings
    )
    cas = layers.Conv1D(
        num_classes,
        1,
        use_bias=False,
        activation="relu",
        kernel_initializer=_TORCH_CONV,
        dtype="float32",
        name="cas",
    )(x)
    actionness = ClassSum(name="actionness")(cas)
    logits = TopKMean(r_easy, name="video_logits")(cas)
    # The loss layer passes the logits through: the output depends on it,
    # so the functional graph keeps it.
    logits = SnippetContrast(
        snico_weight, r_easy, r_hard, small, large, seed, name="snico"
    )(logits, actionness, embeddings)
    return keras.Model(inputs, logits, name=name)
