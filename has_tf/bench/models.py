"""`python -m has_tf.bench models`: images/s of each CAM model.

`models` times, for each CAM model at its usual input size (the paper's
nets and wsolevaluation's VGG16-, ResNet50- and InceptionV3-CAM at 224), a
forward pass (inference mode) and a forward+backward pass (training mode,
gradients of the cross-entropy), in `tf.function` without and with XLA
(`jit_compile=True`, what `--jit_compile` does to the training step), and
reports images per second and the XLA/plain ratio measured side by side.
`--models=vgg16_cam,resnet50_cam` times only those.

A model whose table row names its timm twin (`timm_name`: the DeiTs) is
timed beside timm's PyTorch model in the same rounds where PyTorch and
timm are installed (`timm_*` figures and `ratio_*` = has_tf's images/s
over timm's; timm's model keeps its own classifier on the class token,
has_tf's the CAM head on the patch grid). Without them the row says so.
"""

from __future__ import annotations

import importlib.util


def torch_available() -> bool:
    """Whether PyTorch and timm can be imported (the timm rows)."""
    return all(importlib.util.find_spec(m) for m in ("torch", "timm"))


if torch_available():
    # Before TensorFlow: timm imports triton, whose native libraries crash
    # the process when loaded after TensorFlow's (PyTorch 2.14's CUDA
    # wheel beside tensorflow-cpu 2.21).
    import timm  # noqa: F401

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from has_tf import models  # noqa: E402
from has_tf.bench import _timing  # noqa: E402


def _steps(model, images, labels, loss_fn, jit) -> dict:
    """The forward and forward+backward passes, as functions to time."""

    @tf.function(jit_compile=jit)
    def forward(x):
        return model(x, training=False)

    @tf.function(jit_compile=jit)
    def forward_backward(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        return tf.add_n([tf.reduce_sum(g) for g in grads])

    return {
        "forward": lambda: forward(images),
        "forward_backward": lambda: forward_backward(images, labels),
    }


def _timm_steps(name, batch, side, num_classes) -> dict:
    """timm's model `name` in PyTorch: its forward (eval, no gradients) and
    forward+backward (train mode, cross-entropy) passes on CPU."""
    import timm
    import torch

    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=num_classes)
    images = torch.rand(batch, 3, side, side) * 2 - 1
    labels = torch.randint(0, num_classes, (batch,))

    def forward():
        model.eval()
        with torch.no_grad():
            model(images)

    def forward_backward():
        model.train()
        model.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()

    return {"forward": forward, "forward_backward": forward_backward}


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
        steps = {
            f"{prefix}{step}": fn
            for jit, prefix in ((False, ""), (True, "xla_"))
            for step, fn in _steps(model, images, labels, loss_fn, jit).items()
        }
        timm_name = models.table.get(name).timm_name
        with_timm = timm_name is not None and torch_available()
        if with_timm:
            steps.update(
                {
                    f"timm_{step}": fn
                    for step, fn in _timm_steps(
                        timm_name, batch, side, num_classes
                    ).items()
                }
            )
        ms = _timing.interleaved_ms(steps, repeats)
        fwd, both = ms["forward"], ms["forward_backward"]
        xla_fwd, xla_both = ms["xla_forward"], ms["xla_forward_backward"]
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
        if with_timm:
            results[name].update(_timm_figures(timm_name, ms, batch))
        elif timm_name is not None:
            results[name]["timm"] = (
                f"{timm_name} not timed: PyTorch and timm are not installed"
            )
    environment = _timing.tf_environment()
    if torch_available():
        import timm
        import torch

        environment.update(torch=torch.__version__, timm=timm.__version__)
    return {
        "benchmark": "models",
        "batch": batch,
        "num_classes": num_classes,
        "repeats": repeats,
        "statistic": "median after one warm-up",
        **environment,
        "results": results,
    }


def _timm_figures(timm_name, ms, batch) -> dict:
    """timm's rows and has_tf's images/s over timm's, plain and XLA."""
    out = {"timm": timm_name}
    for step in ("forward", "forward_backward"):
        timm_ms = ms[f"timm_{step}"]
        out[f"timm_{step}_ms"] = timm_ms
        out[f"timm_{step}_images_per_s"] = batch / timm_ms * 1e3
        out[f"ratio_{step}"] = timm_ms / ms[step]
        out[f"ratio_xla_{step}"] = timm_ms / ms[f"xla_{step}"]
    return out
