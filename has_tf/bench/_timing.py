"""Timing shared by the benchmarks: interleaved medians, the environment.

Plain Python: TensorFlow is imported by `tf_environment` alone, so the
boxes benchmark (NumPy, SciPy, numba) loads none.
"""

from __future__ import annotations

import os
import platform
import statistics
import time


def median_ms(fn, repeats: int) -> float:
    """Median wall time of `fn()` in ms over `repeats` runs after a warm-up."""
    return interleaved_ms({"fn": fn}, repeats)["fn"]


def tf_environment() -> dict:
    """Versions and devices for a TensorFlow benchmark's JSON."""
    import keras
    import tensorflow as tf

    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "devices": [d.name for d in tf.config.list_logical_devices()],
        },
    }


def interleaved_ms(fns: dict, repeats: int) -> dict:
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
