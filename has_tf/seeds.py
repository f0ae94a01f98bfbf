"""Runs experiments over several seeds: `python -m has_tf.seeds`.

    python -m has_tf.seeds \\
        --flagfiles=flags/quickstart.cfg,flags/quickstart_baseline.cfg \\
        --seeds=0,1,2

Each flagfile is trained and evaluated once per seed, in
`<its --model_dir>_s<seed>` (a killed sweep resumes: finished runs are
evaluated again, not retrained from scratch). Prints every run's figures,
training wall time, and the mean per flagfile, and writes it all as JSON
to `--out`.
"""

from __future__ import annotations

import json
import time

import numpy as np
from absl import flags

from has_tf import _cli
from has_tf import config as config_lib
from has_tf import evaluate
from has_tf import tasks
from has_tf import train

_FLAGFILES = flags.DEFINE_list("flagfiles", [], "Experiments to run.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.")
_OUT = flags.DEFINE_string("out", "runs/seeds.json", "Where the JSON goes.")


def run(flagfiles, seeds) -> dict:
    """Trains and evaluates every flagfile at every seed.

    Returns:
      `{flagfile: {"runs": [{"seed", "model_dir", "train_seconds",
      figures...}], "mean": {figure: mean over seeds}}}`.
    """
    report = {}
    for path in flagfiles:
        runs = []
        task = tasks.for_dataset(
            config_lib.read_flagfile(path)["dataset"].value
        )
        for seed in seeds:
            values = config_lib.read_flagfile(path, seed=seed)
            model_dir = f"{values['model_dir'].value}_s{seed}"
            values["model_dir"].value = model_dir
            start = time.time()
            train.train(config_lib.train_config(values))
            seconds = time.time() - start
            result, _ = evaluate.run_config(
                model_dir, config_lib.eval_config(values)
            )
            runs.append(
                {
                    "seed": seed,
                    "model_dir": model_dir,
                    "train_seconds": round(seconds, 1),
                    **task.figures(result),
                }
            )
            print(json.dumps(runs[-1]), flush=True)
        keys = [k for k in runs[0] if k not in ("seed", "model_dir")]
        report[path] = {
            "runs": runs,
            "mean": {k: float(np.mean([r[k] for r in runs])) for k in keys},
        }
    return report


def main(argv):
    _cli.no_arguments(argv)
    if not _FLAGFILES.value:
        raise _cli.UsageError(
            "--flagfiles: expected at least one flagfile. Received: none"
        )
    try:
        seeds = [int(s) for s in _SEEDS.value]
    except ValueError:
        raise _cli.UsageError(
            f"--seeds: expected integers. Received: {_SEEDS.value}"
        ) from None
    report = run(_FLAGFILES.value, seeds)
    for path, entry in report.items():
        means = ", ".join(f"{k} {v:.3f}" for k, v in entry["mean"].items())
        print(f"{path} (mean of {len(seeds)} seeds): {means}")
    with open(_OUT.value, "w") as f:
        json.dump(report, f, indent=2)
    print(f"Written {_OUT.value}")


if __name__ == "__main__":
    _cli.run(main)
