"""The image task's losses, as `.keras` files name them.

Both take logits (no softmax in the model) and return one value per
example; Keras averages them. Registered as `has_tf>sparse_crossentropy`
and `has_tf>soft_crossentropy`: a compiled model's file names them, so
they live here, beside the optimizer, where registering them loads no
more than Keras (`has_tf.registration`).
"""

from __future__ import annotations

import keras

__all__ = ["soft_crossentropy", "sparse_crossentropy"]


@keras.saving.register_keras_serializable(package="has_tf")
def sparse_crossentropy(labels, logits):
    """Softmax cross-entropy of int labels `[B]` and logits `[B, N]`: `[B]`."""
    return keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=True
    )


@keras.saving.register_keras_serializable(package="has_tf")
def soft_crossentropy(labels, logits):
    """Softmax cross-entropy of soft labels `[B, N]` (CutMix's) and logits
    `[B, N]`: `[B]`; equal to the tool's `lam * CE(y_a) + (1 - lam) *
    CE(y_b)`."""
    return keras.losses.categorical_crossentropy(
        labels, logits, from_logits=True
    )
