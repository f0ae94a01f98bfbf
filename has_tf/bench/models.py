"""`python -m has_tf.bench models`: images/s of each CAM model.

`models` times, for each CAM model at its usual input size, a forward pass
(inference mode) and a forward+backward pass (training mode, gradients of
the cross-entropy), both in `tf.function`, and reports images per second.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from has_tf import models
from has_tf.bench import _timing


def run(batch: int = 32, repeats: int = 3, num_classes: int = 1000) -> dict:
    """Runs the model benchmark; returns the JSON-ready result dict."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    results = {}
    for name, side in models.INPUT_SIDES.items():
        model = models.IMAGE_MODELS[name](
            num_classes, input_shape=(side, side, 3)
        )
        images = tf.random.uniform([batch, side, side, 3], -1, 1, seed=0)
        labels = tf.random.uniform([batch], 0, num_classes, tf.int32, seed=0)

        @tf.function
        def forward(x, model=model):
            return model(x, training=False)

        @tf.function
        def forward_backward(x, y, model=model):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            return tf.add_n([tf.reduce_sum(g) for g in grads])

        fwd = _timing.median_ms(lambda: forward(images), repeats)
        both = _timing.median_ms(
            lambda: forward_backward(images, labels), repeats
        )
        results[name] = {
            "input": [side, side, 3],
            "parameters": model.count_params(),
            "forward_ms": fwd,
            "forward_images_per_s": batch / fwd * 1e3,
            "forward_backward_ms": both,
            "forward_backward_images_per_s": batch / both * 1e3,
        }
    return {
        "benchmark": "models",
        "batch": batch,
        "num_classes": num_classes,
        "repeats": repeats,
        "statistic": "median after one warm-up",
        **_timing.tf_environment(),
        "results": results,
    }
