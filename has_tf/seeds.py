"""Runs experiments over several seeds: `python -m has_tf.seeds`.

    python -m has_tf.seeds \\
        --flagfiles=flags/quickstart.cfg,flags/quickstart_baseline.cfg \\
        --seeds=0,1,2

Each flagfile is trained and evaluated once per seed, in
`<its --model_dir>_s<seed>` (a killed sweep resumes: finished runs are
evaluated again, not retrained from scratch). The whole sweep is checked
before the first run (every flagfile and seed's options); a run that fails
is recorded and the sweep goes on. Prints every run's figures, training
wall time, and per flagfile each figure's mean, standard deviation, minimum
and maximum (`metrics.spread`) and the best seed, labelled a best-of-N;
rewrites it all as JSON to `--out`
after every run, and exits with status 1 if a run failed.
"""

from __future__ import annotations

import json
import os
import time

from absl import flags

from has_tf import _cli
from has_tf import _progress
from has_tf import config as config_lib
from has_tf import evaluate
from has_tf import tasks
from has_tf import train
from has_tf.metrics import spread
from has_tf.runs import files as _files

_FLAGFILES = flags.DEFINE_list("flagfiles", [], "Experiments to run.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.")
_OUT = flags.DEFINE_string("out", "runs/seeds.json", "Where the JSON goes.")


def plan(flagfiles, seeds) -> list:
    """Checks the whole sweep before any run starts.

    Every flagfile is read and every seed's training and evaluation
    options are built (so a bad value anywhere is found now, not after
    hours of the runs before it).

    Returns:
      `[(flagfile, seed, FlagValues)]` in the order the runs go.

    Raises:
      ValueError: every problem found, one per line: no flagfile or seed,
        a repeated seed, an unreadable flagfile, one without --model_dir,
        an invalid option (naming the file and seed).
    """
    problems = []
    if not flagfiles:
        problems.append("--flagfiles: expected at least one flagfile.")
    if not seeds:
        problems.append("--seeds: expected at least one seed. Received: none")
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        problems.append(
            f"--seeds: each seed once (a repeated seed would count one run "
            f"twice in the mean). Received: {list(seeds)}"
        )
    runs = []
    for path in flagfiles:
        try:
            config_lib.check_flagfiles([f"--flagfile={path}"])
            base = config_lib.read_flagfile(path)
        except (flags.Error, ValueError, OSError) as error:
            problems.append(f"{path}: {error}")
            continue
        if not base["model_dir"].value:
            problems.append(
                f"{path}: no --model_dir (the sweep writes each seed's run "
                "to <model_dir>_s<seed>)."
            )
            continue
        for seed in seeds:
            try:
                values = config_lib.read_flagfile(path, seed=seed)
                values["model_dir"].value = f"{base['model_dir'].value}_s{seed}"
                tasks.resolve(config_lib.train_config(values))
                config_lib.eval_config(values)
            except (flags.Error, ValueError) as error:
                problems.append(f"{path} (seed {seed}): {error}")
                continue
            runs.append((path, seed, values))
    if problems:
        raise ValueError("The sweep cannot start:\n  " + "\n  ".join(problems))
    return runs


def _summary(report: dict, path: str) -> None:
    entry = report[path]
    done = [r for r in entry["runs"] if "error" not in r]
    keys = (
        [k for k in done[0] if k not in ("seed", "model_dir")] if done else []
    )
    entry["spread"] = {k: spread.spread(r[k] for r in done) for k in keys}
    entry["mean"] = {k: v["mean"] for k, v in entry["spread"].items()}
    figures = [k for k in keys if k != "train_seconds"]
    if figures:  # The first figure of the task's (its headline's).
        entry["best_of"] = spread.best_of(done, figures[0])
    entry["failed"] = len(entry["runs"]) - len(done)


def run(
    flagfiles, seeds, out: str | None = None, progress: bool = False
) -> dict:
    """Trains and evaluates every flagfile at every seed.

    The whole sweep is checked first (`plan`). A run that fails is
    recorded with its error and the sweep goes on; `out`, if given, is
    rewritten after every run, so a sweep cut short keeps what it did.
    `progress`: run k of n, the time left and the last run's figures on
    stderr (`has_tf._progress`).

    Returns:
      `{flagfile: {"runs": [{"seed", "model_dir", "train_seconds",
      figures...} or {"seed", "model_dir", "error"}], "spread": {figure:
      {"mean", "std", "min", "max", "n"} over the runs that finished
      (`metrics.spread`)}, "mean": {figure: its mean}, "best_of": {"seed",
      "figure", "value", "of"} (the best run on the task's first figure, a
      best-of-N, not the result), "failed": count}}`.

    Raises:
      ValueError: the sweep cannot start (`plan`).
    """
    report = {}
    runs = plan(flagfiles, seeds)
    bar = _progress.Progress(len(runs), "runs", "seeds") if progress else None
    for path, seed, values in runs:
        entry = report.setdefault(path, {"runs": []})
        task = tasks.for_config(config_lib.train_config(values))
        model_dir = values["model_dir"].value
        start = time.time()
        try:
            train.train(config_lib.train_config(values))
            seconds = time.time() - start
            result, _ = evaluate.run_config(
                model_dir, config_lib.eval_config(values)
            )
            row = {
                "seed": seed,
                "model_dir": model_dir,
                "train_seconds": round(seconds, 1),
                **task.figures(result),
            }
        except Exception as error:  # Recorded; the sweep goes on.
            row = {
                "seed": seed,
                "model_dir": model_dir,
                "error": f"{type(error).__name__}: {error}",
            }
        entry["runs"].append(row)
        _summary(report, path)
        print(json.dumps(row), flush=True)
        if out:
            _files.write_json_atomically(out, report, indent=2)
        if bar:
            figures = {k: v for k, v in row.items() if isinstance(v, float)}
            bar.advance(
                1,
                f"last: {os.path.basename(path)} seed {seed} "
                + (
                    "failed"
                    if "error" in row
                    else ", ".join(
                        f"{k} {v:.3f}"
                        for k, v in figures.items()
                        if k != "train_seconds"
                    )
                ),
            )
    if bar:
        bar.close()
    return report


def main(argv):
    _cli.no_arguments(argv)
    try:
        seeds = [int(s) for s in _SEEDS.value if s.strip()]
    except ValueError:
        raise _cli.UsageError(
            f"--seeds: expected integers. Received: {_SEEDS.value}"
        ) from None
    out_dir = os.path.dirname(os.path.abspath(_OUT.value))
    try:
        os.makedirs(out_dir, exist_ok=True)
        report = run(_FLAGFILES.value, seeds, out=_OUT.value, progress=True)
    except (ValueError, OSError) as error:
        raise _cli.UsageError(str(error)) from None
    failed = []
    for path, entry in report.items():
        done = len(entry["runs"]) - entry["failed"]
        print(f"{path} ({done} of {len(entry['runs'])} seeds finished):")
        for name, value in entry["spread"].items():
            print(
                f"  {name}: mean {value['mean']:.4f} sd {value['std']:.4f} "
                f"min {value['min']:.4f} max {value['max']:.4f}"
            )
        if "best_of" in entry:
            best = entry["best_of"]
            print(
                f"  best of {best['of']} seeds, not the result: seed "
                f"{best['seed']}, {best['figure']} {best['value']:.4f}"
            )
        failed += [
            f"{path} seed {r['seed']}: {r['error']}"
            for r in entry["runs"]
            if "error" in r
        ]
    print(f"Written {_OUT.value}")
    if failed:
        _cli.fail(
            f"{len(failed)} run(s) failed (recorded in {_OUT.value}): "
            + "; ".join(failed)
        )


if __name__ == "__main__":
    _cli.run(main)
