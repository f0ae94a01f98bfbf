"""Training-step time of each video method's network beside the paper's.

    python -m has_tf.bench video_methods [--batch=16] [--dim=2048] \\
        [--steps=750] [--repeats=3]

Rows: the paper's network (`models.temporal_net`: two width-1 convs of
500 units, max over time of the features, the softmax loss) and every
registered video method with a network of its own (`Method.network`, e.g.
CoLA, AICL, DELU), each built as its THUMOS14 recipe builds it (its options
and `--units` read from `flags/wtal/thumos14_i3d_<method>.cfg` when run
from the repository: CoLA's 2048-unit embedding, AICL's 512; else the
defaults) and trained by Keras's
compiled step with PyTorch's Adam on one batch of `batch` videos of
`steps` x `dim` features (THUMOS14's I3D: 750 x 2048), random labels; the
median of `repeats` steps, interleaved (`_timing.interleaved_ms`), after
a warm-up. Memory of the input pipeline is the same for every method (one
pipeline feeds them all): `python -m has_tf.bench video_memory`.
"""

from __future__ import annotations

import os

import numpy as np

from has_tf.bench import _timing

CLASSES = 20  # THUMOS14's.


def _networks(batch, dim, steps) -> dict:
    """name -> (model, loss, units): the paper's and every method's own.

    Raises:
      ValueError: a recipe's options do not fit `steps` (as training
        would refuse them).
    """
    from has_tf import config as config_lib
    from has_tf import methods
    from has_tf import models

    nets = {
        "paper": (
            models.temporal_net(CLASSES, dim, steps=steps, units=500),
            models.temporal_loss("softmax"),
            500,
        )
    }
    for method in methods.methods("videos"):
        if method.network is None:
            continue
        recipe = os.path.join(
            "flags", "wtal", f"thumos14_i3d_{method.name}.cfg"
        )
        options = dict(
            method=method.name,
            num_steps=steps,
            segment_size=0,
            batch_size=batch,
        )
        if os.path.exists(recipe):
            config = config_lib.train_config_from_flagfile(
                recipe, model_dir="unused", **options
            )
        else:
            config = config_lib.TrainConfig(
                model_dir="unused",
                dataset="synthetic_actions",
                patch_sizes=(),
                **options,
            )
        methods.resolve(config, "videos")
        build, loss = method.network(config, CLASSES, dim)
        nets[method.name] = (build(), loss, config.units)
    return nets


def run(batch: int = 16, dim: int = 2048, steps: int = 750, repeats: int = 3):
    """Times one training step of each network; the JSON-ready result."""

    from has_tf.training import optimizers

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, dim)).astype(np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, batch)]
    steps_fns, parameters, units = {}, {}, {}
    for name, (model, loss, width) in _networks(batch, dim, steps).items():
        units[name] = width
        model.compile(
            optimizer=optimizers.torch_adam(1e-4, 5e-4, "l2"), loss=loss
        )
        parameters[name] = int(model.count_params())
        # A network that takes the labels too (AICL) gets them.
        inputs = [x, y] if len(model.inputs) == 2 else x
        steps_fns[name] = (lambda m, i: lambda: m.train_on_batch(i, y))(
            model, inputs
        )
    times = _timing.interleaved_ms(steps_fns, repeats)
    rows = {
        name: {
            "parameters": parameters[name],
            "units": units[name],
            "train_step_ms": times[name],
            "videos_per_s": batch / times[name] * 1e3,
            "over_paper": times[name] / times["paper"],
        }
        for name in steps_fns
    }
    return {
        "batch": batch,
        "dim": dim,
        "steps": steps,
        "repeats": repeats,
        "rows": rows,
        **_timing.tf_environment(),
    }
