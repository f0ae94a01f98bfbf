"""Scores CAMs made by any framework: `python -m has_tf.evaluate_cams`.

    python -m has_tf.evaluate_cams --cams_dir=scoremaps/val \\
        --metadata_dir=metadata/ILSVRC/val --protocol=wsolevaluation \\
        --output_dir=eval_cams

Reads one CAM per image, `<cams_dir>/<image id>.npy` (a 2-D array, any
size and range; wsolevaluation's saved score maps as they are), and the
metadata folder in wsolevaluation's layout (`has_tf.metrics.cam_evaluation`
describes it; box or mask localization). Writes `metrics.json` —
`max_box_acc`, `max_box_acc_v2`, `max_box_acc_v2_per_iou` ("0.3", "0.5",
"0.7") for boxes, `pxap` for masks, fractions in [0, 1], the best
thresholds and the curves, the protocol and the count — and
`box_acc.png` (box accuracy against the CAM threshold) into
`--output_dir`. `--protocol=wsolevaluation` gives the official tool's
numbers; `has_tf` the library's own (see `ThresholdFreeLocalization`).

Every CAM and metadata line is checked before scoring: a missing or
malformed one stops the run with its file (and line) named. Files are
written under temporary names and renamed into place at the end, so a
failed run leaves nothing half-written.
"""

from __future__ import annotations

import io
import os
import sys

import numpy as np
from absl import flags
from PIL import Image

from has_tf import _files
from has_tf import visualize
from has_tf.metrics import cam_evaluation
from has_tf.metrics.localization import PROTOCOLS


def define_flags(values: flags.FlagValues) -> None:
    """This app's flags, on their own `FlagValues` (the training and
    evaluation apps have a `--protocol` of their own)."""
    flags.DEFINE_string(
        "cams_dir", None, "Folder of <image id>.npy CAMs.", flag_values=values
    )
    flags.DEFINE_string(
        "metadata_dir",
        None,
        "wsolevaluation-style metadata: image_ids.txt, class_labels.txt, "
        "image_sizes.txt, localization.txt.",
        flag_values=values,
    )
    flags.DEFINE_string(
        "mask_dir",
        None,
        "Where localization.txt's mask paths start; default: metadata_dir.",
        flag_values=values,
    )
    flags.DEFINE_enum(
        "protocol",
        "has_tf",
        PROTOCOLS,
        "has_tf (the library's rules) or wsolevaluation (the official "
        "tool's numbers, CAMs and boxes in its 224 x 224 frame).",
        flag_values=values,
    )
    flags.DEFINE_string(
        "output_dir", None, "Where metrics.json goes.", flag_values=values
    )
    flags.DEFINE_float(
        "threshold_step",
        None,
        "CAM threshold grid step; default 0.01 (has_tf) or 0.001 "
        "(wsolevaluation's default).",
        lower_bound=0.001,
        upper_bound=1.0,
        flag_values=values,
    )
    flags.DEFINE_list(
        "iou_thresholds",
        ["0.3", "0.5", "0.7"],
        "MaxBoxAccV2's IoUs.",
        flag_values=values,
    )
    flags.DEFINE_enum(
        "connectivity",
        "8",
        ("4", "8"),
        "Component connectivity (has_tf protocol; the official is 8).",
        flag_values=values,
    )


def load_cam(path: str) -> np.ndarray:
    """A 2-D numeric, finite-or-NaN CAM from `path`; errors name the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Missing CAM {path}.")
    try:
        cam = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"Unreadable CAM {path}: {error}") from None
    if cam.ndim != 2 or not np.issubdtype(cam.dtype, np.number):
        raise ValueError(
            f"Expected a 2-D numeric CAM in {path}. Received: shape "
            f"{cam.shape}, dtype {cam.dtype}"
        )
    return cam


def _load_mask(path: str) -> np.ndarray:
    if not os.path.exists(path):
        raise FileNotFoundError(f"Missing mask {path}.")
    if path.endswith(".npy"):
        return np.load(path, allow_pickle=False) > 0.5
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), np.float32) > 0.5


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
) -> dict:
    """Scores every CAM; writes and returns the metrics.

    Args:
      cams_dir, metadata_dir, output_dir: as the flags.
      protocol: "has_tf" or "wsolevaluation".
      thresholds: the CAM threshold grid (None: the protocol's default).
      iou_thresholds: MaxBoxAccV2's IoUs.
      connectivity: 4 or 8 (has_tf).
      mask_dir: the root of mask paths (default `metadata_dir`).
      progress: called as `progress(done, total)` after each image.

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
    evaluator = cam_evaluation.CamEvaluator(
        protocol, thresholds, iou_thresholds, connectivity
    )
    mask_root = mask_dir or metadata_dir
    total = len(metadata.image_ids)
    for done, image_id in enumerate(metadata.image_ids, start=1):
        cam = load_cam(cam_paths[image_id])
        label = metadata.labels[image_id]
        if metadata.boxes is not None:
            evaluator.add_boxes(
                cam,
                metadata.boxes[image_id],
                metadata.sizes[image_id],
                label=label,
            )
        else:
            masks = [
                _load_mask(os.path.join(mask_root, p))
                for p in metadata.masks[image_id]
            ]
            ignore = metadata.ignore[image_id]
            evaluator.add_mask(
                cam,
                np.any(masks, axis=0),
                _load_mask(os.path.join(mask_root, ignore)) if ignore else None,
            )
        if progress is not None:
            progress(done, total)
    result = evaluator.result()
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


def _progress(done: int, total: int) -> None:
    if done == total or done % 100 == 0:
        width = 30
        filled = width * done // total
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        )
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def main(argv=None) -> int:
    values = flags.FlagValues()
    define_flags(values)
    try:
        values(sys.argv if argv is None else argv)
        for name in ("cams_dir", "metadata_dir", "output_dir"):
            if not values[name].value:
                raise flags.Error(f"--{name} is required.")
        step = values["threshold_step"].value
        thresholds = None
        if step is not None:
            thresholds = np.arange(0, 1, step)  # As wsolevaluation.
        ious = tuple(float(v) for v in values["iou_thresholds"].value)
        result = evaluate_cams(
            values["cams_dir"].value,
            values["metadata_dir"].value,
            values["output_dir"].value,
            values["protocol"].value,
            thresholds,
            ious,
            int(values["connectivity"].value),
            values["mask_dir"].value,
            progress=_progress,
        )
    except (flags.Error, ValueError, FileNotFoundError) as error:
        sys.stderr.write(f"python -m has_tf.evaluate_cams: {error}\n")
        return 2
    figures = [
        f"{key} {result[key]:.4f}"
        for key in ("max_box_acc", "max_box_acc_v2", "pxap")
        if key in result
    ]
    print(
        f"{result['count']} images ({result['protocol']} protocol): "
        + ", ".join(figures)
    )
    print(
        f"Metrics in {os.path.join(values['output_dir'].value, 'metrics.json')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
