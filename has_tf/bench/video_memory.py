"""Peak memory of the video training pipeline, per cache mode.

    python -m has_tf.bench video_memory [--videos=1010] [--dim=2048] \\
        [--old_videos=100] [--batch=16]

Generated videos stand in for THUMOS14's validation set: durations drawn
from a gamma distribution with the official meta file's mean (233.7 s,
`thumos14-val-meta.mat`, 1010 videos) and shape 2, T = duration x 25/16
(I3D), `dim`-d float32 features. Each row runs in its own process, pulls
two epochs of training batches at F_total = 2000 with hiding (the cache is
full after the first), and reports the process's peak resident memory
(`ru_maxrss`) and its growth over the process before the first batch.

Rows: the cache modes of `input_pipeline.videos.train_pipeline`
("memory", "memory_float16", "none") on `videos` videos, and has_tf 0.3's
pipeline (every video resampled to F_total, then cached) on `old_videos`,
with its growth per video scaled to `videos` as "extrapolated" (it needs
F_total x D x 4 bytes per video: 15.3 GiB at 1010 x 2048).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import numpy as np

MEAN_DURATION_S = 233.7  # THUMOS14 validation, the official meta file.
RATE = 25.0 / 16.0
NUM_STEPS = 2000
MODES = ("memory", "memory_float16", "none")


def lengths(videos: int, seed: int = 0) -> np.ndarray:
    """T per generated video: int64 `[videos]`, >= 1."""
    rng = np.random.default_rng(seed)
    durations = rng.gamma(2.0, MEAN_DURATION_S / 2.0, size=videos)
    return np.maximum(1, np.round(durations * RATE)).astype(np.int64)


def _dataset(videos, dim, seed=0):
    import tensorflow as tf

    steps = lengths(videos, seed)

    def gen():
        rng = np.random.default_rng(seed + 1)
        for i, t in enumerate(steps):
            yield {
                "features": rng.standard_normal((int(t), dim), np.float32),
                "labels": np.eye(20, dtype=np.float32)[i % 20],
            }

    spec = {
        "features": tf.TensorSpec([None, dim], tf.float32),
        "labels": tf.TensorSpec([20], tf.float32),
    }
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def _old_pipeline(dataset, batch, fill):
    """has_tf 0.3: resample to F_total first, then cache."""
    import tensorflow as tf

    from has_tf.augmentation import hiding

    def prepare(example):
        return hiding.sample_uniform(example["features"], NUM_STEPS), example[
            "labels"
        ]

    data = dataset.map(prepare).cache().shuffle(1024, seed=0).repeat()
    data = data.batch(batch, drop_remainder=True)

    def hide(index, pair):
        seeds = tf.stack([tf.constant(0, tf.int64), index])
        return hiding.hide_segments(pair[0], 100, 0.5, fill, seed=seeds), pair[
            1
        ]

    return data.enumerate().map(hide)


def measure(mode: str, videos: int, dim: int, batch: int) -> dict:
    """One row, in this process: peak RSS over two epochs of batches."""
    from has_tf.input_pipeline import videos as video_pipeline

    dataset = _dataset(videos, dim)
    fill = np.zeros(dim, np.float32)
    if mode == "old":
        data = _old_pipeline(dataset, batch, fill)
    else:
        data = video_pipeline.train_pipeline(
            dataset, batch, NUM_STEPS, 100, 0.5, fill, seed=0, cache=mode
        )
    batches = 2 * (videos // batch)
    iterator = iter(data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(batches):
        features, _ = next(iterator)
    assert features.shape == (batch, NUM_STEPS, dim)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kib = 1024.0**2  # ru_maxrss is in KiB on Linux.
    return {
        "mode": mode,
        "videos": videos,
        "dim": dim,
        "batches": batches,
        "features_gib": float(lengths(videos).sum() * dim * 4 / 1024.0**3),
        "peak_gib": round(peak / kib, 3),
        "growth_gib": round((peak - before) / kib, 3),
    }


def _in_process(mode, videos, dim, batch) -> dict:
    code = (
        "import json, sys; from has_tf.bench import video_memory as m; "
        f"print(json.dumps(m.measure({mode!r}, {videos}, {dim}, {batch})))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(
            f"video_memory row {mode!r} failed:\n{out.stderr[-3000:]}"
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(
    videos: int = 1010, dim: int = 2048, old_videos: int = 100, batch: int = 16
) -> dict:
    """The rows (one process each) and the 0.3 pipeline's extrapolation."""
    rows = [_in_process(mode, videos, dim, batch) for mode in MODES]
    old = _in_process("old", old_videos, dim, batch)
    per_video = old["growth_gib"] / old_videos
    return {
        "benchmark": "video_memory",
        "num_steps": NUM_STEPS,
        "rows": rows,
        "old_0_3": old,
        "old_0_3_extrapolated_growth_gib": round(per_video * videos, 2),
        "old_0_3_cache_gib_at_videos": round(
            videos * NUM_STEPS * dim * 4 / 1024.0**3, 2
        ),
    }
