"""ADL, the attention-based dropout layer (Choe and Shim, CVPR 2019).

As wsolevaluation runs it (`wsol/method/adl.py`): parameter-free, the
identity at inference; in training, for feature maps `x` `[B, h, w, C]`:

- attention `a = mean_c(x)` `[B, h, w, 1]`;
- the drop mask `a < threshold * max_hw(a)` (per image: 0 on the most
  attended pixels) and the importance map `sigmoid(a)`;
- per forward pass one draw `u ~ U[0, 1)` picks the drop mask when
  `floor(u + drop_rate) == 1` (probability `drop_rate`), else the
  importance map; the output is `x * map`.

`adl(x, draw, ...)` is the rule for a given draw (what the golden test
feeds the reference's own draws to); `ADL` draws with its
`keras.random.SeedGenerator`. The builders of `has_tf.models` place it
where wsolevaluation does (`method=built_in()`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from has_tf import _checks
from has_tf.models import common

__all__ = [
    "ADL",
    "DEFAULT_DROP_RATE",
    "DEFAULT_THRESHOLD",
    "adl",
    "built_in",
]

# wsolevaluation's defaults (config.py: --adl_drop_rate, --adl_threshold).
DEFAULT_DROP_RATE = 0.75
DEFAULT_THRESHOLD = 0.9


def adl(x, draw, drop_rate: float, threshold: float):
    """ADL's training-time output for one draw.

    Args:
      x: feature maps `[B, h, w, C]`, any float dtype.
      draw: float32 scalar in [0, 1): the pass's uniform number.
      drop_rate: probability of the drop mask, in [0, 1].
      threshold: gamma, in [0, 1]: pixels with attention >= gamma x the
        image's maximum are dropped.

    Returns:
      `x * map`, the dtype of `x`.
    """
    values = ops.cast(x, "float32")
    attention = ops.mean(values, axis=-1, keepdims=True)
    importance = ops.sigmoid(attention)
    peak = ops.max(attention, axis=(1, 2), keepdims=True)
    drop = ops.cast(attention < peak * np.float32(threshold), "float32")
    binary = ops.floor(ops.cast(draw, "float32") + np.float32(drop_rate))
    selected = (1.0 - binary) * importance + binary * drop
    return ops.cast(values * selected, x.dtype)


@keras.saving.register_keras_serializable(package="has_tf")
class ADL(keras.layers.Layer):
    """Attention-based dropout: the identity unless `training=True`.

    Args:
      drop_rate: probability of the drop mask per forward pass, in [0, 1]
        (wsolevaluation's `--adl_drop_rate`, 0.75).
      threshold: gamma, in [0, 1] (`--adl_threshold`, 0.9).
      seed: None or an int, for the layer's `SeedGenerator`.

    Input shape: `[B, h, w, C]`; output: the same shape and dtype (a float
    input cast to the compute dtype under a mixed-precision policy).
    """

    def __init__(
        self,
        drop_rate: float = DEFAULT_DROP_RATE,
        threshold: float = DEFAULT_THRESHOLD,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.drop_rate = _checks.probability(drop_rate, "adl_drop_rate")
        self.threshold = _checks.probability(threshold, "adl_threshold")
        self.seed = _checks.optional_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training:
            return inputs
        draw = keras.random.uniform((), seed=self.seed_generator)
        return adl(inputs, draw, self.drop_rate, self.threshold)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "drop_rate": self.drop_rate,
            "threshold": self.threshold,
            "seed": self.seed,
        }


def built_in(
    drop_rate: float = DEFAULT_DROP_RATE, threshold: float = DEFAULT_THRESHOLD
) -> common.BuiltIn:
    """ADL as wsolevaluation builds it into its backbones: an `ADL` layer
    named `adl{index}` at each of the backbone's three method places
    (`common.BuiltIn.stage`), no Inception-v3 head dropout.

    Args:
      drop_rate, threshold: as `ADL` takes them, in [0, 1].
    """
    _checks.probability(drop_rate, "adl_drop_rate")
    _checks.probability(threshold, "adl_threshold")

    def stage(x, index):
        return ADL(drop_rate, threshold, name=f"adl{index}")(x)

    return common.BuiltIn(stage=stage, head_dropout=False)
