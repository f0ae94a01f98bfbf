"""Scores temporal detections made by any code: `python -m
has_tf.evaluate_detections`.

    python -m has_tf.evaluate_detections --detections=results.json \\
        --ground_truth=TH14_Temporal_annotations_test/annotation \\
        --protocol=activitynet --output_dir=eval_detections

Detections: an ActivityNet-style results JSON (`{"results": {video:
[{"segment": [start, end], "label": name, "score": s}]}}`, what most WTAL
repositories write) or the THUMOS14 kit's text ("video start end
class-id score", UCF101 class ids). Ground truth: the official THUMOS14
annotation folder (`<Class>_test.txt`, `Ambiguous_test.txt`; `--subset`
"test" or "val") or an ActivityNet-style ground-truth JSON
(`{"database": ...}`, videos of `--subset`, default "validation").

`--protocol=thumos14` scores by the THUMOS14 kit's rules (strict IoU,
11-point AP, Ambiguous ignored), `activitynet` by ActivityNet's official
evaluator's (`has_tf.metrics.segments`: equal to it, its order for tied
scores included). `--iou_thresholds` is any grid (default 0.1:0.1:0.7 for
thumos14, 0.5:0.05:0.95 for activitynet). `metrics.json` in
`--output_dir` holds mAP per threshold, AP per class and threshold, and
the averages over 0.1:0.5, 0.3:0.7 and 0.1:0.7 (thumos14) or 0.5:0.95
(activitynet) where the grid has their thresholds. Errors name the file
and line.
"""

from __future__ import annotations

import os

from absl import flags

from has_tf import _cli
from has_tf import vocabulary
from has_tf.metrics import detection_files
from has_tf.metrics import segments
from has_tf.runs import files as _files

__all__ = ["AVERAGES", "DEFAULT_GRIDS", "read_ground_truth", "score"]

DEFAULT_GRIDS = {
    "thumos14": segments.DEFAULT_IOU_THRESHOLDS,
    "activitynet": segments.ACTIVITYNET_IOU_THRESHOLDS,
}
AVERAGES = segments.AVERAGES


def _define_flags() -> None:
    """The app's flags, defined when it runs: `--protocol` and
    `--iou_thresholds` mean other things to the training and evaluation
    apps' flags (`has_tf.config`), which a process importing both would
    otherwise define twice."""
    flags.DEFINE_string(
        "detections", None, "Detections: results JSON or THUMOS14 kit text."
    )
    flags.DEFINE_string(
        "ground_truth",
        None,
        "THUMOS14 annotation folder or ActivityNet ground-truth JSON.",
    )
    flags.DEFINE_enum(
        "protocol", "thumos14", vocabulary.MAP_PROTOCOLS, "Scoring rules."
    )
    flags.DEFINE_list(
        "iou_thresholds", [], "IoU grid; empty: the protocol's usual one."
    )
    flags.DEFINE_string(
        "subset",
        "",
        "Ground-truth subset: THUMOS14 'test' or 'val' (default test); "
        "ActivityNet JSON 'validation', 'testing', ... (default "
        "validation).",
    )
    flags.DEFINE_string("output_dir", None, "Where metrics.json goes.")


def read_ground_truth(path: str, subset: str = ""):
    """`(rows, ambiguous, class_names)` of a THUMOS14 annotation folder or
    an ActivityNet ground-truth JSON.

    Raises:
      FileNotFoundError: no such path, or a class file missing.
      ValueError: a malformed file or line (named).
    """
    if os.path.isdir(path):
        from has_tf.datasets.thumos14_features import annotations

        rows, ambiguous = annotations.read_annotations(path, subset or "test")
        return rows, ambiguous, detection_files.THUMOS14_CLASSES
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"--ground_truth={path}: no such file or folder."
        )
    rows, names = detection_files.read_activitynet_ground_truth(
        path, "validation" if not subset else subset
    )
    return rows, [], names


def _read_detections(path: str, class_names):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--detections={path}: no such file.")
    with open(path, "rb") as f:
        head = f.read(64).lstrip()
    if head.startswith(b"{"):
        return detection_files.read_activitynet_json(path, class_names)
    rows = detection_files.read_thumos_detections(path)
    # Kit ids name THUMOS14 classes; map them onto the ground truth's.
    index_of = {name: i for i, name in enumerate(class_names)}
    out = []
    for video, start, end, index, score in rows:
        name = detection_files.THUMOS14_CLASSES[index]
        if name not in index_of:
            raise ValueError(
                f"{path}: class {name!r} is not in the ground truth's "
                f"classes {list(class_names)[:5]}..."
            )
        out.append((video, start, end, index_of[name], score))
    return out


def score(detections, ground_truth, protocol, iou_thresholds=(), subset=""):
    """Scores a detections file against a ground truth (module docstring).

    Returns:
      The `metrics.json` dict: "protocol", "iou_thresholds", "map" (per
      threshold), "averages", "ap_per_class", "detections",
      "ground_truth", "videos", "videos_without_ground_truth" (detected
      videos the ground truth lacks; all of them is an error).
    """
    grid = tuple(float(t) for t in iou_thresholds) or DEFAULT_GRIDS[protocol]
    rows, ambiguous, names = read_ground_truth(ground_truth, subset)
    dets = _read_detections(detections, names)
    unmatched = _videos_without_ground_truth(dets, rows, detections)
    result = segments.temporal_map(
        dets, rows, grid, protocol=protocol, ambiguous=ambiguous
    )
    maps = {f"{t:g}": result["map"][t] for t in grid}
    averages = segments.averages(result["map"])
    return {
        "protocol": protocol,
        "iou_thresholds": list(grid),
        "map": maps,
        "averages": averages,
        "ap_per_class": {
            names[c]: {f"{t:g}": result["ap"][t][k] for t in grid}
            for k, c in enumerate(result["classes"])
        },
        "detections": len(dets),
        "ground_truth": len(rows),
        "videos": len({r[0] for r in rows}),
        "videos_without_ground_truth": unmatched,
    }


def _videos_without_ground_truth(dets, rows, path) -> int:
    """How many detected videos the ground truth does not have; an error
    when it has none of them (every detection would be a false positive:
    mAP 0 from a naming mismatch, e.g. ActivityNet's "v_" prefix)."""
    known = {r[0] for r in rows}
    detected = {d[0] for d in dets}
    missing = detected - known
    if detected and missing == detected:
        hint = ""
        if any(v.startswith("v_") for v in detected) != any(
            v.startswith("v_") for v in known
        ):
            hint = ' One side names ActivityNet videos with "v_", one not.'
        raise ValueError(
            f"--detections={path}: none of its {len(detected)} videos is in "
            f"the ground truth (e.g. {sorted(detected)[0]!r}; the ground "
            f"truth has e.g. {sorted(known)[0] if known else None!r}).{hint}"
        )
    return len(missing)


def main(argv):
    _cli.no_arguments(argv)
    values = flags.FLAGS
    for name in ("detections", "ground_truth", "output_dir"):
        if not values[name].value:
            raise _cli.UsageError(f"--{name}: expected a path. Received: none")
    try:
        grid = [float(t) for t in values.iou_thresholds if t.strip()]
    except ValueError:
        raise _cli.UsageError(
            "--iou_thresholds: expected numbers. Received: "
            f"{values.iou_thresholds}"
        ) from None
    try:
        result = score(
            values.detections,
            values.ground_truth,
            values.protocol,
            grid,
            values.subset,
        )
        os.makedirs(values.output_dir, exist_ok=True)
        path = _files.write_json_atomically(
            os.path.join(values.output_dir, "metrics.json"), result, indent=2
        )
    except (ValueError, OSError) as error:
        raise _cli.UsageError(str(error)) from None
    figures = ", ".join(f"{t} {100 * v:.2f}" for t, v in result["map"].items())
    averages = ", ".join(
        f"avg {k} {100 * v:.2f}" for k, v in result["averages"].items()
    )
    if result["videos_without_ground_truth"]:
        print(
            f"Note: {result['videos_without_ground_truth']} detected videos "
            "are not in the ground truth (their detections count as false "
            "positives)."
        )
    print(f"mAP (%) at IoU {figures}" + (f"; {averages}" if averages else ""))
    print(f"Written {path}")


if __name__ == "__main__":
    _define_flags()
    _cli.run(main)
