"""What has_tf's Keras layers share: TensorFlow imported on first use, the
training argument's convention, the `tf.data` switch and stateless seeds
(`augmentation.layers`, `augmentation.cutmix_layer`).

Under JAX or PyTorch nothing here loads TensorFlow: it is imported when a
TensorFlow tensor first reaches a layer (nothing else makes one), so
registering the layers for `.keras` files stays light
(`has_tf.registration`).
"""

from __future__ import annotations

import importlib
import sys

import keras
import numpy as np
from keras.src.backend.common import global_state


def tf_module(name: str = "tensorflow"):
    """TensorFlow (or one of has_tf's TensorFlow op modules), imported on
    first use: under the TensorFlow backend, or for TensorFlow tensors."""
    return importlib.import_module(name)


def is_tf_tensor(value) -> bool:
    """A TensorFlow tensor or variable (False while TensorFlow is not
    loaded: then nothing can have made one)."""
    tf = sys.modules.get("tensorflow")
    return tf is not None and (
        tf.is_tensor(value) or isinstance(value, tf.Variable)
    )


def plain(value):
    """Turns a fill value into JSON-friendly Python numbers for configs."""
    if is_tf_tensor(value):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def check_fill(fill_value):
    array = np.asarray(fill_value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            "Expected `fill_value` to be a number or a list of numbers. "
            f"Received: fill_value={fill_value!r}"
        )
    if array.ndim > 1:
        raise ValueError(
            "Expected `fill_value` to be a scalar or one value per channel. "
            f"Received: fill_value={fill_value!r}"
        )
    if not np.isfinite(array).all():
        raise ValueError(
            "Expected a finite `fill_value` (a NaN or infinite fill would "
            f"poison every hidden pixel). Received: fill_value={fill_value!r}"
        )
    return plain(fill_value)


def training_flag(data, training):
    """Keras's convention for the training argument of a random layer.

    Given explicitly, it rules. Otherwise a call on data outside any
    layer's call (eager, or a `tf.data` map) augments, as Keras's own
    random preprocessing layers do; a call inside a model (Keras's call
    context is open) or on symbolic inputs (building a model) leaves it to
    the model's flag: None here, which the layer reads as inference.
    """
    if training is not None:
        return training
    if isinstance(data, keras.KerasTensor):
        return None
    if global_state.get_global_attribute("current_call_ctx") is not None:
        return None
    return True


def foreign_graph(data) -> bool:
    """A TF graph (tf.data) under another backend: the TF ops run."""
    return (
        keras.backend.backend() != "tensorflow"
        and is_tf_tensor(data)
        and not tf_module().executing_eagerly()
    )


def stateless_seed(layer, data, seed=None):
    """An int64 `[2]` stateless seed for one call of a random layer under
    the TensorFlow ops: `seed` if given, else the layer's generator's next
    one (under another backend, TensorFlow's random state seeded by the
    layer's `seed`, since the generator lives in that backend)."""
    tf = tf_module()
    if seed is None and foreign_graph(data):
        seed = tf.random.uniform(
            [2], 0, tf.int64.max, tf.int64, seed=layer.seed
        )
    if seed is None:
        seed = layer.seed_generator.next()
    return tf.cast(seed, tf.int64)
