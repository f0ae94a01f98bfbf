"""Trains a CAM classifier with Hide-and-Seek: `python -m has_tf.train`.

    python -m has_tf.train --flagfile=flags/quickstart.cfg [--overrides]

Flags are the only configuration; the real work is in importable functions
(`TrainConfig`, `train`), so tests and notebooks train without flags. A run
writes into `--model_dir`: `flags.txt` (the resolved flags),
`normalization.json` (the mean/std the model was trained with),
`backup/` (Keras BackupAndRestore: a killed run resumes from its last
checkpoint), `tensorboard/`, `history.json`, the final `model.keras` and
`saved_model/` (serving logits and CAMs).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys

from absl import app
from absl import flags

from has_tf import shared_flags

@dataclasses.dataclass
class TrainConfig:
    """Everything a run needs; the flags above map onto it one to one."""

    model_dir: str
    dataset: str = "synthetic_parts"
    data_dir: str | None = None
    manual_dir: str | None = None
    train_split: str = "train"
    model: str = "small_gap"
    pooling: str = "avg"
    dropout_rate: float = 0.0
    image_size: int = 224
    resize_size: int = 256
    crop: str = "resize_crop"
    patch_sizes: tuple = (0, 16, 32, 44, 56)
    hide_prob: float = 0.5
    conv1_patch_sizes: tuple = ()
    conv1_hide_prob: float = 0.5
    normalization: str = "dataset"
    batch_size: int = 64
    epochs: int = 10
    steps_per_epoch: int = 0
    learning_rate: float = 0.01
    lr_boundaries: tuple = (0.5, 0.75)
    lr_decay: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    strategy: str = "default"
    mixed_precision: str = "float32"
    jit_compile: bool = False
    checkpoint_steps: int = 0
    eval_split: str = "test"
    tensorboard_images: int = 8
    # Video-feature datasets (has_tf.train_temporal).
    num_steps: int = 2000
    segment_size: int = 100
    temporal_pooling: str = "max_features"
    temporal_loss: str = "softmax"
    units: int = 500

    def __post_init__(self):
        self.patch_sizes = tuple(int(s) for s in self.patch_sizes)
        self.conv1_patch_sizes = tuple(
            int(s) for s in self.conv1_patch_sizes)
        self.lr_boundaries = tuple(float(b) for b in self.lr_boundaries)
        validate(self)


def validate(config: TrainConfig) -> None:
    """Rejects invalid combinations, naming the flag and the value."""

    def fail(name, message):
        raise ValueError(f"--{name}: {message} "
                         f"Received: {getattr(config, name)!r}")

    if config.model not in shared_flags.MODELS:
        fail("model", f"expected one of {shared_flags.MODELS}.")
    if any(s < 0 for s in config.patch_sizes):
        fail("patch_sizes", "expected sizes >= 0.")
    if any(s > config.image_size for s in config.patch_sizes):
        fail("patch_sizes", f"a patch is larger than the crop "
             f"(--image_size={config.image_size}).")
    if not 0.0 <= config.hide_prob <= 1.0:
        fail("hide_prob", "expected a probability in [0, 1].")
    if not 0.0 <= config.conv1_hide_prob <= 1.0:
        fail("conv1_hide_prob", "expected a probability in [0, 1].")
    if any(s < 0 for s in config.conv1_patch_sizes):
        fail("conv1_patch_sizes", "expected sizes >= 0.")
    if config.conv1_patch_sizes and config.model == "googlenet_gap":
        fail("conv1_patch_sizes", "conv1 hiding is built into alexnet_gap "
             "and small_gap only (--model=googlenet_gap).")
    if config.crop == "resize_crop" and config.image_size > config.resize_size:
        fail("image_size", f"the crop is larger than --resize_size="
             f"{config.resize_size}.")
    if any(not 0.0 < b < 1.0 for b in config.lr_boundaries) or list(
            config.lr_boundaries) != sorted(config.lr_boundaries):
        fail("lr_boundaries", "expected increasing fractions in (0, 1).")
    if not 0.0 <= config.dropout_rate < 1.0:
        fail("dropout_rate", "expected a rate in [0, 1).")
    if config.num_steps < 1:
        fail("num_steps", "expected an int >= 1.")
    if not 0 <= config.segment_size <= config.num_steps:
        fail("segment_size", f"expected 0 (no hiding) to --num_steps="
             f"{config.num_steps}.")
    if config.units < 1:
        fail("units", "expected an int >= 1.")


def config_from_flags(values=None) -> TrainConfig:
    """The `TrainConfig` the parsed flags (default `flags.FLAGS`) describe."""
    values = flags.FLAGS if values is None else values
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    return TrainConfig(**{name: values[name].value for name in names})


def config_from_flagfile(path: str, **overrides) -> TrainConfig:
    """The `TrainConfig` a flagfile describes, with `overrides` on top.

    Reads the file with the apps' own flags (nested `--flagfile=` lines
    included) without touching the process's `absl.flags.FLAGS`, so
    notebooks and tests run the experiments of `flags/` exactly.

    Raises:
      ValueError: an invalid combination (naming the flag);
      absl.flags.Error: an unknown flag or a bad value in the file.
    """
    return config_from_flags(shared_flags.read_flagfile(path, **overrides))


def build_strategy(name: str):
    """The tf.distribute strategy for `--strategy`."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.get_strategy()


def normalization(config: TrainConfig, builder) -> dict:
    """Mean and std in pixel units: the dataset's (cached) or ImageNet's."""
    from has_tf import dataset_stats
    from has_tf import input_pipeline

    if config.normalization == "imagenet":
        return {"mean": list(input_pipeline.IMAGENET_MEAN_RGB),
                "std": list(input_pipeline.IMAGENET_STD_RGB)}
    moments = dataset_stats.cached_channel_moments(builder,
                                                   config.train_split)
    return {"mean": moments.mean.tolist(), "std": moments.std.tolist()}


def build_model(config: TrainConfig, num_classes: int, image_size=None):
    """The classifier `config.model` names, for `num_classes` classes."""
    from has_tf import models

    side = image_size or config.image_size
    options = {}
    if config.conv1_patch_sizes:
        options = dict(conv1_hide_patch_sizes=config.conv1_patch_sizes,
                       conv1_hide_prob=config.conv1_hide_prob)
    return getattr(models, config.model)(
        num_classes, input_shape=(side, side, 3), pooling=config.pooling,
        dropout_rate=config.dropout_rate, **options)


def build_optimizer(config: TrainConfig, total_steps: int):
    """SGD with momentum, weight decay and the paper's step schedule."""
    import keras

    boundaries = [max(1, int(b * total_steps)) for b in config.lr_boundaries]
    rates = [config.learning_rate * config.lr_decay**i
             for i in range(len(boundaries) + 1)]
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries, rates)
    return keras.optimizers.SGD(schedule, momentum=config.momentum,
                                weight_decay=config.weight_decay or None)


def _step_counter():
    """A Keras callback counting the steps this process ran.

    A resumed run runs fewer than the total. Defined here so importing
    this module does not load Keras.
    """
    import keras

    class StepCounter(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1

    return StepCounter()


def _replica_spread(strategy, model) -> float:
    """Largest difference between replicas' copies of a trainable weight.

    0 when the replicas are in sync. (Batch-norm moving statistics are
    kept per replica and averaged when read, so they are not compared.)
    """
    import numpy as np

    spread = 0.0
    for variable in model.trainable_weights:
        copies = [np.asarray(v) for v in
                  strategy.experimental_local_results(variable.value)]
        for copy in copies[1:]:
            spread = max(spread, float(np.max(np.abs(copy - copies[0]))))
    return spread


def _cam_image_logger(model, images, labels, log_dir, mean, std):
    """A Keras callback logging the CAMs of fixed images to TensorBoard.

    After every `fit` epoch (one checkpoint interval) it writes, under
    the tag "cams", each image blended with the CAM of its true class,
    and the learning rate under "learning_rate".

    Args:
      model: the classifier being trained (a `has_tf.models` network).
      images: float32 `[K, S, S, 3]` normalised images.
      labels: int `[K]` their classes.
      log_dir: the summary directory.
      mean, std: the normalisation, to show the images in pixel units.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from has_tf import models
    from has_tf import visualize

    class CamImages(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.writer = tf.summary.create_file_writer(log_dir)
            self.cam_net = models.cam_model(model)
            self.pixels = (np.asarray(images) * np.asarray(std)
                           + np.asarray(mean))

        def on_epoch_end(self, epoch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            cams = self.cam_net(images, training=False)["cams"]
            cams = models.upsample_cams(
                models.class_cams(cams, classes=labels),
                images.shape[1:3]).numpy()
            blended = np.stack([visualize.blend_cam(p, c)
                                for p, c in zip(self.pixels, cams)])
            rate = self.model.optimizer.learning_rate
            with self.writer.as_default():
                tf.summary.image("cams", blended, step=step,
                                 max_outputs=len(blended))
                tf.summary.scalar("learning_rate", float(np.asarray(rate)),
                                  step=step)
            self.writer.flush()

    return CamImages()


def _fixed_eval_batch(config: TrainConfig, norm: dict):
    """The first `config.tensorboard_images` images of `eval_split`."""
    import has_tf.datasets
    from has_tf import input_pipeline

    data, _ = has_tf.datasets.load(config.dataset, config.eval_split,
                                   config.data_dir, config.manual_dir)
    batch = next(iter(input_pipeline.eval_pipeline(
        data.take(config.tensorboard_images), config.tensorboard_images,
        "resize", image_size=config.image_size,
        resize_size=config.resize_size, mean=norm["mean"],
        std=norm["std"])))
    return batch["image"], batch["label"].numpy()


def _image_setup(config: TrainConfig, dataset, builder) -> dict:
    """What `train` needs for an image run (see `train_temporal.setup`)."""
    import keras

    from has_tf import input_pipeline

    num_classes = builder.info.features["label"].num_classes
    norm = normalization(config, builder)

    def inputs(context):
        return input_pipeline.train_pipeline(
            dataset, context.get_per_replica_batch_size(config.batch_size),
            image_size=config.image_size, resize_size=config.resize_size,
            crop=config.crop, patch_sizes=config.patch_sizes or None,
            hide_prob=config.hide_prob, mean=norm["mean"], std=norm["std"],
            seed=config.seed, input_context=context)

    return {
        "num_classes": num_classes,
        "examples": builder.info.splits[config.train_split].num_examples,
        "norm": norm,
        "info": {**norm, "image_size": config.image_size,
                 "num_classes": num_classes, "model": config.model},
        "inputs": inputs,
        "build_model": lambda: build_model(config, num_classes),
        "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "per_example_loss": keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="none"),
        "metrics": ["accuracy"],
    }


def export_saved_model(model, path: str) -> str:
    """Exports a SavedModel whose `serve` gives logits and CAMs.

    `tf.saved_model.load(path).serve(images)` returns
    `{"logits": [B, N], "cams": [B, h, w, N]}` for normalised images; for
    the action network, `serve(features)` returns `{"logits": [B, N],
    "tcam": [B, T, N]}`.
    """
    from has_tf import models

    if isinstance(model.layers[-1], models.TemporalClassifier):
        net = models.temporal_cam_model(model)
    else:
        net = models.cam_model(model)
    net.export(path, format="tf_saved_model", verbose=False)
    return path


def train(config: TrainConfig, flags_text: str | None = None) -> dict:
    """Runs (or resumes) training; returns the history as a dict.

    Args:
      config: the run.
      flags_text: the resolved flags, written to `flags.txt` if given.

    Returns:
      `{"loss": [...], "accuracy": [...], ...}` per checkpoint interval run
      by this process, plus "steps_done" (the optimizer's step count) and
      "steps_this_run".
    """
    import keras

    import has_tf.datasets

    # Multi-worker collectives must be set up before any other TF op runs.
    strategy = build_strategy(config.strategy)
    # Under multi_worker only the chief writes into the model dir.
    out_dir = config.model_dir
    if config.strategy == "multi_worker":
        from has_tf import multi_worker

        out_dir = multi_worker.worker_dir(strategy, config.model_dir)
    os.makedirs(out_dir, exist_ok=True)
    if flags_text is not None:
        with open(os.path.join(out_dir, "flags.txt"), "w") as f:
            f.write(flags_text)
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.mixed_precision)
    dataset, builder = has_tf.datasets.load(
        config.dataset, config.train_split, config.data_dir,
        config.manual_dir, shuffle_files=True)
    if has_tf.datasets.is_temporal(config.dataset):
        from has_tf import train_temporal

        task = train_temporal.setup(config, dataset, builder)
    else:
        task = _image_setup(config, dataset, builder)
    steps = config.steps_per_epoch or max(
        1, task["examples"] // config.batch_size)
    with open(os.path.join(out_dir, "normalization.json"), "w") as f:
        json.dump(task["info"], f)
    train_data = strategy.distribute_datasets_from_function(task["inputs"])
    with strategy.scope():
        model = task["build_model"]()
        model.compile(
            optimizer=build_optimizer(config, steps * config.epochs),
            loss=task["loss"], metrics=task["metrics"],
            jit_compile=config.jit_compile)
    # Keras resumes a run at the start of the epoch it was killed in, so
    # `fit` sees one "epoch" per checkpoint interval: a killed run resumes
    # exactly at its last checkpoint (weights, optimizer and step), losing
    # at most one interval. The total is rounded up to whole intervals.
    interval = config.checkpoint_steps or steps
    chunks = math.ceil(steps * config.epochs / interval)
    images_logger = []
    if config.tensorboard_images and "norm" in task:
        norm = task["norm"]
        images, labels = _fixed_eval_batch(config, norm)
        images_logger.append(_cam_image_logger(
            model, images, labels, os.path.join(out_dir, "tensorboard",
                                                "cams"),
            norm["mean"], norm["std"]))
    if config.strategy == "multi_worker":
        history = multi_worker.fit(
            strategy, model, train_data, config.batch_size, chunks,
            interval, out_dir, task["per_example_loss"],
            callbacks=images_logger)
        steps_this_run = history.pop("steps_this_run")
    else:
        callbacks = [
            keras.callbacks.BackupAndRestore(
                os.path.join(out_dir, "backup"), save_freq="epoch",
                delete_checkpoint=False),
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.TensorBoard(os.path.join(out_dir,
                                                     "tensorboard")),
        ] + images_logger
        counter = _step_counter()
        history = model.fit(
            train_data, epochs=chunks, steps_per_epoch=interval,
            callbacks=callbacks + [counter], shuffle=False,
            verbose=1 if sys.stdout.isatty() else 2).history
        steps_this_run = counter.steps
    losses = history.get("loss", [])
    if any(not math.isfinite(loss) for loss in losses):
        raise RuntimeError(
            "The loss became NaN or infinite; training stopped. The last "
            f"good checkpoint is in {out_dir}/backup.")
    model.save(os.path.join(out_dir, "model.keras"))
    export_saved_model(model, os.path.join(out_dir, "saved_model"))
    record = {k: [float(v) for v in vals] for k, vals in history.items()}
    record["steps_done"] = int(model.optimizer.iterations.numpy())
    record["steps_this_run"] = steps_this_run
    record["replicas"] = strategy.num_replicas_in_sync
    record["replica_weights_max_diff"] = _replica_spread(strategy, model)
    with open(os.path.join(out_dir, "history.json"), "w") as f:
        json.dump(record, f)
    return record


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags()
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    record = train(config, flags.FLAGS.flags_into_string())
    import has_tf.datasets

    model = ("temporal_net" if has_tf.datasets.is_temporal(config.dataset)
             else config.model)
    print(f"Trained {model} on {config.dataset}: final accuracy "
          f"{record.get('accuracy', [float('nan')])[-1]:.3f}, model in "
          f"{os.path.join(config.model_dir, 'model.keras')}")


if __name__ == "__main__":
    flags.mark_flags_as_required(["model_dir"])
    app.run(main)
