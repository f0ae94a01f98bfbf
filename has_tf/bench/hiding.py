"""`python -m has_tf.bench hiding`: hide_patches beside a floor and rivals.

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
"""

from __future__ import annotations

import random

import keras
import numpy as np
import tensorflow as tf

from has_tf.augmentation import hiding
from has_tf.bench import _timing
from has_tf.input_pipeline import images as image_pipeline

_SIZES = {"16": (16,), "32": (32,), "44": (44,), "56": (56,)}
_SIZES["mixed"] = (0, 16, 32, 44, 56)
_MEAN_RGB = image_pipeline.IMAGENET_MEAN_RGB


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


def run(batch: int = 64, size: int = 224, repeats: int = 7) -> dict:
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
        base = _timing.interleaved_ms(baseline, repeats)
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
            measured = _timing.interleaved_ms(
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
        **_timing.tf_environment(),
        "results": results,
    }
