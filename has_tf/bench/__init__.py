"""Speed figures as ratios measured side by side: `python -m has_tf.bench`.

    python -m has_tf.bench hiding [--batch=64] [--size=224] [--repeats=7]
    python -m has_tf.bench models [--batch=32] [--repeats=3] \
        [--num_classes=1000]
    python -m has_tf.bench boxes [--images=8] [--size=224] [--repeats=3]
    python -m has_tf.bench pipeline [--batch=64] [--batches=20] [--repeats=5]
    python -m has_tf.bench video_memory [--videos=1010] [--dim=2048] \
        [--old_videos=100] [--batch=16]
    python -m has_tf.bench video_methods [--batch=16] [--dim=2048] \
        [--steps=750] [--repeats=3]

One module per benchmark, each with a `run(...)` returning the JSON-ready
result (its docstring says what is timed and how): `hiding`, `models`,
`boxes`, `pipeline`, `video_memory` (peak memory, not speed),
`video_methods` (each video method's training step beside the paper's);
`_timing` holds the interleaved medians they share
and `data` the inputs they generate (smooth CAMs, photo-like JPEGs). The
JSON goes to stdout. Figures depend on the machine: compare ratios taken
in one run, not milliseconds across machines (docs/benchmarks.md has
this machine's).
"""

# Benchmark name -> its module.
BENCHMARKS = {
    name: f"has_tf.bench.{name}"
    for name in (
        "hiding",
        "models",
        "boxes",
        "pipeline",
        "video_memory",
        "video_methods",
    )
}

__all__ = ["BENCHMARKS"]
