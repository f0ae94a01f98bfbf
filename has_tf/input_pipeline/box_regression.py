"""The box regressor's training input, as PSOL draws it (`tzzcl/PSOL`,
`loader/imagenet_loader.py`, `utils/augment.py`, `utils/func.py`), in
tf.data with stateless draws (no Python per image).

Per image, from its pseudo-box (a `metrics.pseudo_label_files` file,
normalised `(ymin, xmin, ymax, xmax)`):

1. the box in pixels of the whole image, PSOL's way: `ceil(v * W)` for
   x, `ceil(v * H)` for y; PSOL's corners are `(x1, y1, x2, y2)`;
2. `RandomResizedBBoxCrop(224)` with scale (0.2, 1) and ratio (3/4, 4/3):
   up to 30 attempts, each an area fraction `s ~ U(0.2, 1)` and a log
   aspect ratio `U(log 3/4, log 4/3)`, `w = round(sqrt(s A r))`, `h =
   round(sqrt(s A / r))` (ties to even, as Python's `round`); one that fits
   places its corner uniformly (`randint(0, H - h)`, `randint(0, W - w)`)
   and is taken if it overlaps the box with positive width and height;
   else the central crop of the image clamped to the ratio range;
3. the box cut to the crop and normalised by its size (`compute_intersec`,
   `normalize_intersec`; a fallback crop may leave it empty, as PSOL's
   does), the crop resized to S x S (bilinear, antialiased as PIL's);
4. a flip with probability 1/2 (`x1, x2 -> 1 - x2, 1 - x1`);
5. the target PSOL's `(x, y, w, h) = (x1, y1, x2 - x1, y2 - y1)`.

`crop_geometry` is steps 2-3 given the draws (`crop_draws` makes them),
so the rule can be checked against PSOL's code fed the same numbers.
"""

from __future__ import annotations

import math

import tensorflow as tf

from has_tf import _checks
from has_tf.input_pipeline.image_windows import checked_encoding
from has_tf.input_pipeline.image_windows import decode_image
from has_tf.input_pipeline.images import seeded_stream
from has_tf.input_pipeline.named_map import map_examples

__all__ = [
    "ATTEMPTS",
    "RATIO",
    "SCALE",
    "crop_draws",
    "crop_geometry",
    "pixel_corners",
    "train_pipeline",
]

ATTEMPTS = 30
SCALE = (0.2, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)


def crop_draws(seed) -> dict:
    """The draws of one image's crop and flip: float32 uniforms in [0, 1),
    `scale`, `ratio`, `top`, `left` `[ATTEMPTS]` each and `flip` `[]`,
    from a stateless int `[2]` seed."""
    seeds = tf.random.experimental.stateless_split(seed, 5, alg="philox")
    names = ("scale", "ratio", "top", "left")
    draws = {
        name: tf.random.stateless_uniform([ATTEMPTS], seeds[k], alg="philox")
        for k, name in enumerate(names)
    }
    draws["flip"] = tf.random.stateless_uniform([], seeds[4], alg="philox")
    return draws


def pixel_corners(box, height, width) -> tf.Tensor:
    """A normalised `(ymin, xmin, ymax, xmax)` as PSOL's pixel corners
    `(x1, y1, x2, y2)`: `ceil` of each edge times the side, float32."""
    box = tf.cast(box, tf.float32)
    height = tf.cast(height, tf.float32)
    width = tf.cast(width, tf.float32)
    return tf.math.ceil(
        tf.stack(
            [box[1] * width, box[0] * height, box[3] * width, box[2] * height]
        )
    )


def _randint(u, low, high):
    """`randint(low, high)` (inclusive) from a uniform `u` in [0, 1)."""
    return low + tf.floor(u * (high - low + 1.0))


def _intersection(top, left, h, w, box):
    """PSOL's `compute_intersec` (broadcast over attempts)."""
    return tf.stack(
        [
            tf.maximum(left, box[0]),
            tf.maximum(top, box[1]),
            tf.minimum(left + w, box[2]),
            tf.minimum(top + h, box[3]),
        ],
        axis=-1,
    )


def crop_geometry(height, width, box, draws) -> tuple:
    """Where PSOL's `RandomResizedBBoxCrop` cuts, given the draws.

    Args:
      height, width: the image's size in pixels.
      box: float32 `[4]` pixel corners `(x1, y1, x2, y2)` (`pixel_corners`).
      draws: `crop_draws`' dict (`flip` unused here).

    Returns:
      `(top, left, h, w, crop_box)`: the crop in pixels (float32 whole
      numbers) and the box cut to it, normalised `(x1, y1, x2, y2)`.
    """
    height = tf.cast(height, tf.float32)
    width = tf.cast(width, tf.float32)
    box = tf.cast(box, tf.float32)
    area = height * width
    target = (SCALE[0] + (SCALE[1] - SCALE[0]) * draws["scale"]) * area
    low, high = math.log(RATIO[0]), math.log(RATIO[1])
    ratio = tf.exp(low + (high - low) * draws["ratio"])
    w = tf.round(tf.sqrt(target * ratio))
    h = tf.round(tf.sqrt(target / ratio))
    fits = (w <= width) & (h <= height)
    top = _randint(draws["top"], 0.0, height - h)
    left = _randint(draws["left"], 0.0, width - w)
    cut = _intersection(top, left, h, w, box)
    good = fits & (cut[:, 2] - cut[:, 0] > 0) & (cut[:, 3] - cut[:, 1] > 0)
    # The fallback: the central crop, its ratio clamped to the range.
    in_ratio = width / height
    fallback_w = tf.where(
        in_ratio > RATIO[1], tf.round(height * RATIO[1]), width
    )
    fallback_h = tf.where(
        in_ratio < RATIO[0], tf.round(width / RATIO[0]), height
    )
    first = tf.argmax(tf.cast(good, tf.int32))
    found = tf.reduce_any(good)
    h = tf.where(found, h[first], fallback_h)
    w = tf.where(found, w[first], fallback_w)
    top = tf.where(found, top[first], tf.floor((height - h) / 2.0))
    left = tf.where(found, left[first], tf.floor((width - w) / 2.0))
    cut = _intersection(top, left, h, w, box)
    crop_box = (cut - tf.stack([left, top, left, top])) / tf.stack([w, h, w, h])
    return top, left, h, w, crop_box


def flip_box(crop_box, flip) -> tf.Tensor:
    """PSOL's `RandomHorizontalFlipBBox` on a normalised `(x1, y1, x2,
    y2)` when `flip`."""
    flipped = tf.stack(
        [1.0 - crop_box[2], crop_box[1], 1.0 - crop_box[0], crop_box[3]]
    )
    return tf.where(flip, flipped, crop_box)


def target_of(crop_box) -> tf.Tensor:
    """PSOL's target `(x, y, w, h)` of a normalised `(x1, y1, x2, y2)`."""
    return tf.stack(
        [
            crop_box[0],
            crop_box[1],
            crop_box[2] - crop_box[0],
            crop_box[3] - crop_box[1],
        ]
    )


def _image_key(example) -> tf.Tensor:
    """The id the pseudo-label file keys an image by: its `image_id`, or
    its position in the split ("index")."""
    if "image_id" in example:
        return example["image_id"]
    return tf.strings.as_string(example["index"])


def train_pipeline(
    dataset: tf.data.Dataset,
    pseudo_boxes: dict,
    batch_size: int,
    image_size: int = 224,
    seed: int | None = 0,
    shuffle_buffer: int = 10_000,
    input_context: tf.distribute.InputContext | None = None,
    start_batch: int = 0,
) -> tf.data.Dataset:
    """`(images, targets)` batches for the regressor, endless.

    Args:
      dataset: the training split's TFDS examples in the split's order
        (the order the pseudo-labels were written in), with an `image_id`
        or an "index" (their position, `Dataset.enumerate`); images
        decoded or encoded.
      pseudo_boxes: image id -> normalised `(ymin, xmin, ymax, xmax)` (the
        first box of each image's line).
      batch_size: per-replica under `input_context`, else global.
      image_size: the side S of the crops (PSOL: 224).
      seed: every draw derives from it (`images.train_pipeline`'s rule).
      shuffle_buffer: examples in the shuffle buffer (0: none).
      input_context: shards the input per worker.
      start_batch: begin with this batch of the stream (a resumed run).

    Returns:
      A dataset of uint8 `[B, S, S, 3]` pixels and float32 `[B, 4]`
      targets `(x, y, w, h)`.

    Raises:
      tf.errors.InvalidArgumentError (when read): an image the file has no
        box for, naming it.
    """
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_int(image_size, "image_size")
    if not pseudo_boxes:
        raise ValueError("Expected pseudo-boxes of at least one image.")
    ids = tf.constant(list(pseudo_boxes), tf.string)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            ids, tf.range(len(pseudo_boxes), dtype=tf.int64)
        ),
        default_value=-1,
    )
    rows = tf.constant(list(pseudo_boxes.values()), tf.float32)
    dataset = seeded_stream(
        dataset,
        batch_size,
        seed,
        shuffle_buffer,
        input_context,
        True,
        start_batch,
    )

    @tf.autograph.experimental.do_not_convert
    def augment(example, pair):
        key = _image_key(example)
        row = table.lookup(key)
        with tf.control_dependencies(
            [
                tf.debugging.Assert(
                    row >= 0,
                    ["--pseudo_labels: no box for image", key],
                )
            ]
        ):
            box = tf.gather(rows, tf.maximum(row, 0))
        image = decode_image(checked_encoding(example["image"]))
        shape = tf.shape(image)
        draws = crop_draws(pair)
        corners = pixel_corners(box, shape[0], shape[1])
        top, left, h, w, crop_box = crop_geometry(
            shape[0], shape[1], corners, draws
        )
        crop = tf.image.crop_to_bounding_box(
            image,
            tf.cast(top, tf.int32),
            tf.cast(left, tf.int32),
            tf.cast(h, tf.int32),
            tf.cast(w, tf.int32),
        )
        crop = tf.image.resize(
            crop, (image_size, image_size), "bilinear", antialias=True
        )
        crop = tf.cast(tf.round(tf.clip_by_value(crop, 0.0, 255.0)), tf.uint8)
        flip = draws["flip"] < 0.5
        crop = tf.cond(flip, lambda: crop[:, ::-1], lambda: crop)
        return crop, target_of(flip_box(crop_box, flip))

    dataset = map_examples(dataset, augment)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(
        tf.data.AUTOTUNE
    )
