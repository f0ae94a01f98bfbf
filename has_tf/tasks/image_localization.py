"""Weakly-supervised object localization: CAM classifiers on images.

Training: `input_pipeline.train_pipeline` (crop, flip, Hide-and-Seek per
batch, normalise) into an image classifier of `has_tf.models`, with
sparse softmax cross-entropy. A run records its normalisation (the mean is
also the hidden pixels' fill), input side, classes and model.

Evaluation: `input_pipeline.eval_pipeline` -> `models.cam_model` -> CAMs of
the true and top-5 classes at image size -> `postprocess.cam_to_box` ->
both protocols of `has_tf.metrics`: the paper's (Top-1 Loc, GT-known Loc,
Top-1 Clas at `cam_threshold`) and the threshold-free one (MaxBoxAcc,
MaxBoxAccV2). It streams over the split (memory stays flat) and writes
`eval/metrics.json` (fractions in [0, 1]) and overlay pictures.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from has_tf import _files
from has_tf import dataset_stats
from has_tf import datasets
from has_tf import input_pipeline
from has_tf import metrics
from has_tf import models
from has_tf import postprocess
from has_tf import serving
from has_tf import visualize
from has_tf.metrics import cam_evaluation
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import load_run

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


def normalization(config, builder) -> dict:
    """Mean and std in pixel units: the dataset's (cached) or ImageNet's."""
    if config.normalization == "imagenet":
        return {
            "mean": list(input_pipeline.IMAGENET_MEAN_RGB),
            "std": list(input_pipeline.IMAGENET_STD_RGB),
        }
    moments = dataset_stats.cached_channel_moments(builder, config.train_split)
    return {"mean": moments.mean.tolist(), "std": moments.std.tolist()}


def build_model(config, num_classes: int) -> keras.Model:
    """The classifier `config.model` names, for `num_classes` classes."""
    side = config.image_size
    options = {}
    if config.hide_on == "device" and config.patch_sizes:
        options.update(
            input_hide_patch_sizes=config.patch_sizes,
            input_hide_prob=config.hide_prob,
        )
    if config.conv1_patch_sizes:
        options.update(
            conv1_hide_patch_sizes=config.conv1_patch_sizes,
            conv1_hide_prob=config.conv1_hide_prob,
        )
    return models.IMAGE_MODELS[config.model](
        num_classes,
        input_shape=(side, side, 3),
        pooling=config.pooling,
        dropout_rate=config.dropout_rate,
        dropout_at_test=config.dropout_at_test,
        **options,
    )


class CamImages(keras.callbacks.Callback):
    """Logs the CAMs of fixed images to TensorBoard after every interval.

    After every `fit` epoch (one checkpoint interval) it writes, under the
    tag "cams", each image blended with the CAM of its true class, and the
    learning rate under "learning_rate".

    Args:
      model: the classifier being trained (a `has_tf.models` network).
      images: float32 `[K, S, S, 3]` normalised images.
      labels: int `[K]` their classes.
      log_dir: the summary directory.
      mean, std: the normalisation, to show the images in pixel units.
    """

    def __init__(self, model, images, labels, log_dir, mean, std):
        super().__init__()
        self.images, self.labels = images, labels
        self.writer = tf.summary.create_file_writer(log_dir)
        self.cam_net = models.cam_model(model)
        self.pixels = np.asarray(images) * np.asarray(std) + np.asarray(mean)

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        cams = self.cam_net(self.images, training=False)["cams"]
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


def _fixed_eval_batch(config, norm: dict):
    """The first `config.tensorboard_images` images of `eval_split`."""
    data, _ = datasets.load(
        config.dataset, config.eval_split, config.data_dir, config.manual_dir
    )
    batch = next(
        iter(
            input_pipeline.eval_pipeline(
                data.take(config.tensorboard_images),
                config.tensorboard_images,
                "resize",
                image_size=config.image_size,
                resize_size=config.resize_size,
                mean=norm["mean"],
                std=norm["std"],
                resize_method=config.resize_method,
            )
        )
    )
    return batch["image"], batch["label"].numpy()


class ImageLocalization:
    """CAM classifiers on image datasets (module docstring)."""

    name = "image_localization"

    def training(self, config, dataset, builder) -> TrainingSetup:
        num_classes = builder.info.features["label"].num_classes
        norm = normalization(config, builder)

        def inputs(context, start_step=0):
            return input_pipeline.train_pipeline(
                dataset,
                context.get_per_replica_batch_size(config.batch_size),
                image_size=config.image_size,
                resize_size=config.resize_size,
                crop=config.crop,
                patch_sizes=(
                    config.patch_sizes or None
                    if config.hide_on == "host"
                    else None
                ),
                hide_prob=config.hide_prob,
                mean=norm["mean"],
                std=norm["std"],
                seed=config.pipeline_seed,
                input_context=context,
                start_batch=start_step,
                resize_method=config.resize_method,
            )

        def callbacks(model, out_dir):
            if not config.tensorboard_images:
                return []
            images, labels = _fixed_eval_batch(config, norm)
            return [
                CamImages(
                    model,
                    images,
                    labels,
                    os.path.join(out_dir, "tensorboard", "cams"),
                    norm["mean"],
                    norm["std"],
                )
            ]

        return TrainingSetup(
            num_examples=builder.info.splits[config.train_split].num_examples,
            run_info={
                **norm,
                "image_size": config.image_size,
                "num_classes": num_classes,
                "model": config.model,
            },
            inputs=inputs,
            build_model=lambda: build_model(config, num_classes),
            loss=sparse_crossentropy,
            metrics=["accuracy"],
            callbacks=callbacks,
        )

    def serving(self, model, run_info: dict) -> serving.Signature:
        side = run_info["image_size"]
        mean = tf.constant(run_info["mean"], tf.float32)
        std = tf.constant(run_info["std"], tf.float32)
        return serving.Signature(
            net=models.cam_model(model),
            input_spec=tf.TensorSpec([None, side, side, 3], tf.uint8),
            preprocess=lambda pixels: (
                (tf.cast(pixels, tf.float32) - mean) / std
            ),
        )

    def evaluate(self, model_dir: str, config) -> dict:
        """Scores the run; returns and writes the metrics.

        Returns:
          A dict with the `HEADLINE` figures (fractions in [0, 1]),
          "count" (images scored), "skipped_without_boxes" (images with
          no ground-truth box, not scored), "cam_threshold", "protocol",
          "protocols" (per figure), and the "paper" and "threshold_free"
          details (per class included).
        """
        model, norm = load_run(model_dir)
        cam_net = models.cam_model(model)
        size = norm["image_size"]
        resize_size = config.resize_size
        protocol = config.protocol
        data, _ = datasets.load(
            config.dataset,
            config.eval_split,
            config.data_dir,
            config.manual_dir,
            decode_images=False,
        )
        if config.max_images:
            data = data.take(config.max_images)
        batches = input_pipeline.eval_pipeline(
            data,
            config.eval_batch_size,
            protocol,
            image_size=size,
            resize_size=resize_size,
            mean=norm["mean"],
            std=norm["std"],
            resize_method=config.resize_method,
        )
        paper = metrics.PaperLocalization()
        # The threshold-free figures take the path `has_tf.evaluate_cams`
        # takes for CAMs from elsewhere, with boxes in this frame.
        free = cam_evaluation.CamEvaluator(
            "has_tf", metrics.default_thresholds(config.threshold_step)
        )
        out_dir = os.path.join(model_dir, "eval")
        os.makedirs(out_dir, exist_ok=True)
        pictures = 0
        without_boxes = 0
        frame = resize_size if protocol == "ten_crop" else size
        for batch in batches:
            scores, cams_of, frame_of = _score_batch(
                cam_net, batch["image"], protocol, size, resize_size
            )
            labels = batch["label"].numpy()
            all_gt = batch["boxes"].numpy()
            top5 = np.argsort(-scores, axis=1)[:, :5]
            known = cams_of(labels)
            top_cams = [cams_of(top5[:, k]) for k in range(top5.shape[1])]
            for i, label in enumerate(labels):
                count = int(batch["num_boxes"][i])
                gt = all_gt[i, :count] * frame
                if count == 0:  # Nothing to localize: counted, not scored.
                    without_boxes += 1
                    continue
                boxes = [
                    postprocess.cam_to_box(c[i], config.cam_threshold)
                    for c in top_cams
                ]
                known_box = postprocess.cam_to_box(
                    known[i], config.cam_threshold
                )
                paper.update(label, top5[i], boxes, known_box, gt)
                free.add_frame_boxes(known[i], gt, label=label)
                if pictures < config.num_pictures:
                    image = frame_of(i) * norm["std"] + norm["mean"]
                    visualize.save_overlay(
                        os.path.join(out_dir, f"overlay_{pictures:03d}.png"),
                        image,
                        known[i],
                        known_box,
                        gt,
                        title=f"label {label}, top-1 {top5[i, 0]}",
                    )
                    pictures += 1
        result_paper, result_free = paper.result(), free.boxes.result()
        result = {
            "top1_loc": result_paper["top1_loc"],
            "gt_known_loc": result_paper["gt_known_loc"],
            "top1_cls": result_paper["top1_cls"],
            "max_box_acc": result_free.get("max_box_acc", 0.0),
            "max_box_acc_v2": result_free["max_box_acc_v2"],
            "count": result_paper["count"],
            "skipped_without_boxes": without_boxes,
            "cam_threshold": config.cam_threshold,
            "protocol": protocol,
            # Which protocol gave each figure.
            "protocols": {
                **dict.fromkeys(
                    ("top1_loc", "gt_known_loc", "top1_cls"),
                    "paper: the box at cam_threshold of the CAM's max, "
                    "IoU >= 0.5",
                ),
                **dict.fromkeys(
                    ("max_box_acc", "max_box_acc_v2"),
                    f"threshold-free, {result_free['protocol']} rules",
                ),
            },
            "paper": result_paper,
            "threshold_free": result_free,
        }
        _files.write_json_atomically(
            os.path.join(out_dir, "metrics.json"), result, indent=2
        )
        return result

    def headline(self, result: dict) -> str:
        figures = ", ".join(f"{k} {result[k]:.3f}" for k in HEADLINE)
        return f"{result['count']} images: {figures}"

    def figures(self, result: dict) -> dict:
        return {
            key: result[key]
            for key in (
                "gt_known_loc",
                "top1_loc",
                "top1_cls",
                "max_box_acc",
                "max_box_acc_v2",
            )
        }


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
    model, norm = load_run(model_dir)
    size = norm["image_size"]
    pixels = tf.image.resize(tf.cast(images, tf.float32), (size, size))
    net = models.cam_model(model)
    out = net((pixels - norm["mean"]) / norm["std"], training=False)
    top1 = np.argmax(out["logits"].numpy(), axis=1)
    classes = top1 if labels is None else np.asarray(labels)
    cams = models.class_cams_at_size(out["cams"], classes, (size, size)).numpy()
    boxes = np.stack([postprocess.cam_to_box(c, cam_threshold) for c in cams])
    return {
        "images": pixels.numpy(),
        "cams": cams,
        "boxes": boxes,
        "top1": top1,
    }


def _score_batch(cam_net, images, protocol, size, resize_size):
    """Class scores and CAMs of one batch, in the frame its boxes use.

    Returns:
      `(scores [B, N], cams_of, frame_of)`: `cams_of(classes [B])` gives
      the CAMs of those classes as float `[B, F, F]` at the boxes' frame
      (F = `size`, or `resize_size` for "ten_crop", whose class scores are
      the softmax averaged over the crops and whose CAMs are the crops'
      merged by `postprocess.merge_ten_crop_cams`); `frame_of(i)` gives
      image i, normalised, as `[F, F, 3]` in that frame (for pictures, so
      built only when asked for).
    """
    if protocol != "ten_crop":
        out = cam_net(images, training=False)

        def cams_of(classes):
            return models.class_cams_at_size(
                out["cams"], classes, (size, size)
            ).numpy()

        return out["logits"].numpy(), cams_of, lambda i: images[i].numpy()
    count = images.shape[0]
    flat = tf.reshape(images, (-1, *images.shape[2:]))
    out = cam_net(flat, training=False)
    scores = tf.reduce_mean(
        tf.reshape(tf.nn.softmax(out["logits"]), (count, 10, -1)), axis=1
    ).numpy()

    def frame_of(i):
        crops = images[i].numpy()  # [10, S, S, 3]
        return np.stack(
            [
                postprocess.merge_ten_crop_cams(crops[..., ch], resize_size)
                for ch in range(3)
            ],
            axis=-1,
        )

    def cams_of(classes):
        cams = (
            models.class_cams_at_size(
                out["cams"], np.repeat(classes, 10), (size, size)
            )
            .numpy()
            .reshape(count, 10, size, size)
        )
        return np.stack(
            [postprocess.merge_ten_crop_cams(c, resize_size) for c in cams]
        )

    return scores, cams_of, frame_of
