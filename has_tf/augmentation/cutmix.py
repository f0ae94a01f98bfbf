"""CutMix as a TensorFlow batch op: stateless seeds, tf.data, XLA.

The rule is `augmentation.cutmix_ops`'s (wsolevaluation's CutMix, described
there), applied with TensorFlow ops; the draws are stateless (one int64
`[2]` seed per batch), so a pipeline seeded once repeats its mixes, and a
resumed run continues them. `cutmix_batch` is what
`input_pipeline.images.train_pipeline` maps over batches (with
`ImageAugmentation(cutmix_beta=...)`)
and what `has_tf.CutMix` runs under TensorFlow and inside tf.data.
"""

from __future__ import annotations

import types

import tensorflow as tf

from has_tf import _checks
from has_tf.augmentation import cutmix_ops
from has_tf.augmentation.cutmix_ops import check_beta
from has_tf.augmentation.cutmix_ops import static_sizes

__all__ = [
    "TF_OPS",
    "check_beta",
    "cutmix_batch",
    "one_hot",
    "sample_cutmix",
]

# The few ops `cutmix_ops` calls, by their keras.ops names.
TF_OPS = types.SimpleNamespace(
    arange=lambda n, dtype: tf.range(n, dtype=dtype),
    cast=tf.cast,
    clip=tf.clip_by_value,
    concatenate=lambda values, axis: tf.concat(values, axis),
    convert_to_tensor=lambda value, dtype: tf.constant(value, dtype),
    logical_and=tf.logical_and,
    one_hot=lambda labels, depth: tf.one_hot(labels, depth, dtype=tf.float32),
    sqrt=tf.sqrt,
    take=lambda values, indices, axis: tf.gather(values, indices, axis=axis),
    where=tf.where,
)


def sample_cutmix(seed, batch_size, height: int, width: int, beta, prob):
    """One batch's CutMix draws, stateless.

    Args:
      seed: int `[2]` stateless seed.
      batch_size: the batch size, an int or a scalar int32 tensor.
      height, width: static sizes.
      beta: Beta's two parameters (> 0).
      prob: probability of mixing the batch.

    Returns:
      `{"lam": float64 scalar ~ Beta(beta, beta), "centre": int32 [2]
      (row in [0, height), column in [0, width)), "permutation": int32
      [batch_size], "applied": bool scalar}`.
    """
    seeds = tf.unstack(
        tf.random.experimental.stateless_split(
            tf.cast(seed, tf.int64), 6, alg="philox"
        )
    )
    gamma = [
        tf.random.stateless_gamma([], s, alpha=beta, dtype=tf.float64)
        for s in seeds[:2]
    ]
    lam = gamma[0] / (gamma[0] + gamma[1])
    centre = tf.stack(
        [
            tf.random.stateless_uniform([], seeds[2], 0, height, tf.int32),
            tf.random.stateless_uniform([], seeds[3], 0, width, tf.int32),
        ]
    )
    permutation = tf.cast(
        tf.argsort(tf.random.stateless_uniform([batch_size], seeds[4])),
        tf.int32,
    )
    applied = tf.random.stateless_uniform([], seeds[5]) < prob
    return {
        "lam": lam,
        "centre": centre,
        "permutation": permutation,
        "applied": applied,
    }


def one_hot(labels, num_classes: int) -> tf.Tensor:
    """`cutmix_ops.one_hot` in TensorFlow ops, int labels checked in
    [0, num_classes) (out of range they gave rows of zeros): eagerly a
    ValueError, in a graph (`tf.data`) an InvalidArgumentError when the
    batch is reached, both naming the range."""
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 1 and tf.executing_eagerly():
        cutmix_ops.check_labels(labels, num_classes)  # A ValueError.
    elif labels.shape.rank == 1:
        message = (
            f"Expected `labels` in [0, {num_classes}) "
            f"(num_classes={num_classes}), one class per image"
        )
        checks = [
            tf.debugging.assert_non_negative(labels, message=message),
            tf.debugging.assert_less(
                labels, tf.cast(num_classes, labels.dtype), message=message
            ),
        ]
        with tf.control_dependencies(checks):
            labels = tf.identity(labels)
    return cutmix_ops.one_hot(labels, num_classes, xp=TF_OPS)


def cutmix_batch(images, labels, num_classes: int, beta, prob, seed):
    """CutMix on one batch (TensorFlow ops).

    Args:
      images: `[B, H, W, C]` with a static height and width, any dtype
        (uint8 pixels in has_tf's pipelines); the batch size may be
        unknown until run time (`dataset.batch(n)` keeps a partial last
        batch).
      labels: int `[B]` classes, or float `[B, num_classes]` soft labels.
      num_classes: the classifier's width.
      beta: Beta's parameter (> 0; the tool's `--cutmix_beta`, 1.0).
      prob: probability of mixing the batch (`--cutmix_prob`, 1.0).
      seed: int `[2]` stateless seed.

    Returns:
      `(images, soft_labels)`: images as given with the box pasted in,
      float32 `[B, num_classes]` labels (one-hot when the batch is not
      mixed).
    """
    beta = check_beta(beta)
    prob = _checks.probability(prob, "cutmix_prob")
    batch, height, width = static_sizes(images)
    if batch is None:
        batch = tf.shape(images)[0]
    draw = sample_cutmix(seed, batch, height, width, beta, prob)
    box = cutmix_ops.cutmix_box(
        draw["lam"], draw["centre"], height, width, xp=TF_OPS
    )
    mixed, soft, _ = cutmix_ops.apply_cutmix(
        images,
        one_hot(labels, num_classes),
        box,
        draw["permutation"],
        draw["applied"],
        xp=TF_OPS,
    )
    return mixed, soft
