"""Evaluates a trained run's localization: `python -m has_tf.evaluate`.

    python -m has_tf.evaluate --flagfile=flags/quickstart.cfg \\
        --model_dir=runs/quickstart

Reads `model.keras` and `run_info.json` from `--model_dir` and lets the
dataset's task score it (`has_tf.tasks`): boxes under the paper's and the
threshold-free protocols for images, temporal mAP under the THUMOS14 and
ActivityNet rules for videos. Writes `eval/metrics.json` (fractions in
[0, 1]; it names its task) and pictures into the model dir and prints the
figures. `--compare=dir_a,dir_b` prints evaluated runs of either task
side by side instead. Training and evaluation read the same flags
(`has_tf.config`), so one flagfile drives both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile

from absl import flags

from has_tf import _checks
from has_tf import _cli
from has_tf import config as config_lib
from has_tf import tasks
from has_tf.metrics import pseudo_label_files
from has_tf.runs import files as _files
from has_tf.runs import run_dir
from has_tf.training import checkpoints

# The config's options as this app's flags (defined once per process).
config_lib.define_flags(flags.FLAGS)
# --helpshort lists the evaluation options as this app's own, grouped by
# task at the top.
for _name in config_lib.key_flags(config_lib.EvalConfig):
    flags.declare_key_flag(_name)
__doc__ += "\n" + config_lib.options_by_task(config_lib.EvalConfig)
_COMPARE = flags.DEFINE_list(
    "compare",
    [],
    "Model dirs whose eval/metrics.json to print side by side (no "
    "evaluation runs), e.g. runs/quickstart,runs/quickstart_baseline.",
)

__all__ = ["compare", "evaluate", "run_config"]


def run_config(
    model_dir: str,
    config: config_lib.EvalConfig,
    out_name: str = "eval",
    progress: bool = False,
):
    """Evaluates `model_dir` as `config` says, into `model_dir/out_name`;
    with `progress`, the examples scored, the rate and the time left on
    stderr (`has_tf._progress`).

    Returns:
      `(result dict, printable summary)`.

    Raises:
      FileNotFoundError: `model_dir` holds no trained model.
      ValueError: the run was trained for the other task than
        `config.dataset`'s.
      has_tf.runs.run_dir.RunLockedError: the run is training, or
        another evaluation of it runs.

    `eval/metrics.json` records what was scored under "scored": the
    SHA-256 of `model.keras`, the dataset, split and options; with
    `--checkpoint=best`, under "checkpoint" the epoch chosen, what it was
    chosen on and every kept checkpoint's figure (`_best_checkpoint`).
    """
    task = tasks.for_dataset(config.dataset)
    trained = tasks.for_run(model_dir)
    if trained is not None and trained.inputs != task.inputs:
        raise ValueError(
            f"--model_dir={model_dir} holds a {trained.name} run, but "
            f"--dataset={config.dataset} is a {task.name} dataset."
        )
    # The run's own task: a box regressor is scored as one.
    task = trained or task
    model_path = tasks.base.trained_model(model_dir)
    # Not while the run trains (or another evaluation writes eval/).
    with run_dir.RunLock(model_dir):
        run_dir.remove_leftovers(model_dir)
        scored = {
            "model_sha256": tasks.base.fingerprint(model_path),
            "dataset": config.dataset,
            "split": config.eval_split,
            "options": {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(config).items()
                if k not in ("model_dir", "data_dir", "manual_dir")
            },
        }
        found = {}
        with contextlib.ExitStack() as stack:
            source, chosen = model_dir, None
            if config.checkpoint == "best":
                work = stack.enter_context(
                    tempfile.TemporaryDirectory(
                        prefix=".tmp-checkpoints-", dir=model_dir
                    )
                )
                chosen, source = _best_checkpoint(model_dir, config, task, work)

            def build(out_dir):
                result = task.evaluate(
                    source, config, out_dir=out_dir, progress=progress
                )
                result["scored"] = scored
                if chosen is not None:
                    result["checkpoint"] = chosen
                tasks.base.write_metrics(out_dir, result)
                found["result"] = result

            # eval/ is built aside and swapped in whole: no mix of two
            # evaluations, no figures beside pictures of another model.
            _files.replace_directory(build, os.path.join(model_dir, out_name))
    result = found["result"]
    return result, task.headline(result)


def _metric(name: str, result: dict, task) -> str:
    """`--checkpoint_metric`: a figure of the result (auto: MaxBoxAccV2
    for images, GT-known Loc for a box regressor, else the first)."""
    if name == "auto":
        for candidate in ("max_box_acc_v2", "gt_known_loc"):
            if candidate in result:
                return candidate
        return next(iter(task.figures(result)))
    if not isinstance(result.get(name), float):
        raise ValueError(
            f"--checkpoint_metric: the evaluation has no figure {name!r}; "
            f"it has {sorted(task.figures(result))}"
        )
    return name


def _best_checkpoint(model_dir: str, config, task, work: str):
    """`--checkpoint=best`: scores every checkpoint kept in `backup/` on
    `--checkpoint_select` and returns `(record, run)`: what metrics.json
    records of the choice, and a run directory in `work` holding the
    chosen weights (the first of equals, the oldest).

    Raises:
      ValueError: naming the flag: no checkpoint, a selection the task
        cannot score, an unknown metric.
    """
    kept = checkpoints.committed(os.path.join(model_dir, "backup"))
    if not kept:
        raise ValueError(
            f"--checkpoint=best: {model_dir}/backup holds no checkpoint to "
            "choose among (train with --keep_checkpoints=0 to keep every one)."
        )
    kind, _, value = config.checkpoint_select.partition(":")
    select = dataclasses.replace(
        config,
        checkpoint="last",
        checkpoint_select="",
        classes_from=None,
        num_pictures=0,
        num_plots=0,
        eval_split=value,
    )
    if kind == "pseudo_boxes":
        if task.inputs != "images":
            raise ValueError(
                "--checkpoint_select: pseudo-boxes choose image runs; "
                f"{model_dir} holds a {task.name} run. Received: "
                f"{config.checkpoint_select!r}"
            )
        try:
            labels = pseudo_label_files.read_pseudo_labels(value, "boxes")
        except (OSError, ValueError) as error:
            raise ValueError(f"--checkpoint_select: {error}") from None
        split = labels.provenance.get("split", "train")
        select = dataclasses.replace(select, eval_split=split, boxes_from=value)
    model, _ = tasks.load_run(model_dir)
    figures, best, metric = {}, None, None
    for epoch, weights in kept:
        model.load_weights(weights)
        run = os.path.join(work, f"ckpt-{epoch:06d}")
        os.makedirs(run)
        for name in (tasks.base.RUN_INFO, run_dir.RUN_CONFIG):
            if os.path.exists(os.path.join(model_dir, name)):
                shutil.copy(os.path.join(model_dir, name), run)
        checkpoints.save_model(model, os.path.join(run, "model.keras"))
        result = task.evaluate(run, select, out_dir=os.path.join(run, "eval"))
        metric = _metric(config.checkpoint_metric, result, task)
        figures[str(epoch)] = float(result[metric])
        if best is None or figures[str(epoch)] > figures[str(best)]:
            if best is not None:
                shutil.rmtree(os.path.join(work, f"ckpt-{best:06d}"))
            best = epoch
        else:
            shutil.rmtree(run)
    record = {
        "chosen": best,
        "select_on": config.checkpoint_select,
        "split": select.eval_split,
        "metric": metric,
        "figures": figures,
    }
    return record, os.path.join(work, f"ckpt-{best:06d}")


def _check_scored(model_dir: str, result: dict) -> None:
    """Refuses figures of a model that is no longer the run's."""
    recorded = result.get("scored", {}).get("model_sha256")
    path = os.path.join(model_dir, "model.keras")
    if (
        recorded
        and os.path.exists(path)
        and recorded != (tasks.base.fingerprint(path))
    ):
        raise ValueError(
            f"{os.path.join(model_dir, 'eval', 'metrics.json')} scored "
            f"another model than {path} (it was trained again since): "
            f"evaluate it again (python -m has_tf.evaluate "
            f"--model_dir={model_dir})."
        )


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
        (`eval_crop`, `cam_threshold`, `threshold_step`, ...); what is not
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
    """A table of the headline figures of several evaluated runs.

    Each run's task (`metrics.json` names it) gives its figures
    (`Task.figures`); a figure one run lacks shows as "-", so image and
    action runs can stand side by side.

    Args:
      model_dirs: directories holding `eval/metrics.json`.

    Returns:
      The table as text, one row per figure and one column per run.

    Raises:
      FileNotFoundError: a run has not been evaluated.
      ValueError: an unreadable `metrics.json` (named), or one that
        scored another `model.keras` than the run's.
    """
    columns = []
    for model_dir in model_dirs:
        path = os.path.join(model_dir, "eval", "metrics.json")
        try:
            result = tasks.read_metrics(model_dir)
        except json.JSONDecodeError as error:
            raise ValueError(f"Unreadable {path}: {error}") from None
        with _checks.json_record(
            path, "the metrics.json python -m has_tf.evaluate writes"
        ):
            _checks.of_type(result, dict, "the file")
            _check_scored(model_dir, result)
            figures = tasks.for_result(result).figures(result)
            columns.append({**figures, "count": result["count"]})
    rows = list(dict.fromkeys(key for column in columns for key in column))
    width = max(14, *(len(d) for d in model_dirs))
    label = max(16, *(len(r) + 2 for r in rows))
    lines = [f"{'':{label}}" + "".join(f"{d:>{width + 2}}" for d in model_dirs)]
    for key in rows:
        cells = "".join(
            f"{c[key]:>{width + 2}.4g}" if key in c else f"{'-':>{width + 2}}"
            for c in columns
        )
        lines.append(f"{key:{label}}{cells}")
    return "\n".join(lines)


def main(argv):
    _cli.no_arguments(argv)
    if _COMPARE.value:
        try:
            print(compare(_COMPARE.value))
        except (FileNotFoundError, ValueError) as error:
            raise _cli.UsageError(str(error)) from None
        return
    try:
        config_lib.check_flagfiles(sys.argv)
        config = config_lib.eval_config()
        if not config.model_dir:
            raise ValueError(
                "--model_dir: evaluation needs the run's directory. "
                "Received: none"
            )
        _, text = run_config(config.model_dir, config, progress=True)
    except (FileNotFoundError, ValueError, run_dir.RunLockedError) as error:
        raise _cli.UsageError(str(error)) from None
    print(text)
    print(f"Metrics and pictures in {os.path.join(config.model_dir, 'eval')}")


if __name__ == "__main__":
    _cli.run(main)
