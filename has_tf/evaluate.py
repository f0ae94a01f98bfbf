"""Evaluates a trained run's localization: `python -m has_tf.evaluate`.

    python -m has_tf.evaluate --flagfile=flags/quickstart.cfg \\
        --model_dir=runs/quickstart

Reads `model.keras` and `run_info.json` from `--model_dir` and lets the
dataset's task score it (`has_tf.tasks`): boxes under the paper's and the
threshold-free protocols for images, temporal mAP under the THUMOS14 and
ActivityNet rules for videos. Writes `eval/metrics.json` (fractions in
[0, 1]) and pictures into the model dir and prints the figures.
`--compare=dir_a,dir_b` prints evaluated runs side by side instead.
Training and evaluation read the same flags (`has_tf.config`), so one
flagfile drives both.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app
from absl import flags

from has_tf import config as config_lib
from has_tf import tasks
from has_tf.tasks.image_localization import HEADLINE

# --helpshort lists the config flags as this app's own.
flags.adopt_module_key_flags(config_lib)
_COMPARE = flags.DEFINE_list(
    "compare",
    [],
    "Model dirs whose eval/metrics.json to print side by "
    "side (no evaluation runs), e.g. runs/quickstart,runs/quickstart_baseline.",
)

__all__ = ["HEADLINE", "compare", "evaluate", "run_config"]


def run_config(model_dir: str, config: config_lib.EvalConfig):
    """Evaluates `model_dir` as `config` says.

    Returns:
      `(result dict, printable summary)`.

    Raises:
      FileNotFoundError: `model_dir` holds no trained model.
    """
    task = tasks.for_dataset(config.dataset)
    result = task.evaluate(model_dir, config)
    return result, task.headline(result)


def evaluate(
    model_dir: str,
    dataset: str,
    split: str | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    **options,
) -> dict:
    """Scores the run in `model_dir` on `dataset`; returns the metrics.

    Args:
      model_dir: a run written by `has_tf.train`.
      dataset: a has_tf dataset name (picks the task).
      split: the split to score (`eval_split`); None: the config's default.
      data_dir, manual_dir: as for `has_tf.datasets.load`.
      **options: any other `has_tf.config.EvalConfig` field
        (`protocol`, `cam_threshold`, `threshold_step`, ...); what is not
        given keeps the config's default.

    Returns:
      The task's result dict (also written to `eval/metrics.json`).

    Raises:
      FileNotFoundError: `model_dir` holds no trained model.
      ValueError: an invalid option (naming it).
    """
    given = dict(eval_split=split, data_dir=data_dir, manual_dir=manual_dir)
    options.update({k: v for k, v in given.items() if v is not None})
    config = config_lib.EvalConfig(
        model_dir=model_dir, dataset=dataset, **options
    )
    return run_config(model_dir, config)[0]


def compare(model_dirs) -> str:
    """A table of the headline figures of several evaluated image runs.

    Args:
      model_dirs: directories holding `eval/metrics.json`.

    Returns:
      The table as text, one row per metric and one column per run.

    Raises:
      FileNotFoundError: a run has not been evaluated.
    """
    results = []
    for model_dir in model_dirs:
        path = os.path.join(model_dir, "eval", "metrics.json")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"No evaluation in {model_dir!r}: expected {path} (run "
                "python -m has_tf.evaluate --model_dir=... first)."
            )
        with open(path) as f:
            results.append(json.load(f))
    width = max(14, *(len(d) for d in model_dirs))
    lines = [f"{'':16}" + "".join(f"{d:>{width + 2}}" for d in model_dirs)]
    for key in HEADLINE + ("count",):
        cells = "".join(f"{r[key]:>{width + 2}.4g}" for r in results)
        lines.append(f"{key:16}{cells}")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if _COMPARE.value:
        try:
            print(compare(_COMPARE.value))
        except FileNotFoundError as error:
            raise app.UsageError(str(error)) from None
        return
    try:
        config_lib.check_flagfiles(sys.argv)
        config = config_lib.eval_config()
        if not config.model_dir:
            raise ValueError("--model_dir is required.")
        _, text = run_config(config.model_dir, config)
    except (FileNotFoundError, ValueError) as error:
        raise app.UsageError(str(error)) from None
    print(text)
    print(f"Metrics and pictures in {os.path.join(config.model_dir, 'eval')}")


if __name__ == "__main__":
    app.run(main)
