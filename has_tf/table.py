"""Methods side by side: `python -m has_tf.table`.

    python -m has_tf.table --from_seeds=runs/methods_seeds.json
    python -m has_tf.table \\
        --from_searches=runs/search/cub_vgg16_cam,runs/search/cub_vgg16_acol

Reads what `python -m has_tf.seeds` wrote (`--from_seeds`, its `--out` JSON:
each flagfile's mean, standard deviation, minimum and maximum over its
seeds, and its best seed on a row labelled best-of-N) and what
`python -m has_tf.search` wrote (`--from_searches`, search directories: each
search's chosen trial scored once on test), and prints one Markdown table:
a row per experiment with its method (`--method`, as its runs recorded
it), its model, the figures in %, and the figure its flagfile's header
quotes from the literature ("Paper: ... <metric> <value>"), beside the
measured one. `--markdown_out` also writes the table to a file.

Plain Python: it reads JSON and text files only, no TensorFlow.
"""

from __future__ import annotations

import json
import os
import re

from absl import flags

from has_tf import _checks
from has_tf import _cli
from has_tf.metrics import spread

_SEEDS = flags.DEFINE_list(
    "from_seeds", [], "JSON files written by python -m has_tf.seeds --out."
)
_SEARCHES = flags.DEFINE_list(
    "from_searches", [], "Search directories of python -m has_tf.search."
)
_FIGURES = flags.DEFINE_list(
    "columns",
    ["gt_known_loc", "top1_loc", "top1_cls", "max_box_acc_v2", "pxap"],
    "The figures (columns) to show, where the runs have them.",
)
_OUT = flags.DEFINE_string("markdown_out", "", "Also write the table here.")

# A flagfile header's reported figure: "... test split: MaxBoxAccV2 63.7".
_REPORTED = re.compile(r"test split: (MaxBoxAccV2|PxAP) ([0-9.]+)")


def reported(flagfile: str) -> str:
    """The figure a flagfile's header quotes ("MaxBoxAccV2 63.7"), or ""."""
    try:
        with open(flagfile) as f:
            header = " ".join(
                line[1:].strip() for line in f if line.startswith("#")
            )
    except OSError:
        return ""
    match = _REPORTED.search(header)
    return f"{match.group(1)} {match.group(2)}" if match else ""


def _run_info(model_dir: str) -> dict:
    try:
        with open(os.path.join(model_dir, "run_info.json")) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return {}


def _method(info: dict) -> str:
    method = info.get("method")
    if isinstance(method, dict):
        return method.get("name", "?")
    return "?"  # Runs from before --method.


_SEEDS_JSON = (
    "the JSON python -m has_tf.seeds writes, {flagfile: {'runs': [{'seed', "
    "'model_dir', figures...}]}}"
)
_SEARCH_JSON = "the search.json python -m has_tf.search writes"


def seeds_rows(path: str) -> list[dict]:
    """One row per flagfile of a seeds JSON: each figure's mean, standard
    deviation, minimum and maximum over the runs that finished
    (`metrics.spread`), then, with two runs or more, a row of the best
    seed on the first figure, labelled a best-of-N, not the result.

    Raises:
      ValueError: not JSON, or not a seeds JSON (naming the file and the
        field at fault).
    """
    with open(path) as f, _checks.json_record(path, _SEEDS_JSON):
        return _seeds_rows(json.load(f))


def _seeds_rows(report) -> list[dict]:
    rows = []
    for flagfile, entry in _checks.of_type(report, dict, "the file").items():
        runs = _checks.of_type(
            _checks.of_type(entry, dict, flagfile)["runs"], list, "'runs'"
        )
        for run in runs:
            _checks.of_type(run, dict, "a run")
        done = [r for r in runs if "error" not in r]
        info = _run_info(done[0]["model_dir"]) if done else {}
        names = [
            key
            for key in (done[0] if done else ())
            if key not in ("seed", "model_dir", "train_seconds")
        ]
        row = {
            "experiment": flagfile,
            "method": _method(info),
            "model": info.get("model", "?"),
            "runs": f"{len(done)} seeds",
            "figures": {
                key: spread.spread(r[key] for r in done) for key in names
            },
            "reported": reported(flagfile),
        }
        rows.append(row)
        if len(done) > 1 and names:
            # The best seed on the first figure, labelled as what it is.
            best = spread.best_of(done, names[0])
            run = next(r for r in done if r["seed"] == best["seed"])
            rows.append(
                {
                    **row,
                    "runs": f"best of {len(done)} seeds (seed "
                    f"{best['seed']} by {names[0]}): not the result",
                    "figures": {key: {"mean": run[key]} for key in names},
                    "reported": "",
                }
            )
    return rows


def search_rows(directory: str) -> list[dict]:
    """The row of one search: its chosen trial's test figures."""
    path = os.path.join(directory, "search.json")
    with open(path) as f, _checks.json_record(path, _SEARCH_JSON):
        report = _checks.of_type(json.load(f), dict, "the file")
        if not report.get("test"):
            raise ValueError(f"{path}: the search has no test figures yet.")
        return _search_row(report)


def _search_row(report) -> list[dict]:
    info = _run_info(report["chosen"]["model_dir"])
    return [
        {
            "experiment": report["flagfile"],
            "method": _method(info),
            "model": info.get("model", "?"),
            "runs": f"best of {len(report['results'])} trials",
            "figures": {
                k: {"mean": float(v)}
                for k, v in report["test"]["figures"].items()
            },
            "reported": reported(report["flagfile"]),
        }
    ]


def markdown(rows: list[dict], figures) -> str:
    """The rows as a Markdown table; figures in % (for seeds: mean ± sd
    (min–max), `metrics.spread`; the best seed on a row of its own,
    labelled a best-of-N)."""
    shown = [f for f in figures if any(f in r["figures"] for r in rows)]
    head = ["experiment", "method", "model", "runs", *shown, "reported"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        cells = [f"`{row['experiment']}`", row["method"], row["model"]]
        cells.append(row["runs"])
        for name in shown:
            if name not in row["figures"]:
                cells.append("")
                continue
            value = row["figures"][name]
            text = f"{100 * value['mean']:.1f}"
            if "std" in value:
                text += (
                    f" ± {100 * value['std']:.1f} ({100 * value['min']:.1f}"
                    f"–{100 * value['max']:.1f})"
                )
            cells.append(text)
        cells.append(row["reported"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv):
    _cli.no_arguments(argv)
    if not _SEEDS.value and not _SEARCHES.value:
        raise _cli.UsageError(
            "--from_seeds / --from_searches: give at least one seeds JSON "
            "or search directory."
        )
    rows = []
    try:
        for path in _SEEDS.value:
            rows += seeds_rows(path)
        for directory in _SEARCHES.value:
            rows += search_rows(directory)
    except (OSError, ValueError, KeyError) as error:
        raise _cli.UsageError(str(error)) from None
    text = markdown(rows, _FIGURES.value)
    print(text, end="")
    if _OUT.value:
        with open(_OUT.value, "w") as f:
            f.write(text)


if __name__ == "__main__":
    _cli.run(main)
