"""`python -m has_tf.bench pipeline`: the input pipelines' images/s per core.

`pipeline` measures images/s per core (one thread: TensorFlow's and
tf.data's thread pools set to one) over the same encoded JPEGs, generated
ILSVRC-like (`photo_like`: 500 pixels on the long side, quality 90, about
70 KB): decode-only (each JPEG decoded whole, nothing else); for each crop
("resize_crop", "random_resized") and resize method, decoding just the
crop's own windows (`windows_*`, the floor of that pipeline) and the
training pipeline from the encoded bytes with uint8 out (the models
normalise), hiding on the host (`host`, mixed sizes) or not
(`device`: `--hide_on=device`, the accelerator recipe), and normalised to
float on the host as has_tf 0.2 did (`device_float`); and the evaluation
pipeline for each crop (uint8 out). Runs alternate round by round; each
rate is also given as a ratio to decode-only and to its own windows,
hiding's cost as `1 - host / device`, naming an image that fails to
decode as `windows_*_naming_cost` (`1 - named / plain` over the crops' own
windows, `input_pipeline.named_map`, which the training pipeline's rows
include), and `goals` compares the
accelerator recipe's two ratios with their aims.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import tensorflow as tf

from has_tf.bench import _timing
from has_tf.bench import data
from has_tf.input_pipeline import images as image_pipeline
from has_tf.input_pipeline import named_map


def _one_thread(dataset):
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    return dataset.with_options(options)


def _images_per_s(datasets: dict, counts: dict, batches: int, repeats: int):
    """Median images/s of each dataset, runs alternating round by round.

    Each run starts a fresh iterator (so no pipeline's prefetch buffer
    fills while another is timed), warms it up with two elements and then
    times `batches` elements of `counts[name]` images each.
    """
    rates = {name: [] for name in datasets}
    for _ in range(repeats):
        for name, dataset in datasets.items():
            iterator = iter(dataset)
            for _ in range(2):
                next(iterator)
            start = time.perf_counter()
            for _ in range(batches):
                element = next(iterator)
            tf.nest.map_structure(lambda t: t.numpy(), element)
            elapsed = time.perf_counter() - start
            rates[name].append(counts[name] * batches / elapsed)
            del iterator
    return {name: statistics.median(r) for name, r in rates.items()}


# The accelerator recipe's aims (issue 23): ratio rows and their floors.
GOALS = {
    "train_random_resized_bilinear_device_over_decode_only": 0.8,
    "train_resize_crop_bilinear_device_over_own_windows": 0.9,
}


def _windows_only(source, crop, method, batch, named=False):
    """Decoding each training crop's own window, nothing else: the floor
    a crop's pipeline is measured against (`decode_training_window`, the
    same windows and seeds as the pipeline draws). `named`: through
    `named_map`, as the pipelines map examples, for its cost."""
    seeds = tf.data.Dataset.random(seed=0).batch(2, drop_remainder=True)

    def decode(example, seed):
        window = image_pipeline.decode_training_window(
            example["image"], seed, crop, resize_method=method
        )
        return tf.shape(window)

    pairs = tf.data.Dataset.zip((source.repeat(), seeds))
    if named:
        return named_map.map_examples(pairs, decode).batch(batch)
    return pairs.map(decode).batch(batch)


def run(batch: int = 64, batches: int = 20, repeats: int = 5) -> dict:
    """Runs the input-pipeline benchmark; returns the JSON-ready dict."""
    count = 2 * batch
    jpegs = data.photo_like_jpegs(count)
    source = tf.data.Dataset.from_tensor_slices(
        {"image": np.array(jpegs, dtype=object), "label": np.arange(count)}
    )
    source = source.map(
        lambda e: {
            "image": e["image"],
            "label": e["label"],
            "objects": {"bbox": tf.constant([[0.1, 0.1, 0.9, 0.9]])},
        }
    )
    # Decode-only: every JPEG decoded whole, nothing else (a batch of the
    # decoded shapes, so elements count images as the others do).
    pipelines = {
        "decode_only": source.repeat()
        .map(lambda e: tf.shape(tf.io.decode_jpeg(e["image"], channels=3)))
        .batch(batch)
    }
    for crop in image_pipeline.TRAIN_CROPS:
        for method in image_pipeline.RESIZE_METHODS:
            for named in (False, True):
                pipelines[
                    f"windows_{crop}_{method}" + ("_named" if named else "")
                ] = _windows_only(source, crop, method, batch, named)
            # uint8 out (the models normalise): hiding on the host, or
            # none on the host (--hide_on=device); and the float
            # normalised output of has_tf 0.2 for comparison.
            for name, sizes, normalize in (
                ("host", (0, 16, 32, 44, 56), False),
                ("device", None, False),
                ("device_float", None, True),
            ):
                pipelines[f"train_{crop}_{method}_{name}"] = (
                    image_pipeline.train_pipeline(
                        source,
                        batch,
                        image_pipeline.ImageAugmentation(
                            crop=crop, resize_method=method, patch_sizes=sizes
                        ),
                        shuffle_buffer=count,
                        seed=0,
                        normalize=normalize,
                    )
                )
    for crop in image_pipeline.EVAL_CROPS:
        pipelines[f"eval_{crop}"] = image_pipeline.eval_pipeline(
            source.repeat(), batch, crop, normalize=False
        )
    pipelines = {k: _one_thread(v) for k, v in pipelines.items()}
    rates = _images_per_s(
        pipelines, dict.fromkeys(pipelines, batch), batches, repeats
    )
    decode = rates["decode_only"]
    results = {"decode_only_images_per_s": decode}
    for name, rate in rates.items():
        if name == "decode_only":
            continue
        results[f"{name}_images_per_s"] = rate
        results[f"{name}_over_decode_only"] = rate / decode
    for crop in image_pipeline.TRAIN_CROPS:
        for method in image_pipeline.RESIZE_METHODS:
            key = f"train_{crop}_{method}"
            own = rates[f"windows_{crop}_{method}"]
            for name in ("host", "device", "device_float"):
                results[f"{key}_{name}_over_own_windows"] = (
                    rates[f"{key}_{name}"] / own
                )
            results[f"{key}_hiding_cost"] = (
                1.0 - rates[f"{key}_host"] / rates[f"{key}_device"]
            )
            windows = f"windows_{crop}_{method}"
            results[f"{windows}_naming_cost"] = (
                1.0 - rates[f"{windows}_named"] / own
            )
    goals = {
        key: {"value": results[key], "aim": aim, "met": results[key] >= aim}
        for key, aim in GOALS.items()
    }
    sizes = [len(j) for j in jpegs]
    return {
        "benchmark": "pipeline",
        "batch": batch,
        "batches_per_run": batches,
        "repeats": repeats,
        "threads": 1,
        "jpegs": {
            "count": count,
            "shapes": [list(s) for s in data.PHOTO_SHAPES],
            "quality": 90,
            "mean_kb": float(np.mean(sizes)) / 1e3,
        },
        "statistic": "median images/s per core over alternating runs",
        **_timing.tf_environment(),
        "goals": goals,
        "results": results,
    }
