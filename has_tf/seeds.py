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
from absl import app
from absl import flags

_FLAGFILES = flags.DEFINE_list("flagfiles", [], "Experiments to run.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.")
_OUT = flags.DEFINE_string("out", "runs/seeds.json", "Where the JSON goes.")


def figures(result: dict) -> dict:
    """The headline numbers of an image or a temporal evaluation."""
    if "map" in result:  # Temporal.
        out = {"top1_cls": result["top1_cls"]}
        for protocol, values in result["map"].items():
            for iou in ("0.1", "0.3", "0.5", "0.7"):
                out[f"{protocol}_map@{iou}"] = values[iou]
        return out
    return {key: result[key] for key in ("gt_known_loc", "top1_loc",
                                         "top1_cls", "max_box_acc",
                                         "max_box_acc_v2")}


def run(flagfiles, seeds) -> dict:
    """Trains and evaluates every flagfile at every seed.

    Returns:
      `{flagfile: {"runs": [{"seed", "model_dir", "train_seconds",
      figures...}], "mean": {figure: mean over seeds}}}`.
    """
    from has_tf import evaluate
    from has_tf import shared_flags
    from has_tf import train

    report = {}
    for path in flagfiles:
        runs = []
        for seed in seeds:
            values = shared_flags.read_flagfile(path, seed=seed)
            model_dir = f"{values['model_dir'].value}_s{seed}"
            values["model_dir"].value = model_dir
            config = train.config_from_flags(values)
            start = time.time()
            train.train(config)
            seconds = time.time() - start
            result, _ = evaluate.run_from_flags(values, model_dir)
            runs.append({"seed": seed, "model_dir": model_dir,
                         "train_seconds": round(seconds, 1),
                         **figures(result)})
            print(json.dumps(runs[-1]), flush=True)
        keys = [k for k in runs[0] if k not in ("seed", "model_dir")]
        report[path] = {"runs": runs, "mean": {
            k: float(np.mean([r[k] for r in runs])) for k in keys}}
    return report


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not _FLAGFILES.value:
        raise app.UsageError("--flagfiles: expected at least one flagfile.")
    try:
        seeds = [int(s) for s in _SEEDS.value]
    except ValueError:
        raise app.UsageError(f"--seeds: expected integers. Received: "
                             f"{_SEEDS.value}") from None
    report = run(_FLAGFILES.value, seeds)
    for path, entry in report.items():
        means = ", ".join(f"{k} {v:.3f}" for k, v in entry["mean"].items())
        print(f"{path} (mean of {len(seeds)} seeds): {means}")
    with open(_OUT.value, "w") as f:
        json.dump(report, f, indent=2)
    print(f"Written {_OUT.value}")


if __name__ == "__main__":
    app.run(main)
