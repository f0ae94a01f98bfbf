"""The temporal half of `has_tf.train`: data, model and loss for videos.

`has_tf.train.train` calls `setup` when `--dataset` is a video-feature
dataset (`has_tf.datasets.TEMPORAL`); strategies, checkpoints, resume and
export are shared with the image task.

Paper says / we chose:

- features resampled to F_total = `--num_steps` (2000) per video, hidden
  in segments of F_segment = `--segment_size` (100) with `--hide_prob`
  (0.5), filled with the training set's mean feature: as the paper;
- loss: the paper says softmax; for videos with several classes we chose
  the cross-entropy against the labels normalised to sum to one
  (`--temporal_loss=softmax`); `sigmoid` gives independent binary
  cross-entropies (later work's multi-label loss);
- pooling: `--temporal_pooling` (the paper: max over features).
"""

from __future__ import annotations

import keras

LOSSES = ("softmax", "sigmoid")


@keras.saving.register_keras_serializable(package="has_tf")
def normalized_softmax_crossentropy(labels, logits):
    """Softmax cross-entropy against multi-hot labels scaled to sum 1.

    Args:
      labels: float `[B, N]` multi-hot.
      logits: float `[B, N]`.

    Returns:
      float32 `[B]` per-video losses.
    """
    labels = keras.ops.cast(labels, "float32")
    total = keras.ops.maximum(keras.ops.sum(labels, -1, keepdims=True), 1.0)
    return keras.losses.categorical_crossentropy(
        labels / total, keras.ops.cast(logits, "float32"), from_logits=True)


@keras.saving.register_keras_serializable(package="has_tf")
def sigmoid_crossentropy(labels, logits):
    """Binary cross-entropy per class, averaged: float32 `[B]`."""
    return keras.losses.binary_crossentropy(
        keras.ops.cast(labels, "float32"), keras.ops.cast(logits, "float32"),
        from_logits=True)


def loss_for(name: str):
    """The per-example loss `--temporal_loss` names."""
    if name == "softmax":
        return normalized_softmax_crossentropy
    if name == "sigmoid":
        return sigmoid_crossentropy
    raise ValueError(f"--temporal_loss: expected one of {LOSSES}. "
                     f"Received: {name!r}")


def setup(config, dataset, builder) -> dict:
    """What `train` needs for a temporal run.

    Returns:
      A dict: "num_classes", "examples", "info" (written to
      normalization.json: the fill feature and the resampling, for
      evaluation), "inputs" (a `distribute_datasets_from_function`
      callable), "build_model" (no arguments), "loss", "metrics".
    """
    from has_tf import models
    from has_tf import temporal_pipeline

    features = builder.info.features
    num_classes = features["labels"].shape[0]
    dim = features["features"].shape[-1]
    mean = temporal_pipeline.feature_mean(dataset)

    def inputs(context):
        return temporal_pipeline.train_pipeline(
            dataset, context.get_per_replica_batch_size(config.batch_size),
            num_steps=config.num_steps, segment_size=config.segment_size,
            hide_prob=config.hide_prob, fill_value=mean, seed=config.seed,
            input_context=context)

    def build_model():
        return models.temporal_net(
            num_classes, dim, steps=config.num_steps, units=config.units,
            pooling=config.temporal_pooling,
            dropout_rate=config.dropout_rate)

    return {
        "num_classes": num_classes,
        "examples": builder.info.splits[config.train_split].num_examples,
        "info": {"fill": mean.tolist(), "num_steps": config.num_steps,
                 "num_classes": num_classes, "model": "temporal_net",
                 "temporal_loss": config.temporal_loss},
        "inputs": inputs,
        "build_model": build_model,
        "loss": loss_for(config.temporal_loss),
        "per_example_loss": loss_for(config.temporal_loss),
        "metrics": [keras.metrics.CategoricalAccuracy(name="accuracy")],
    }
