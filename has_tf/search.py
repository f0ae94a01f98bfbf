"""Random hyperparameter search: `python -m has_tf.search`.

    python -m has_tf.search --flagfile=flags/wsol/cub_vgg16_has.cfg \\
        --space=flags/spaces/has.json --trials=30 --seed=0 \\
        --search_dir=runs/search/cub_vgg16_has

wsolevaluation's protocol (Choe et al., CVPR 2020): draw the trials at
random from a declared space, train each, score each on the small fully
annotated split (`--val_split`, its train-fullsup: CUBV2, ImageNetV2,
OpenImages val), choose the best by `--metric` (MaxBoxAccV2 for boxes,
PxAP for masks) and evaluate only the chosen run, once, on `--test_split`.

Each trial is the flagfile with the drawn values on top, trained into
`<search_dir>/trial_NNN` (its `model.keras`; no `saved_model/`) and scored
into its `eval_val/`; the chosen one's test figures (on the whole split:
`--samples_per_class` trims validation only) go to its `eval_test/`, and
its serving export to its `saved_model/`. `<search_dir>/search.json` holds the
space, every trial (values, figures, status), the choice and the test
figures, rewritten after every trial. A killed search started again with
the same arguments resumes: finished trials are kept, the interrupted one
resumes from its last checkpoint. Every trial's options are checked before
the first one trains. A trial whose training diverges (a loss that turns
NaN at a large learning rate) is a result of its values: recorded as
"diverged", never chosen. A trial that fails otherwise (a full disk, a
killed process) is recorded with its error and the search goes on, but
then chooses nothing (`TrialsFailed`, exit status 1): the same command
again retries the failed trials and keeps the others. The trials done so
far, the time left and the best trial so far are shown on stderr.

The space is a JSON object from flag names to one distribution each:

    {"learning_rate": {"log_uniform": [1e-5, 1e-1]},
     "hide_prob": {"uniform": [0.25, 0.75]},
     "patch_sizes": {"choice": [[16], [32], [56], [96]]},
     "large_feature_map": {"choice": [false, true]}}

`log_uniform` and `uniform` take `[low, high]` (floats, low < high,
low > 0 for log_uniform), `int_uniform` `[low, high]` inclusive, `choice`
a non-empty list of values as the flag takes them (a list for list flags).
The draws depend only on `--seed` (the flagfile's unless given on the
command line; the trials train with the flagfile's) and the space: trial k
is the same in a resumed search. Other training flags belong in the
flagfile: given on this command line they are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys

from absl import flags

from has_tf import _checks
from has_tf import _cli
from has_tf import _progress
from has_tf import config as config_lib
from has_tf import evaluate
from has_tf import tasks
from has_tf import train
from has_tf.config.spaces import DISTRIBUTIONS
from has_tf.config.spaces import draw_trials
from has_tf.config.spaces import read_space
from has_tf.metrics import pseudo_label_files
from has_tf.runs import files as _files
from has_tf.runs import run_dir
from has_tf.training import checkpoints

__all__ = [
    "DISTRIBUTIONS",
    "TrialsFailed",
    "draw_trials",
    "plan",
    "read_space",
    "run",
]

# The figure a search picks by, in order of preference: masks, then boxes.
_AUTO_METRICS = ("pxap", "max_box_acc_v2")
SEARCH_JSON = "search.json"

_SPACE = flags.DEFINE_string("space", None, "The search space (JSON).")
_TRIALS = flags.DEFINE_integer("trials", 30, "Trials to draw.", lower_bound=1)
_DIR = flags.DEFINE_string(
    "search_dir", None, "Where the trials and search.json go."
)
_METRIC = flags.DEFINE_string(
    "metric",
    "auto",
    "The validation figure to choose by; auto: pxap where the split has "
    "masks, else max_box_acc_v2.",
)
_VAL = flags.DEFINE_string(
    "val_split", "validation", "The split trials are scored on."
)
_TEST = flags.DEFINE_string(
    "test_split", "test", "The split the chosen trial is scored on, once."
)
_SELECT = flags.DEFINE_string(
    "select_on",
    "ground_truth",
    "What trials are chosen on: ground_truth (--val_split's boxes) or "
    "pseudo_boxes:<file> (a pseudo-label file, e.g. of the train split, "
    "python -m has_tf.pseudo_labels: the WACV 2025 realistic protocol). "
    "With pseudo-boxes every trial is also scored on --val_split, and "
    "search.json records the trial ground truth would have chosen.",
)


def _fail(problems):
    raise ValueError("The search cannot start:\n  " + "\n  ".join(problems))


def _flag_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_flag_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def _trial_values(flagfile, values, model_dir, split):
    flag_values = config_lib.read_flagfile(flagfile)
    for name, value in values.items():
        flag_values[name].parse(_flag_text(value))
    flag_values["model_dir"].value = model_dir
    flag_values["eval_split"].value = split
    return flag_values


def plan(flagfile, space_path, trials, seed, search_dir, val_split):
    """Reads the space, draws the trials and checks every one's options.

    Returns:
      `(space, [(values, FlagValues)])`.

    Raises:
      ValueError: every problem found (the flagfile, the space, a trial
        whose options are invalid), one per line.
    """
    problems = []
    if not search_dir:
        problems.append("--search_dir: expected a directory.")
    if not flagfile:
        problems.append("--flagfile: expected the experiment's flagfile.")
    if not space_path:
        problems.append("--space: expected a search space file.")
    if problems:
        _fail(problems)
    space = read_space(space_path)
    try:
        config_lib.read_flagfile(flagfile)
    except (flags.Error, ValueError, OSError) as error:
        _fail([f"{flagfile}: {error}"])
    planned = []
    for index, values in enumerate(draw_trials(space, trials, seed)):
        model_dir = os.path.join(search_dir, f"trial_{index:03d}")
        try:
            flag_values = _trial_values(flagfile, values, model_dir, val_split)
            tasks.resolve(config_lib.train_config(flag_values))
            config_lib.eval_config(flag_values)
        except (flags.Error, ValueError) as error:
            problems.append(f"trial {index} {values}: {error}")
            continue
        planned.append((values, flag_values))
    if problems:
        _fail(problems)
    return space, planned


def _identity(
    flagfile, space_path, trials, seed, metric, val_split, test_split, select
) -> dict:
    with open(flagfile, "rb") as f:
        flags_sha = hashlib.sha256(f.read()).hexdigest()
    with open(space_path) as f:
        space = json.load(f)
    return {
        "flagfile": flagfile,
        "flagfile_sha256": flags_sha,
        "space": space,
        "trials": trials,
        "seed": seed,
        "metric": metric,
        "val_split": val_split,
        "test_split": test_split,
        "select_on": select,
    }


def _selection(select_on: str):
    """`None` for ground truth, else `(file, its split)` of
    `pseudo_boxes:<file>`.

    Raises:
      ValueError: naming --select_on: another form, no such file, not a
        pseudo-box file.
    """
    if select_on == "ground_truth":
        return None
    kind, _, path = select_on.partition(":")
    if kind != "pseudo_boxes" or not path:
        raise ValueError(
            "--select_on: expected ground_truth or pseudo_boxes:<file>. "
            f"Received: {select_on!r}"
        )
    try:
        read = pseudo_label_files.read_pseudo_labels(path, "boxes")
    except (OSError, ValueError) as error:
        raise ValueError(f"--select_on: {error}") from None
    return path, read.provenance.get("split", "train")


def _pick_metric(metric, result, task):
    if metric != "auto":
        if metric not in result:
            figures = sorted(
                k for k, v in result.items() if isinstance(v, float)
            )
            raise ValueError(
                f"--metric={metric}: the evaluation has no such figure; it "
                f"has {figures}"
            )
        return metric
    for name in _AUTO_METRICS:
        if name in result:
            return name
    return next(iter(task.figures(result)))


def _scored(model_dir, flag_values, out_name, boxes=None):
    """Evaluates a trial into `out_name`; with `boxes` (`(file, split)`),
    on that split against the file's boxes (`--boxes_from`)."""
    config = config_lib.eval_config(flag_values)
    if boxes is not None:
        config = dataclasses.replace(
            config, boxes_from=boxes[0], eval_split=boxes[1]
        )
    return evaluate.run_config(model_dir, config, out_name=out_name)[0]


class TrialsFailed(RuntimeError):
    """Trials of a search failed (other than by diverging): nothing was
    chosen. `report` is what `search.json` holds; running the search again
    retries them."""

    def __init__(self, message: str, report: dict):
        super().__init__(message)
        self.report = report


def _best_note(report) -> str:
    done = [r for r in report["results"] if r["status"] == "done"]
    if not done:
        return ""
    best = max(done, key=lambda r: (r["figure"], -r["trial"]))
    return f"best: trial {best['trial']}, {best['metric']} {best['figure']:.4f}"


def run(
    flagfile,
    space_path,
    trials,
    seed,
    search_dir,
    metric="auto",
    val_split="validation",
    test_split="test",
    progress: bool = False,
    select_on="ground_truth",
) -> dict:
    """Runs (or resumes) a search; returns what `search.json` holds.

    `select_on`: "ground_truth", or "pseudo_boxes:<file>": each trial is
    scored on the file's split against its boxes (`eval_select/`, the
    figure chosen by) and on `val_split` (`eval_val/`,
    "figure_ground_truth"); the report adds "ground_truth_choice" (the
    trial ground truth would choose, and its test figures when it is
    another) and "same_choice".

    `progress`: trial k of n, the time left and the best trial so far on
    stderr (`has_tf._progress`).

    Raises:
      ValueError: the search cannot start (`plan`), or `search_dir` holds
        another search (naming what differs).
      TrialsFailed: a trial failed other than by diverging; nothing was
        chosen (the trials are recorded; a new run retries the failed).
    """
    boxes = _selection(select_on)
    space, planned = plan(
        flagfile, space_path, trials, seed, search_dir, val_split
    )
    del space
    identity = _identity(
        flagfile,
        space_path,
        trials,
        seed,
        metric,
        val_split,
        test_split,
        select_on,
    )
    path = os.path.join(search_dir, SEARCH_JSON)
    os.makedirs(search_dir, exist_ok=True)
    with run_dir.RunLock(search_dir):
        report = {**identity, "results": [], "chosen": None, "test": None}
        if os.path.exists(path):
            with open(path) as f, _checks.json_record(path, "a search.json"):
                earlier = _checks.of_type(json.load(f), dict, "the file")
                for row in _checks.of_type(
                    earlier["results"], list, "'results'"
                ):
                    _checks.of_type(row, dict, "a result")["status"]
                    row["trial"]
            differ = [k for k in identity if earlier.get(k) != identity[k]]
            if differ:
                raise ValueError(
                    f"--search_dir={search_dir} holds another search "
                    f"({', '.join(differ)} differ): use another --search_dir."
                )
            report = earlier
        # Failed trials are tried again; done and diverged ones are kept.
        report["results"] = [
            r for r in report["results"] if r["status"] != "failed"
        ]
        finished = {r["trial"] for r in report["results"]}
        bar = (
            _progress.Progress(
                len(planned), "trials", "search", done=len(finished)
            )
            if progress
            else None
        )
        if bar:
            bar.update(len(finished), _best_note(report))
        for index, (values, flag_values) in enumerate(planned):
            if index in finished:
                continue
            model_dir = flag_values["model_dir"].value
            row = {"trial": index, "values": values, "model_dir": model_dir}
            task = tasks.for_config(config_lib.train_config(flag_values))
            try:
                # No serving export per trial (hundreds of MB each for the
                # tool's backbones): the chosen one's is written below.
                train.train(
                    config_lib.train_config(flag_values), saved_model=False
                )
                result = _scored(model_dir, flag_values, "eval_val")
                row["figures"] = task.figures(result)
                if boxes is not None:  # No masks there: a box figure.
                    truth = result
                    result = _scored(
                        model_dir, flag_values, "eval_select", boxes
                    )
                    row["figures_selected_on"] = task.figures(result)
                name = _pick_metric(metric, result, task)
                if boxes is not None:
                    row["figure_ground_truth"] = float(truth[name])
                row.update(
                    status="done", metric=name, figure=float(result[name])
                )
            except Exception as error:  # Recorded; the search goes on.
                diverged = isinstance(error, checkpoints.Diverged)
                row.update(
                    status="diverged" if diverged else "failed",
                    error=f"{type(error).__name__}: {error}",
                )
            report["results"].append(row)
            report["results"].sort(key=lambda r: r["trial"])
            print(json.dumps(row), flush=True)
            _files.write_json_atomically(path, report, indent=2)
            if bar:
                bar.advance(1, _best_note(report))
        if bar:
            bar.close()
        failed = [r for r in report["results"] if r["status"] == "failed"]
        if failed:
            raise TrialsFailed(
                f"{len(failed)} of {len(planned)} trials failed, so none "
                f"is chosen (recorded in {path}): "
                + "; ".join(f"trial {r['trial']}: {r['error']}" for r in failed)
                + ". Run the same command again to retry them; the other "
                "trials are kept.",
                report,
            )
        done = [r for r in report["results"] if r["status"] == "done"]
        if done and report["test"] is None:
            best = max(done, key=lambda r: (r["figure"], -r["trial"]))
            report["chosen"] = best
            report["test"] = _tested(planned, best, test_split, export=True)
            if boxes is not None:
                truth = max(
                    done,
                    key=lambda r: (r["figure_ground_truth"], -r["trial"]),
                )
                same = truth["trial"] == best["trial"]
                report["same_choice"] = same
                report["ground_truth_choice"] = {
                    "trial": truth["trial"],
                    "figure_ground_truth": truth["figure_ground_truth"],
                    # For comparison only: not the search's result.
                    "test": report["test"]
                    if same
                    else _tested(planned, truth, test_split, export=False),
                }
            _files.write_json_atomically(path, report, indent=2)
    return report


def _tested(planned, row, test_split, export) -> dict:
    """Scores a trial once on the whole test split (into `eval_test/`);
    `export`: write its serving export too."""
    values = planned[row["trial"]][1]
    values["eval_split"].value = test_split
    # The whole test split, whatever trimmed the validation one.
    values["samples_per_class"].value = 0
    task = tasks.for_config(config_lib.train_config(values))
    result = _scored(row["model_dir"], values, "eval_test")
    saved = os.path.join(row["model_dir"], "saved_model")
    if export and not os.path.exists(saved):
        train.export_run(row["model_dir"])
    metric = row["metric"]
    return {
        "split": test_split,
        "figures": task.figures(result),
        **({metric: float(result[metric])} if metric in result else {}),
    }


# The search's own flags; `--seed` (a training flag) seeds the draws.
_OWN = (
    "flagfile",
    "space",
    "trials",
    "seed",
    "search_dir",
    "metric",
    "val_split",
    "test_split",
    "select_on",
)


def _command_line(argv):
    """The experiment's flagfile; refuses training flags given here (the
    trials read the flagfile, so they would be silently ignored)."""
    paths, extra = [], []
    for index, arg in enumerate(argv[1:], start=1):
        if not arg.startswith("--"):
            continue
        name, has_value, value = arg[2:].partition("=")
        if name == "flagfile":
            paths.append(value if has_value else argv[index + 1])
        elif name.removeprefix("no") not in _OWN:
            extra.append(arg)
    if len(paths) != 1:
        raise _cli.UsageError(
            "--flagfile: expected the experiment's one flagfile. Received: "
            f"{paths or 'none'}"
        )
    if extra:
        raise _cli.UsageError(
            f"{' '.join(extra)}: the trials are the flagfile's options with "
            "the drawn values on top; put other changes in a flagfile "
            "(one that includes this one with --flagfile=)."
        )
    return paths[0]


def _chosen_on(report) -> str:
    select = report.get("select_on", "ground_truth")
    return report["val_split"] if select == "ground_truth" else select


def main(argv):
    _cli.no_arguments(argv)
    flagfile = _command_line(sys.argv)
    try:
        report = run(
            flagfile,
            _SPACE.value,
            _TRIALS.value,
            flags.FLAGS.seed,
            _DIR.value,
            metric=_METRIC.value,
            val_split=_VAL.value,
            test_split=_TEST.value,
            progress=True,
            select_on=_SELECT.value,
        )
    except (ValueError, OSError) as error:
        raise _cli.UsageError(str(error)) from None
    except TrialsFailed as error:
        _cli.fail(str(error))
    diverged = [r for r in report["results"] if r["status"] == "diverged"]
    chosen = report["chosen"]
    if chosen:
        print(
            f"Chosen: trial {chosen['trial']} {chosen['values']} "
            f"({chosen['metric']} {chosen['figure']:.4f} on "
            f"{_chosen_on(report)}); {report['test_split']}: "
            + ", ".join(
                f"{k} {v:.4f}" for k, v in report["test"]["figures"].items()
            )
        )
    if "same_choice" in report:
        other = report["ground_truth_choice"]["trial"]
        print(
            "Ground truth on "
            + report["val_split"]
            + (
                " chooses the same trial."
                if report["same_choice"]
                else f" would choose trial {other}."
            )
        )
    print(f"Written {os.path.join(_DIR.value, SEARCH_JSON)}")
    if diverged:
        message = "; ".join(
            f"trial {r['trial']} {r['values']}" for r in diverged
        )
        if not chosen:
            _cli.fail(f"every trial diverged: {message}")
        print(f"{len(diverged)} trial(s) diverged: {message}")


if __name__ == "__main__":
    _cli.run(main)
