"""Weakly-supervised object localization: CAM classifiers on images.

Training: `input_pipeline.images.train_pipeline` (crop, flip, Hide-and-Seek per
batch on the host, uint8 out) into an image classifier of `has_tf.models` that
takes uint8 pixels and normalises them in its first op (hiding there too with
`--hide_on=device`), with sparse softmax cross-entropy: one input contract for
training, evaluation and serving. A run records its normalisation (the mean is
also the fill of pixels hidden on the host), input side, classes and model.
Runs whose model takes float images normalised on the host (has_tf 0.2, or a
float-input `--model` file) get them: `takes_pixels`.

Evaluation (`ImageLocalization.evaluate`, a pipeline of small scorers):
`input_pipeline.images.eval_pipeline` -> `models.cam_model` -> CAMs of the true
and top-5 classes at image size -> `postprocess.boxes.cam_to_box` -> both
protocols of `has_tf.metrics.boxes`: the paper's (Top-1 Loc, GT-known Loc, Top-1
Clas at `cam_threshold`) and the threshold-free one (MaxBoxAcc, MaxBoxAccV2). It
streams over the split (memory stays flat) and writes `eval/metrics.json`
(fractions in [0, 1]) and overlay pictures.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from has_tf import datasets
from has_tf import methods
from has_tf import models
from has_tf import visualize
from has_tf.augmentation.layers import PixelNormalization
from has_tf.input_pipeline import dataset_stats
from has_tf.input_pipeline import images as image_pipeline
from has_tf.metrics import boxes as metric_boxes
from has_tf.metrics import parallel
from has_tf.models import pretrained
from has_tf.postprocess import boxes as postprocess_boxes
from has_tf.postprocess import ten_crop
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import check_classes
from has_tf.tasks.base import fingerprint
from has_tf.tasks.base import load_run
from has_tf.tasks.base import read_run_info
from has_tf.tasks.base import score
from has_tf.tasks.base import trained_model
from has_tf.tasks.base import write_metrics
from has_tf.training import serving

# The headline figures, in order, for printing.
HEADLINE = (
    "top1_loc",
    "gt_known_loc",
    "top1_cls",
    "max_box_acc",
    "max_box_acc_v2",
)

__all__ = [
    "HEADLINE",
    "ImageLocalization",
    "build_model",
    "first_per_class",
    "initial_weights",
    "normalization",
    "predict_cams",
    "sparse_crossentropy",
]


@keras.saving.register_keras_serializable(package="has_tf")
def sparse_crossentropy(labels, logits):
    """Softmax cross-entropy of int labels `[B]` and logits `[B, N]`: `[B]`."""
    return keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=True
    )


def initial_weights(config) -> dict:
    """What `--init_from` names, for `run_info.json` ({} without one).

    A weights file: its path, file name, SHA-256, format and the input
    normalisation it expects (`models.pretrained.describe`); a has_tf run
    directory: its `model.keras`'s SHA-256 and the run's mean and std.

    Raises:
      FileNotFoundError: a run directory without a trained model.
      models.pretrained.WeightsError: a missing or unreadable weights file,
        or one this backbone cannot take.
    """
    path = config.init_from
    if not path:
        return {}
    if os.path.isdir(path):
        model_path = trained_model(path)
        info = read_run_info(path)
        return {
            "run": os.path.abspath(path),
            "file": os.path.basename(model_path),
            "sha256": fingerprint(model_path),
            "format": "has_tf",
            "mean": info["mean"],
            "std": info["std"],
        }
    record = pretrained.describe(path, config.model).record()
    return {"path": os.path.abspath(path), **record}


def normalization(config, builder, init=None) -> dict:
    """Mean and std in pixel units: the dataset's (cached), ImageNet's, or
    those of `--init_from`'s weights (`init`, from `initial_weights`)."""
    if config.normalization == "imagenet":
        return {
            "mean": list(image_pipeline.IMAGENET_MEAN_RGB),
            "std": list(image_pipeline.IMAGENET_STD_RGB),
        }
    if config.normalization == "weights":
        init = init if init is not None else initial_weights(config)
        return {"mean": list(init["mean"]), "std": list(init["std"])}
    moments = dataset_stats.cached_channel_moments(builder, config.train_split)
    return {"mean": moments.mean.tolist(), "std": moments.std.tolist()}


def takes_pixels(model: keras.Model) -> bool:
    """Whether `model` takes uint8 pixels (and normalises them itself, as
    every model the apps build since 0.3), rather than float images
    normalised on the host (has_tf 0.2's runs, float-input model files)."""
    return str(model.inputs[0].dtype) == "uint8"


def _fail(flag: str, message: str, value) -> None:
    raise ValueError(f"--{flag}: {message} Received: {value!r}")


def resolve(config) -> methods.Method:
    """The method of an image run (`methods.resolve`), checked with the
    model against the table of models (`models.table`): a model the table
    names or a `.keras` file, and what the options ask of it (conv1
    hiding, a large feature map, a pretrained weights file, the method's
    places).

    Raises:
      ValueError: naming the flag and the value.
    """
    method = methods.resolve(config, "images")
    row = None
    if config.model in models.IMAGE_MODELS:
        row = models.table.get(config.model)
    elif not config.model.endswith(".keras"):
        models.table.get(config.model)  # Raises, naming the known ones.
    elif not os.path.isfile(config.model):
        _fail("model", "no such model file.", config.model)
    elif config.hide_on == "device" and config.patch_sizes:
        _fail(
            "hide_on",
            "a model file keeps its own layers: build it with "
            "cam_classifier(..., input_hide_patch_sizes=...) and train with "
            "--patch_sizes= (or hide on the host).",
            config.hide_on,
        )

    def takes(field, flag, value, message):
        """Refuses `value` when the model's row lacks `field`; `message`
        names the models that have it ({having}) and --model ({model})."""
        if value and not (row and getattr(row, field)):
            having = ", ".join(models.table.names(**{field: True}))
            _fail(
                flag, message.format(having=having, model=config.model), value
            )

    takes(
        "conv1_hiding",
        "conv1_patch_sizes",
        config.conv1_patch_sizes,
        "conv1 hiding is built into {having} only (--model={model}).",
    )
    takes(
        "large_feature_map",
        "large_feature_map",
        config.large_feature_map,
        "only {having} have one (--model={model}).",
    )
    takes(
        "pretrained",
        "init_from",
        config.init_from if not os.path.isdir(config.init_from) else "",
        "a weights file initialises {having} only (a has_tf run directory "
        "any model; --model={model}).",
    )
    if method.backbones is not None and config.model not in method.backbones:
        _fail(
            "method",
            f"{method.name} goes with {', '.join(method.backbones)} "
            f"(--model={config.model}).",
            method.name,
        )
    takes(
        "method_places",
        "method",
        method.name if method.built_in else "",
        f"{method.name} is built into {{having}} only (--model={{model}}).",
    )
    return method


def build_model(config, num_classes: int, run_info: dict) -> keras.Model:
    """The classifier `config.model` names, for `num_classes` classes,
    initialised from `config.init_from` when given.

    A has_tf builder's model takes uint8 pixels and normalises them with
    `run_info`'s mean and std in its first op (`input_pixels`, which with
    `--hide_on=device` also hides); a `--model=<file>.keras` takes what
    it was built to take (`takes_pixels`).
    """
    side = config.image_size
    method = resolve(config)
    if config.model not in models.IMAGE_MODELS:
        model = model_file(config.model, num_classes, side)
        _log_own_normalization(model, run_info)
        if config.init_from:
            _initialise(model, config.init_from, config.model)
        return model
    options = {
        "input_normalization": (run_info["mean"], run_info["std"]),
        **method.model(config),
    }
    if models.table.get(config.model).large_feature_map:
        options.update(large_feature_map=config.large_feature_map)
    model = models.IMAGE_MODELS[config.model](
        num_classes,
        input_shape=(side, side, 3),
        pooling=config.pooling,
        dropout_rate=config.dropout_rate,
        dropout_at_test=config.dropout_at_test,
        **options,
    )
    if config.init_from:
        _initialise(model, config.init_from, config.model)
    return model


@keras.saving.register_keras_serializable(package="has_tf")
def soft_crossentropy(labels, logits):
    """Softmax cross-entropy of soft labels `[B, N]` (CutMix's) and logits
    `[B, N]`: `[B]`; equal to the tool's `lam * CE(y_a) + (1 - lam) *
    CE(y_b)`."""
    return keras.losses.categorical_crossentropy(
        labels, logits, from_logits=True
    )


def model_file(path: str, num_classes: int, side: int) -> keras.Model:
    """The CAM classifier saved at `path` (`--model=<file>.keras`), checked:
    `cam_model` takes it, its classifier has `num_classes` units and its
    input takes `side` x `side` RGB crops."""
    model = keras.saving.load_model(path, compile=False)
    try:
        models.cam_model(model)
    except ValueError as error:
        raise ValueError(
            f"--model={path}: not a CAM classifier ({error}); build it with "
            "has_tf.cam_classifier."
        ) from None
    units = model.get_layer("logits").units
    if units != num_classes:
        raise ValueError(
            f"--model={path}: its classifier has {units} classes, the "
            f"dataset {num_classes}; build it with num_classes={num_classes}."
        )
    shape = tuple(model.inputs[0].shape[1:])
    if (
        len(shape) != 3
        or shape[2] != 3
        or any(d not in (None, side) for d in shape[:2])
    ):
        raise ValueError(
            f"--model={path}: its input is {shape}, the crops are "
            f"({side}, {side}, 3) (--image_size={side})."
        )
    logging.info(
        "--model=%s: %s, %d layers.", path, model.name, len(model.layers)
    )
    return model


def _log_own_normalization(model, run_info):
    """Says so when a model file normalises with other moments than the
    run's (the run's only fill hidden pixels on the host then)."""
    first = [
        layer for layer in model.layers if isinstance(layer, PixelNormalization)
    ]
    if first and (
        not np.allclose(first[0].mean, run_info["mean"])
        or not np.allclose(first[0].std, run_info["std"])
    ):
        logging.warning(
            "The model normalises its pixels with mean %s, std %s; the run "
            "records mean %s, std %s (--normalization), used only as the "
            "fill of pixels hidden on the host.",
            first[0].mean,
            first[0].std,
            run_info["mean"],
            run_info["std"],
        )


def _initialise(model, path, model_name):
    if os.path.isdir(path):
        source, _ = load_run(path)
        loaded, fresh = pretrained.copy_layers(model, source, path)
    else:
        info = pretrained.load(model, path, model_name)
        loaded, fresh = info.loaded, info.fresh
    logging.info(
        "--init_from=%s: %d layers loaded, %d left as initialised (%s).",
        path,
        len(loaded),
        len(fresh),
        ", ".join(fresh[:6]) + (" ..." if len(fresh) > 6 else ""),
    )


class CamImages(keras.callbacks.Callback):
    """Logs the CAMs of fixed images to TensorBoard after every interval.

    After every `fit` epoch (one checkpoint interval) it writes, under the
    tag "cams", each image blended with the CAM of its true class, and the
    learning rate under "learning_rate".

    Args:
      model: the classifier being trained (a `has_tf.models` network).
      images: `[K, S, S, 3]` as the model takes them: uint8 pixels, or
        float32 normalised (`takes_pixels`).
      labels: int `[K]` their classes.
      log_dir: the summary directory.
      mean, std: the normalisation, to show the images in pixel units.
    """

    def __init__(self, model, images, labels, log_dir, mean, std):
        super().__init__()
        self.images, self.labels = images, labels
        self.writer = tf.summary.create_file_writer(log_dir)
        self.cam_net = models.cam_model(model)
        self.pixels = (
            np.asarray(images, np.float32)
            if takes_pixels(model)
            else np.asarray(images) * np.asarray(std) + np.asarray(mean)
        )

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        cams = self.cam_net(
            models.net_inputs(self.cam_net, self.images, self.labels),
            training=False,
        )["cams"]
        cams = models.class_cams_at_size(
            cams, self.labels, self.images.shape[1:3]
        ).numpy()
        blended = np.stack(
            [visualize.blend_cam(p, c) for p, c in zip(self.pixels, cams)]
        )
        rate = self.model.optimizer.learning_rate
        with self.writer.as_default():
            tf.summary.image(
                "cams", blended, step=step, max_outputs=len(blended)
            )
            tf.summary.scalar(
                "learning_rate", float(np.asarray(rate)), step=step
            )
        self.writer.flush()


def _fixed_eval_batch(config, run_info: dict, normalize: bool):
    """The first `config.tensorboard_images` images of `eval_split`."""
    data, _ = datasets.load(
        config.dataset,
        config.eval_split,
        config.data_dir,
        config.manual_dir,
        try_autocache=False,  # Only the first few are read.
    )
    batch = next(
        iter(
            image_pipeline.eval_pipeline(
                data.take(config.tensorboard_images),
                config.tensorboard_images,
                "resize",
                image_size=config.image_size,
                resize_size=config.resize_size,
                mean=run_info["mean"],
                std=run_info["std"],
                resize_method=config.resize_method,
                normalize=normalize,
            )
        )
    )
    return batch["image"], batch["label"].numpy()


class ImageLocalization:
    """CAM classifiers on image datasets (module docstring)."""

    name = "image_localization"
    inputs = "images"

    def resolve(self, config) -> methods.Method:
        """The run's method, checked with its model (`resolve`)."""
        return resolve(config)

    def training(self, config, dataset, builder) -> TrainingSetup:
        method = self.resolve(config)
        num_classes = builder.info.features["label"].num_classes
        init = initial_weights(config)
        run_info = normalization(config, builder, init)
        if init:
            run_info["init_from"] = init
        # Every builder's model takes uint8 pixels; a model file, what it
        # was built to take.
        pixels = config.model in models.IMAGE_MODELS or takes_pixels(
            model_file(config.model, num_classes, config.image_size)
        )

        def inputs(context, start_step=0):
            data = image_pipeline.train_pipeline(
                dataset,
                context.get_per_replica_batch_size(config.batch_size),
                image_size=config.image_size,
                resize_size=config.resize_size,
                crop=config.crop,
                mean=run_info["mean"],
                std=run_info["std"],
                seed=config.pipeline_seed,
                input_context=context,
                start_batch=start_step,
                resize_method=config.resize_method,
                normalize=not pixels,
                # Nothing is hidden or mixed unless the method says so.
                **{
                    "patch_sizes": None,
                    **method.pipeline(config, num_classes=num_classes),
                },
            )
            if method.labels_in:
                # The model takes the true classes too (ACoL erases by them).
                data = data.map(
                    lambda images, labels: (
                        (images, tf.cast(labels, tf.int32)),
                        labels,
                    )
                )
            return data

        def callbacks(model, out_dir):
            if not config.tensorboard_images:
                return []
            images, labels = _fixed_eval_batch(
                config, run_info, normalize=not takes_pixels(model)
            )
            return [
                CamImages(
                    model,
                    images,
                    labels,
                    os.path.join(out_dir, "tensorboard", "cams"),
                    run_info["mean"],
                    run_info["std"],
                )
            ]

        return TrainingSetup(
            num_examples=builder.info.splits[config.train_split].num_examples,
            run_info={
                **run_info,
                "image_size": config.image_size,
                "num_classes": num_classes,
                "model": config.model,
                "method": method.record(config),
            },
            inputs=inputs,
            build_model=lambda: build_model(config, num_classes, run_info),
            loss=(
                soft_crossentropy if method.soft_labels else sparse_crossentropy
            ),
            metrics=["accuracy"],
            callbacks=callbacks,
        )

    def serving(self, model, run_info: dict) -> serving.Signature:
        side = run_info["image_size"]
        mean = tf.constant(run_info["mean"], tf.float32)
        std = tf.constant(run_info["std"], tf.float32)
        if takes_pixels(model):
            preprocess = tf.identity  # The model normalises.
        else:
            preprocess = lambda pixels: (  # noqa: E731
                (tf.cast(pixels, tf.float32) - mean) / std
            )
        return serving.Signature(
            net=models.images_only(models.cam_model(model)),
            input_spec=tf.TensorSpec([None, side, side, 3], tf.uint8),
            preprocess=preprocess,
        )

    def evaluate(self, model_dir: str, config, out_dir=None) -> dict:
        """Scores the run; returns and writes the metrics.

        A short pipeline: the split's batches (`_eval_batches`) -> one
        inference step per batch (`_CamStep`: class scores and CAMs in
        the boxes' frame) -> the scorers (`PaperScorer`,
        `ThresholdFreeScorer`, `OverlayPictures`), each `update`d with
        every batch's outputs and asked for its `result` at the end.

        Returns:
          A dict with the `HEADLINE` figures (fractions in [0, 1]),
          "task", "count" (images scored), "skipped_without_boxes"
          (images with no ground-truth box, not scored), "cam_threshold",
          "eval_crop", "protocols" (the scoring rules of each figure), and
          the "paper" and "threshold_free" details (per class included).
        """
        model, run_info = load_run(model_dir)
        out_dir = out_dir or os.path.join(model_dir, "eval")
        os.makedirs(out_dir, exist_ok=True)
        step = _CamStep(
            models.cam_model(model),
            config.eval_crop,
            run_info["image_size"],
            config.resize_size,
        )
        paper = PaperScorer(config.cam_threshold)
        free = ThresholdFreeScorer(
            config.threshold_step,
            config.box_protocol,
            config.iou_thresholds,
            workers=config.workers,
        )
        pixels = takes_pixels(model)
        pictures = OverlayPictures(
            out_dir,
            config.num_pictures,
            config.cam_threshold,
            run_info,
            pixels=pixels,
        )
        builder, batches = _eval_batches(config, run_info, normalize=not pixels)
        check_classes(
            model,
            builder.info.features["label"].num_classes,
            model_dir,
            config.dataset,
        )
        with free.scoring:  # Its worker processes stop on any exit.
            try:
                score(batches, step, [paper, free, pictures])
            except tf.errors.InvalidArgumentError as error:
                raise datasets.decode_error(
                    config.dataset,
                    config.eval_split,
                    config.data_dir,
                    config.manual_dir,
                    error,
                ) from error
            result_paper, result_free = paper.result(), free.result()
        result = {
            "task": self.name,
            **{k: result_paper[k] for k in PaperScorer.FIGURES},
            "max_box_acc": result_free.get("max_box_acc", 0.0),
            "max_box_acc_v2": result_free["max_box_acc_v2"],
            **({"pxap": result_free["pxap"]} if "pxap" in result_free else {}),
            "count": result_paper["count"],
            "skipped_without_boxes": step.without_boxes,
            "cam_threshold": config.cam_threshold,
            "eval_crop": config.eval_crop,
            # The scoring rules of each figure.
            "protocols": {
                **dict.fromkeys(
                    PaperScorer.FIGURES,
                    "paper: the box at cam_threshold of the CAM's max, "
                    "IoU >= 0.5",
                ),
                **dict.fromkeys(
                    ("max_box_acc", "max_box_acc_v2", "pxap"),
                    f"threshold-free, {result_free['protocol']} rules",
                ),
            },
            "paper": result_paper,
            "threshold_free": result_free,
        }
        write_metrics(out_dir, result)
        return result

    def headline(self, result: dict) -> str:
        figures = self.figures(result)
        text = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        return f"{result['count']} images: {text}"

    def figures(self, result: dict) -> dict:
        figures = {key: result[key] for key in HEADLINE}
        if "pxap" in result:
            figures["pxap"] = result["pxap"]
        return figures


def predict_cams(
    model_dir: str, images, labels=None, cam_threshold: float = 0.2
) -> dict:
    """CAMs, boxes and predictions of a trained model on raw images.

    Args:
      model_dir: a run's model dir (`model.keras`, `run_info.json`).
      images: uint8 or float `[K, H, W, 3]` pixels in [0, 255]; resized to
        the model's input side.
      labels: `[K]` classes whose CAMs to return; None: the top-1 classes.
      cam_threshold: the paper's box threshold (fraction of the max).

    Returns:
      `{"images": float32 [K, S, S, 3] resized pixels, "cams": [K, S, S],
      "boxes": [K, 4] pixel boxes at side S, "top1": [K]}`.
    """
    model, run_info = load_run(model_dir)
    size = run_info["image_size"]
    pixels = tf.image.resize(tf.cast(images, tf.float32), (size, size))
    net = models.cam_model(model)
    if takes_pixels(model):
        inputs = tf.cast(tf.round(tf.clip_by_value(pixels, 0, 255)), tf.uint8)
    else:
        inputs = (pixels - run_info["mean"]) / run_info["std"]
    out = net(models.net_inputs(net, inputs), training=False)
    top1 = np.argmax(out["logits"].numpy(), axis=1)
    classes = top1 if labels is None else np.asarray(labels)
    if labels is not None and models.takes_labels(net):
        out = net(models.net_inputs(net, inputs, classes), training=False)
    cams = models.class_cams_at_size(out["cams"], classes, (size, size)).numpy()
    boxes = np.stack(
        [postprocess_boxes.cam_to_box(c, cam_threshold) for c in cams]
    )
    return {
        "images": pixels.numpy(),
        "cams": cams,
        "boxes": boxes,
        "top1": top1,
    }


def first_per_class(data, count: int, num_classes: int):
    """The first `count` examples of each class, in the dataset's order
    (a class with fewer keeps all of them)."""

    def keep(seen, example):
        label = tf.cast(example["label"], tf.int32)
        before = seen[label]
        seen = tf.tensor_scatter_nd_add(seen, [[label]], [1])
        return seen, (example, before < count)

    return (
        data.scan(tf.zeros([num_classes], tf.int32), keep)
        .filter(lambda example, kept: kept)
        .map(lambda example, kept: example)
    )


def _eval_batches(config, run_info: dict, normalize: bool = True):
    """`(builder, batches)`: the split's evaluation batches
    (`input_pipeline.images.eval_pipeline`, images decoded from their
    encoded bytes, crop windows only; uint8 pixels unless `normalize`)
    and its TFDS builder."""
    data, builder = datasets.load(
        config.dataset,
        config.eval_split,
        config.data_dir,
        config.manual_dir,
        decode_images=False,
        try_autocache=not config.max_images,
    )
    if config.samples_per_class:
        data = first_per_class(
            data,
            config.samples_per_class,
            builder.info.features["label"].num_classes,
        )
    if config.max_images:
        data = data.take(config.max_images)
    return builder, image_pipeline.eval_pipeline(
        data,
        config.eval_batch_size,
        config.eval_crop,
        image_size=run_info["image_size"],
        resize_size=config.resize_size,
        mean=run_info["mean"],
        std=run_info["std"],
        resize_method=config.resize_method,
        normalize=normalize,
    )


@dataclasses.dataclass
class CamOutputs:
    """One evaluation batch after inference, in the boxes' frame.

    Attributes:
      labels: int `[B]` true classes.
      top5: int `[B, 5]` classes by score (fewer with fewer classes).
      known: float `[B, F, F]` CAMs of the true classes.
      top_cams: `[K]` float `[B, F, F]`: the CAMs of each top-5 rank.
      gt_boxes: per image, float `[M, 4]` pixel boxes in the frame (only
        images with boxes; `keep` says which).
      keep: bool `[B]`, images with at least one ground-truth box.
      frame_of: `i -> [F, F, 3]` image i as the model took it (uint8
        pixels or float normalised; built only when asked for).
      raw_known: float `[B, h, w]` the true classes' CAMs at the model's
        CAM size ("resize" crop only; None otherwise).
      wsol_boxes: per image, int `[M, 4]` the tool's corners in the
        original image ("resize" only).
      image_sizes: int `[B, 2]` original (width, height) ("resize" only).
      masks, ignores: uint8 `[B, F, F]` foreground and ignore masks, for
        datasets with masks ("resize" only).
    """

    labels: np.ndarray
    top5: np.ndarray
    known: np.ndarray
    top_cams: list
    gt_boxes: list
    keep: np.ndarray
    frame_of: Callable
    raw_known: np.ndarray | None = None
    wsol_boxes: list | None = None
    image_sizes: np.ndarray | None = None
    masks: np.ndarray | None = None
    ignores: np.ndarray | None = None


class _CamStep:
    """Inference on one batch: `__call__(batch) -> CamOutputs`.

    The frame F is the model's input side, or `resize_size` for
    "ten_crop", whose class scores are the softmax averaged over the
    crops and whose CAMs are the crops' merged by
    `postprocess.ten_crop.merge_ten_crop_cams`. Counts in `without_boxes`
    the images with no ground-truth box (counted, not scored).
    """

    def __init__(self, cam_net, eval_crop, size, resize_size):
        self.cam_net, self.eval_crop = cam_net, eval_crop
        self.size, self.resize_size = size, resize_size
        self.frame = resize_size if eval_crop == "ten_crop" else size
        self.without_boxes = 0

    def __call__(self, batch) -> CamOutputs:
        scores, cams_of, frame_of, raw_cams_of = _score_batch(
            self.cam_net,
            batch["image"],
            self.eval_crop,
            self.size,
            self.resize_size,
        )
        labels = batch["label"].numpy()
        counts = batch["num_boxes"].numpy()
        keep = counts > 0
        self.without_boxes += int((~keep).sum())
        all_gt = batch["boxes"].numpy()
        top5 = np.argsort(-scores, axis=1)[:, :5]
        extra = {}
        if "wsol_boxes" in batch:
            corners = batch["wsol_boxes"].numpy()
            number = batch["num_wsol_boxes"].numpy()
            extra.update(
                raw_known=raw_cams_of(labels),
                wsol_boxes=[
                    corners[i, : number[i]] for i in range(len(labels))
                ],
                image_sizes=batch["image_size"].numpy(),
            )
        if "mask" in batch:
            extra.update(
                masks=batch["mask"].numpy(), ignores=batch["ignore"].numpy()
            )
        return CamOutputs(
            labels=labels,
            top5=top5,
            known=cams_of(labels),
            top_cams=[cams_of(top5[:, k]) for k in range(top5.shape[1])],
            gt_boxes=[
                postprocess_boxes.boxes_to_pixels(
                    all_gt[i, : counts[i]], self.frame, self.frame
                )
                for i in range(len(labels))
            ],
            keep=keep,
            frame_of=frame_of,
            **extra,
        )


class PaperScorer:
    """The paper's protocol: Top-1 Loc, GT-known Loc, Top-1 Clas.

    The box of a CAM is `postprocess.boxes.cam_to_box` at
    `cam_threshold` of its max; `metrics.boxes.PaperLocalization` scores
    it (IoU >= 0.5).
    """

    FIGURES = ("top1_loc", "gt_known_loc", "top1_cls")

    def __init__(self, cam_threshold: float):
        self.cam_threshold = cam_threshold
        self.metric = metric_boxes.PaperLocalization()

    def update(self, outputs: CamOutputs) -> None:
        for i in np.flatnonzero(outputs.keep):
            boxes = [
                postprocess_boxes.cam_to_box(c[i], self.cam_threshold)
                for c in outputs.top_cams
            ]
            known_box = postprocess_boxes.cam_to_box(
                outputs.known[i], self.cam_threshold
            )
            self.metric.update(
                outputs.labels[i],
                outputs.top5[i],
                boxes,
                known_box,
                outputs.gt_boxes[i],
            )

    def result(self) -> dict:
        return self.metric.result()


class ThresholdFreeScorer:
    """MaxBoxAcc and MaxBoxAccV2 of the true classes' CAMs, and PxAP where
    the split has masks, under either rule set of
    `metrics.cam_evaluation.CamEvaluator` (the path `has_tf.evaluate_cams`
    takes for CAMs from elsewhere):

    - "has_tf": the CAMs at the evaluation frame, boxes in its pixels;
    - "wsolevaluation": the official tool's: each CAM at the model's size,
      resized to 224 x 224 with OpenCV's bicubic rule and min-max
      normalised, against the tool's integer boxes scaled from the image's
      size (the "resize" crop).
    """

    # Images scored here before worker processes start: each imports
    # has_tf.evaluate (TensorFlow), worth it for large splits only.
    START_AFTER = 1000

    def __init__(
        self,
        threshold_step: float,
        protocol: str = "has_tf",
        iou_thresholds=(0.3, 0.5, 0.7),
        workers: int = 0,
    ):
        self.protocol = protocol
        self.scoring = parallel.ParallelScoring(
            parallel.score_call,
            dict(
                protocol=protocol,
                thresholds=metric_boxes.default_thresholds(threshold_step),
                iou_thresholds=tuple(iou_thresholds) or (0.3, 0.5, 0.7),
            ),
            workers=workers,
            start_after=self.START_AFTER,
        )
        self.evaluator = None  # The merged evaluator, after result().

    def update(self, outputs: CamOutputs) -> None:
        tool = self.protocol == "wsolevaluation"
        add = self.scoring.add
        for i in np.flatnonzero(outputs.keep):
            label = int(outputs.labels[i])
            if tool:
                args = (
                    outputs.raw_known[i],
                    outputs.wsol_boxes[i],
                    tuple(outputs.image_sizes[i]),
                )
                add(("add_boxes", args, {"label": label}))
            else:
                args = (outputs.known[i], outputs.gt_boxes[i])
                add(("add_frame_boxes", args, {"label": label}))
        if outputs.masks is None:
            return
        side = self.scoring.evaluator.size
        if tool and outputs.masks.shape[1:] != (side, side):
            raise ValueError(
                "--box_protocol=wsolevaluation scores masks in the tool's "
                f"{side} x {side} frame, resized once from the original; the "
                f"evaluation resize is {outputs.masks.shape[1]} x "
                f"{outputs.masks.shape[2]}: use --image_size={side}."
            )
        for i in range(len(outputs.labels)):
            args = (
                outputs.raw_known[i] if tool else outputs.known[i],
                outputs.masks[i] > 0,
                outputs.ignores[i] > 0,
            )
            add(("add_mask", args, {}))

    def result(self) -> dict:
        self.evaluator = self.scoring.finish()
        out = (
            self.evaluator.boxes.result()
            if self.evaluator.scored_boxes
            else {"max_box_acc_v2": 0.0, "protocol": self.protocol}
        )
        out["protocol"] = self.protocol
        if self.evaluator.scored_masks:
            masks = self.evaluator.result()
            out.update(pxap=masks["pxap"], pr_curve=masks.get("pr_curve"))
            out["scored_masks"] = self.evaluator.scored_masks
        return out


class OverlayPictures:
    """Writes `overlay_NNN.png` (image, true class's CAM, its box, the true
    boxes) for the first `count` scored images into `out_dir`; `pixels`:
    the frames are uint8 pixels, else normalised (`takes_pixels`)."""

    def __init__(self, out_dir, count, cam_threshold, run_info, pixels=True):
        self.out_dir, self.count = out_dir, count
        self.cam_threshold = cam_threshold
        self.mean, self.std = run_info["mean"], run_info["std"]
        if pixels:
            self.mean, self.std = 0.0, 1.0
        self.written = 0

    def update(self, outputs: CamOutputs) -> None:
        for i in np.flatnonzero(outputs.keep):
            if self.written >= self.count:
                return
            known_box = postprocess_boxes.cam_to_box(
                outputs.known[i], self.cam_threshold
            )
            visualize.save_overlay(
                os.path.join(self.out_dir, f"overlay_{self.written:03d}.png"),
                np.asarray(outputs.frame_of(i), np.float32) * self.std
                + self.mean,
                outputs.known[i],
                known_box,
                outputs.gt_boxes[i],
                title=(
                    f"label {outputs.labels[i]}, top-1 {outputs.top5[i, 0]}"
                ),
            )
            self.written += 1

    def result(self) -> dict:
        return {"pictures": self.written}


def _score_batch(cam_net, batch_images, eval_crop, size, resize_size):
    """Class scores and CAMs of one batch, in the frame its boxes use.

    Returns:
      `(scores [B, N], cams_of, frame_of, raw_cams_of)`: `cams_of(classes
      [B])` gives
      the CAMs of those classes as float `[B, F, F]` at the boxes' frame
      (F = `size`, or `resize_size` for "ten_crop", whose class scores are
      the softmax averaged over the crops and whose CAMs are the crops'
      merged by `ten_crop.merge_ten_crop_cams`); `frame_of(i)` gives
      image i as the model took it, `[F, F, 3]` in that frame (for pictures, so
      built only when asked for); `raw_cams_of(classes)` the CAMs at the
      model's CAM size (None for "ten_crop").
    """
    if eval_crop != "ten_crop":
        out = cam_net(models.net_inputs(cam_net, batch_images), training=False)

        rerun = {}

        def maps(classes):
            if not models.takes_labels(cam_net):
                return out["cams"]
            # ACoL: head B sees the features erased by these classes.
            key = np.asarray(classes).tobytes()
            if key not in rerun:
                inputs = models.net_inputs(cam_net, batch_images, classes)
                rerun[key] = cam_net(inputs, training=False)["cams"]
            return rerun[key]

        def cams_of(classes):
            return models.class_cams_at_size(
                maps(classes), classes, (size, size)
            ).numpy()

        def raw_cams_of(classes):
            return models.class_cams(maps(classes), classes).numpy()

        return (
            out["logits"].numpy(),
            cams_of,
            lambda i: batch_images[i].numpy(),
            raw_cams_of,
        )
    count = batch_images.shape[0]
    flat = tf.reshape(batch_images, (-1, *batch_images.shape[2:]))
    out = cam_net(models.net_inputs(cam_net, flat), training=False)
    scores = tf.reduce_mean(
        tf.reshape(tf.nn.softmax(out["logits"]), (count, 10, -1)), axis=1
    ).numpy()

    def frame_of(i):
        crops = batch_images[i].numpy()  # [10, S, S, 3]
        return np.stack(
            [
                ten_crop.merge_ten_crop_cams(crops[..., ch], resize_size)
                for ch in range(3)
            ],
            axis=-1,
        )

    def cams_of(classes):
        repeated = np.repeat(classes, 10)
        maps = out["cams"]
        if models.takes_labels(cam_net):
            inputs = models.net_inputs(cam_net, flat, repeated)
            maps = cam_net(inputs, training=False)["cams"]
        cams = (
            models.class_cams_at_size(maps, repeated, (size, size))
            .numpy()
            .reshape(count, 10, size, size)
        )
        return np.stack(
            [ten_crop.merge_ten_crop_cams(c, resize_size) for c in cams]
        )

    return scores, cams_of, frame_of, None
