"""Speed figures as ratios measured side by side: `python -m has_tf.bench`.

Usage:
  python -m has_tf.bench hiding [--batch 64] [--size 224] [--repeats 7]
  python -m has_tf.bench models [--batch 32] [--repeats 3]
  python -m has_tf.bench boxes [--images 8] [--size 224] [--repeats 3]
  python -m has_tf.bench pipeline [--batch 64] [--batches 20] [--repeats 5]

`hiding` times, on one `[batch, size, size, 3]` batch, for patch sizes 16,
32, 44, 56 and mixed (0, 16, 32, 44, 56), in float32 and uint8:

  (a) floor: one plain elementwise TensorFlow pass in `tf.function`
      (`x * 2` for float, `x + 1` for uint8); NumPy's copy of the batch is
      reported beside it for reference;
  (b) `hide_patches` in `tf.function`;
  (c) `hide_patches` under XLA (`jit_compile=True`);
  (c') the reference formulation, `tf.where(patch_mask(...), fill, x)`
      in `tf.function`: a pixel-wise mask, then a select (why
      `hide_patches` builds its mask per band of rows instead);
  (d) a per-image, per-patch NumPy loop, in place, with Python's `random`
      (how the authors' released code hides; add `numpy_copy_ms` for a
      loop that must not modify its input);
  (e) `keras.layers.RandomErasing` on the same batch;

each as the median of `--repeats` runs after a warm-up, with its ratio to
(a). The functions are timed in turn, round after round, and the floor is
timed again beside each patch size, so every ratio compares runs made
under the same state of the machine. Every timed call draws a fresh mask
and fills with the ImageNet mean.
`models` times, for each CAM model at its usual input size, a forward pass
(inference mode) and a forward+backward pass (training mode, gradients of
the cross-entropy), both in `tf.function`, and reports images per second.

`boxes` times, per 224x224 CAM (smooth random CAMs, bilinear upsamplings of
14x14 noise as a GoogLeNet-GAP CAM is), all interleaved: `cam_to_box` at
one threshold; the one-pass sweep at 100 thresholds (largest component,
and largest plus every component, MaxBoxAcc's and V2's boxes together)
and at 1000; `cam_to_box` called at each of 100 thresholds; one `update`
of `ThresholdFreeLocalization` under each protocol at 100 and 1000
thresholds; and, when OpenCV is installed (optional, benchmark only), the
official tool's per-threshold recipe (threshold, `findContours`,
`boundingRect` of the largest and of every contour), whose tool runs it
twice per update. Per-image costs are also projected to ILSVRC val's
50,000 images.

`pipeline` measures images/s per core (one thread: TensorFlow's and
tf.data's thread pools set to one) over the same encoded JPEGs, generated
ILSVRC-like (`photo_like`: 500 pixels on the long side, quality 90, about
70 KB): decode-only (each JPEG decoded whole, nothing else); the training
pipeline from the encoded bytes for each crop ("resize_crop",
"random_resized") and resize method, with hiding on the host (mixed
sizes) and off; and the evaluation pipeline for each protocol. Runs
alternate round by round; each rate is also given as a ratio to
decode-only, and hiding's cost as `1 - hiding / none`.

The JSON goes to stdout. Figures depend on the machine: compare ratios
taken in one run, not milliseconds across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time

import keras
import numba
import numpy as np
import scipy
import tensorflow as tf
from scipy import ndimage

from has_tf import hiding
from has_tf import input_pipeline
from has_tf import metrics
from has_tf import models
from has_tf import postprocess

try:  # Optional: the comparison row of `boxes` (never a dependency).
    import cv2
except ImportError:
    cv2 = None

_SIZES = {"16": (16,), "32": (32,), "44": (44,), "56": (56,)}
_SIZES["mixed"] = (0, 16, 32, 44, 56)
_MEAN_RGB = input_pipeline.IMAGENET_MEAN_RGB


def _median_ms(fn, repeats: int) -> float:
    """Median wall time of `fn()` in ms over `repeats` runs after a warm-up."""
    return _interleaved_ms({"fn": fn}, repeats)["fn"]


def _tf_environment() -> dict:
    """Versions and devices for a TensorFlow benchmark's JSON."""
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "devices": [d.name for d in tf.config.list_logical_devices()],
        },
    }


def _interleaved_ms(fns: dict, repeats: int) -> dict:
    """Median ms of each function, timed in turn round after round.

    Interleaving puts every function under the same drift of the machine
    (allocator state, other load), so ratios between them are fair. Each
    function is warmed up once first (tracing, compilation, allocator
    growth); a result with `.numpy()` is forced to finish.
    """

    def run(fn):
        out = fn()
        if hasattr(out, "numpy"):
            out.numpy()

    for fn in fns.values():
        run(fn)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            run(fn)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def numpy_loop_hide(images, patch_sizes, hide_prob, fill, rng):
    """Hides patches in place, one image and one patch at a time.

    The way the authors' released code hides: Python's `random` per image
    and per patch, NumPy slice assignment per hidden patch.

    Args:
      images: NumPy `[B, H, W, C]`, modified in place.
      patch_sizes: sequence of ints (0 hides nothing).
      hide_prob: probability of hiding a patch.
      fill: `[C]` fill value.
      rng: a `random.Random`.

    Returns:
      `images`, hidden.
    """
    height, width = images.shape[1:3]
    fill = np.asarray(fill, images.dtype)
    for image in images:
        size = patch_sizes[rng.randint(0, len(patch_sizes) - 1)]
        if size == 0:
            continue
        for top in range(0, height, size):
            for left in range(0, width, size):
                if rng.random() <= hide_prob:
                    image[top : top + size, left : left + size] = fill
    return images


def bench_hiding(batch: int, size: int, repeats: int) -> dict:
    """Runs the hiding benchmark; returns the JSON-ready result dict."""
    pixels = np.random.default_rng(0).integers(
        0, 256, [batch, size, size, 3], dtype=np.uint8
    )
    rng = random.Random(0)
    results = {}
    for dtype_name in ("float32", "uint8"):
        dtype = tf.as_dtype(dtype_name)
        host = pixels.astype(dtype_name)
        images = tf.constant(host)
        scratch = host.copy()
        fill = np.round(_MEAN_RGB) if dtype.is_integer else _MEAN_RGB
        if dtype.is_floating:
            floor_fn = tf.function(lambda x: x * 2)
        else:
            floor_fn = tf.function(lambda x: x + 1)
        erasing = keras.layers.RandomErasing(
            factor=1.0, value_range=(0, 255), seed=0
        )
        erase_fn = tf.function(lambda x: erasing(x, training=True))
        baseline = {
            "floor": lambda: floor_fn(images),
            "copy": lambda: np.copy(host),
        }
        try:
            erase_fn(images)  # Keras may not take every dtype.
            baseline["erase"] = lambda: erase_fn(images)
            erase = None
        except Exception as error:  # Reported, not hidden.
            erase = f"failed: {type(error).__name__}: {error}"[:200]
        base = _interleaved_ms(baseline, repeats)
        floor, memcpy = base["floor"], base["copy"]
        erase = base.get("erase", erase)

        per_size = {}
        for label, sizes in _SIZES.items():

            def hide(x, sizes=sizes):
                return hiding.hide_patches(x, sizes, 0.5, fill)

            def reference(x, sizes=sizes):
                mask = hiding.patch_mask(x, sizes, 0.5)
                return tf.where(mask, tf.cast(fill, x.dtype), x)

            graph_fn = tf.function(hide)
            xla_fn = tf.function(hide, jit_compile=True)
            reference_fn = tf.function(reference)
            # The loop hides in place on one scratch copy (hiding twice
            # costs the same); the floor is timed again beside each size.
            measured = _interleaved_ms(
                {
                    "floor": lambda: floor_fn(images),
                    "tf_function": lambda: graph_fn(images),
                    "xla": lambda: xla_fn(images),
                    "reference": lambda: reference_fn(images),
                    "numpy_loop": lambda sizes=sizes: numpy_loop_hide(
                        scratch, sizes, 0.5, fill, rng
                    ),
                },
                repeats,
            )
            size_floor = measured["floor"]
            timings = {
                "floor_ms": size_floor,
                "hide_patches_tf_function_ms": measured["tf_function"],
                "hide_patches_xla_ms": measured["xla"],
                "where_patch_mask_ms": measured["reference"],
                "numpy_loop_ms": measured["numpy_loop"],
            }
            ratios = {
                name.replace("_ms", "_over_floor"): timings[name] / size_floor
                for name in (
                    "hide_patches_tf_function_ms",
                    "hide_patches_xla_ms",
                    "where_patch_mask_ms",
                    "numpy_loop_ms",
                )
            }
            ratios["where_patch_mask_over_hide_patches"] = (
                timings["where_patch_mask_ms"]
                / timings["hide_patches_tf_function_ms"]
            )
            ratios["numpy_loop_over_hide_patches"] = (
                timings["numpy_loop_ms"]
                / timings["hide_patches_tf_function_ms"]
            )
            if isinstance(erase, float):
                ratios["random_erasing_over_hide_patches"] = (
                    erase / timings["hide_patches_tf_function_ms"]
                )
            per_size[label] = {**timings, **ratios}
        results[dtype_name] = {
            "floor_ms": floor,
            "numpy_copy_ms": memcpy,
            "numpy_copy_over_floor": memcpy / floor,
            "random_erasing_ms": erase,
            "random_erasing_over_floor": (
                erase / floor if isinstance(erase, float) else None
            ),
            "patch_sizes": per_size,
        }
    return {
        "benchmark": "hiding",
        "batch_shape": [batch, size, size, 3],
        "hide_prob": 0.5,
        "fill": list(_MEAN_RGB),
        "repeats": repeats,
        "statistic": "median after one warm-up",
        **_tf_environment(),
        "results": results,
    }


def bench_models(batch: int, repeats: int, num_classes: int = 1000) -> dict:
    """Runs the model benchmark; returns the JSON-ready result dict."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    results = {}
    for name, side in models.INPUT_SIDES.items():
        model = models.IMAGE_MODELS[name](
            num_classes, input_shape=(side, side, 3)
        )
        images = tf.random.uniform([batch, side, side, 3], -1, 1, seed=0)
        labels = tf.random.uniform([batch], 0, num_classes, tf.int32, seed=0)

        @tf.function
        def forward(x, model=model):
            return model(x, training=False)

        @tf.function
        def forward_backward(x, y, model=model):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            return tf.add_n([tf.reduce_sum(g) for g in grads])

        fwd = _median_ms(lambda: forward(images), repeats)
        both = _median_ms(lambda: forward_backward(images, labels), repeats)
        results[name] = {
            "input": [side, side, 3],
            "parameters": model.count_params(),
            "forward_ms": fwd,
            "forward_images_per_s": batch / fwd * 1e3,
            "forward_backward_ms": both,
            "forward_backward_images_per_s": batch / both * 1e3,
        }
    return {
        "benchmark": "models",
        "batch": batch,
        "num_classes": num_classes,
        "repeats": repeats,
        "statistic": "median after one warm-up",
        **_tf_environment(),
        "results": results,
    }


def smooth_cams(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Random smooth CAMs: float64 `[count, size, size]` in [0, 1]."""
    rng = np.random.default_rng(seed)
    cells = max(2, size // 16)
    cams = []
    for _ in range(count):
        small = rng.random((cells, cells))
        cam = ndimage.zoom(small, size / cells, order=1)[:size, :size]
        cams.append(cam)
    return np.stack(cams)


def _opencv_boxes(cam, thresholds):
    """The official tool's method, once per threshold: every contour's box.

    Threshold the 8-bit CAM, `findContours` (RETR_TREE), `boundingRect`
    of the largest contour (MaxBoxAcc) and of every contour (MaxBoxAccV2):
    what wsolevaluation's two passes compute, in one.
    """
    scaled = (cam * 255).astype(np.uint8)
    top = scaled.max()
    largest, every = [], []
    for threshold in thresholds:
        _, binary = cv2.threshold(
            scaled, int(threshold * top), 255, cv2.THRESH_BINARY
        )
        contours = cv2.findContours(
            binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE
        )[0]
        if not contours:
            largest.append((0, 0, 0, 0))
            every.append([(0, 0, 0, 0)])
            continue
        boxes = [cv2.boundingRect(c) for c in contours]
        best = max(
            range(len(contours)), key=lambda i: cv2.contourArea(contours[i])
        )
        largest.append(boxes[best])
        every.append(boxes)
    return largest, every


_IMAGES_ILSVRC_VAL = 50_000


def bench_boxes(images: int, size: int, repeats: int) -> dict:
    """Runs the CAM-to-box benchmark; returns the JSON-ready result dict.

    Every function is timed in turn, round after round, so the ratios
    compare runs made under the same state of the machine.
    """
    cams = smooth_cams(images, size)
    grid100 = np.arange(100) / 100
    grid1000 = np.arange(1000) / 1000
    gt_boxes = [np.array([[size * 0.2, size * 0.3, size * 0.7, size * 0.8]])]
    # Compile the sweep before timing (numba caches it after the first run).
    postprocess.cam_component_boxes(cams[0], grid100)

    def per_cam(fn):
        return lambda: [fn(cam) for cam in cams]

    def metric_update(thresholds, protocol="has_tf"):
        def run(cam):
            metric = metrics.ThresholdFreeLocalization(
                thresholds, protocol=protocol
            )
            metric.update(cam, gt_boxes[0])

        return run

    fns = {
        "cam_to_box_one_threshold": per_cam(
            lambda cam: postprocess.cam_to_box(cam, 0.2)
        ),
        "sweep_100_largest": per_cam(
            lambda cam: postprocess.cam_boxes_for_thresholds(cam, grid100)
        ),
        "sweep_100_both": per_cam(
            lambda cam: postprocess.cam_component_boxes(cam, grid100)
        ),
        "sweep_1000_both": per_cam(
            lambda cam: postprocess.cam_component_boxes(cam, grid1000)
        ),
        "cam_to_box_per_threshold_100": per_cam(
            lambda cam: [postprocess.cam_to_box(cam, t) for t in grid100]
        ),
        "max_box_acc_update_100": per_cam(metric_update(grid100)),
        "max_box_acc_update_1000": per_cam(metric_update(grid1000)),
        "wsolevaluation_update_100": per_cam(
            metric_update(grid100, "wsolevaluation")
        ),
        "wsolevaluation_update_1000": per_cam(
            metric_update(grid1000, "wsolevaluation")
        ),
    }
    if cv2 is not None:
        fns["opencv_per_threshold_100"] = per_cam(
            lambda cam: _opencv_boxes(cam, grid100)
        )
        fns["opencv_per_threshold_1000"] = per_cam(
            lambda cam: _opencv_boxes(cam, grid1000)
        )
    measured = _interleaved_ms(fns, repeats)
    timings = {f"{k}_ms": v / len(cams) for k, v in measured.items()}
    ratios = {
        "sweep_1000_over_sweep_100": timings["sweep_1000_both_ms"]
        / timings["sweep_100_both_ms"],
        "per_threshold_over_sweep_100": timings[
            "cam_to_box_per_threshold_100_ms"
        ]
        / timings["sweep_100_both_ms"],
    }
    if cv2 is not None:
        # The official tool runs the OpenCV recipe twice (a MaxBoxAcc
        # pass and a MaxBoxAccV2 pass): compare its update with ours.
        for grid in ("100", "1000"):
            ratios[f"official_{grid}_over_wsolevaluation_update_{grid}"] = (
                2
                * timings[f"opencv_per_threshold_{grid}_ms"]
                / timings[f"wsolevaluation_update_{grid}_ms"]
            )
        ratios["opencv_100_over_sweep_100"] = (
            timings["opencv_per_threshold_100_ms"]
            / timings["sweep_100_both_ms"]
        )
        ratios["opencv_1000_over_sweep_1000"] = (
            timings["opencv_per_threshold_1000_ms"]
            / timings["sweep_1000_both_ms"]
        )
    projected = {
        f"{k[:-3]}_50k_images_s": v * _IMAGES_ILSVRC_VAL / 1e3
        for k, v in timings.items()
        if k.startswith(("max_box_acc_update", "wsolevaluation", "opencv"))
    }
    return {
        "benchmark": "boxes",
        "cams": [images, size, size],
        "repeats": repeats,
        "statistic": "median after one warm-up, per image, interleaved",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "opencv": cv2.__version__ if cv2 is not None else None,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "results": {**timings, **ratios, **projected},
    }


def photo_like(height: int, width: int, rng) -> np.ndarray:
    """A photo-like uint8 `[height, width, 3]` image (NumPy only).

    Natural photographs have an amplitude spectrum falling about as
    1/f^1.35 here, with correlated colour channels; so does this noise, so
    it compresses like a photograph (about 70 KB at 500x375, JPEG quality
    90, as ILSVRC's images) and its resizes alias like one's.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freq = np.hypot(fy, fx)
    freq[0, 0] = 1.0
    channels = [
        np.fft.irfft2(
            (rng.normal(size=freq.shape) + 1j * rng.normal(size=freq.shape))
            / freq**1.35,
            s=(height, width),
        )
        for _ in range(3)
    ]
    mix = np.array([[1.0, 0.8, 0.6], [0.0, 0.6, 0.5], [0.0, 0.0, 0.6]])
    image = np.stack(channels, -1) @ mix
    image = (image - image.mean()) / image.std() * 50.0 + 120.0
    return np.clip(image, 0, 255).astype(np.uint8)


# ILSVRC's commonest shapes, (height, width): most images are 500 pixels
# on the long side.
_PHOTO_SHAPES = ((375, 500), (333, 500), (500, 375), (400, 500))


def photo_like_jpegs(count: int, quality: int = 90, seed: int = 0) -> list:
    """`count` encoded JPEGs (bytes) of `photo_like` images, ILSVRC-sized."""
    rng = np.random.default_rng(seed)
    return [
        tf.io.encode_jpeg(
            photo_like(*_PHOTO_SHAPES[i % len(_PHOTO_SHAPES)], rng),
            quality=quality,
        ).numpy()
        for i in range(count)
    ]


def _one_thread(dataset):
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    return dataset.with_options(options)


def _images_per_s(datasets: dict, images: dict, batches: int, repeats: int):
    """Median images/s of each dataset, runs alternating round by round.

    Each run starts a fresh iterator (so no pipeline's prefetch buffer
    fills while another is timed), warms it up with two elements and then
    times `batches` elements of `images[name]` images each.
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
            rates[name].append(images[name] * batches / elapsed)
            del iterator
    return {name: statistics.median(r) for name, r in rates.items()}


def bench_pipeline(batch: int, batches: int, repeats: int) -> dict:
    """Runs the input-pipeline benchmark; returns the JSON-ready dict."""
    count = 2 * batch
    jpegs = photo_like_jpegs(count)
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
    images = {"decode_only": batch}
    for crop in input_pipeline.CROPS:
        for method in input_pipeline.RESIZE_METHODS:
            for hide, sizes in (
                ("hiding", (0, 16, 32, 44, 56)),
                ("none", None),
            ):
                name = f"train_{crop}_{method}_{hide}"
                pipelines[name] = input_pipeline.train_pipeline(
                    source,
                    batch,
                    crop=crop,
                    resize_method=method,
                    patch_sizes=sizes,
                    shuffle_buffer=count,
                    seed=0,
                )
                images[name] = batch
    for protocol in input_pipeline.PROTOCOLS:
        name = f"eval_{protocol}"
        pipelines[name] = input_pipeline.eval_pipeline(
            source.repeat(), batch, protocol
        )
        images[name] = batch
    pipelines = {k: _one_thread(v) for k, v in pipelines.items()}
    rates = _images_per_s(pipelines, images, batches, repeats)
    decode = rates["decode_only"]
    results = {"decode_only_images_per_s": decode}
    for name, rate in rates.items():
        if name == "decode_only":
            continue
        results[f"{name}_images_per_s"] = rate
        results[f"{name}_over_decode_only"] = rate / decode
    for crop in input_pipeline.CROPS:
        for method in input_pipeline.RESIZE_METHODS:
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
            "shapes": [list(s) for s in _PHOTO_SHAPES],
            "quality": 90,
            "mean_kb": float(np.mean(sizes)) / 1e3,
        },
        "statistic": "median images/s per core over alternating runs",
        **_tf_environment(),
        "results": results,
    }


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m has_tf.bench", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="benchmark", required=True)
    hiding_parser = sub.add_parser(
        "hiding", help="hide_patches against a floor, XLA, NumPy, Keras"
    )
    hiding_parser.add_argument("--batch", type=_positive, default=64)
    hiding_parser.add_argument("--size", type=_positive, default=224)
    hiding_parser.add_argument(
        "--repeats", type=_positive, default=7, help="timed runs (median)"
    )
    models_parser = sub.add_parser(
        "models", help="forward and forward+backward images/s per model"
    )
    models_parser.add_argument("--batch", type=_positive, default=32)
    models_parser.add_argument("--repeats", type=_positive, default=3)
    models_parser.add_argument("--num_classes", type=_positive, default=1000)
    boxes_parser = sub.add_parser(
        "boxes", help="cam_to_box and threshold sweeps per 224x224 CAM"
    )
    boxes_parser.add_argument("--images", type=_positive, default=8)
    boxes_parser.add_argument("--size", type=_positive, default=224)
    boxes_parser.add_argument("--repeats", type=_positive, default=3)
    pipeline_parser = sub.add_parser(
        "pipeline", help="input pipelines' images/s per core on JPEGs"
    )
    pipeline_parser.add_argument("--batch", type=_positive, default=64)
    pipeline_parser.add_argument("--batches", type=_positive, default=20)
    pipeline_parser.add_argument("--repeats", type=_positive, default=5)
    args = parser.parse_args(argv)
    if args.benchmark == "pipeline":
        # One core: every TensorFlow op single-threaded (before any runs).
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        result = bench_pipeline(args.batch, args.batches, args.repeats)
    elif args.benchmark == "hiding":
        result = bench_hiding(args.batch, args.size, args.repeats)
    elif args.benchmark == "models":
        result = bench_models(args.batch, args.repeats, args.num_classes)
    else:
        result = bench_boxes(args.images, args.size, args.repeats)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
