"""`python -m has_tf.bench pipeline`: the input pipelines' images/s per core.

`pipeline` measures images/s per core (one thread: TensorFlow's and
tf.data's thread pools set to one) over the same encoded JPEGs, generated
ILSVRC-like (`photo_like`: 500 pixels on the long side, quality 90, about
70 KB): decode-only (each JPEG decoded whole, nothing else); the training
pipeline from the encoded bytes for each crop ("resize_crop",
"random_resized") and resize method, with hiding on the host (mixed
sizes) and off; and the evaluation pipeline for each protocol. Runs
alternate round by round; each rate is also given as a ratio to
decode-only, and hiding's cost as `1 - hiding / none`.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import tensorflow as tf

from has_tf.bench import _timing
from has_tf.bench import data
from has_tf.input_pipeline import images as image_pipeline


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
    sizes_of = {"decode_only": batch}
    for crop in image_pipeline.TRAIN_CROPS:
        for method in image_pipeline.RESIZE_METHODS:
            for hide, sizes in (
                ("hiding", (0, 16, 32, 44, 56)),
                ("none", None),
            ):
                name = f"train_{crop}_{method}_{hide}"
                pipelines[name] = image_pipeline.train_pipeline(
                    source,
                    batch,
                    crop=crop,
                    resize_method=method,
                    patch_sizes=sizes,
                    shuffle_buffer=count,
                    seed=0,
                )
                sizes_of[name] = batch
    for crop in image_pipeline.EVAL_CROPS:
        name = f"eval_{crop}"
        pipelines[name] = image_pipeline.eval_pipeline(
            source.repeat(), batch, crop
        )
        sizes_of[name] = batch
    pipelines = {k: _one_thread(v) for k, v in pipelines.items()}
    rates = _images_per_s(pipelines, sizes_of, batches, repeats)
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
            results[f"{key}_hiding_cost"] = (
                1.0 - rates[f"{key}_hiding"] / rates[f"{key}_none"]
            )
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
        "results": results,
    }
