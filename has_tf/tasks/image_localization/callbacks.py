"""The image task's training callbacks: the CAMs of fixed images in
TensorBoard after every checkpoint interval (`CamImages`)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from has_tf import datasets
from has_tf import models
from has_tf import visualize
from has_tf.input_pipeline import images as image_pipeline
from has_tf.tasks.image_localization.model import takes_pixels


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


def fixed_eval_batch(config, run_info: dict, normalize: bool):
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
