"""`CutMix`: the batch op of `augmentation.cutmix` as a Keras 3 layer
(images and labels), every backend; the training argument as
`augmentation.layers` takes it."""

from __future__ import annotations

import keras

from has_tf import _checks
from has_tf.augmentation import _layer_basics as _basics
from has_tf.augmentation import cutmix_ops

__all__ = ["CutMix"]


@keras.saving.register_keras_serializable(package="has_tf")
class CutMix(keras.layers.Layer):
    """CutMix on a batch of images and labels, as wsolevaluation runs it.

    One lambda ~ Beta(beta, beta), one box and one permutation per batch,
    applied with probability `prob`; each image takes the box from another
    image of the batch and the labels become the area-weighted mixture of
    the two one-hot labels (`augmentation.cutmix_ops`, which states the rule). A
    model trained on them with categorical cross-entropy gets the tool's
    loss, `lam * CE(y) + (1 - lam) * CE(y[perm])`.

    Mixes when training (outside a model: unless called with
    `training=False`, as in a tf.data pipeline
    `dataset.map(lambda x, y: cutmix((x, y)))`); otherwise the images pass
    as they are and the labels come back one-hot.
    Under TensorFlow and inside tf.data under any backend it runs
    `augmentation.cutmix.cutmix_batch` (stateless seeds); under JAX or PyTorch
    on arrays, the same rule in `keras.ops` drawn with the layer's
    `SeedGenerator`.

    Args:
      num_classes: the labels' classes, >= 1.
      beta: Beta's parameter, > 0 (`--cutmix_beta`, 1.0).
      prob: probability of mixing a batch (`--cutmix_prob`, 1.0).
      seed: None or an int, for the layer's `keras.random.SeedGenerator`.

    Input: `(images, labels)` or `{"images": ..., "labels": ...}`; images
    `[B, H, W, C]` with a static height and width (the batch size may be
    unknown, as after `dataset.batch(n)`), any dtype; labels int `[B]` or
    float `[B, num_classes]`.

    Output: the same structure; images of the input dtype, labels float32
    `[B, num_classes]`.
    """

    def __init__(
        self,
        num_classes: int,
        beta: float = 1.0,
        prob: float = 1.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = _checks.positive_int(num_classes, "num_classes")
        self.beta = cutmix_ops.check_beta(beta)
        self.prob = _checks.probability(prob, "cutmix_prob")
        self.seed = _checks.optional_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def __call__(self, inputs, training=None, **kwargs):
        images = inputs["images"] if isinstance(inputs, dict) else inputs[0]
        training = _basics.training_flag(images, training)
        if _basics.foreign_graph(images):
            return self.call(inputs, training=training)
        return super().__call__(inputs, training=training, **kwargs)

    def call(self, inputs, training=None):
        if isinstance(inputs, dict):
            images, labels = inputs["images"], inputs["labels"]
        else:
            images, labels = inputs
        if not training:
            soft = self._soft_labels(images, labels)
            if isinstance(inputs, dict):
                return {**inputs, "labels": soft}
            return images, soft
        if keras.backend.backend() == "tensorflow" or _basics.foreign_graph(
            images
        ):
            mixed, soft = _basics.tf_module(
                "has_tf.augmentation.cutmix"
            ).cutmix_batch(
                images,
                labels,
                self.num_classes,
                self.beta,
                self.prob,
                _basics.stateless_seed(self, images),
            )
        else:
            batch, height, width = cutmix_ops.static_sizes(images)
            if batch is None:
                batch = keras.ops.shape(images)[0]
            draw = cutmix_ops.draw_cutmix(
                batch, height, width, self.beta, self.prob, self.seed_generator
            )
            box = cutmix_ops.cutmix_box(
                draw["lam"], draw["centre"], height, width
            )
            mixed, soft, _ = cutmix_ops.apply_cutmix(
                images,
                self._soft_labels(images, labels),
                box,
                draw["permutation"],
                draw["applied"],
            )
        if isinstance(inputs, dict):
            return {**inputs, "images": mixed, "labels": soft}
        return mixed, soft

    def _soft_labels(self, images, labels):
        """The labels as CutMix returns them unmixed: float32 `[B, N]`."""
        if _basics.is_tf_tensor(images) and (
            keras.backend.backend() == "tensorflow"
            or _basics.foreign_graph(images)
        ):
            return _basics.tf_module("has_tf.augmentation.cutmix").one_hot(
                labels, self.num_classes
            )
        labels = keras.ops.convert_to_tensor(labels)
        cutmix_ops.check_labels(labels, self.num_classes)
        return cutmix_ops.one_hot(labels, self.num_classes)

    def compute_output_shape(self, input_shape):
        images = (
            input_shape["images"]
            if isinstance(input_shape, dict)
            else input_shape[0]
        )
        labels = (images[0], self.num_classes)
        if isinstance(input_shape, dict):
            return {**input_shape, "labels": labels}
        return images, labels

    def compute_output_spec(self, inputs, training=None):
        images = inputs["images"] if isinstance(inputs, dict) else inputs[0]
        images = keras.KerasTensor(images.shape, dtype=images.dtype)
        labels = keras.KerasTensor(
            (images.shape[0], self.num_classes), dtype="float32"
        )
        if isinstance(inputs, dict):
            return {**inputs, "images": images, "labels": labels}
        return images, labels

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "beta": self.beta,
            "prob": self.prob,
            "seed": _basics.plain(self.seed),
        }
