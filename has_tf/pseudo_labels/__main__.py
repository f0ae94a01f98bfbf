"""A split's pseudo-labels from a trained run: `python -m
has_tf.pseudo_labels`.

    python -m has_tf.pseudo_labels --model_dir=runs/quickstart \\
        --split=train --pseudo_rule=best_threshold --selection_split=validation

For every image of `--split` the box its map of the true class gives
(for a video run, the segments of its true classes), as one JSON Lines
file with the provenance in its header (`has_tf.metrics.
pseudo_label_files`): the run and the SHA-256 of its model, the dataset
and split, the map, the rule and its threshold. Rules (`--pseudo_rule`):

- threshold: the run's box rule (`--box_rule`) at `--cam_threshold`
  (videos: the post-processing's own thresholds, `--postprocess`);
- best_threshold: the threshold of the best GT-known Loc on
  `--selection_split`'s boxes, the same rule (images);
- ddt: PSOL's DDT boxes: each class's first principal axis of the
  features over the split (the CAM head's input, or `--ddt_layer`'s
  output max-pooled by `--ddt_pool`), the largest positive component of
  each image's projection (images). PSOL's own: a pretrained VGG16's
  pool5 at 448 x 448, here a run of `--model=vgg16_cam
  --init_from=<weights> --image_size=448 --epochs=0` with
  `--ddt_layer=conv5_3_relu --ddt_pool=2`.

The dataset is the run's (`run_config.json`); `--dataset` naming another
is refused. Written to `--pseudo_labels_out` (default
`<model_dir>/pseudo_labels/<split>_<rule>.jsonl`) atomically: the file
appears whole or not at all. The job writes its progress beside it,
`<out>.partial/` (shards of `--shard_size` examples, the selected threshold
or the DDT axes); killed and started again with the same flags, it goes
on from the last complete shard, and the file equals an uninterrupted
job's. (The DDT axes are computed in one pass before the first shard; a
job killed during that pass starts it again.)
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import sys

from absl import flags
from absl import logging

from has_tf import _cli
from has_tf import config as config_lib
from has_tf import tasks
from has_tf import vocabulary
from has_tf.metrics import pseudo_label_files
from has_tf.runs import files as _files
from has_tf.runs import run_dir

config_lib.define_flags(flags.FLAGS)
_SPLIT = flags.DEFINE_string("split", "train", "The split to label.")
_RULE = flags.DEFINE_enum(
    "pseudo_rule",
    "threshold",
    vocabulary.PSEUDO_RULES,
    "How the labels are drawn: threshold (--cam_threshold, or a video "
    "run's --postprocess), best_threshold (the threshold best on "
    "--selection_split's boxes) or ddt (PSOL's principal-component boxes "
    "from the run's features).",
)
_SELECTION = flags.DEFINE_string(
    "selection_split",
    None,
    "The split with boxes --pseudo_rule=best_threshold selects on.",
)
_OUT = flags.DEFINE_string(
    "pseudo_labels_out",
    None,
    "The file to write; default "
    "<model_dir>/pseudo_labels/<split>_<rule>.jsonl.",
)
_DDT_LAYER = flags.DEFINE_string(
    "ddt_layer",
    None,
    "--pseudo_rule=ddt: the layer whose output DDT reads (e.g. vgg16_cam's "
    "conv5_3_relu, PSOL's pretrained VGG16 features); default the CAM "
    "head's input.",
)
_DDT_POOL = flags.DEFINE_integer(
    "ddt_pool",
    1,
    "--pseudo_rule=ddt: max-pool the features p x p first (2: PSOL's "
    "pool5, which vgg16_cam drops).",
    lower_bound=1,
)
_SHARD = flags.DEFINE_integer(
    "shard_size",
    1000,
    "Examples per progress shard (what a killed job keeps).",
    lower_bound=1,
)
for _name in ("model_dir", "dataset", "data_dir", "eval_batch_size"):
    flags.declare_key_flag(_name)

__all__ = ["default_out", "label", "run_dataset"]

_STATE = "state.json"


def run_dataset(model_dir: str) -> str | None:
    """The dataset a run was trained on (its `run_config.json`), or None
    for a directory without one."""
    path = os.path.join(model_dir, run_dir.RUN_CONFIG)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get("dataset")


def default_out(model_dir: str, split: str, rule: str) -> str:
    """`<model_dir>/pseudo_labels/<split>_<rule>.jsonl`."""
    name = f"{split.replace('/', '_')}_{rule}.jsonl"
    return os.path.join(model_dir, "pseudo_labels", name)


class _State:
    """The job's own record in `<out>.partial/state.json`: what it is (a
    resumed job must be the same) and what it chose before labelling."""

    def __init__(self, directory: str, job: dict):
        self.path = os.path.join(directory, _STATE)
        self.values = {"job": job, "values": {}}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.values = json.load(f)

    def get(self, key):
        return self.values["values"].get(key)

    def put(self, key, value):
        self.values["values"][key] = value
        _files.write_json_atomically(self.path, self.values)


def _shards(directory: str) -> list:
    return sorted(glob.glob(os.path.join(directory, "[0-9]*.jsonl")))


def _job(model_dir, config, rule, selection_split) -> dict:
    """What makes two jobs the same: the model, the rule, the options."""
    options = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(config).items()
        if k not in ("model_dir", "data_dir", "manual_dir", "workers")
    }
    return {
        "model_sha256": tasks.base.fingerprint(
            tasks.base.trained_model(model_dir)
        ),
        "rule": rule,
        "selection_split": selection_split,
        "options": options,
    }


def label(
    model_dir: str,
    config,
    rule: str = "threshold",
    selection_split: str | None = None,
    out: str | None = None,
    shard_size: int = 1000,
    progress: bool = False,
    ddt_layer: str | None = None,
    ddt_pool: int = 1,
) -> str:
    """Writes the pseudo-labels of `config.eval_split`; returns the file.

    Args:
      model_dir: a trained run.
      config: an `EvalConfig` (its `eval_split` is the split labelled, its
        dataset the run's).
      rule: one of `vocabulary.PSEUDO_RULES`.
      selection_split: the split best_threshold selects on.
      out: the file; None: `default_out`.
      shard_size: examples per progress shard.
      progress: progress lines on stderr.
      ddt_layer, ddt_pool: DDT's features (`--ddt_layer`, `--ddt_pool`).

    Raises:
      FileNotFoundError: no trained model in `model_dir`.
      ValueError: naming the flag: a dataset other than the run's, an
        option the rule does not take.
      has_tf.runs.run_dir.RunLockedError: the run trains or is evaluated.
    """
    trained = run_dataset(model_dir)
    if trained is not None and trained != config.dataset:
        raise ValueError(
            f"--dataset: --model_dir={model_dir} holds a model of dataset "
            f"{trained!r}; its pseudo-labels are for that dataset's images. "
            f"Received: {config.dataset!r}"
        )
    task = tasks.for_run(model_dir) or tasks.for_dataset(config.dataset)
    out = out or default_out(model_dir, config.eval_split, rule)
    partial = out + ".partial"
    with run_dir.RunLock(model_dir):
        ddt = (
            {"ddt_layer": ddt_layer, "ddt_pool": ddt_pool}
            if ddt_layer or ddt_pool != 1
            else {}
        )
        job = _job(model_dir, config, rule, selection_split)
        job.update(ddt)
        if os.path.isdir(partial):
            state = _State(partial, job)
            if state.values.get("job") != job:
                logging.warning(
                    "%s was left by another job (another model or options): "
                    "starting over",
                    partial,
                )
                shutil.rmtree(partial)
        os.makedirs(partial, exist_ok=True)
        state = _State(partial, job)
        _files.write_json_atomically(state.path, state.values)
        shards = _shards(partial)
        done = 0
        for shard in shards:
            with open(shard) as f:
                done += sum(1 for _ in f)
        provenance, records = task.pseudo_labels(
            model_dir,
            config,
            rule,
            selection_split=selection_split,
            start=done,
            state=state,
            progress=progress,
            **ddt,
        )
        number, lines = len(shards), []

        def flush():
            nonlocal number, lines
            if lines:
                path = os.path.join(partial, f"{number:06d}.jsonl")
                _files.write_atomically(path, "".join(lines))
                number, lines = number + 1, []

        for record in records:
            lines.append(pseudo_label_files.record_line(record))
            if len(lines) >= shard_size:
                flush()
        flush()
        provenance["run"] = os.path.abspath(model_dir)
        provenance["model_sha256"] = job["model_sha256"]
        parts = [pseudo_label_files.header_line(task.pseudo_kind, provenance)]
        for shard in _shards(partial):
            with open(shard) as f:
                parts.append(f.read())
        _files.write_atomically(out, "".join(parts))
        shutil.rmtree(partial)
    return out


def main(argv):
    _cli.no_arguments(argv)
    try:
        config_lib.check_flagfiles(sys.argv)
        config = config_lib.eval_config()
        if not config.model_dir:
            raise ValueError(
                "--model_dir: pseudo-labels come from a trained run's "
                "directory. Received: none"
            )
        if not flags.FLAGS["dataset"].present:
            # The run's own dataset, not the flag's default.
            trained = run_dataset(config.model_dir)
            if trained:
                config = dataclasses.replace(config, dataset=trained)
        config = dataclasses.replace(config, eval_split=_SPLIT.value)
        out = label(
            config.model_dir,
            config,
            _RULE.value,
            _SELECTION.value,
            _OUT.value,
            _SHARD.value,
            progress=True,
            ddt_layer=_DDT_LAYER.value,
            ddt_pool=_DDT_POOL.value,
        )
    except (FileNotFoundError, ValueError, run_dir.RunLockedError) as error:
        raise _cli.UsageError(str(error)) from None
    with open(out) as f:
        count = sum(1 for _ in f) - 1
    print(f"{count} pseudo-labels of split {_SPLIT.value} in {out}")


if __name__ == "__main__":
    _cli.run(main)
