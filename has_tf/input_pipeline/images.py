"""tf.data pipelines: decode, crop, flip, hide in-graph, normalise, batch.

Works with any TFDS dataset whose examples have `image` (uint8, 1 or 3
channels), `label` and boxes as `objects/bbox` (a sequence, as TFDS
detection datasets) or a single `bbox`. Boxes are TFDS-normalised
`(ymin, xmin, ymax, xmax)` and follow every crop, resize and flip; boxes
cut by a crop are clipped to it.

Training (`train_pipeline`): the paper's resize to 256x256 then a random
224x224 crop (or a random-resized crop), a random horizontal flip, then
per batch Hide-and-Seek with `has_tf.hide_patches` on the uint8 images with
the dataset-mean pixel as fill, and only then the float normalisation
`(x - mean) / std` (so hidden pixels become ~0). Every random choice is
stateless and derived from `seed`: the same seed gives the same batches.

Evaluation (`eval_pipeline`): the paper's resize 256 + centre 224 crop, its
10-crop (4 corners and centre, and their flips), or the threshold-free
protocol's resize straight to 224x224.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from has_tf import _checks
from has_tf import hiding
from has_tf.postprocess.boxes import ten_crop_offsets

__all__ = [
    "CROPS",
    "PROTOCOLS",
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD_RGB",
    "example_fields",
    "crop_boxes",
    "train_pipeline",
    "eval_pipeline",
]

# The ImageNet (ILSVRC-2012 train) per-channel mean and std in pixel units:
# the figures torchvision's pretrained models normalise with, (0.485, 0.456,
# 0.406) and (0.229, 0.224, 0.225) on a [0, 1] scale, times 255. The one
# definition in has_tf (`--normalization=imagenet`, the demo, benchmarks).
IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)
CROPS = ("resize_crop", "random_resized")
PROTOCOLS = ("center_crop", "ten_crop", "resize")


def example_fields(example: dict):
    """Pulls `(image, label, boxes)` out of a TFDS example.

    Returns:
      image: uint8 `[H, W, 3]` (grayscale becomes RGB); label: int64 `[]`;
      boxes: float32 `[N, 4]` normalised yxyx (N may be 0).
    """
    image = example["image"]
    if image.shape.rank == 3 and image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    if "objects" in example and "bbox" in example["objects"]:
        boxes = example["objects"]["bbox"]
    elif "bbox" in example:
        boxes = tf.reshape(example["bbox"], [-1, 4])
    else:
        boxes = tf.zeros([0, 4])
    boxes = tf.clip_by_value(tf.cast(boxes, tf.float32), 0.0, 1.0)
    return image, tf.cast(example["label"], tf.int64), boxes


def crop_boxes(boxes, offset, crop_size, image_size) -> tf.Tensor:
    """Boxes `[N, 4]` after cropping, in the crop's normalised frame.

    Args:
      boxes: normalised yxyx in the full image.
      offset: `(top, left)` of the crop in pixels.
      crop_size: `(height, width)` of the crop in pixels.
      image_size: `(height, width)` of the full image in pixels.

    Returns:
      float32 `[N, 4]` normalised to the crop and clipped to [0, 1] (a box
      outside the crop has zero area).

    >>> crop_boxes(tf.constant([[0.0, 0.0, 0.5, 1.0]]), (2, 2), (4, 4),
    ...            (8, 8)).numpy()
    array([[0. , 0. , 0.5, 1. ]], dtype=float32)
    """
    size = tf.cast(tf.stack([image_size[0], image_size[1]] * 2), tf.float32)
    start = tf.cast(tf.stack([offset[0], offset[1]] * 2), tf.float32)
    extent = tf.cast(tf.stack([crop_size[0], crop_size[1]] * 2), tf.float32)
    return tf.clip_by_value((boxes * size - start) / extent, 0.0, 1.0)


def _check_sizes(batch_size, image_size, resize_size):
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_int(image_size, "image_size")
    _checks.positive_int(resize_size, "resize_size")


def _random_crop(image, seed, crop, image_size, resize_size):
    """One training crop: uint8 `[image_size, image_size, 3]`."""
    if crop == "resize_crop":
        image = tf.image.resize(
            image, [resize_size, resize_size], antialias=True
        )
        limit = resize_size - image_size + 1
        top_left = tf.random.stateless_uniform(
            [2], seed=seed, maxval=limit, dtype=tf.int32, alg="philox"
        )
        image = tf.slice(
            image, [top_left[0], top_left[1], 0], [image_size, image_size, 3]
        )
    else:
        shape = tf.shape(image)
        begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
            shape,
            tf.zeros([1, 0, 4]),
            seed=seed,
            area_range=(0.08, 1.0),
            aspect_ratio_range=(3 / 4, 4 / 3),
            min_object_covered=0.0,
            use_image_if_no_bounding_boxes=True,
        )
        image = tf.ensure_shape(tf.slice(image, begin, size), [None, None, 3])
        image = tf.image.resize(image, [image_size, image_size], antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def _normalize(images, mean, std):
    images = tf.cast(images, tf.float32)
    return (images - tf.constant(mean, tf.float32)) / tf.constant(
        std, tf.float32
    )


def train_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    image_size: int = 224,
    resize_size: int = 256,
    crop: str = "resize_crop",
    patch_sizes: Sequence[int] | None = (0, 16, 32, 44, 56),
    hide_prob: float = 0.5,
    mean: Sequence[float] = IMAGENET_MEAN_RGB,
    std: Sequence[float] = IMAGENET_STD_RGB,
    seed: int = 0,
    shuffle_buffer: int = 10_000,
    input_context: tf.distribute.InputContext | None = None,
    repeat: bool = True,
    start_batch: int = 0,
) -> tf.data.Dataset:
    """The training pipeline, ending in `(images, labels)` batches.

    Args:
      dataset: TFDS examples (see `example_fields`), images uint8.
      batch_size: per-replica batch size when `input_context` is given,
        else the global one. Incomplete batches are dropped (static shapes
        for XLA and TPUs).
      image_size: side of the training crop.
      resize_size: side of the square resize before a "resize_crop".
      crop: "resize_crop" (the paper: resize to 256x256, random 224 crop)
        or "random_resized" (area 8-100%, aspect 3/4-4/3, then resize).
      patch_sizes: Hide-and-Seek patch sizes (0 hides nothing); None turns
        hiding off.
      hide_prob: probability of hiding a cell.
      mean: per-channel mean in pixel units: the hidden pixels' fill and
        the normalisation's shift (the dataset mean, see
        `has_tf.channel_moments`).
      std: per-channel std for the normalisation.
      seed: every random draw (order, crops, flips, masks) derives from it.
      shuffle_buffer: examples in the shuffle buffer (0 disables it).
      input_context: shards the input per worker for multi-worker training.
      repeat: repeat forever (for `fit` with `steps_per_epoch`).
      start_batch: begin with this batch of the stream (a run resumed at
        step k passes k): the batches, crops and masks are those an
        uninterrupted run gives from its k-th batch on. The skipped
        examples are read but not augmented.

    Returns:
      A dataset of `(images, labels)`: float32 `[B, S, S, 3]` normalised,
      int64 `[B]`.

    Raises:
      ValueError: an unknown `crop`, non-positive sizes, or a crop larger
        than the resize.
    """
    _check_sizes(batch_size, image_size, resize_size)
    if crop not in CROPS:
        raise ValueError(f"Expected `crop` in {CROPS}. Received: crop={crop!r}")
    if crop == "resize_crop" and image_size > resize_size:
        raise ValueError(
            "Expected image_size <= resize_size. Received: "
            f"image_size={image_size}, resize_size={resize_size}"
        )
    if patch_sizes is not None:
        patch_sizes = _checks.patch_sizes(patch_sizes)
        _checks.probability(hide_prob, "hide_prob")
    fill = [min(255.0, max(0.0, float(round(m)))) for m in mean]

    if input_context is not None:
        dataset = dataset.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )
    if shuffle_buffer:
        dataset = dataset.shuffle(
            shuffle_buffer, seed=seed, reshuffle_each_iteration=True
        )
    if repeat:
        dataset = dataset.repeat()
    seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)
    dataset = tf.data.Dataset.zip((dataset, seeds))
    start_batch = _checks.nonnegative_int(start_batch, "start_batch")
    if start_batch:
        dataset = dataset.skip(start_batch * batch_size)

    def augment(example, pair):
        crop_seed, flip_seed = tf.unstack(
            tf.random.experimental.stateless_split(pair, 2, alg="philox")
        )
        image, label, _ = example_fields(example)
        image = _random_crop(image, crop_seed, crop, image_size, resize_size)
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        return image, label

    dataset = dataset.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    batch_seeds = tf.data.Dataset.random(seed=seed + 1).batch(
        2, drop_remainder=True
    )
    if start_batch:
        batch_seeds = batch_seeds.skip(start_batch)
    dataset = tf.data.Dataset.zip((dataset, batch_seeds))

    def hide_and_normalize(batch, pair):
        images, labels = batch
        if patch_sizes is not None:
            images = hiding.hide_patches(
                images, patch_sizes, hide_prob, fill, seed=pair
            )
        return _normalize(images, mean, std), labels

    dataset = dataset.map(
        hide_and_normalize, num_parallel_calls=tf.data.AUTOTUNE
    )
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def _resize_uint8(image, size):
    image = tf.image.resize(image, size, antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def eval_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    protocol: str = "center_crop",
    image_size: int = 224,
    resize_size: int = 256,
    mean: Sequence[float] = IMAGENET_MEAN_RGB,
    std: Sequence[float] = IMAGENET_STD_RGB,
) -> tf.data.Dataset:
    """The evaluation pipeline: fixed crops, boxes in the crop's frame.

    Args:
      dataset: TFDS examples (see `example_fields`).
      batch_size: images per batch (the last batch may be smaller).
      protocol: "center_crop" (resize to 256x256, centre 224 crop),
        "ten_crop" (the 4 corner and centre 224 crops of the 256x256 resize
        and their flips) or "resize" (straight to 224x224, Choe et al.).
      image_size, resize_size: crop and resize sides.
      mean, std: per-channel normalisation in pixel units.

    Returns:
      Batches of dicts: "image" float32 `[B, S, S, 3]` (`[B, 10, S, S, 3]`
      for "ten_crop": corners TL, TR, BL, BR, centre, then the same
      flipped), "label" int64 `[B]`, "boxes" float32 `[B, N, 4]` padded
      with zeros and "num_boxes" int32 `[B]`. Boxes are normalised to the
      centre crop ("center_crop"), the resized image ("resize") or the
      256x256 resize ("ten_crop", where crops map back by their offsets).
    """
    _check_sizes(batch_size, image_size, resize_size)
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"Expected `protocol` in {PROTOCOLS}. "
            f"Received: protocol={protocol!r}"
        )
    if protocol != "resize" and image_size > resize_size:
        raise ValueError(
            "Expected image_size <= resize_size. Received: "
            f"image_size={image_size}, resize_size={resize_size}"
        )
    offsets = ten_crop_offsets(image_size, resize_size)[:5]

    def prepare(example):
        image, label, boxes = example_fields(example)
        if protocol == "resize":
            image = _resize_uint8(image, [image_size, image_size])
        else:
            image = _resize_uint8(image, [resize_size, resize_size])
            if protocol == "center_crop":
                offset = offsets[4]  # The centre.
                image = image[
                    offset[0] : offset[0] + image_size,
                    offset[1] : offset[1] + image_size,
                ]
                boxes = crop_boxes(
                    boxes,
                    offset,
                    (image_size, image_size),
                    (resize_size, resize_size),
                )
            else:
                crops = [
                    image[t : t + image_size, s : s + image_size]
                    for t, s in offsets
                ]
                crops += [tf.image.flip_left_right(c) for c in crops]
                image = tf.stack(crops)
        return {
            "image": _normalize(image, mean, std),
            "label": label,
            "boxes": boxes,
            "num_boxes": tf.shape(boxes)[0],
        }

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)
