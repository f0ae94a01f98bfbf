"""tf.data pipelines: decode, crop, flip, hide in-graph, normalise, batch.

Works with any TFDS dataset whose examples have `image`, `label` and boxes
as `objects/bbox` (a sequence, as TFDS detection datasets) or a single
`bbox`. `image` is either decoded (uint8 `[H, W, 1 or 3]`) or the encoded
file (a scalar tf.string, as TFDS gives with `tfds.decode.SkipDecoding()`):
JPEG (RGB, grayscale or CMYK), PNG, BMP or GIF (its first frame). Boxes are
TFDS-normalised `(ymin, xmin, ymax, xmax)` and follow every crop, resize
and flip; boxes cut by a crop are clipped to it.

Training (`train_pipeline`): the paper's resize to 256x256 then a random
224x224 crop (or a random-resized crop), a random horizontal flip, then
per batch Hide-and-Seek with `has_tf.hide_patches` on the uint8 images with
the dataset-mean pixel as fill, and only then the float normalisation
`(x - mean) / std` (so hidden pixels become ~0). Every random choice is
stateless and derived from `seed`: the same seed gives the same batches.
The functions mapped over the examples are traced as written, without
AutoGraph (their Python control flow is on Python values only):
converting their code took seconds at each run's start.

Decoding only what a crop needs: each crop is first stated as a window of the
original image, in whole pixels; a JPEG decodes just that window
(`tf.io.decode_and_crop_jpeg`, sized with `tf.image.extract_jpeg_shape`, no full
decode) with a 2-pixel margin, so that its pixels equal a whole decode's
(libjpeg upsamples chroma at a decoded region's edge from that edge alone;
tested), other formats decode whole and are sliced, and the window is resized
once to the crop's size. For "random_resized" that is exactly the crop. For
"resize_crop" (and evaluation's "center_crop") the window is the part of the
original that the 224 crop of the 256x256 resize shows:
- with "antialias", widened by the filter's reach and resized with the
  whole resize's scale and the crop's sub-pixel offset, it gives the
  pixels of resize-then-crop up to float rounding (on photo-like images
  a mean absolute difference of a few thousandths of a grey level and
  at most one level anywhere; tested);
- with "bilinear", its edges rounded to whole pixels: the edges move by
  up to half a source pixel, so the sampling grid shifts and stretches by
  a fraction of a pixel and the border rows and columns interpolate
  against the window's edge rather than the pixels beyond it. On
  photo-like 500x375 images (`has_tf.bench.photo_like`, rich in fine
  detail) that is a mean absolute difference of 1-4 grey levels (tested);
  on smooth content, less.

Resize methods (`RESIZE_METHODS`): "antialias" is TensorFlow's bilinear
resize with antialiasing (a triangle filter widened when shrinking, as
PIL's and torchvision's `Resize`); "bilinear" samples without widening the
filter (TensorFlow's default, as TF's official ImageNet preprocessing), so
it aliases when shrinking by more than about 2x, and costs much less (see
README, "Input pipeline speed").

Evaluation (`eval_pipeline`): the paper's resize 256 + centre 224 crop, its
10-crop (4 corners and centre, and their flips), or the threshold-free
protocol's (Choe et al.) resize straight to 224x224.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import tensorflow as tf

from has_tf import _checks
from has_tf import vocabulary
from has_tf.augmentation import cutmix
from has_tf.augmentation import hiding
from has_tf.input_pipeline.image_windows import _crop_of_resize
from has_tf.input_pipeline.image_windows import _crop_window
from has_tf.input_pipeline.image_windows import _decode_window
from has_tf.input_pipeline.image_windows import _resize
from has_tf.input_pipeline.image_windows import _resize_uint8
from has_tf.input_pipeline.image_windows import _to_uint8
from has_tf.input_pipeline.image_windows import crop_boxes
from has_tf.input_pipeline.image_windows import decode_image
from has_tf.input_pipeline.image_windows import example_fields
from has_tf.input_pipeline.image_windows import nearest_indices
from has_tf.input_pipeline.image_windows import resize_mask_nearest
from has_tf.input_pipeline.named_map import map_examples
from has_tf.postprocess.ten_crop import ten_crop_offsets

__all__ = [
    "EVAL_CROPS",
    "TRAIN_CROPS",
    "RESIZE_METHODS",
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD_RGB",
    "decode_image",
    "example_fields",
    "crop_boxes",
    "ImageAugmentation",
    "train_pipeline",
    "eval_pipeline",
    "nearest_indices",
    "resize_mask_nearest",
]

# The ImageNet (ILSVRC-2012 train) per-channel mean and std in pixel units:
# the figures torchvision's pretrained models normalise with, (0.485, 0.456,
# 0.406) and (0.229, 0.224, 0.225) on a [0, 1] scale, times 255. The one
# definition in has_tf (`--normalization=imagenet`, the demo, benchmarks).
IMAGENET_MEAN_RGB = vocabulary.IMAGENET_MEAN_RGB
IMAGENET_STD_RGB = vocabulary.IMAGENET_STD_RGB
TRAIN_CROPS = vocabulary.TRAIN_CROPS
EVAL_CROPS = vocabulary.EVAL_CROPS
RESIZE_METHODS = vocabulary.RESIZE_METHODS


def _seed_pairs(seed, stream: int) -> tf.data.Dataset:
    """An endless dataset of int64 `[2]` stateless seeds.

    For an int `seed`, random pairs from `seed + stream`; for None, pairs
    `(clock in microseconds + stream, position)`, which differ between
    processes running the same pipeline graph.
    """
    if seed is not None:
        return tf.data.Dataset.random(seed=seed + stream).batch(
            2, drop_remainder=True
        )

    def pair(position):
        clock = tf.cast(tf.timestamp() * 1e6, tf.int64)
        return tf.stack([clock + stream, position])

    return tf.data.Dataset.counter().map(pair)


def seeded_stream(
    dataset,
    batch_size,
    seed,
    shuffle_buffer,
    input_context=None,
    repeat=True,
    start_batch=0,
):
    """A training stream's examples, each zipped with its stateless seed
    pair (`_seed_pairs(seed, 0)`): this worker's shard, shuffled,
    repeated, from example `start_batch * batch_size` on (a resumed run
    sees what an uninterrupted one does from that batch)."""
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
    dataset = tf.data.Dataset.zip((dataset, _seed_pairs(seed, 0)))
    start_batch = _checks.nonnegative_int(start_batch, "start_batch")
    if start_batch:
        dataset = dataset.skip(start_batch * batch_size)
    return dataset


def _check_resize_method(resize_method):
    if resize_method not in RESIZE_METHODS:
        raise ValueError(
            f"Expected `resize_method` in {RESIZE_METHODS}. "
            f"Received: resize_method={resize_method!r}"
        )


def _check_sizes(batch_size, image_size, resize_size):
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_int(image_size, "image_size")
    _checks.positive_int(resize_size, "resize_size")


def _training_window(seed, crop, image_size, resize_size, method):
    """`(window_of, offset)`: the source window a training crop decodes
    (`window_of`, see `_decode_window`) and, for "resize_crop", the
    crop's int32 `[2]` offset in the resized frame (else None)."""
    if crop == "resize_crop":
        limit = resize_size - image_size + 1
        offset = tf.random.stateless_uniform(
            [2], seed=seed, maxval=limit, dtype=tf.int32, alg="philox"
        )
        return _crop_window(offset, image_size, resize_size, method), offset

    def window_of(shape):
        begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
            shape,
            tf.zeros([1, 0, 4]),
            seed=seed,
            area_range=(0.08, 1.0),
            aspect_ratio_range=(3 / 4, 4 / 3),
            min_object_covered=0.0,
            use_image_if_no_bounding_boxes=True,
        )
        return begin[0], begin[1], size[0], size[1]

    return window_of, None


def decode_training_window(
    image,
    seed,
    crop,
    image_size=224,
    resize_size=256,
    resize_method="antialias",
) -> tf.Tensor:
    """The pixels a training crop decodes, before any resize: uint8
    `[h, w, 3]` (what `python -m has_tf.bench pipeline` times as the
    floor of each crop's pipeline)."""
    window_of, _ = _training_window(
        seed, crop, image_size, resize_size, resize_method
    )
    return _decode_window(image, window_of)[0]


def _random_crop(image, seed, crop, image_size, resize_size, method):
    """One training crop: uint8 `[image_size, image_size, 3]`.

    `image` is decoded or encoded (see `decode_image`); only the crop's
    window is decoded and resized (module docstring).
    """
    window_of, offset = _training_window(
        seed, crop, image_size, resize_size, method
    )
    if crop == "resize_crop":
        image = _crop_of_resize(image, offset, image_size, resize_size, method)
    else:
        window, _, _ = _decode_window(image, window_of)
        image = _resize(window, [image_size, image_size], method)
    return _to_uint8(image)


def _normalize(images, mean, std):
    """`(images - mean) / std` in float32, per channel, any leading dims.

    Computed on rows of `W * 3` values against the per-channel constants
    tiled to a row: the same arithmetic (the same bits) as broadcasting the
    3 values, but TensorFlow's CPU kernels vectorise a long inner dimension
    and not one of 3 (about 4x faster on a 64x224x224x3 batch).
    """
    shape = tf.shape(images)
    width = shape[-2]
    rows = tf.reshape(tf.cast(images, tf.float32), [-1, width * 3])
    mean_row = tf.tile(tf.constant(mean, tf.float32), [width])
    std_row = tf.tile(tf.constant(std, tf.float32), [width])
    normalized = tf.reshape((rows - mean_row) / std_row, shape)
    return tf.ensure_shape(normalized, images.shape)


@dataclasses.dataclass(frozen=True)
class ImageAugmentation:
    """What `train_pipeline` does to each training image: crop, flip, and
    the method's hiding or mixing. Checked on construction.

    The default is the paper's: resize to 256x256, a random 224 crop, a
    random flip, Hide-and-Seek with patch sizes (0, 16, 32, 44, 56) at
    probability 0.5, no CutMix.

    Attributes:
      image_size: side of the training crop, in pixels (int >= 1).
      resize_size: side of the square resize before a "resize_crop"
        (>= `image_size`).
      crop: "resize_crop" (the paper: resize to 256x256, random 224 crop)
        or "random_resized" (area 8-100%, aspect 3/4-4/3, then resize).
      resize_method: one of `RESIZE_METHODS` (module docstring).
      patch_sizes: Hide-and-Seek patch sides in pixels, one drawn per
        image (0 hides nothing); None turns hiding off. Hidden pixels take
        the dataset mean (`train_pipeline`'s `mean`).
      hide_prob: probability of hiding a cell, in [0, 1].
      cutmix_beta: CutMix each batch (`augmentation.cutmix`, as
        wsolevaluation runs it: after the crops and flips, before the
        normalisation, so uint8 and float batches mix alike) with
        lambda ~ Beta(beta, beta), beta > 0; None: no CutMix. The labels
        become soft (`train_pipeline`'s `num_classes`).
      cutmix_prob: the probability of mixing a batch, in [0, 1].

    Raises:
      ValueError: an unknown `crop` or `resize_method`, non-positive sizes,
        a crop larger than the resize, bad patch sizes, probabilities or
        beta; naming the field and the value.
    """

    image_size: int = 224
    resize_size: int = 256
    crop: str = "resize_crop"
    resize_method: str = "antialias"
    patch_sizes: tuple | None = (0, 16, 32, 44, 56)
    hide_prob: float = 0.5
    cutmix_beta: float | None = None
    cutmix_prob: float = 1.0

    def __post_init__(self):
        _checks.positive_int(self.image_size, "image_size")
        _checks.positive_int(self.resize_size, "resize_size")
        if self.crop not in TRAIN_CROPS:
            raise ValueError(
                f"Expected `crop` in {TRAIN_CROPS}. Received: "
                f"crop={self.crop!r}"
            )
        _check_resize_method(self.resize_method)
        if self.crop == "resize_crop" and self.image_size > self.resize_size:
            raise ValueError(
                "Expected image_size <= resize_size. Received: "
                f"image_size={self.image_size}, "
                f"resize_size={self.resize_size}"
            )
        if self.patch_sizes is not None:
            sizes = tuple(_checks.patch_sizes(self.patch_sizes))
            object.__setattr__(self, "patch_sizes", sizes)
            _checks.probability(self.hide_prob, "hide_prob")
        if self.cutmix_beta is not None:
            cutmix.check_beta(self.cutmix_beta)
            _checks.probability(self.cutmix_prob, "cutmix_prob")


def train_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    augmentation: ImageAugmentation | None = None,
    mean: Sequence[float] = IMAGENET_MEAN_RGB,
    std: Sequence[float] = IMAGENET_STD_RGB,
    normalize: bool = True,
    num_classes: int | None = None,
    seed: int | None = 0,
    shuffle_buffer: int = 10_000,
    input_context: tf.distribute.InputContext | None = None,
    repeat: bool = True,
    start_batch: int = 0,
) -> tf.data.Dataset:
    """The training pipeline, ending in `(images, labels)` batches.

    Args:
      dataset: TFDS examples (see `example_fields`), images decoded uint8
        or encoded (`tfds.decode.SkipDecoding()`, which decodes nothing
        up front: each JPEG then decodes just its crop's window).
      batch_size: per-replica batch size when `input_context` is given,
        else the global one. Incomplete batches are dropped (static shapes
        for XLA and TPUs).
      augmentation: crop, flip, hiding and mixing (`ImageAugmentation`);
        None: `ImageAugmentation()`, the paper's.
      mean: per-channel mean in pixel units: the hidden pixels' fill and
        the normalisation's shift (the dataset mean, see
        `has_tf.channel_moments`).
      std: per-channel std for the normalisation.
      normalize: end with the float normalisation; False keeps the uint8
        pixels, for a model that normalises them itself
        (`has_tf.PixelNormalization`, how the apps build models): a
        quarter of the bytes to the accelerator.
      num_classes: the classes, needed with CutMix (the labels become
        soft `[B, num_classes]`); else unused.
      seed: every random draw (order, crops, flips, masks, CutMix)
        derives from it and TensorFlow's global seed
        (`tf.random.set_seed`), which `tf.data`'s shuffle and random
        datasets mix in (the apps set the global seed to the run's seed
        first; set it too for the same batches elsewhere). None draws
        crops, flips and masks from the clock and the position instead,
        differently in every process running the pipeline (tf.data
        service workers, `has_tf.data_service`): not repeatable.
      shuffle_buffer: examples in the shuffle buffer (0 disables it).
      input_context: shards the input per worker for multi-worker training.
      repeat: repeat forever (for `fit` with `steps_per_epoch`).
      start_batch: begin with this batch of the stream (a run resumed at
        step k passes k): the batches, crops and masks are those an
        uninterrupted run gives from its k-th batch on. The skipped
        examples are read but not augmented.

    Returns:
      A dataset of `(images, labels)`: images float32 `[B, S, S, 3]`
      normalised (uint8 pixels with `normalize=False`), labels int64
      `[B]` (with CutMix float32 `[B, num_classes]`, soft).

    Raises:
      ValueError: a non-positive `batch_size`, `augmentation` not an
        `ImageAugmentation`, or CutMix without `num_classes`.
    """
    _checks.positive_int(batch_size, "batch_size")
    if augmentation is None:
        augmentation = ImageAugmentation()
    if not isinstance(augmentation, ImageAugmentation):
        raise ValueError(
            "Expected `augmentation` to be None or an "
            "input_pipeline.images.ImageAugmentation. Received: "
            f"augmentation={augmentation!r}"
        )
    aug = augmentation
    patch_sizes, hide_prob = aug.patch_sizes, aug.hide_prob
    fill = [min(255.0, max(0.0, float(round(m)))) for m in mean]
    if aug.cutmix_beta is not None:
        num_classes = _checks.positive_int(num_classes, "num_classes")

    dataset = seeded_stream(
        dataset,
        batch_size,
        seed,
        shuffle_buffer,
        input_context,
        repeat,
        start_batch,
    )

    @tf.autograph.experimental.do_not_convert
    def augment(example, pair):
        crop_seed, flip_seed = tf.unstack(
            tf.random.experimental.stateless_split(pair, 2, alg="philox")
        )
        image, label, _ = example_fields(example)
        image = _random_crop(
            image,
            crop_seed,
            aug.crop,
            aug.image_size,
            aug.resize_size,
            aug.resize_method,
        )
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
        return image, label

    dataset = map_examples(dataset, augment)
    dataset = dataset.batch(batch_size, drop_remainder=True)

    @tf.autograph.experimental.do_not_convert
    def hide_and_normalize(batch, pair):
        images, labels = batch
        if patch_sizes is not None:
            images = hiding.hide_patches(
                images, patch_sizes, hide_prob, fill, seed=pair
            )
        return (_normalize(images, mean, std) if normalize else images), labels

    if aug.cutmix_beta is not None:

        @tf.autograph.experimental.do_not_convert
        def mix(batch, pair):
            return cutmix.cutmix_batch(
                *batch, num_classes, aug.cutmix_beta, aug.cutmix_prob, pair
            )

        dataset = tf.data.Dataset.zip(
            (dataset, _seed_pairs(seed, 2).skip(start_batch))
        ).map(mix, num_parallel_calls=tf.data.AUTOTUNE)
    if normalize or patch_sizes is not None:
        batch_seeds = _seed_pairs(seed, 1)
        if start_batch:
            batch_seeds = batch_seeds.skip(start_batch)
        dataset = tf.data.Dataset.zip((dataset, batch_seeds)).map(
            hide_and_normalize, num_parallel_calls=tf.data.AUTOTUNE
        )
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def _resize_extras(example, boxes, shape, size) -> dict:
    """What the "resize" crop carries beyond the image, for the official
    tool's rules: masks at the crop's size (nearest, OpenCV's rule), the
    boxes as the tool's integer corners and the image's size
    (`wsol_boxes`, `image_size` where the dataset keeps them; else derived
    from the normalised boxes and the decoded size)."""
    extra = {}
    if "mask" in example:
        extra["mask"] = resize_mask_nearest(example["mask"], size)
        ignore = example.get("ignore_mask")
        extra["ignore"] = (
            resize_mask_nearest(ignore, size)
            if ignore is not None
            else tf.zeros(size, tf.uint8)
        )
    if "wsol_boxes" in example:
        corners = tf.cast(example["wsol_boxes"], tf.int32)
        image_size = tf.cast(example["image_size"], tf.int32)
    else:
        height = tf.cast(shape[0], tf.float32)
        width = tf.cast(shape[1], tf.float32)
        scale = tf.stack([width, height, width, height])
        xyxy = tf.gather(boxes, [1, 0, 3, 2], axis=1) * scale
        corners = tf.cast(tf.round(xyxy), tf.int32) - [0, 0, 1, 1]
        image_size = tf.stack([shape[1], shape[0]])
    extra.update(
        wsol_boxes=tf.reshape(corners, [-1, 4]),
        num_wsol_boxes=tf.shape(corners)[0],
        image_size=image_size,
    )
    return extra


def eval_pipeline(
    dataset: tf.data.Dataset,
    batch_size: int,
    crop: str = "center_crop",
    image_size: int = 224,
    resize_size: int = 256,
    mean: Sequence[float] = IMAGENET_MEAN_RGB,
    std: Sequence[float] = IMAGENET_STD_RGB,
    resize_method: str = "antialias",
    normalize: bool = True,
) -> tf.data.Dataset:
    """The evaluation pipeline: fixed crops, boxes in the crop's frame.

    Args:
      dataset: TFDS examples (see `example_fields`), images decoded or
        encoded. "center_crop" decodes only the crop's window of a JPEG
        (module docstring); "ten_crop" and "resize" need the whole image.
      batch_size: images per batch (the last batch may be smaller).
      crop: "center_crop" (resize to 256x256, centre 224 crop),
        "ten_crop" (the 4 corner and centre 224 crops of the 256x256 resize
        and their flips) or "resize" (straight to 224x224, Choe et al.).
      image_size, resize_size: crop and resize sides.
      mean, std: per-channel normalisation in pixel units.
      resize_method: one of `RESIZE_METHODS`; wsolevaluation resizes with
        PIL's antialiased bilinear, which "antialias" matches.
      normalize: float normalised images; False keeps the uint8 pixels
        (for a model taking pixels, as the apps build them).

    Returns:
      Batches of dicts: "image" float32 `[B, S, S, 3]` normalised, or
      uint8 pixels with `normalize=False` (`[B, 10, S, S, 3]`
      for "ten_crop": corners TL, TR, BL, BR, centre, then the same
      flipped), "label" int64 `[B]`, "boxes" float32 `[B, N, 4]` padded
      with zeros and "num_boxes" int32 `[B]`. Boxes are normalised to the
      centre crop ("center_crop"), the resized image ("resize") or the
      256x256 resize ("ten_crop", where crops map back by their offsets).
      "resize" adds what the official tool scores with: "wsol_boxes" int32
      `[B, M, 4]` (inclusive `x0, y0, x1, y1` pixel corners in the
      original image, padded), "num_wsol_boxes" `[B]`, "image_size" int32
      `[B, 2]` (width, height), and for datasets with masks "mask" and
      "ignore" uint8 `[B, S, S]` (nearest-resized as OpenCV does).
      Every crop adds "image_id" tf.string `[B]` where the examples have
      an "image_id" (or an "index", their position in the split).
    """
    _check_sizes(batch_size, image_size, resize_size)
    if crop not in EVAL_CROPS:
        raise ValueError(
            f"Expected `crop` in {EVAL_CROPS}. Received: crop={crop!r}"
        )
    _check_resize_method(resize_method)
    if crop != "resize" and image_size > resize_size:
        raise ValueError(
            "Expected image_size <= resize_size. Received: "
            f"image_size={image_size}, resize_size={resize_size}"
        )
    offsets = ten_crop_offsets(image_size, resize_size)[:5]
    size = [image_size, image_size]

    @tf.autograph.experimental.do_not_convert
    def prepare(example):
        image, label, boxes = example_fields(example)
        if crop == "center_crop":
            offset = offsets[4]  # The centre.
            image = _crop_of_resize(
                image, offset, image_size, resize_size, resize_method
            )
            image = _to_uint8(image)
            boxes = crop_boxes(boxes, offset, size, (resize_size, resize_size))
        elif crop == "resize":
            decoded = decode_image(image)
            extra = _resize_extras(example, boxes, tf.shape(decoded), size)
            image = _resize_uint8(decoded, size, resize_method)
        else:
            image = _resize_uint8(
                decode_image(image), [resize_size, resize_size], resize_method
            )
            crops = [
                image[t : t + image_size, s : s + image_size]
                for t, s in offsets
            ]
            crops += [tf.image.flip_left_right(c) for c in crops]
            image = tf.stack(crops)
        return {
            "image": _normalize(image, mean, std) if normalize else image,
            "label": label,
            "boxes": boxes,
            "num_boxes": tf.shape(boxes)[0],
            **(extra if crop == "resize" else {}),
            **_image_id(example),
        }

    dataset = map_examples(dataset, prepare)
    return dataset.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _image_id(example) -> dict:
    """`{"image_id": tf.string}`: the dataset's id, else the example's
    position in its split ("index", as `enumerate` gives it), else
    nothing."""
    if "image_id" in example:
        return {"image_id": example["image_id"]}
    if "index" in example:
        return {"image_id": tf.strings.as_string(example["index"])}
    return {}
