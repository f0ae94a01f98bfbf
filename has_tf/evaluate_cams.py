"""Scores CAMs made by any framework: `python -m has_tf.evaluate_cams`.

    python -m has_tf.evaluate_cams --cams_dir=scoremaps/val \\
        --metadata_dir=metadata/ILSVRC/val --box_protocol=wsolevaluation \\
        --output_dir=eval_cams

Reads one CAM per image, `<cams_dir>/<image id>.npy` (a 2-D array, any
size and range; wsolevaluation's saved score maps as they are), and the
metadata folder in wsolevaluation's layout (`has_tf.metrics.cam_evaluation`
describes it; box or mask localization). Writes `metrics.json` —
`max_box_acc`, `max_box_acc_v2`, `max_box_acc_v2_per_iou` ("0.3", "0.5",
"0.7") for boxes, `pxap` for masks, fractions in [0, 1], the best
thresholds and the curves, the protocol and the count — and
`box_acc.png` (box accuracy against the CAM threshold) into
`--output_dir`. `--box_protocol=wsolevaluation` gives the official tool's
numbers; `has_tf` the library's own (see
`metrics.boxes.ThresholdFreeLocalization`). Its options are
`has_tf.config.CamsConfig`; `--threshold_step`, when given, sets the
threshold grid (default: 0.01 for has_tf, 0.001 for wsolevaluation).

Every CAM and metadata line is checked before scoring: a missing or
malformed one stops the run with its file (and line) named. Files are
written under temporary names and renamed into place at the end, so a
failed run leaves nothing half-written.
"""

from __future__ import annotations

import io
import os

import numpy as np
from absl import flags

from has_tf import _cli
from has_tf import _progress
from has_tf import config as config_lib
from has_tf import visualize
from has_tf.metrics import cam_evaluation
from has_tf.metrics import cam_files
from has_tf.metrics import parallel
from has_tf.runs import files as _files

# The config's options as this app's flags (defined once per process).
config_lib.define_flags(flags.FLAGS)
# --helpshort lists this app's options (`config.CamsConfig`, and the
# threshold grid's step) as its own.
for _name in (*config_lib.key_flags(config_lib.CamsConfig), "threshold_step"):
    flags.declare_key_flag(_name)


# Seconds a worker process takes to start under this app (a fresh
# interpreter importing has_tf.evaluate_cams and loading numba's cached
# kernels): ~2 s on the project's 2-core machine (docs/benchmarks.md).
WORKER_STARTUP_S = 2.0

# 0.3's name of the CAM reader (now has_tf.metrics.cam_files).
load_cam = cam_files.load_cam


def evaluate_cams(
    cams_dir: str,
    metadata_dir: str,
    output_dir: str,
    protocol: str = "has_tf",
    thresholds=None,
    iou_thresholds=(0.3, 0.5, 0.7),
    connectivity: int = 8,
    mask_dir: str | None = None,
    progress=None,
    workers: int | None = 0,
) -> dict:
    """Scores every CAM; writes and returns the metrics.

    Args:
      cams_dir, metadata_dir, output_dir: as the flags.
      protocol: "has_tf" or "wsolevaluation".
      thresholds: the CAM threshold grid (None: the protocol's default).
      iou_thresholds: MaxBoxAccV2's IoUs.
      connectivity: 4 or 8 (has_tf).
      mask_dir: the root of mask paths (default `metadata_dir`).
      progress: called as `progress(done, total)` as images are scored
        (after each chunk with several workers).
      workers: processes scoring the CAMs (`has_tf.metrics.parallel`); 0
        or None: every core, 1: this process. The workers start only when
        the first CAMs' timing shows the rest worth their start-up
        (`WORKER_STARTUP_S`), so more workers are never slower than one
        by more than noise. The figures do not depend on it.

    Returns:
      The `metrics.json` dict.

    Raises:
      cam_evaluation.MetadataError: a missing or malformed metadata file
        or line (named).
      FileNotFoundError: a missing CAM or mask (named).
      ValueError: a malformed CAM (named).
    """
    metadata = cam_evaluation.read_metadata(metadata_dir)
    cam_paths = {
        i: os.path.join(cams_dir, f"{i}.npy") for i in metadata.image_ids
    }
    missing = [p for p in cam_paths.values() if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(
            f"Missing CAM {missing[0]} ({len(missing)} of "
            f"{len(cam_paths)} CAMs missing)."
        )
    mask_root = mask_dir or metadata_dir
    total = len(metadata.image_ids)
    scoring = parallel.ParallelScoring(
        cam_files.score_listed_image,
        dict(
            protocol=protocol,
            thresholds=thresholds,
            iou_thresholds=iou_thresholds,
            connectivity=connectivity,
        ),
        workers=workers,
        progress=None if progress is None else lambda d: progress(d, total),
        total=total,
        startup_s=WORKER_STARTUP_S,
    )
    with scoring:
        for image_id in metadata.image_ids:
            if metadata.boxes is not None:
                entry = dict(
                    boxes=metadata.boxes[image_id],
                    size=metadata.sizes[image_id],
                )
            else:
                ignore = metadata.ignore[image_id]
                entry = dict(
                    masks=tuple(
                        os.path.join(mask_root, p)
                        for p in metadata.masks[image_id]
                    ),
                    ignore=os.path.join(mask_root, ignore) if ignore else None,
                )
            scoring.add(
                cam_files.ListedImage(
                    image_id,
                    cam_paths[image_id],
                    metadata.labels[image_id],
                    **entry,
                )
            )
        result = scoring.finish().result()
    _write(output_dir, result)
    return result


def _write(output_dir: str, result: dict) -> None:
    """box_acc.png, then metrics.json, each written atomically."""
    curve = result.get("box_acc_curve")
    if curve:
        figure = visualize.threshold_curves(
            {
                "box accuracy (IoU 0.5)": (
                    curve["thresholds"],
                    curve["accuracy"],
                )
            },
            marker=result["best_thresholds"]["max_box_acc"],
        )
        png = io.BytesIO()
        figure.savefig(png, dpi=100, format="png")
        _files.write_atomically(
            os.path.join(output_dir, "box_acc.png"), png.getvalue()
        )
    _files.write_json_atomically(
        os.path.join(output_dir, "metrics.json"), result, indent=2
    )


class _Progress:
    """`progress(done, total)` for `evaluate_cams`: the images scored, the
    rate and the time left on stderr (`has_tf._progress`)."""

    def __init__(self):
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = _progress.Progress(total, "images", "evaluate_cams")
        self.bar.update(done)
        if done == total:
            self.bar.close()


def main(argv) -> int:
    _cli.no_arguments(argv)
    options = flags.FLAGS
    try:
        cams = config_lib.CamsConfig(
            **{
                name: options[name].value
                for name in config_lib.key_flags(config_lib.CamsConfig)
            }
        )
    except ValueError as error:
        raise _cli.UsageError(str(error)) from None
    thresholds = None  # The protocol's default grid.
    if options["threshold_step"].present:
        # As wsolevaluation's grid.
        thresholds = np.arange(0, 1, options.threshold_step)
    try:
        result = evaluate_cams(
            cams.cams_dir,
            cams.metadata_dir,
            cams.output_dir,
            cams.box_protocol,
            thresholds,
            cams.iou_thresholds,
            cams.connectivity,
            cams.mask_dir,
            progress=_Progress(),
            workers=cams.workers,
        )
    except (ValueError, FileNotFoundError) as error:
        raise _cli.UsageError(str(error)) from None
    figures = [
        f"{key} {result[key]:.4f}"
        for key in ("max_box_acc", "max_box_acc_v2", "pxap")
        if key in result
    ]
    print(
        f"{result['count']} images ({result['protocol']} protocol): "
        + ", ".join(figures)
    )
    print(f"Metrics in {os.path.join(cams.output_dir, 'metrics.json')}")
    return 0


if __name__ == "__main__":
    _cli.run(main)
