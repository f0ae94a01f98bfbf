"""Runs one benchmark: `python -m has_tf.bench NAME [--flags]`.

NAME is hiding, models, boxes, pipeline, video_memory or video_methods
(`has_tf.bench`);
the JSON goes to stdout. A flag a benchmark does not take is an error; one
not given keeps that benchmark's default. Only the named benchmark's
module is imported (the boxes benchmark loads no TensorFlow), after the
name is checked.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys

from absl import flags

from has_tf import _cli
from has_tf.bench import BENCHMARKS

_FLAGS = {
    "batch": "Images or videos per batch (hiding 64, models 32, pipeline "
    "64, video_memory 16, video_methods 16).",
    "size": "Image or CAM side (hiding, boxes: 224).",
    "repeats": "Timed runs per figure, the median reported (hiding 7, "
    "models 3, boxes 3, pipeline 5, video_methods 3).",
    "images": "CAMs timed (boxes: 8).",
    "end_to_end_images": "CAM files python -m has_tf.evaluate_cams scores "
    "end to end (boxes: 1000).",
    "batches": "Batches per timed run (pipeline: 20).",
    "num_classes": "Classifier classes (models: 1000).",
    "videos": "Generated videos (video_memory: 1010).",
    "dim": "Feature dimension (video_memory, video_methods: 2048).",
    "steps": "Steps per video (video_methods: 750).",
    "old_videos": "Videos through the 0.3 pipeline (video_memory: 100).",
}
for _name, _help in _FLAGS.items():
    flags.DEFINE_integer(_name, None, _help, lower_bound=1)
# String options: flag name -> the `run` argument it sets.
_STRING_FLAGS = {"models": "models_list"}
flags.DEFINE_string(
    "models", None, "Comma-separated models to time (models: all)."
)


def options(name: str, values) -> dict:
    """The keyword arguments of benchmark `name`'s `run` the flags give.

    Raises:
      UsageError: an unknown benchmark, or a flag it does not take.
    """
    if name not in BENCHMARKS:
        raise _cli.UsageError(
            f"expected a benchmark name, one of {', '.join(BENCHMARKS)}. "
            f"Received: {name!r}"
        )
    run = importlib.import_module(BENCHMARKS[name]).run
    takes = inspect.signature(run).parameters
    given = {k: values[k].value for k in _FLAGS if values[k].present}
    given.update(
        (argument, values[flag].value)
        for flag, argument in _STRING_FLAGS.items()
        if values[flag].present
    )
    extra = sorted(set(given) - set(takes))
    if extra:
        raise _cli.UsageError(
            f"the {name} benchmark takes "
            f"{', '.join('--' + k for k in takes)}. Received: "
            f"{', '.join(f'--{k}={given[k]}' for k in extra)}"
        )
    return given


def main(argv) -> int:
    if len(argv) != 2:
        raise _cli.UsageError(
            "expected one benchmark name, one of "
            f"{', '.join(BENCHMARKS)}. Received: {' '.join(argv[1:]) or 'none'}"
        )
    name = argv[1]
    kwargs = options(name, flags.FLAGS)
    if name == "pipeline":
        import tensorflow as tf

        # One core: every TensorFlow op single-threaded (before any runs).
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    result = importlib.import_module(BENCHMARKS[name]).run(**kwargs)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    _cli.run(main)
