"""Hide-and-Seek masks as pure, in-graph TensorFlow ops.

Hide-and-Seek (Singh & Lee, ICCV 2017) hides random patches of each training
image, or random segments of each training video, so that a classifier must
use all of an object or action rather than its most discriminative part.

Images (`hide_patches`, `patch_mask`):

1. For each image, draw one patch size S uniformly from `patch_sizes`
   (0 means "hide nothing" for that image).
2. Lay an S x S grid anchored at the top-left corner. Cells at the right and
   bottom edges are cut short, not dropped: 8 pixels with S=3 give cells of
   3, 3 and 2 pixels. A patch size at least as large as the image makes the
   whole image one cell.
3. Hide each cell independently with probability `hide_prob`; one mask for
   all channels.
4. Hidden pixels take `fill_value`: the paper uses the dataset-mean RGB, so
   that a first-layer filter sees, in expectation, the same input statistics
   at training and test time.

Sequences (`hide_segments`): split the time axis into contiguous segments of
`segment_size` steps (the last one cut short), hide each segment with
`hide_prob` and fill it with `fill_value` (the paper: the dataset-mean
feature vector). `sample_uniform` resamples a variable-length sequence to a
fixed number of steps (the paper's F_total).

Every op here is vectorised over the batch (no Python loop over images,
patches or segments, no call back into Python) and runs eagerly, inside
`tf.function`, inside `tf.data.Dataset.map` and under `jit_compile=True`
when shapes are static. Randomness is stateless: with a `seed` the same
inputs give the same mask on any run, device or replica; with `seed=None`
a fresh seed is drawn from TensorFlow's global random state on each call.

Seeds may be a Python int, a pair of Python ints, or an integer tensor of
shape `[2]`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf

from has_tf import _checks
from has_tf.augmentation._mask_basics import FillLike
from has_tf.augmentation._mask_basics import SeedLike
from has_tf.augmentation._mask_basics import _as_seed
from has_tf.augmentation._mask_basics import _below
from has_tf.augmentation._mask_basics import _check_hide_prob
from has_tf.augmentation._mask_basics import _check_rank
from has_tf.augmentation._mask_basics import _check_real_dtype
from has_tf.augmentation._mask_basics import _dim
from has_tf.augmentation._mask_basics import _fill_vector
from has_tf.augmentation._mask_basics import _in_xla_context
from has_tf.augmentation._mask_basics import _random_bits
from has_tf.augmentation._mask_basics import _static_zero

__all__ = [
    "hide_patches",
    "patch_mask",
    "hide_segments",
    "segment_mask",
    "sample_uniform",
]


def _sample_grid(batch, height, width, sizes, hide_prob, seed):
    """Draws each image's patch size and its hidden cells.

    Returns:
      `(choice, side, hidden)`, or `None` when no patch size is positive.
      `choice`: int32 `[batch]`, each image's index into `sizes`. `side`:
      int32 `[batch]`, its cell side in pixels (images that drew 0 get a
      side covering the whole image). `hidden`: bool
      `[batch, rows, cols]`, the hidden cells on a grid big enough for the
      smallest positive patch size (cells past an image's grid are unused).
    """
    positive = [s for s in sizes if s > 0]
    if not positive:
        return None
    smallest = min(positive)
    if isinstance(height, int) and isinstance(width, int):
        rows = max(1, math.ceil(height / smallest))
        cols = max(1, math.ceil(width / smallest))
        whole = max(height, width, 1)
    else:  # Dynamic image size: the grid shape is a tensor.
        rows = tf.maximum(1, (height + smallest - 1) // smallest)
        cols = tf.maximum(1, (width + smallest - 1) // smallest)
        whole = tf.maximum(tf.maximum(height, width), 1)
    # One draw per image for its size, then one per cell.
    bits = _random_bits([batch, 1 + rows * cols], seed)
    # floor(u * K / 2**32) is uniform over [0, K) for u uniform in 32 bits.
    choice = tf.cast(
        tf.bitwise.right_shift(bits[:, 0] * len(sizes), 32), tf.int32
    )
    # An image that drew 0 gets one cell covering it, never hidden below.
    side = tf.gather(tf.constant(sizes, tf.int32), choice)
    hides = side > 0
    side = tf.where(hides, side, whole)
    hidden = _below(tf.reshape(bits[:, 1:], [batch, rows, cols]), hide_prob)
    hidden &= hides[:, None, None]
    return choice, side, hidden


def _as_batch(images: tf.Tensor):
    images = tf.convert_to_tensor(images)
    _check_real_dtype(images, "images")
    _check_rank(images, "images", (3, 4), ("[H, W, C]", "[B, H, W, C]"))
    single = images.shape.rank == 3
    return (images[None] if single else images), single


def patch_mask(
    images: tf.Tensor,
    patch_sizes: Sequence[int] | int = (32,),
    hide_prob: float = 0.5,
    seed: SeedLike = None,
) -> tf.Tensor:
    """Returns the Hide-and-Seek mask `hide_patches` applies for `seed`.

    `hide_patches(images, ..., seed=s)` equals
    `tf.where(patch_mask(images, ..., seed=s), fill, images)` for the same
    arguments; the mask is meant for tests and pictures, `hide_patches`
    applies it without building it pixel by pixel.

    Args:
      images: `[H, W, C]` or `[B, H, W, C]`, channels last, any real dtype;
        only its shape is used.
      patch_sizes: the patch sizes S to draw from, uniformly, once per image;
        0 hides nothing. Python ints >= 0.
      hide_prob: probability in [0, 1] that a cell is hidden.
      seed: None, an int, a pair of ints or an integer tensor of shape [2].

    Returns:
      bool `[H, W, 1]` or `[B, H, W, 1]` (matching `images`), True where a
      pixel is hidden.

    Raises:
      ValueError: for a bad rank, dtype, `patch_sizes`, `hide_prob` or seed.
    """
    batch_images, single = _as_batch(images)
    sizes = _checks.patch_sizes(patch_sizes)
    hide_prob = _check_hide_prob(hide_prob)
    batch, height, width = (_dim(batch_images, a) for a in range(3))
    grid = _sample_grid(batch, height, width, sizes, hide_prob, _as_seed(seed))
    if grid is None:
        mask = tf.zeros([batch, height, width, 1], tf.bool)
    else:
        _, side, hidden = grid
        row_cell = tf.range(height)[None, :] // side[:, None]  # [B, H]
        col_cell = tf.range(width)[None, :] // side[:, None]  # [B, W]
        mask = tf.gather(hidden, col_cell, axis=2, batch_dims=1)  # [B,r,W]
        mask = tf.gather(mask, row_cell, axis=1, batch_dims=1)  # [B, H, W]
        mask = mask[..., None]
    return mask[0] if single else mask


def _unsigned(dtype: tf.DType) -> tf.DType:
    return {1: tf.uint8, 2: tf.uint16, 4: tf.uint32, 8: tf.uint64}[dtype.size]


def _word_view(row, dtype: tf.DType):
    """The widest unsigned word whose size tiles a row of `row` values.

    Returns `(word_dtype, values_per_word)`; rows of unknown length use the
    unsigned type of `dtype` itself.
    """
    if isinstance(row, int):
        for word_dtype in (tf.uint64, tf.uint32, tf.uint16):
            word = word_dtype.size
            if word >= dtype.size and (row * dtype.size) % word == 0:
                return word_dtype, word // dtype.size
    return _unsigned(dtype), 1


def _to_words(values: tf.Tensor, word_dtype: tf.DType, per_word: int):
    """Bitcasts `[..., Q]` integers to `[..., Q / per_word]` words."""
    values = tf.bitcast(values, _unsigned(values.dtype))
    if per_word > 1:
        shape = tf.concat([tf.shape(values)[:-1], [-1, per_word]], 0)
        values = tf.reshape(values, shape)
    return tf.bitcast(values, word_dtype)


# Above this many cell columns the one-hot matmul (whose cost grows with
# columns squared) gives way to a gather (linear in the row length).
_MATMUL_MAX_COLUMNS = 64


def _cell_pattern(sizes, choice, side, hidden, width, channels):
    """Hidden flags of every value of an image row, per cell row.

    Value j of an image row lies in pixel column j // channels, so in cell
    column (j // channels) // S. For the usual few columns a one-hot matmul
    does the lookup (the one-hot table has one slice per entry of `sizes`,
    not per image, and is constant-folded when shapes are static); for many
    small cells a gather does.

    Args:
      sizes: the patch sizes (Python ints; 0 hides nothing).
      choice: int32 `[B]`, each image's index into `sizes`.
      side: int32 `[B]`, each image's cell side.
      hidden: bool `[B, rows, cols]`.
      width, channels: image width and channels (ints or scalar tensors).

    Returns:
      bool `[B, rows, width * channels]`, True where hidden.
    """
    value_col = tf.range(width * channels) // channels  # [Q] pixel column
    cols = hidden.shape[2]
    if cols is not None and cols > _MATMUL_MAX_COLUMNS:
        col_cell = value_col[None, :] // side[:, None]  # [B, Q]
        return tf.gather(hidden, col_cell, axis=2, batch_dims=1)
    cols = tf.shape(hidden)[2]
    sides = tf.constant([s if s > 0 else 1 for s in sizes], tf.int32)
    col_cell = value_col[None, :] // sides[:, None]  # [K, Q]
    table = tf.cast(
        tf.equal(col_cell[:, None, :], tf.range(cols)[None, :, None]),
        tf.float32,
    )  # [K, cols, Q]
    pattern = tf.matmul(tf.cast(hidden, tf.float32), tf.gather(table, choice))
    return pattern > 0.5


def hide_patches(
    images: tf.Tensor,
    patch_sizes: Sequence[int] | int = (32,),
    hide_prob: float = 0.5,
    fill_value: FillLike = 0,
    seed: SeedLike = None,
) -> tf.Tensor:
    """Hides random grid cells of each image (Hide-and-Seek).

    Per image, one patch size S is drawn uniformly from `patch_sizes`; an
    S x S grid anchored at the top-left corner (edge cells cut short) is laid
    over the image and each cell is hidden with probability `hide_prob`, for
    all channels at once. Hidden pixels take `fill_value`.

    >>> x = tf.ones([4, 4, 1])
    >>> y = hide_patches(x, patch_sizes=[2], hide_prob=1.0, fill_value=7)
    >>> float(tf.reduce_min(y)), float(tf.reduce_max(y))
    (7.0, 7.0)

    The mask is applied without building it pixel by pixel: rows are grouped
    into bands that no cell boundary crosses, a `[bands, width * channels]`
    pattern is made from the small cell grid, and one broadcasting select
    writes the output (floats, and integers under XLA, which fuses it into
    one loop); integers outside XLA take two word-wide bitwise passes,
    `(x & keep) | fill`, which TensorFlow's kernels run 8 bytes at a time.

    Args:
      images: `[H, W, C]` or `[B, H, W, C]`, channels last, any real dtype
        (uint8 in [0, 255], float16, bfloat16, float32, ...).
      patch_sizes: the patch sizes to draw from, uniformly, once per image:
        Python ints >= 0, where 0 hides nothing (the paper's "mixed" setting
        is `(0, 16, 32, 44, 56)`). A size larger than the image makes the
        whole image one cell.
      hide_prob: probability in [0, 1] that a cell is hidden (the paper: 0.5).
      fill_value: a scalar or one value per channel (`[C]`), in the units of
        `images` (the paper: the dataset-mean RGB in pixel space). Integer
        images get the fill rounded and saturated to their dtype.
      seed: None (a fresh draw each call), an int, a pair of ints or an
        integer tensor of shape [2] (stateless: same seed, same mask).

    Returns:
      A tensor of the shape and dtype of `images` with hidden cells filled.

    Raises:
      ValueError: `images` of rank other than 3 or 4 or of a non-numeric
        dtype; empty or negative `patch_sizes`; `hide_prob` outside [0, 1];
        `fill_value` whose length does not match the channels; a bad seed.

    References:
      Singh & Lee, "Hide-and-Seek: Forcing a Network to be Meticulous for
      Weakly-supervised Object and Action Localization", ICCV 2017.
    """
    batch_images, single = _as_batch(images)
    sizes = _checks.patch_sizes(patch_sizes)
    hide_prob = _check_hide_prob(hide_prob)
    dtype = batch_images.dtype
    batch, height, width, channels = (_dim(batch_images, a) for a in range(4))
    fill = _fill_vector(fill_value, channels, dtype)
    if any(isinstance(d, int) and d == 0 for d in (height, width)):
        # An empty image (static size 0): nothing to hide.
        return batch_images[0] if single else batch_images
    grid = _sample_grid(batch, height, width, sizes, hide_prob, _as_seed(seed))
    if grid is None:  # Only S=0: nothing is ever hidden.
        return batch_images[0] if single else batch_images
    choice, side, hidden = grid

    # Rows come in bands of `band` rows that no cell boundary crosses: every
    # boundary sits at a multiple of some S (or past the image), so any
    # common divisor of the image height and all sizes works.
    band = 1
    if isinstance(height, int):
        band = height
        for size in sizes:
            if size > 0:
                band = math.gcd(band, min(size, height))
    bands = height // band
    row = width * channels  # Values in one image row, channels interleaved.
    pattern = _cell_pattern(
        sizes, choice, side, hidden, width, channels
    )  # bool [B, rows, Q]
    row_cell = (tf.range(bands) * band)[None, :] // side[:, None]  # [B, n]

    def to_bands(cell_rows):  # [B, rows, ...] -> [B * bands, 1, ...]
        banded = tf.gather(cell_rows, row_cell, axis=1, batch_dims=1)
        return tf.reshape(
            banded, tf.concat([[batch * bands, 1], tf.shape(cell_rows)[2:]], 0)
        )

    flat = tf.reshape(batch_images, [batch * bands, band, row])
    fill_row = tf.tile(fill, [width])  # [Q]: the fill of each value.
    if dtype.is_integer and not _in_xla_context():
        # `tf.where` runs one value at a time; `(x & keep) | fill` over
        # machine words handles up to 8 uint8 values per instruction.
        word_dtype, per_word = _word_view(row, dtype)
        unsigned = _unsigned(dtype)
        keep = tf.cast(~pattern, unsigned) * unsigned.max  # All ones.
        keep = _to_words(keep, word_dtype, per_word)  # [B, rows, Qw]
        out = tf.bitwise.bitwise_and(
            _to_words(flat, word_dtype, per_word), to_bands(keep)
        )
        if not _static_zero(fill_value):
            fill_words = _to_words(fill_row, word_dtype, per_word)
            fills = tf.bitwise.bitwise_and(fill_words, tf.bitwise.invert(keep))
            out = tf.bitwise.bitwise_or(out, to_bands(fills))
        out = tf.bitcast(tf.bitcast(out, _unsigned(dtype)), dtype)
    else:
        out = tf.where(to_bands(pattern), fill_row, flat)
    out = tf.reshape(out, tf.shape(batch_images))
    return out[0] if single else out


# --------------------------------------------------------------------------
# Sequences.
# --------------------------------------------------------------------------


def _as_sequence_batch(sequences: tf.Tensor):
    sequences = tf.convert_to_tensor(sequences)
    _check_real_dtype(sequences, "sequences")
    _check_rank(sequences, "sequences", (2, 3), ("[T, D]", "[B, T, D]"))
    single = sequences.shape.rank == 2
    return (sequences[None] if single else sequences), single


def _segment_hidden(batch, steps, segment_size, hide_prob, seed):
    """bool `[batch, steps]`: True at the steps of hidden segments."""
    if isinstance(steps, int):
        segments = max(1, math.ceil(steps / segment_size))
    else:
        segments = tf.maximum(1, (steps + segment_size - 1) // segment_size)
    hidden = _below(_random_bits([batch, segments], seed), hide_prob)
    return tf.gather(hidden, tf.range(steps) // segment_size, axis=1)


def segment_mask(
    sequences: tf.Tensor,
    segment_size: int,
    hide_prob: float = 0.5,
    seed: SeedLike = None,
) -> tf.Tensor:
    """Returns the mask `hide_segments` applies for `seed`.

    Args:
      sequences: `[T, D]` or `[B, T, D]`, any real dtype; only the shape is
        used.
      segment_size: steps per segment (>= 1); the last segment is cut short.
      hide_prob: probability in [0, 1] that a segment is hidden.
      seed: None, an int, a pair of ints or an integer tensor of shape [2].

    Returns:
      bool `[T, 1]` or `[B, T, 1]` (matching `sequences`), True at hidden
      steps.
    """
    batch_seq, single = _as_sequence_batch(sequences)
    segment_size = _checks.positive_int(segment_size, "segment_size")
    hide_prob = _check_hide_prob(hide_prob)
    batch, steps = _dim(batch_seq, 0), _dim(batch_seq, 1)
    mask = _segment_hidden(
        batch, steps, segment_size, hide_prob, _as_seed(seed)
    )[..., None]
    return mask[0] if single else mask


def hide_segments(
    sequences: tf.Tensor,
    segment_size: int,
    hide_prob: float = 0.5,
    fill_value: FillLike = 0,
    seed: SeedLike = None,
) -> tf.Tensor:
    """Hides random contiguous segments of each sequence (Hide-and-Seek).

    The time axis is split into segments of `segment_size` steps starting at
    step 0 (the last one cut short); each segment is hidden with probability
    `hide_prob` and its steps take `fill_value`.

    >>> x = tf.ones([5, 2])
    >>> y = hide_segments(x, segment_size=2, hide_prob=1.0, fill_value=-1)
    >>> y[:, 0].numpy().tolist()
    [-1.0, -1.0, -1.0, -1.0, -1.0]

    Args:
      sequences: `[T, D]` or `[B, T, D]` feature sequences (e.g. per-snippet
        C3D or I3D features), any real dtype. T may be unknown (tf.data).
      segment_size: steps per segment, an int >= 1 (the paper: 100 of 2000).
      hide_prob: probability in [0, 1] that a segment is hidden.
      fill_value: a scalar or one value per feature (`[D]`); the paper uses
        the dataset-mean feature vector.
      seed: None, an int, a pair of ints or an integer tensor of shape [2].

    Returns:
      A tensor of the shape and dtype of `sequences`.

    Raises:
      ValueError: `sequences` of rank other than 2 or 3 or a non-numeric
        dtype, `segment_size < 1`, `hide_prob` outside [0, 1], a
        `fill_value` whose length does not match D, a bad seed.
    """
    batch_seq, single = _as_sequence_batch(sequences)
    segment_size = _checks.positive_int(segment_size, "segment_size")
    hide_prob = _check_hide_prob(hide_prob)
    batch, steps, depth = (_dim(batch_seq, a) for a in range(3))
    fill = _fill_vector(fill_value, depth, batch_seq.dtype)
    hide = _segment_hidden(
        batch, steps, segment_size, hide_prob, _as_seed(seed)
    )
    out = tf.where(hide[..., None], fill, batch_seq)
    return out[0] if single else out


def sample_uniform(sequence: tf.Tensor, num_samples: int) -> tf.Tensor:
    """Resamples a `[T, D]` sequence to `num_samples` evenly spaced steps.

    Step i of the output is step `floor((i + 0.5) * T / num_samples)` of the
    input: the centres of `num_samples` equal slices of the sequence. Long
    sequences are subsampled, short ones repeat steps (the paper's F_total,
    2000 features per video). Deterministic, so training and testing see the
    same steps.

    >>> sample_uniform(tf.reshape(tf.range(8), [8, 1]), 4)[:, 0].numpy()
    array([1, 3, 5, 7], dtype=int32)

    Args:
      sequence: `[T, D]`, any dtype, T >= 1 and possibly unknown.
      num_samples: output length, an int >= 1.

    Returns:
      `[num_samples, D]` of the dtype of `sequence`.

    Raises:
      ValueError: `sequence` not of rank 2, `num_samples < 1`, or a
        statically empty sequence.
    """
    sequence = tf.convert_to_tensor(sequence)
    if sequence.shape.rank != 2:
        raise ValueError(
            "Expected `sequence` of rank 2 [T, D]. "
            f"Received: sequence.shape={sequence.shape}"
        )
    num_samples = _checks.positive_int(num_samples, "num_samples")
    if sequence.shape[0] == 0:
        raise ValueError(
            "Expected a non-empty sequence. "
            f"Received: sequence.shape={sequence.shape}"
        )
    steps = tf.cast(tf.shape(sequence)[0], tf.int64)
    # Integer arithmetic: floor((2i + 1) * T / (2N)), exact for any length.
    index = (
        (tf.range(num_samples, dtype=tf.int64) * 2 + 1)
        * steps
        // (2 * num_samples)
    )
    return tf.gather(sequence, index)
