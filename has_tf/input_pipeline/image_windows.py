"""Decoding and the crop windows of `images`: an example's image decoded
(a JPEG only within its crop's window, with a small margin), resized and
cropped by one rule for training and evaluation, its boxes carried along.
The resize to uint8 pixels and OpenCV's nearest resize of masks live
here too. `images` re-exports the public names (`decode_image`,
`example_fields`, `crop_boxes`, `nearest_indices`,
`resize_mask_nearest`).
"""

from __future__ import annotations

import tensorflow as tf


def decode_image(image) -> tf.Tensor:
    """An example's `image`, decoded if encoded, as RGB.

    Args:
      image: uint8 `[H, W, 1 or 3]`, or a scalar tf.string holding a JPEG,
        PNG, BMP or GIF file.

    Returns:
      uint8 `[H, W, 3]` (grayscale and CMYK become RGB; a GIF gives its
      first frame).
    """
    if image.dtype == tf.string:
        return tf.ensure_shape(
            tf.io.decode_image(image, channels=3, expand_animations=False),
            [None, None, 3],
        )
    if image.shape.rank == 3 and image.shape[-1] == 1:
        return tf.image.grayscale_to_rgb(image)
    return image


# Pixels decoded around a JPEG window: libjpeg's upsampling of a chroma
# plane subsampled 2x (4:2:0, 4:2:2) reads the neighbouring chroma sample,
# which is at most 2 pixels beyond the window's edge (tested on random
# windows of every subsampling, progressive too).
_JPEG_MARGIN = 2


def _decode_window(image, window_of):
    """Decodes the window `window_of(shape)` of one image, and no more.

    Args:
      image: as `decode_image` takes it.
      window_of: maps the image's int32 shape (`[3]`: height, width,
        channels as stored) to `(top, left, height, width)`, int32 scalars,
        inside the image.

    Returns:
      `(pixels, top_left, image_size)`: uint8 `[height, width, 3]`, and
      int32 `[2]` tensors: the window's corner and the whole image's
      `(height, width)`. A JPEG decodes only the window and a margin of
      `_JPEG_MARGIN` pixels (so the pixels equal a whole decode's); other
      formats decode whole and are sliced; decoded images are sliced.
    """

    def slice_window(pixels):
        shape = tf.shape(pixels)
        top, left, height, width = window_of(shape)
        window = tf.slice(pixels, [top, left, 0], [height, width, 3])
        return window, tf.stack([top, left]), shape[:2]

    if image.dtype != tf.string:
        return slice_window(decode_image(image))

    def jpeg():
        shape = tf.image.extract_jpeg_shape(image)
        top, left, height, width = window_of(shape)
        # libjpeg upsamples subsampled chroma at a decoded region's edge
        # from that edge alone, so the window's border pixels would differ
        # from a whole decode's; a margin keeps its edges inside the region.
        margin = _JPEG_MARGIN
        y0, x0 = tf.maximum(top - margin, 0), tf.maximum(left - margin, 0)
        y1 = tf.minimum(top + height + margin, shape[0])
        x1 = tf.minimum(left + width + margin, shape[1])
        region = tf.io.decode_and_crop_jpeg(
            image, tf.stack([y0, x0, y1 - y0, x1 - x0]), channels=3
        )
        pixels = tf.slice(region, [top - y0, left - x0, 0], [height, width, 3])
        return pixels, tf.stack([top, left]), shape[:2]

    pixels, top_left, size = tf.cond(
        tf.io.is_jpeg(image), jpeg, lambda: slice_window(decode_image(image))
    )
    return tf.ensure_shape(pixels, [None, None, 3]), top_left, size


def _resize(image, size, method):
    """float32 `[size[0], size[1], 3]` from one image `[h, w, 3]`."""
    return tf.image.resize(image, size, antialias=method == "antialias")


def _crop_of_resize(image, offset, crop_size, resize_size, method):
    """The `crop_size` square at `offset` of the image resized to a square.

    Equals `_resize(image, [resize_size] * 2)[top:top + crop, left:left +
    crop]` but decodes and resizes only the window of the original that
    the crop shows. "antialias" decodes that window widened by the
    filter's reach and resizes it with the full resize's scale and the
    crop's offset (`ScaleAndTranslate`, the kernel `tf.image.resize` runs):
    the same pixels up to float rounding. "bilinear" rounds the window's
    edges to whole pixels and resizes it to the crop (module docstring).

    Args:
      image: as `decode_image` takes it.
      offset: int32 `[2]`, the crop's top-left in the resized frame.
      crop_size, resize_size: Python ints.
      method: one of `RESIZE_METHODS`.

    Returns:
      float32 `[crop_size, crop_size, 3]` in [0, 255].
    """
    window_of = _crop_window(offset, crop_size, resize_size, method)
    window, top_left, extent = _decode_window(image, window_of)
    if method != "antialias":
        return _resize(window, [crop_size, crop_size], method)
    offset = tf.cast(offset, tf.float32)
    scale = float(resize_size) / tf.cast(extent, tf.float32)
    translation = tf.cast(top_left, tf.float32) * scale - offset
    resized = tf.raw_ops.ScaleAndTranslate(
        images=window[tf.newaxis],
        size=[crop_size, crop_size],
        scale=scale,
        translation=translation,
        kernel_type="triangle",
        antialias=True,
    )
    return resized[0]


def _crop_window(offset, crop_size, resize_size, method):
    """`window_of` (see `_decode_window`) for `_crop_of_resize`: the
    source pixels the crop at `offset` of the square resize shows
    (widened by the filter's reach for "antialias")."""
    offset = tf.cast(offset, tf.float32)

    def window_of(shape):
        extent = shape[:2]
        per_pixel = tf.cast(extent, tf.float32) / float(resize_size)
        start = offset * per_pixel
        end = (offset + float(crop_size)) * per_pixel
        if method == "antialias":
            # The triangle filter reaches max(1, 1 / scale) source pixels.
            reach = tf.math.ceil(tf.maximum(per_pixel, 1.0)) + 1.0
            start = tf.math.floor(start - reach)
            end = tf.math.ceil(end + reach)
        start = tf.clip_by_value(
            tf.cast(tf.round(start), tf.int32), 0, extent - 1
        )
        end = tf.clip_by_value(
            tf.cast(tf.round(end), tf.int32), start + 1, extent
        )
        return start[0], start[1], end[0] - start[0], end[1] - start[1]

    return window_of


# The leading bytes of the formats `tf.io.decode_image` reads.
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"RIFF")


def checked_encoding(image, name=None):
    """`image`, asserted to start like a format TensorFlow decodes (JPEG,
    PNG, GIF, BMP, WebP) when encoded: bytes of no image format fail
    naming `name` (the example's file name; its decode would fail naming
    nothing). A file cut short or damaged inside fails in the decoder,
    which names nothing: the pipelines map examples through
    `named_map.map_examples`, which names those too."""
    if image.dtype != tf.string:
        return image
    known = tf.reduce_any(
        [
            tf.equal(tf.strings.substr(image, 0, len(magic)), magic)
            for magic in _IMAGE_MAGIC
        ]
    )
    check = tf.debugging.Assert(
        known,
        [
            "Expected an encoded image (JPEG, PNG, GIF, BMP or WebP); "
            "these bytes are none:",
            "(unnamed)" if name is None else name,
        ],
    )
    with tf.control_dependencies([check]):
        return tf.identity(image)


def example_fields(example: dict):
    """Pulls `(image, label, boxes)` out of a TFDS example.

    Returns:
      image: as stored (decoded uint8 `[H, W, 1 or 3]` or encoded bytes,
      checked by `checked_encoding`; `decode_image` decodes either to RGB);
      label: int64 `[]`; boxes: float32 `[N, 4]` normalised yxyx (N may
      be 0).
    """
    image = checked_encoding(example["image"], example.get("file_name"))
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


def _to_uint8(image):
    """Rounds resized pixels to uint8.

    Only for `_resize`'s output of uint8 pixels: bilinear and triangle
    weights are non-negative and sum to one, so every value lies in
    [0, 255] up to float rounding and needs no clip (a clip costs as much
    as the round and the cast together on one core; tested on extremes).
    """
    return tf.cast(tf.round(image), tf.uint8)


def _resize_uint8(image, size, method):
    return _to_uint8(_resize(image, size, method))


def nearest_indices(source, target: int) -> tf.Tensor:
    """OpenCV's INTER_NEAREST source index of each of `target` outputs:
    floor(i / (target / source)) in double precision, clamped (the rule of
    `metrics.cam_evaluation.resize_nearest`)."""
    source = tf.cast(source, tf.float64)
    inverse = 1.0 / (tf.constant(float(target), tf.float64) / source)
    index = tf.floor(tf.range(target, dtype=tf.float64) * inverse)
    return tf.minimum(tf.cast(index, tf.int32), tf.cast(source, tf.int32) - 1)


def resize_mask_nearest(mask, size) -> tf.Tensor:
    """uint8 `[H, W, 1]` -> `[h, w]`, as OpenCV's nearest resize."""
    shape = tf.shape(mask)
    rows = nearest_indices(shape[0], size[0])
    cols = nearest_indices(shape[1], size[1])
    return tf.gather(tf.gather(mask[..., 0], rows), cols, axis=1)
