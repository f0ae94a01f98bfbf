"""Tests for has_tf.input_pipeline: box transforms and batches."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import has_tf.datasets  # noqa: F401
from has_tf.input_pipeline import dataset_stats
from has_tf.input_pipeline import images as ip

MEAN = np.array(ip.IMAGENET_MEAN_RGB)
STD = np.array(ip.IMAGENET_STD_RGB)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    builder = tfds.builder(
        "synthetic_parts/tiny", data_dir=tmp_path_factory.mktemp("tfds")
    )
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    return builder


def train(tiny, **kwargs):
    """`train_pipeline` with the record's fields among the keywords, under
    a fixed global seed (it joins `seed` in the shuffle's: an earlier test
    in the same process may have set another)."""
    tf.random.set_seed(0)
    args = dict(batch_size=4, image_size=24, resize_size=32, seed=5)
    args.update(kwargs)
    fields = {f.name for f in dataclasses.fields(ip.ImageAugmentation)}
    augmentation = {k: args.pop(k) for k in fields & set(args)}
    return ip.train_pipeline(
        tiny.as_dataset(split="train"),
        augmentation=ip.ImageAugmentation(**augmentation),
        **args,
    )


def test_box_cut_by_the_crop():
    # 100x100 image, box rows 10-50, cols 60-90; crop top-left (20, 40),
    # size 50x40: in pixels the box becomes rows -10..30, cols 20..50,
    # clipped to rows 0..30 of 50, cols 20..40 of 40.
    box = tf.constant([[0.1, 0.6, 0.5, 0.9]])
    out = ip.crop_boxes(box, (20, 40), (50, 40), (100, 100)).numpy()
    np.testing.assert_allclose(out, [[0.0, 0.5, 0.6, 1.0]], atol=1e-6)
    outside = ip.crop_boxes(
        tf.constant([[0.9, 0.9, 1.0, 1.0]]), (0, 0), (50, 50), (100, 100)
    ).numpy()
    assert outside[0, 0] == outside[0, 2]  # Zero height after clipping.


def test_example_fields_grayscale_and_single_bbox():
    example = {
        "image": tf.zeros([5, 6, 1], tf.uint8),
        "label": 3,
        "bbox": tf.constant([0.1, 0.2, 1.3, 0.5]),
    }
    image, label, boxes = ip.example_fields(example)
    assert ip.decode_image(image).shape == (5, 6, 3) and int(label) == 3
    np.testing.assert_allclose(boxes.numpy(), [[0.1, 0.2, 1.0, 0.5]])


def test_first_batch_shapes_and_normalisation(tiny):
    images, labels = next(iter(train(tiny, patch_sizes=None)))
    assert images.shape == (4, 24, 24, 3) and images.dtype == tf.float32
    assert labels.shape == (4,) and labels.dtype == tf.int64
    low, high = (0 - MEAN) / STD, (255 - MEAN) / STD
    values = images.numpy()
    assert (values >= low - 1e-5).all() and (values <= high + 1e-5).all()
    # Pixel values are whole numbers before normalisation.
    pixels = values * STD + MEAN
    np.testing.assert_allclose(pixels, np.round(pixels), atol=1e-3)


def test_hidden_cells_take_the_mean(tiny):
    images, _ = next(iter(train(tiny, patch_sizes=(6,), hide_prob=1.0)))
    # Hidden pixels hold the rounded mean: (round(m) - m) / std per channel.
    expected = (np.round(MEAN) - MEAN) / STD
    np.testing.assert_allclose(
        images.numpy(), np.broadcast_to(expected, images.shape), atol=1e-6
    )


def test_same_seed_same_batches_other_seed_others(tiny):
    a = [x.numpy() for x, _ in train(tiny).take(2)]
    b = [x.numpy() for x, _ in train(tiny).take(2)]
    c = [x.numpy() for x, _ in train(tiny, seed=6).take(2)]
    for first, second in zip(a, b):
        np.testing.assert_array_equal(first, second)
    assert any((x != y).any() for x, y in zip(a, c))
    shown = next(iter(train(tiny, patch_sizes=None)))[0].numpy()
    hidden = next(iter(train(tiny, patch_sizes=(4,), hide_prob=0.5)))[0]
    assert (shown != hidden.numpy()).any()


def test_random_resized_crop(tiny):
    images, _ = next(iter(train(tiny, crop="random_resized")))
    assert images.shape == (4, 24, 24, 3)


def test_sharding_by_input_context(tiny):
    context = tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=1
    )
    sharded = train(
        tiny,
        input_context=context,
        repeat=False,
        batch_size=1,
        shuffle_buffer=0,
    )
    assert sum(1 for _ in sharded) == 6  # Half of the 12 examples.


@pytest.mark.parametrize(
    "protocol, image_shape",
    [
        ("center_crop", (3, 24, 24, 3)),
        ("ten_crop", (3, 10, 24, 24, 3)),
        ("resize", (3, 24, 24, 3)),
    ],
)
def test_eval_protocols(tiny, protocol, image_shape):
    ds = ip.eval_pipeline(
        tiny.as_dataset(split="test", shuffle_files=False),
        3,
        protocol,
        image_size=24,
        resize_size=32,
    )
    batch = next(iter(ds))
    assert batch["image"].shape == image_shape
    assert batch["boxes"].shape == (3, 1, 4)
    assert batch["num_boxes"].numpy().tolist() == [1, 1, 1]
    boxes = batch["boxes"].numpy()
    assert (boxes >= 0).all() and (boxes <= 1).all()


def test_center_crop_moves_boxes():
    image = tf.zeros([32, 32, 3], tf.uint8)
    ds = tf.data.Dataset.from_tensors(
        {
            "image": image,
            "label": tf.constant(0, tf.int64),
            "objects": {"bbox": tf.constant([[0.25, 0.25, 0.75, 0.75]])},
        }
    )
    batch = next(
        iter(
            ip.eval_pipeline(
                ds, 1, "center_crop", image_size=16, resize_size=32
            )
        )
    )
    # Crop rows/cols 8..24 of 32: the box 8..24 fills it.
    np.testing.assert_allclose(batch["boxes"].numpy()[0], [[0, 0, 1, 1]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(crop="center"), "crop='center'"),
        (dict(image_size=40), "image_size <= resize_size"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(patch_sizes=[-1]), r"patch_sizes=\[-1\]"),
    ],
)
def test_bad_train_arguments(tiny, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train(tiny, **kwargs)


def test_bad_protocol(tiny):
    with pytest.raises(ValueError, match="crop='five_crop'"):
        ip.eval_pipeline(tiny.as_dataset(split="test"), 2, "five_crop")


def test_cached_channel_moments(tiny):
    first = dataset_stats.cached_channel_moments(tiny, split="train")
    cached = list(tiny.data_path.glob("has_tf_moments-train.json"))
    assert len(cached) == 1
    again = dataset_stats.cached_channel_moments(tiny, split="train")
    np.testing.assert_allclose(first.mean, again.mean)
    assert first.count == 12 * 32 * 32
    assert (first.mean > 0).all() and (first.mean < 255).all()


def test_start_batch_resumes_the_stream_exactly(tiny):
    whole = list(train(tiny, patch_sizes=(0, 8), hide_prob=0.5).take(5))
    resumed = list(
        train(tiny, patch_sizes=(0, 8), hide_prob=0.5, start_batch=3).take(2)
    )
    for (a, la), (b, lb) in zip(whole[3:], resumed):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(la.numpy(), lb.numpy())


@pytest.mark.parametrize("crop", ip.TRAIN_CROPS)
@pytest.mark.parametrize("patch_sizes", [None, (8,)])
def test_uint8_training_batches_are_the_float_ones_before_normalising(
    tiny, crop, patch_sizes
):
    """`normalize=False` (the models normalise) gives the pixels whose
    host normalisation is the float pipeline's batch, bit for bit: same
    crops, flips and masks, hidden pixels at the rounded mean."""
    options = dict(crop=crop, patch_sizes=patch_sizes, hide_prob=0.5)
    floats = list(train(tiny, **options).take(3))
    pixels = list(train(tiny, normalize=False, **options).take(3))
    for (f, f_labels), (p, p_labels) in zip(floats, pixels):
        assert p.dtype == tf.uint8 and p.shape == f.shape
        np.testing.assert_array_equal(p_labels, f_labels)
        np.testing.assert_array_equal(
            ip._normalize(p, MEAN, STD).numpy(), f.numpy()
        )
    if patch_sizes is not None:
        fill = np.round(MEAN).astype(np.uint8)
        stacked = np.concatenate([p.numpy() for p, _ in pixels])
        assert np.all(stacked == fill, axis=-1).mean() > 0.05


@pytest.mark.parametrize("protocol", ip.EVAL_CROPS)
def test_uint8_evaluation_batches_are_the_float_ones_before_normalising(
    tiny, protocol
):
    data = tiny.as_dataset(split="test", shuffle_files=False)
    args = dict(image_size=24, resize_size=32)
    floats = next(iter(ip.eval_pipeline(data, 3, protocol, **args)))
    pixels = next(
        iter(ip.eval_pipeline(data, 3, protocol, normalize=False, **args))
    )
    assert pixels["image"].dtype == tf.uint8
    np.testing.assert_array_equal(
        ip._normalize(pixels["image"], MEAN, STD).numpy(),
        floats["image"].numpy(),
    )
    for key in floats:
        if key != "image":
            np.testing.assert_array_equal(pixels[key], floats[key])


def _damaged_jpegs() -> dict:
    """A JPEG's bytes damaged three ways, each failing in TensorFlow's
    decoder (whole or windowed): cut short (a download's end), its Huffman
    table overwritten (damaged inside), and bytes of no image format."""
    pixels = np.random.default_rng(0).integers(0, 256, (40, 40, 3))
    jpeg = tf.io.encode_jpeg(pixels.astype(np.uint8)).numpy()
    table = jpeg.find(b"\xff\xc4")  # The first Huffman table segment.
    damaged = bytearray(jpeg)
    damaged[table + 5 : table + 21] = b"\xff" * 16
    return {
        "cut_short": jpeg[: len(jpeg) // 3],
        "damaged_inside": bytes(damaged),
        "no_image_format": b"<html>not found</html>" * 4,
    }


@pytest.mark.parametrize(
    "damage", ["cut_short", "damaged_inside", "no_image_format"]
)
@pytest.mark.parametrize("pipeline", ["train", "center_crop", "resize"])
def test_an_image_that_does_not_decode_is_named(pipeline, damage):
    """The bare pipelines name the file whose image fails to decode (TF's
    decoder says "Invalid JPEG data or crop window" or "Unknown image file
    format", naming nothing); good JPEG and PNG files before it pass, in
    order."""
    jpeg = tf.io.encode_jpeg(tf.zeros([40, 40, 3], tf.uint8)).numpy()
    png = tf.io.encode_png(tf.fill([40, 40, 3], tf.constant(9, tf.uint8)))
    data = tf.data.Dataset.from_tensor_slices(
        {
            "image": [jpeg, png.numpy(), _damaged_jpegs()[damage]],
            "label": [0, 1, 2],
            "file_name": ["a.jpg", "b.png", "c.jpg"],
        }
    )
    if pipeline == "train":
        batches = ip.train_pipeline(
            data,
            1,
            augmentation=ip.ImageAugmentation(
                image_size=32, resize_size=36, patch_sizes=None
            ),
            seed=0,
            shuffle_buffer=0,  # In order: the bad file last.
            repeat=False,
            normalize=False,
        )
    else:
        batches = ip.eval_pipeline(
            data, 1, pipeline, image_size=32, resize_size=36, normalize=False
        )
    iterator = iter(batches)
    first, second = next(iterator), next(iterator)
    images = [
        b[0] if pipeline == "train" else b["image"] for b in (first, second)
    ]
    assert [int(np.max(i)) for i in images] == [0, 9]  # a.jpg, then b.png.
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        next(iterator)
    assert "no image format:] [c.jpg]" in str(error.value)
