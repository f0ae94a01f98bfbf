"""Tests for has_tf.augmentation.hiding: exact cases, statistics, seeds,
graph modes."""

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from has_tf.augmentation import hiding

MIXED = (0, 16, 32, 44, 56)


def cells_of(mask_2d, side):
    """The hidden flag of each cell, read at the cell's top-left pixel."""
    return mask_2d[::side, ::side]


def expand_cells(cells, side, height, width):
    """NumPy reference: a cell grid blown up to pixels, edges cut short."""
    full = np.repeat(np.repeat(cells, side, axis=0), side, axis=1)
    return full[:height, :width]


# ---------------------------------------------------------------- exact cases


def test_8x8_with_side_3_has_cells_of_3_3_and_2():
    # Over many seeds the mask is constant on the blocks [0:3], [3:6],
    # [6:8] in both directions, and every one of the 9 cells is seen both
    # hidden and shown.
    blocks = [slice(0, 3), slice(3, 6), slice(6, 8)]
    seen = np.zeros([3, 3, 2], bool)
    for seed in range(40):
        mask = hiding.patch_mask(tf.zeros([8, 8, 1]), [3], 0.5, seed=seed)
        mask = mask.numpy()[..., 0]
        for i, rows in enumerate(blocks):
            for j, cols in enumerate(blocks):
                block = mask[rows, cols]
                assert block.min() == block.max(), (seed, i, j, mask)
                seen[i, j, int(block[0, 0])] = True
        np.testing.assert_array_equal(
            mask, expand_cells(cells_of(mask, 3), 3, 8, 8)
        )
    assert seen.all()


def test_hide_patches_matches_a_hand_written_mask():
    images = np.arange(2 * 8 * 8 * 2, dtype=np.float32).reshape(2, 8, 8, 2)
    fill = np.array([-1.0, -2.0], np.float32)
    out = hiding.hide_patches(images, [3], 0.5, fill, seed=7).numpy()
    mask = hiding.patch_mask(images, [3], 0.5, seed=7).numpy()
    expected = images.copy()
    for b in range(2):
        cells = cells_of(mask[b, ..., 0], 3)
        hidden = expand_cells(cells, 3, 8, 8)
        expected[b][hidden] = fill
    np.testing.assert_array_equal(out, expected)
    assert 0 < mask.mean() < 1


def test_hide_prob_zero_is_identity_and_one_fills_everything():
    images = tf.random.uniform([3, 20, 17, 3], 0, 255, seed=1)
    same = hiding.hide_patches(images, MIXED, 0.0, 5.0, seed=1)
    np.testing.assert_array_equal(same.numpy(), images.numpy())
    full = hiding.hide_patches(images, [4, 7], 1.0, [1.0, 2.0, 3.0], seed=1)
    expected = np.broadcast_to([1.0, 2.0, 3.0], images.shape)
    np.testing.assert_array_equal(full.numpy(), expected)


def test_patch_size_zero_never_hides():
    images = tf.random.uniform([4, 16, 16, 3], seed=2)
    out = hiding.hide_patches(images, [0], 1.0, -1.0, seed=3)
    np.testing.assert_array_equal(out.numpy(), images.numpy())
    assert not hiding.patch_mask(images, [0], 1.0, seed=3).numpy().any()


def test_patch_larger_than_image_is_one_cell():
    masks = hiding.patch_mask(tf.zeros([64, 10, 12, 1]), [50], 0.5, seed=4)
    masks = masks.numpy().reshape(64, -1)
    assert (masks.min(axis=1) == masks.max(axis=1)).all()
    assert 0 < masks[:, 0].mean() < 1


def test_per_channel_fill_and_single_image():
    image = tf.zeros([6, 6, 3], tf.uint8)
    out = hiding.hide_patches(image, [2], 1.0, [10, 20, 30], seed=0)
    assert out.shape == (6, 6, 3) and out.dtype == tf.uint8
    np.testing.assert_array_equal(out.numpy()[2, 3], [10, 20, 30])


def test_integer_fill_is_rounded_and_saturated():
    image = tf.zeros([4, 4, 3], tf.uint8)
    out = hiding.hide_patches(image, [4], 1.0, [123.6, -5.0, 300.0], seed=0)
    np.testing.assert_array_equal(out.numpy()[0, 0], [124, 0, 255])


# ----------------------------------------------------------------- statistics


def test_hidden_fraction_within_binomial_bounds():
    hide_prob = 0.3
    masks = hiding.patch_mask(
        tf.zeros([200, 32, 32, 1]), [8], hide_prob, seed=11
    ).numpy()
    cells = masks[:, ::8, ::8, 0]  # 200 * 16 independent cells.
    n = cells.size
    sigma = math.sqrt(hide_prob * (1 - hide_prob) / n)
    assert abs(cells.mean() - hide_prob) < 5 * sigma


def test_mixed_sizes_are_drawn_about_equally_often():
    batch = 5000
    choice, side, _ = hiding._sample_grid(
        batch, 224, 224, MIXED, 0.5, hiding._as_seed(5)
    )
    counts = np.bincount(choice.numpy(), minlength=len(MIXED))
    expected = batch / len(MIXED)
    sigma = math.sqrt(batch * (1 / 5) * (4 / 5))
    assert (np.abs(counts - expected) < 5 * sigma).all(), counts
    # Images that drew 0 hide nothing; the others hide on their own grid.
    masks = hiding.patch_mask(
        tf.zeros([300, 64, 64, 1]), (0, 16), 1.0, seed=6
    ).numpy()
    hidden_images = masks.reshape(300, -1).all(axis=1)
    shown_images = ~masks.reshape(300, -1).any(axis=1)
    assert (hidden_images | shown_images).all()
    assert 0.4 < hidden_images.mean() < 0.6


def test_each_image_is_block_constant_on_the_grid_it_drew():
    images = tf.zeros([64, 50, 37, 1])
    choice, side, hidden = hiding._sample_grid(
        64, 50, 37, (5, 11, 0), 0.5, hiding._as_seed(9)
    )
    masks = hiding.patch_mask(images, (5, 11, 0), 0.5, seed=9).numpy()
    for b in range(64):
        s = int(side[b])
        rows, cols = math.ceil(50 / s), math.ceil(37 / s)
        cells = hidden[b, :rows, :cols].numpy()
        np.testing.assert_array_equal(
            masks[b, ..., 0], expand_cells(cells, s, 50, 37)
        )


# ---------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed", [3, (3, 4), tf.constant([3, 4], tf.int32)])
def test_same_seed_same_mask(seed):
    shape = tf.zeros([4, 40, 40, 3])
    first = hiding.patch_mask(shape, MIXED, 0.5, seed=seed)
    second = hiding.patch_mask(shape, MIXED, 0.5, seed=seed)
    np.testing.assert_array_equal(first.numpy(), second.numpy())


def test_other_seed_other_mask_and_no_seed_varies():
    shape = tf.zeros([4, 40, 40, 3])
    a = hiding.patch_mask(shape, [8], 0.5, seed=(1, 2)).numpy()
    b = hiding.patch_mask(shape, [8], 0.5, seed=(1, 3)).numpy()
    assert (a != b).any()
    c = hiding.patch_mask(shape, [8], 0.5).numpy()
    d = hiding.patch_mask(shape, [8], 0.5).numpy()
    assert (c != d).any()


# --------------------------------------------------------------- graph modes


@pytest.mark.parametrize(
    "dtype", [tf.uint8, tf.int32, tf.float16, tf.bfloat16, tf.float32]
)
@pytest.mark.parametrize("sizes", [(3,), MIXED, (7, 0)])
def test_same_result_eager_function_tf_data_and_xla(dtype, sizes):
    images = tf.cast(tf.random.uniform([3, 45, 30, 3], 0, 250, seed=3), dtype)
    fill = [100, 110, 120]
    seed = tf.constant([21, 22], tf.int64)

    def hide(x):
        return hiding.hide_patches(x, sizes, 0.5, fill, seed=seed)

    eager = hide(images)
    assert eager.dtype == dtype and eager.shape == images.shape
    mask = hiding.patch_mask(images, sizes, 0.5, seed=seed)
    reference = tf.where(mask, tf.constant(fill, dtype), images)
    as_float = lambda t: tf.cast(t, tf.float64).numpy()  # noqa: E731
    np.testing.assert_array_equal(as_float(eager), as_float(reference))
    graph = tf.function(hide)(images)
    xla = tf.function(hide, jit_compile=True)(images)
    data = next(iter(tf.data.Dataset.from_tensors(images).map(hide)))
    for other in (graph, xla, data):
        np.testing.assert_array_equal(as_float(other), as_float(eager))


def test_unknown_image_size_in_tf_data():
    def generate():
        for h, w in [(9, 13), (20, 7)]:
            yield np.ones([h, w, 3], np.float32)

    spec = tf.TensorSpec([None, None, 3], tf.float32)
    ds = tf.data.Dataset.from_generator(generate, output_signature=spec)
    ds = ds.map(lambda x: hiding.hide_patches(x, [4], 1.0, 0.0, seed=1))
    outs = list(ds)
    assert [o.shape for o in outs] == [(9, 13, 3), (20, 7, 3)]
    assert all(float(tf.reduce_max(o)) == 0.0 for o in outs)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(images=tf.zeros([4, 4])), r"images\.shape=\(4, 4\)"),
        (dict(images=tf.zeros([1, 2, 4, 4, 3])), "rank 3"),
        (dict(images=tf.zeros([4, 4, 3], tf.bool)), "images.dtype=bool"),
        (dict(images=tf.constant([[["a"]]])), "images.dtype=string"),
        (dict(hide_prob=1.5), "hide_prob=1.5"),
        (dict(hide_prob=-0.1), "hide_prob=-0.1"),
        (dict(hide_prob=float("nan")), "hide_prob=nan"),
        (dict(patch_sizes=[16, -1]), r"patch_sizes=\[16, -1\]"),
        (dict(patch_sizes=[]), r"patch_sizes=\[\]"),
        (dict(patch_sizes=[2.5]), r"patch_sizes=\[2.5\]"),
        (dict(fill_value=[1.0, 2.0]), "fill_value of shape"),
        (dict(fill_value="red"), "fill_value='red'"),
        (dict(fill_value=float("nan")), "finite `fill_value`"),
        (dict(seed="x"), "seed='x'"),
        (dict(seed=tf.constant([1, 2, 3])), r"seed.shape=\(3,\)"),
    ],
)
def test_bad_input_names_argument_and_value(kwargs, match):
    args = dict(images=tf.zeros([8, 8, 3]), patch_sizes=[4])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        hiding.hide_patches(**args)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sequences=tf.zeros([4])), r"sequences\.shape=\(4,\)"),
        (dict(segment_size=0), "segment_size=0"),
        (dict(segment_size=2.0), "segment_size=2.0"),
        (dict(hide_prob=2), "hide_prob=2"),
        (dict(fill_value=[1.0, 2.0, 3.0]), "fill_value of shape"),
        (dict(sequences=tf.zeros([4, 2], tf.complex64)), "complex64"),
    ],
)
def test_bad_sequence_input(kwargs, match):
    args = dict(sequences=tf.zeros([6, 2]), segment_size=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        hiding.hide_segments(**args)


def test_bad_sample_uniform_input():
    with pytest.raises(ValueError, match="num_samples=0"):
        hiding.sample_uniform(tf.zeros([4, 2]), 0)
    with pytest.raises(ValueError, match=r"sequence.shape=\(4,\)"):
        hiding.sample_uniform(tf.zeros([4]), 2)
    with pytest.raises(ValueError, match="non-empty"):
        hiding.sample_uniform(tf.zeros([0, 2]), 2)


# -------------------------------------------------------------- the mean fill


def test_mean_fill_keeps_first_layer_statistics_and_zero_fill_does_not():
    # The paper's reason for the mean fill: averaged over a dataset, a
    # linear filter responds to hidden images as to full ones when hidden
    # pixels take the dataset mean. Images: per-channel means far from 0.
    rng = np.random.default_rng(0)
    channel_mean = np.array([120.0, 80.0, 200.0], np.float32)
    images = channel_mean + rng.normal(0, 30, [512, 24, 24, 3]).astype(
        np.float32
    )
    dataset_mean = images.reshape(-1, 3).mean(axis=0)
    kernel = tf.constant(rng.normal(0, 1, [3, 3, 3, 4]), tf.float32)

    def mean_response(x):
        return tf.reduce_mean(tf.nn.conv2d(x, kernel, 1, "VALID"), [0, 1, 2])

    full = mean_response(images).numpy()
    with_mean = mean_response(
        hiding.hide_patches(images, [4, 8], 0.5, dataset_mean, seed=1)
    ).numpy()
    with_zero = mean_response(
        hiding.hide_patches(images, [4, 8], 0.5, 0.0, seed=1)
    ).numpy()
    scale = np.abs(full).max()
    assert np.abs(with_mean - full).max() < 0.01 * scale
    assert np.abs(with_zero - full).max() > 0.2 * scale


# ------------------------------------------------------------------ sequences


def test_segments_5_steps_of_2_are_01_23_4():
    seen = set()
    for seed in range(30):
        mask = hiding.segment_mask(tf.zeros([5, 3]), 2, 0.5, seed=seed)
        mask = mask.numpy()[:, 0]
        assert mask[0] == mask[1] and mask[2] == mask[3]
        seen.add(tuple(mask[[0, 2, 4]]))
    assert len(seen) == 8  # Every combination of the 3 segments occurs.


def test_hide_segments_fill_vector_and_reference():
    seqs = tf.random.uniform([4, 23, 5], seed=2)
    fill = tf.range(5, dtype=tf.float32) - 10
    out = hiding.hide_segments(seqs, 4, 0.5, fill, seed=3)
    mask = hiding.segment_mask(seqs, 4, 0.5, seed=3)
    np.testing.assert_array_equal(
        out.numpy(), tf.where(mask, fill, seqs).numpy()
    )
    assert 0 < mask.numpy().mean() < 1
    np.testing.assert_array_equal(
        hiding.hide_segments(seqs, 4, 0.0, fill, seed=3).numpy(), seqs.numpy()
    )
    hidden_all = hiding.hide_segments(seqs, 4, 1.0, fill).numpy()
    assert (hidden_all == fill.numpy()).all()


def test_hide_segments_xla_and_variable_lengths_in_tf_data():
    seqs = tf.random.uniform([2, 30, 4], seed=5)
    seed = tf.constant([1, 1], tf.int64)
    hide = lambda x: hiding.hide_segments(x, 7, 0.5, 0.0, seed=seed)  # noqa
    np.testing.assert_array_equal(
        hide(seqs).numpy(), tf.function(hide, jit_compile=True)(seqs).numpy()
    )
    ragged = tf.data.Dataset.from_generator(
        lambda: (np.ones([t, 4], np.float32) for t in (3, 11, 250)),
        output_signature=tf.TensorSpec([None, 4], tf.float32),
    )
    pipeline = ragged.map(
        lambda x: hiding.sample_uniform(
            hiding.hide_segments(x, 5, 1.0, -1.0, seed=seed), 20
        )
    )
    for out in pipeline:
        assert out.shape == (20, 4)
        assert float(tf.reduce_max(out)) == -1.0


@pytest.mark.parametrize(
    "steps, samples, expected",
    [
        (8, 4, [1, 3, 5, 7]),
        (3, 6, [0, 0, 1, 1, 2, 2]),
        (5, 1, [2]),
        (10, 10, list(range(10))),
    ],
)
def test_sample_uniform_indices(steps, samples, expected):
    seq = tf.reshape(tf.range(steps), [steps, 1])
    out = hiding.sample_uniform(seq, samples)
    assert out.numpy()[:, 0].tolist() == expected


# ----------------------------------------------------------- property tests


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    channels=st.integers(1, 4),
    sizes=st.lists(st.integers(0, 45), min_size=1, max_size=4),
    hide_prob=st.floats(0.0, 1.0),
    integer=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_hide_patches_properties(
    batch, height, width, channels, sizes, hide_prob, integer, seed
):
    dtype = tf.uint8 if integer else tf.float32
    images = tf.cast(
        tf.random.uniform([batch, height, width, channels], 1, 250), dtype
    )
    fill = list(range(200, 200 + channels))
    out = hiding.hide_patches(images, sizes, hide_prob, fill, seed=seed)
    mask = hiding.patch_mask(images, sizes, hide_prob, seed=seed).numpy()
    expected = np.where(mask, np.array(fill), images.numpy())
    np.testing.assert_array_equal(
        out.numpy(), expected.astype(out.dtype.as_numpy_dtype)
    )
    # Each image is block-constant on the grid of one of the sizes it could
    # have drawn (or hides nothing).
    for b in range(batch):
        m = mask[b, ..., 0]
        if not m.any():
            continue
        assert any(
            s > 0
            and np.array_equal(
                m, expand_cells(cells_of(m, s), s, height, width)
            )
            for s in sizes
        )


def test_unknown_channel_count_in_tf_data():
    spec = tf.TensorSpec([None, None, None], tf.uint8)
    ds = tf.data.Dataset.from_generator(
        lambda: (np.zeros([4, 5, 3], np.uint8) for _ in range(2)),
        output_signature=spec,
    ).map(lambda x: hiding.hide_patches(x, [2], 1.0, [7, 8, 9], seed=1))
    for out in ds:
        assert out.numpy()[0, 0].tolist() == [7, 8, 9]


@pytest.mark.parametrize("dtype", [tf.uint8, tf.int16, tf.int64, tf.float64])
def test_many_small_cells_and_more_dtypes(dtype):
    # 200 px wide with S=2: 100 cell columns, past the one-hot matmul's
    # range, so the gather path runs; both must match the pixel mask.
    images = tf.cast(tf.random.uniform([2, 6, 200, 3], 0, 100, seed=8), dtype)
    for sizes in [(2,), (2, 50)]:
        out = hiding.hide_patches(images, sizes, 0.5, [101, 102, 103], seed=4)
        mask = hiding.patch_mask(images, sizes, 0.5, seed=4)
        expected = tf.where(mask, tf.constant([101, 102, 103], dtype), images)
        np.testing.assert_array_equal(out.numpy(), expected.numpy())
        assert 0 < mask.numpy().mean() < 1


def test_tensor_hide_prob_outside_0_1_is_an_error():
    images = tf.zeros([1, 4, 4, 1])
    for bad in (2.0, -0.5, float("nan")):
        with pytest.raises(tf.errors.InvalidArgumentError, match="hide_prob"):
            hiding.hide_patches(images, 2, tf.constant(bad), seed=1)
        with pytest.raises(tf.errors.InvalidArgumentError, match="hide_prob"):
            hiding.hide_segments(tf.zeros([1, 8, 2]), 2, tf.constant(bad))
    assert hiding.hide_patches(images, 2, tf.constant(0.5), seed=1).shape == (
        1,
        4,
        4,
        1,
    )


def test_empty_images_pass_through():
    empty = np.zeros((2, 0, 8, 3), np.float32)
    assert hiding.hide_patches(empty, 4).shape == (2, 0, 8, 3)
    assert hiding.patch_mask(empty, 4).shape == (2, 0, 8, 1)


def test_fill_that_overflows_the_dtype_is_an_error():
    with pytest.raises(ValueError, match="fill_value.*float16"):
        hiding.hide_patches(np.zeros((1, 4, 4, 1), np.float16), 2, 1.0, 1e6)
