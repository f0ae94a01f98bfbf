"""`python -m has_tf.bench models`: images/s of each CAM model.

`models` times, for each CAM model at its usual input size (the paper's
nets and wsolevaluation's VGG16-, ResNet50- and InceptionV3-CAM at 224), a
forward pass (inference mode) and a forward+backward pass (training mode,
gradients of the cross-entropy), in `tf.function` without and with XLA
(`jit_compile=True`, what `--jit_compile` does to the training step), and
reports images per second and the XLA/plain ratio measured side by side.
`--models=vgg16_cam,resnet50_cam` times only those.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from has_tf import models
from has_tf.bench import _timing


def _timed(model, images, labels, loss_fn, repeats, jit):
    @tf.function(jit_compile=jit)
    def forward(x):
        return model(x, training=False)

    @tf.function(jit_compile=jit)
    def forward_backward(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    return (
        _timing.median_ms(lambda: forward(images), repeats),
        _timing.median_ms(lambda: forward_backward(images, labels), repeats),
    )


def run(
    batch: int = 32,
    repeats: int = 3,
    num_classes: int = 1000,
    models_list: str = "",
) -> dict:
    """Runs the model benchmark; returns the JSON-ready result dict.

    Args:
      batch: images per batch.
      repeats: timed runs per figure (the median is reported).
      num_classes: classifier width.
      models_list: comma-separated names of `models.IMAGE_MODELS` to time;
        empty: all.

    Raises:
      ValueError: an unknown model name.
    """
    names = [n for n in models_list.split(",") if n] or list(models.INPUT_SIDES)
    unknown = sorted(set(names) - set(models.INPUT_SIDES))
    if unknown:
        raise ValueError(
            f"--models: expected names in {sorted(models.INPUT_SIDES)}. "
            f"Received: {unknown}"
        )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    results = {}
    for name in names:
        side = models.INPUT_SIDES[name]
        model = models.IMAGE_MODELS[name](
            num_classes, input_shape=(side, side, 3)
        )
        images = tf.random.uniform([batch, side, side, 3], -1, 1, seed=0)
        labels = tf.random.uniform([batch], 0, num_classes, tf.int32, seed=0)
        fwd, both = _timed(model, images, labels, loss_fn, repeats, False)
        xla_fwd, xla_both = _timed(
            model, images, labels, loss_fn, repeats, True
        )
        results[name] = {
            "input": [side, side, 3],
            "parameters": model.count_params(),
            "forward_ms": fwd,
            "forward_images_per_s": batch / fwd * 1e3,
            "forward_backward_ms": both,
            "forward_backward_images_per_s": batch / both * 1e3,
            "xla_forward_ms": xla_fwd,
            "xla_forward_images_per_s": batch / xla_fwd * 1e3,
            "xla_forward_backward_ms": xla_both,
            "xla_forward_backward_images_per_s": batch / xla_both * 1e3,
            "xla_speedup_forward": fwd / xla_fwd,
            "xla_speedup_forward_backward": both / xla_both,
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
