"""The image task's evaluation batches: a split's images in its order,
with their ids, cropped as the evaluation asks (`eval_batches`), trimmed
per class (`first_per_class`), their boxes from a pseudo-label file
(`--boxes_from`) in place of the ground truth."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from has_tf import datasets
from has_tf.input_pipeline import images as image_pipeline
from has_tf.metrics import pseudo_label_files

__all__ = ["eval_batches", "first_per_class", "images_to_score"]


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


def images_to_score(builder, config) -> int | None:
    """How many images `eval_batches` gives: the split's, or
    `--max_images`; None under `--samples_per_class` (known once read)."""
    if config.samples_per_class:
        return None
    count = builder.info.splits[config.eval_split].num_examples
    return min(count, config.max_images) if config.max_images else count


def eval_batches(config, run_info: dict, normalize: bool = True, skip: int = 0):
    """`(builder, batches)`: the split's evaluation batches
    (`input_pipeline.images.eval_pipeline`, images decoded from their
    encoded bytes, crop windows only; uint8 pixels unless `normalize`)
    and its TFDS builder; the first `skip` images left out (a resumed
    job), their positions kept."""
    data, builder = datasets.load(
        config.dataset,
        config.eval_split,
        config.data_dir,
        config.manual_dir,
        decode_images=False,
        try_autocache=not config.max_images,
    )
    # Each example's position in the split: the id of an image of a
    # dataset without image ids (`metrics.class_files`).
    data = data.enumerate().map(lambda i, example: {**example, "index": i})
    if config.boxes_from:
        data = data.map(
            _boxes_from(config, builder.info.features["label"].num_classes)
        )
    if config.samples_per_class:
        data = first_per_class(
            data,
            config.samples_per_class,
            builder.info.features["label"].num_classes,
        )
    if config.max_images:
        data = data.take(config.max_images)
    if skip:
        data = data.skip(skip)
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


def _boxes_from(config, num_classes: int):
    """An example map putting `--boxes_from`'s boxes in place of the
    split's ground truth (the tool's integer boxes and the masks dropped:
    the tool's corners are derived from them)."""
    pseudo = pseudo_label_files.read_for(
        config.boxes_from,
        "boxes_from",
        config.dataset,
        config.eval_split,
        num_classes,
    )
    ids = list(pseudo.items)
    most = max(len(b) for b in pseudo.items.values())
    boxes = np.zeros((len(ids), most, 4), np.float32)
    counts = np.zeros(len(ids), np.int32)
    for row, key in enumerate(ids):
        found = pseudo.items[key]
        boxes[row, : len(found)] = found
        counts[row] = len(found)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(ids), tf.range(len(ids), dtype=tf.int64)
        ),
        default_value=-1,
    )
    boxes, counts = tf.constant(boxes), tf.constant(counts, tf.int64)
    dropped = ("wsol_boxes", "image_size", "mask", "ignore_mask", "bbox")

    def replace(example):
        key = (
            example["image_id"]
            if "image_id" in example
            else tf.strings.as_string(example["index"])
        )
        row = table.lookup(key)
        check = tf.debugging.Assert(
            row >= 0, ["--boxes_from: no box for image", key]
        )
        with tf.control_dependencies([check]):
            row = tf.maximum(row, 0)
        kept = {k: v for k, v in example.items() if k not in dropped}
        return {**kept, "objects": {"bbox": boxes[row, : counts[row]]}}

    return replace
