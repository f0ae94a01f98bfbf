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
import sys

import numpy as np
from absl import flags
from PIL import Image

from has_tf import _cli
from has_tf import _deprecation
from has_tf import config as config_lib
from has_tf import visualize
from has_tf.metrics import cam_evaluation
from has_tf.training import files as _files

# --helpshort lists this app's options (`config.CamsConfig`, and the
# threshold grid's step) as its own.
for _name in (*config_lib.key_flags(config_lib.CamsConfig), "threshold_step"):
    flags.declare_key_flag(_name)


def load_cam(path: str) -> np.ndarray:
    """A non-empty 2-D finite real CAM from `path`; errors name the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Missing CAM {path}.")
    try:
        cam = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(
            f"Unreadable CAM {path} ({os.path.getsize(path)} bytes): "
            f"{type(error).__name__}: {error}"
        ) from None
    if not isinstance(cam, np.ndarray):  # An .npz archive named .npy.
        cam.close()
        raise ValueError(
            f"Expected one array (np.save) in {path}. Received: an .npz "
            "archive (np.savez)."
        )
    return cam_evaluation.check_cam(cam, path)


def _check_orientation(cam, size, path: str) -> None:
    """Refuses a CAM whose rows and columns are the image's transposed
    (`size` is `(width, height)`): it would be scored against the boxes
    silently mirrored about the diagonal."""
    width, height = size
    rows, cols = cam.shape
    if rows == cols or width == height:
        return
    as_is = abs(rows / cols - height / width)
    swapped = abs(rows / cols - width / height)
    if swapped < 0.01 * (width / height) and as_is > 0.05 * (height / width):
        raise ValueError(
            f"The CAM in {path} is {rows}x{cols} (rows x columns), but its "
            f"image is {width}x{height} (width x height): it looks "
            "transposed. Save CAMs as [height, width]."
        )


def _load_mask(path: str) -> np.ndarray:
    """A 2-D boolean mask (`> 0.5`) from a `.npy` or an image file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Missing mask {path}.")
    try:
        if path.endswith(".npy"):
            mask = np.load(path, allow_pickle=False)
        else:
            with Image.open(path) as image:
                mask = np.asarray(image.convert("L"), np.float32)
    except Exception as error:  # Truncated, foreign or empty files.
        raise ValueError(
            f"Unreadable mask {path}: {type(error).__name__}: {error}"
        ) from None
    if (
        not isinstance(mask, np.ndarray)
        or mask.ndim != 2
        or not mask.size
        or not np.issubdtype(mask.dtype, np.number)
    ):
        raise ValueError(
            f"Expected a non-empty 2-D numeric mask in {path}. Received: "
            f"{getattr(mask, 'shape', type(mask).__name__)}"
        )
    return mask > 0.5


def _union(masks, paths) -> np.ndarray:
    """The union of one image's instance masks, which share a size."""
    shapes = {m.shape for m in masks}
    if len(shapes) > 1:
        raise ValueError(
            "Expected the masks of one image to share a size. Received: "
            + ", ".join(f"{p} {m.shape}" for p, m in zip(paths, masks))
        )
    return np.any(masks, axis=0)


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
        path = cam_paths[image_id]
        cam = load_cam(path)
        label = metadata.labels[image_id]
        try:
            if metadata.boxes is not None:
                _check_orientation(cam, metadata.sizes[image_id], path)
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
                    _union(masks, metadata.masks[image_id]),
                    _load_mask(os.path.join(mask_root, ignore))
                    if ignore
                    else None,
                )
        except FileNotFoundError:
            raise
        except (ValueError, ArithmeticError, OSError) as error:
            # With 50,000 CAMs, which one matters most.
            raise ValueError(f"{path} (image {image_id!r}): {error}") from None
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
            progress=_progress,
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


def _old_protocol_flag(argv) -> list:
    """`argv` with has_tf 0.2's `--protocol` (the box rules here) read as
    `--box_protocol` (warns once; removed in 0.4). Everywhere else
    `--protocol` is the 0.2 name of `--eval_crop`."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in ("--protocol", "-protocol"):
            _deprecation.warn_once(
                "evaluate_cams --protocol",
                "python -m has_tf.evaluate_cams: --protocol is now "
                "--box_protocol.",
            )
            if not eq and i + 1 < len(argv):
                i += 1
                value = argv[i]
            arg = f"--box_protocol={value}"
        out.append(arg)
        i += 1
    return out


if __name__ == "__main__":
    sys.argv = _old_protocol_flag(sys.argv)
    _cli.run(main)
