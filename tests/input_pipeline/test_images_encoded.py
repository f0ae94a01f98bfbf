"""Encoded images in the pipelines: crop windows, formats, equivalence."""

import io

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from has_tf import datasets
from has_tf.bench import data as bench_data
from has_tf.input_pipeline import images


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    builder = tfds.builder("synthetic_parts/tiny", data_dir=data_dir)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    return data_dir


def _load(data_dir, split, decode_images):
    data, _ = datasets.load(
        "synthetic_parts/tiny",
        split,
        data_dir=data_dir,
        decode_images=decode_images,
    )
    return data


def _file(pixels, kind, **save_args):
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(kind).save(buffer, **save_args)
    return buffer.getvalue()


def test_load_leaves_images_encoded_on_request(tiny_dir):
    encoded = next(iter(_load(tiny_dir, "train", decode_images=False)))
    decoded = next(iter(_load(tiny_dir, "train", decode_images=True)))
    assert encoded["image"].dtype == tf.string
    assert encoded["image"].shape == ()
    assert decoded["image"].dtype == tf.uint8
    np.testing.assert_array_equal(
        images.decode_image(encoded["image"]).numpy(), decoded["image"].numpy()
    )


@pytest.mark.parametrize(
    "crop, method",
    [
        ("resize_crop", "antialias"),
        ("resize_crop", "bilinear"),
        ("random_resized", "antialias"),
        ("random_resized", "bilinear"),
    ],
)
def test_encoded_and_decoded_training_batches_are_equal(tiny_dir, crop, method):
    # synthetic_parts stores PNGs (lossless): the same crops, the same bits.
    batches = [
        next(
            iter(
                images.train_pipeline(
                    _load(tiny_dir, "train", decode_images),
                    batch_size=4,
                    augmentation=images.ImageAugmentation(
                        image_size=24,
                        resize_size=28,
                        crop=crop,
                        resize_method=method,
                    ),
                    seed=3,
                    shuffle_buffer=0,
                )
            )
        )
        for decode_images in (False, True)
    ]
    (encoded, labels_e), (decoded, labels_d) = batches
    assert encoded.shape == decoded.shape == (4, 24, 24, 3)
    assert encoded.dtype == decoded.dtype == tf.float32
    np.testing.assert_array_equal(encoded.numpy(), decoded.numpy())
    np.testing.assert_array_equal(labels_e.numpy(), labels_d.numpy())


@pytest.mark.parametrize("protocol", images.EVAL_CROPS)
def test_encoded_and_decoded_evaluation_batches_are_equal(tiny_dir, protocol):
    batches = [
        next(
            iter(
                images.eval_pipeline(
                    _load(tiny_dir, "test", decode_images),
                    3,
                    protocol,
                    image_size=24,
                    resize_size=28,
                )
            )
        )
        for decode_images in (False, True)
    ]
    for key in ("image", "label", "boxes", "num_boxes"):
        assert batches[0][key].dtype == batches[1][key].dtype
        np.testing.assert_array_equal(
            batches[0][key].numpy(), batches[1][key].numpy()
        )


@pytest.mark.parametrize(
    "kind, save_args",
    [
        ("RGB", dict(subsampling=0)),  # 4:4:4
        ("RGB", dict(subsampling=1)),  # 4:2:2
        ("RGB", dict(subsampling=2)),  # 4:2:0, the commonest
        ("RGB", dict(subsampling=2, progressive=True)),
        ("CMYK", {}),
        ("L", {}),
    ],
)
def test_random_jpeg_windows_decode_as_the_whole_image_sliced(kind, save_args):
    """The window's margin (2 pixels: one chroma sample of a plane
    subsampled 2x, which libjpeg's upsampling reads beyond an edge) makes
    every window's pixels those of a whole decode; without it a window's
    edges differ (checked too, so the test can tell)."""
    rng = np.random.default_rng(len(save_args) + len(kind))
    pixels = bench_data.photo_like(93, 131, rng)
    jpeg = _file(pixels, kind, format="JPEG", quality=90, **save_args)
    whole = tf.io.decode_jpeg(jpeg, channels=3).numpy()
    differ_without_margin = 0
    for _ in range(40):
        height, width = rng.integers(1, 93), rng.integers(1, 131)
        top = int(rng.integers(0, 93 - height + 1))
        left = int(rng.integers(0, 131 - width + 1))
        window, _, _ = images._decode_window(
            tf.constant(jpeg),
            lambda shape, w=(top, left, int(height), int(width)): w,
        )
        expected = whole[top : top + height, left : left + width]
        np.testing.assert_array_equal(window.numpy(), expected)
        bare = tf.io.decode_and_crop_jpeg(
            jpeg, [top, left, height, width], channels=3
        ).numpy()
        differ_without_margin += not np.array_equal(bare, expected)
    if kind == "RGB" and save_args["subsampling"]:
        assert differ_without_margin > 0


@pytest.mark.parametrize("kind", ["RGB", "CMYK", "L"])
def test_a_jpeg_window_decodes_as_the_whole_image_sliced(kind):
    pixels = bench_data.photo_like(60, 80, np.random.default_rng(0))
    jpeg = _file(pixels, kind, format="JPEG", quality=90)
    whole = tf.io.decode_jpeg(jpeg, channels=3).numpy()
    window, top_left, size = images._decode_window(
        tf.constant(jpeg), lambda shape: (7, 9, 30, 50)
    )
    np.testing.assert_array_equal(window.numpy(), whole[7:37, 9:59])
    assert top_left.numpy().tolist() == [7, 9]
    assert size.numpy().tolist() == [60, 80]


@pytest.mark.parametrize("shape", [(375, 500), (333, 500), (500, 375)])
def test_crop_of_the_resize_from_its_window(shape):
    """The windowed crop against resize-then-crop, in grey levels.

    "antialias" must give the same pixels up to float rounding;
    "bilinear" (whole-pixel windows) may shift the sampling grid by a
    fraction of a source pixel: a few levels on these detailed images.
    """
    rng = np.random.default_rng(sum(shape))
    jpeg = tf.io.encode_jpeg(bench_data.photo_like(*shape, rng), quality=90)
    whole = tf.io.decode_jpeg(jpeg, channels=3)
    bounds = {"antialias": (0.01, 1), "bilinear": (4.0, 255)}
    for method, (mean_bound, max_bound) in bounds.items():
        resized = images._resize(whole, [256, 256], method)
        for top, left in [(0, 0), (32, 32), (13, 27), (5, 31)]:
            expected = images._to_uint8(
                resized[top : top + 224, left : left + 224]
            ).numpy()
            got = images._to_uint8(
                images._crop_of_resize(
                    jpeg, tf.constant([top, left]), 224, 256, method
                )
            ).numpy()
            difference = np.abs(got.astype(int) - expected.astype(int))
            assert difference.mean() < mean_bound, (method, top, left)
            assert difference.max() <= max_bound, (method, top, left)


def test_png_cmyk_and_grayscale_files_through_both_pipelines():
    rng = np.random.default_rng(1)
    files = [
        _file(bench_data.photo_like(40, 50, rng), "RGB", format="JPEG"),
        _file(bench_data.photo_like(50, 40, rng), "CMYK", format="JPEG"),
        _file(bench_data.photo_like(45, 45, rng), "L", format="JPEG"),
        _file(bench_data.photo_like(30, 60, rng), "RGBA", format="PNG"),
    ]
    # Twelve copies of each file: the crops' edges fall at many places of
    # a JPEG's chroma blocks (the RGB JPEG subsamples its chroma).
    copies = 12
    source = tf.data.Dataset.from_tensor_slices(
        {
            "image": np.array(files * copies, dtype=object),
            "label": np.arange(4 * copies),
            "objects": {
                "bbox": np.tile([[[0.1, 0.1, 0.9, 0.9]]], (4 * copies, 1, 1))
            },
        }
    )
    decoded = source.map(
        lambda e: {**e, "image": images.decode_image(e["image"])}
    )
    for crop in images.TRAIN_CROPS:
        batches = [
            next(
                iter(
                    images.train_pipeline(
                        data,
                        batch_size=4 * copies,
                        augmentation=images.ImageAugmentation(
                            image_size=24, resize_size=32, crop=crop
                        ),
                        shuffle_buffer=0,
                        repeat=False,
                    )
                )
            )[0].numpy()
            for data in (source, decoded)
        ]
        assert batches[0].shape == (4 * copies, 24, 24, 3)
        assert np.isfinite(batches[0]).all()
        # Equal bit for bit, the JPEGs' crop windows included.
        np.testing.assert_array_equal(batches[0], batches[1], crop)
    for protocol in images.EVAL_CROPS:
        batch = next(iter(images.eval_pipeline(source, 4, protocol, 24, 32)))
        assert batch["image"].shape[0] == 4
        assert np.isfinite(batch["image"].numpy()).all()


def test_a_cmyk_jpeg_decodes_to_its_rgb_colours():
    pixels = np.zeros((16, 16, 3), np.uint8)
    pixels[..., 0] = 200  # Red.
    cmyk = _file(pixels, "CMYK", format="JPEG", quality=95)
    rgb = images.decode_image(tf.constant(cmyk)).numpy().astype(int)
    assert np.abs(rgb - [200, 0, 0]).mean() < 4


@pytest.mark.parametrize("pipeline", ["train", "eval"])
def test_unknown_resize_method_is_named(tiny_dir, pipeline):
    data = _load(tiny_dir, "train", decode_images=False)
    with pytest.raises(ValueError, match="resize_method='bicubic'"):
        if pipeline == "train":
            images.ImageAugmentation(resize_method="bicubic")
        else:
            images.eval_pipeline(data, 4, resize_method="bicubic")
