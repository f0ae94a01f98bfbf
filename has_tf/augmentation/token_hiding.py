"""Hide-and-Seek on a transformer's patch tokens: `HideTokens`.

Hiding pixels in grid cells of whole 16-pixel tokens, filled with the
normalised mean (0), gives each hidden token the patch embedding of a
mean patch: the embedding's bias. Hiding tokens is the other choice: the
hidden tokens take a learned mask token (as BEiT's and MAE's mask token),
which the network can learn to read as "nothing here" rather than as a
uniform grey patch. It is applied to the patch embeddings before the
position embedding is added, so a hidden token keeps its position.

The cells follow Hide-and-Seek's rule on the token grid
(`hiding_ops.patch_mask_from`): per image a cell side S (in tokens) drawn
from the sizes (0 hides nothing), an S x S grid anchored at the top-left
token, each cell hidden with probability `hide_prob`. `keras.ops`, any
backend; in training only.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from has_tf import _checks
from has_tf.augmentation import hiding_ops

__all__ = ["HideTokens"]


@keras.saving.register_keras_serializable(package="has_tf")
class HideTokens(keras.layers.Layer):
    """Replaces grid cells of patch tokens by a learned mask token in
    training; the identity at inference.

    Args:
      patch_sizes: cell sides in tokens, ints >= 0, one drawn per image (0
        hides nothing); each at most the grid's shorter side.
      hide_prob: each cell's hiding probability, in [0, 1].
      seed: None or an int, for the layer's `keras.random.SeedGenerator`.
      **kwargs: base `keras.layers.Layer` arguments.

    Input shape:
      float `[B, rows, cols, D]`: the patch embeddings on their grid.

    Output shape:
      The same; hidden tokens equal the weight `mask_token` `[D]`
      (initialised truncated normal, std 0.02, as timm's class token).
    """

    def __init__(
        self,
        patch_sizes: Sequence[int] = (1, 2),
        hide_prob: float = 0.5,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.patch_sizes = _checks.patch_sizes(patch_sizes)
        self.hide_prob = _checks.probability(hide_prob, "hide_prob")
        self.seed = _checks.optional_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "Expected patch tokens on their grid, [B, rows, cols, D]. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        rows, cols = input_shape[1], input_shape[2]
        if max(self.patch_sizes) > min(rows, cols):
            raise ValueError(
                f"Expected `patch_sizes` (in tokens) of at most the token "
                f"grid's side, {min(rows, cols)} ({rows} x {cols} tokens). "
                f"Received: patch_sizes={self.patch_sizes!r}"
            )
        self.mask_token = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="mask_token",
        )

    def call(self, tokens, training=None):
        if not training:
            return tokens
        # `hiding_ops.draw_patches`' draws, the batch size possibly
        # unknown until run time (a TensorFlow graph's).
        batch, rows, cols = ops.shape(tokens)[:3]
        choice = keras.random.randint(
            (batch,), 0, len(self.patch_sizes), seed=self.seed_generator
        )
        draws = {
            "choice": ops.cast(choice, "int32"),
            "uniform": keras.random.uniform(
                (batch, rows, cols), seed=self.seed_generator
            ),
        }
        hidden = hiding_ops.patch_mask_from(
            draws, self.patch_sizes, self.hide_prob
        )
        token = ops.cast(self.mask_token, tokens.dtype)
        return ops.where(hidden[..., None], token, tokens)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "patch_sizes": list(self.patch_sizes),
            "hide_prob": self.hide_prob,
            "seed": self.seed,
        }
