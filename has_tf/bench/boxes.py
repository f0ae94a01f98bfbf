"""`python -m has_tf.bench boxes`: CAM -> boxes and the threshold sweeps.

`boxes` times, per 224x224 CAM (smooth random CAMs, bilinear upsamplings of
14x14 noise as a GoogLeNet-GAP CAM is), all interleaved: `cam_to_box` at
one threshold; the one-pass sweep at 100 thresholds (largest component,
and largest plus every component, MaxBoxAcc's and V2's boxes together)
and at 1000; `cam_to_box` called at each of 100 thresholds; one `update`
of `ThresholdFreeLocalization` under each protocol at 100 and 1000
thresholds; and, when OpenCV is installed (optional, benchmark only), the
official tool's per-threshold recipe (threshold, `findContours`,
`boundingRect` of the largest and of every contour), whose tool runs it
twice per update. Per-image costs are also projected to ILSVRC val's
50,000 images.

End to end (`end_to_end_images` > 0): `python -m has_tf.evaluate_cams` as a
user runs it, in a subprocess, on that many 224x224 float32 CAM files
(`.npy`, one box each) and on a fifth of them, under the has_tf protocol at
100 thresholds and wsolevaluation's at its 1,000, with `--workers=1`,
with every core (`--workers=<cores>`: started at once) and with the
default (`--workers=0`: every core, started only when the first CAMs'
timing shows them worth it). The two sizes separate the fixed cost
(start-up, workers, writing the figures) from the cost per image (CAM
loading included); the 50,000-image figure is fixed + 50,000 x per image.
`..._default_over_workers_1_<n>_images` is the default's time over one
worker's at each size (the default should never be above 1 by more than
noise).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np
import scipy

from has_tf.bench import _timing
from has_tf.bench import data
from has_tf.metrics import boxes as metric_boxes
from has_tf.metrics import parallel
from has_tf.postprocess import boxes as postprocess_boxes

try:  # Optional: the comparison row (never a dependency).
    import cv2
except ImportError:
    cv2 = None


def _opencv_boxes(cam, thresholds):
    """The official tool's method, once per threshold: every contour's box.

    Threshold the 8-bit CAM, `findContours` (RETR_TREE), `boundingRect`
    of the largest contour (MaxBoxAcc) and of every contour (MaxBoxAccV2):
    what wsolevaluation's two passes compute, in one.
    """
    scaled = (cam * 255).astype(np.uint8)
    top = scaled.max()
    largest, every = [], []
    for threshold in thresholds:
        _, binary = cv2.threshold(
            scaled, int(threshold * top), 255, cv2.THRESH_BINARY
        )
        contours = cv2.findContours(
            binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE
        )[0]
        if not contours:
            largest.append((0, 0, 0, 0))
            every.append([(0, 0, 0, 0)])
            continue
        boxes = [cv2.boundingRect(c) for c in contours]
        best = max(
            range(len(contours)), key=lambda i: cv2.contourArea(contours[i])
        )
        largest.append(boxes[best])
        every.append(boxes)
    return largest, every


_IMAGES_ILSVRC_VAL = 50_000


def _write_cam_split(root: str, cams, ids) -> str:
    """CAM files and wsolevaluation metadata for `ids`; the metadata dir."""
    meta = os.path.join(root, f"meta_{len(ids)}")
    os.makedirs(meta)
    side = cams.shape[-1]
    lines = {
        "image_ids.txt": list(ids),
        "class_labels.txt": [f"{i},0" for i in ids],
        "image_sizes.txt": [f"{i},{side},{side}" for i in ids],
        "localization.txt": [
            f"{i},{side // 5},{side // 4},{side * 3 // 5},{side * 4 // 5}"
            for i in ids
        ],
    }
    for name, rows in lines.items():
        with open(os.path.join(meta, name), "w") as f:
            f.write("".join(f"{row}\n" for row in rows))
    return meta


def _evaluate_cams_s(cams_dir, meta, protocol, step, workers, out) -> float:
    command = [
        sys.executable,
        "-m",
        "has_tf.evaluate_cams",
        f"--cams_dir={cams_dir}",
        f"--metadata_dir={meta}",
        f"--output_dir={out}",
        f"--box_protocol={protocol}",
        f"--threshold_step={step}",
        f"--workers={workers}",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def end_to_end(images: int, size: int, repeats: int) -> dict:
    """`python -m has_tf.evaluate_cams` timed on generated CAM files."""
    cores = parallel.available_cores()
    few = max(1, images // 5)
    out = {}
    with tempfile.TemporaryDirectory() as root:
        cams_dir = os.path.join(root, "cams")
        os.makedirs(cams_dir)
        cams = data.smooth_cams(images, size, seed=1).astype(np.float32)
        ids = [f"img{k:06d}" for k in range(images)]
        for name, cam in zip(ids, cams):
            np.save(os.path.join(cams_dir, f"{name}.npy"), cam)
        metas = {  # one split per size (a single one for one image)
            count: _write_cam_split(root, cams, ids[:count])
            for count in sorted({few, images})
        }
        runs = {
            (protocol, step, workers, count): []
            for protocol, step in (("has_tf", 0.01), ("wsolevaluation", 0.001))
            for workers in [*sorted({1, cores}), 0]
            for count in metas
        }
        for _ in range(repeats):  # interleaved, round after round
            for key, times in runs.items():
                protocol, step, workers, count = key
                times.append(
                    _evaluate_cams_s(
                        cams_dir,
                        metas[count],
                        protocol,
                        step,
                        workers,
                        os.path.join(root, "out"),
                    )
                )
    medians = {k: statistics.median(v) for k, v in runs.items()}
    for protocol, step, workers, count in medians:
        grid = round(1 / step)
        if workers == 0:
            one = medians[(protocol, step, 1, count)]
            out[
                f"evaluate_cams_{protocol}_{grid}_{count}_images_"
                "workers_default_s"
            ] = medians[(protocol, step, 0, count)]
            out[
                f"evaluate_cams_{protocol}_{grid}_{count}_images_workers_1_s"
            ] = one
            out[
                f"evaluate_cams_{protocol}_{grid}_default_over_workers_1_"
                f"{count}_images"
            ] = medians[(protocol, step, 0, count)] / one
            continue
        if count != images:
            continue
        grid = round(1 / step)
        name = f"evaluate_cams_{protocol}_{grid}_workers_{workers}"
        if images == few:
            per_image = medians[(protocol, step, workers, images)] / images
            fixed = 0.0
        else:
            per_image = (
                medians[(protocol, step, workers, images)]
                - medians[(protocol, step, workers, few)]
            ) / (images - few)
            fixed = medians[(protocol, step, workers, few)] - per_image * few
        out[f"{name}_ms_per_image"] = per_image * 1e3
        out[f"{name}_fixed_s"] = fixed
        out[f"{name}_50k_images_s"] = fixed + per_image * _IMAGES_ILSVRC_VAL
    for protocol, grid in (("has_tf", 100), ("wsolevaluation", 1000)):
        one = out[f"evaluate_cams_{protocol}_{grid}_workers_1_ms_per_image"]
        every = out[
            f"evaluate_cams_{protocol}_{grid}_workers_{cores}_ms_per_image"
        ]
        out[f"evaluate_cams_{protocol}_{grid}_speedup_{cores}_workers"] = (
            one / every
        )
    return out


def run(
    images: int = 8,
    size: int = 224,
    repeats: int = 3,
    end_to_end_images: int = 1000,
) -> dict:
    """Runs the CAM-to-box benchmark; returns the JSON-ready result dict.

    Every function is timed in turn, round after round, so the ratios
    compare runs made under the same state of the machine.
    """
    cams = data.smooth_cams(images, size)
    grid100 = np.arange(100) / 100
    grid1000 = np.arange(1000) / 1000
    gt_boxes = [np.array([[size * 0.2, size * 0.3, size * 0.7, size * 0.8]])]
    # Compile the sweep before timing (numba caches it after the first run).
    postprocess_boxes.cam_component_boxes(cams[0], grid100)

    def per_cam(fn):
        return lambda: [fn(cam) for cam in cams]

    def metric_update(thresholds, protocol="has_tf"):
        def run(cam):
            metric = metric_boxes.ThresholdFreeLocalization(
                thresholds, protocol=protocol
            )
            metric.update(cam, gt_boxes[0])

        return run

    fns = {
        "cam_to_box_one_threshold": per_cam(
            lambda cam: postprocess_boxes.cam_to_box(cam, 0.2)
        ),
        "sweep_100_largest": per_cam(
            lambda cam: postprocess_boxes.cam_boxes_for_thresholds(cam, grid100)
        ),
        "sweep_100_both": per_cam(
            lambda cam: postprocess_boxes.cam_component_boxes(cam, grid100)
        ),
        "sweep_1000_both": per_cam(
            lambda cam: postprocess_boxes.cam_component_boxes(cam, grid1000)
        ),
        "cam_to_box_per_threshold_100": per_cam(
            lambda cam: [postprocess_boxes.cam_to_box(cam, t) for t in grid100]
        ),
        "max_box_acc_update_100": per_cam(metric_update(grid100)),
        "max_box_acc_update_1000": per_cam(metric_update(grid1000)),
        "wsolevaluation_update_100": per_cam(
            metric_update(grid100, "wsolevaluation")
        ),
        "wsolevaluation_update_1000": per_cam(
            metric_update(grid1000, "wsolevaluation")
        ),
    }
    if cv2 is not None:
        fns["opencv_per_threshold_100"] = per_cam(
            lambda cam: _opencv_boxes(cam, grid100)
        )
        fns["opencv_per_threshold_1000"] = per_cam(
            lambda cam: _opencv_boxes(cam, grid1000)
        )
    measured = _timing.interleaved_ms(fns, repeats)
    timings = {f"{k}_ms": v / len(cams) for k, v in measured.items()}
    ratios = {
        "sweep_1000_over_sweep_100": timings["sweep_1000_both_ms"]
        / timings["sweep_100_both_ms"],
        "per_threshold_over_sweep_100": timings[
            "cam_to_box_per_threshold_100_ms"
        ]
        / timings["sweep_100_both_ms"],
    }
    if cv2 is not None:
        # The official tool runs the OpenCV recipe twice (a MaxBoxAcc
        # pass and a MaxBoxAccV2 pass): compare its update with ours.
        for grid in ("100", "1000"):
            ratios[f"official_{grid}_over_wsolevaluation_update_{grid}"] = (
                2
                * timings[f"opencv_per_threshold_{grid}_ms"]
                / timings[f"wsolevaluation_update_{grid}_ms"]
            )
        ratios["opencv_100_over_sweep_100"] = (
            timings["opencv_per_threshold_100_ms"]
            / timings["sweep_100_both_ms"]
        )
        ratios["opencv_1000_over_sweep_1000"] = (
            timings["opencv_per_threshold_1000_ms"]
            / timings["sweep_1000_both_ms"]
        )
    projected = {
        f"{k[:-3]}_50k_images_s": v * _IMAGES_ILSVRC_VAL / 1e3
        for k, v in timings.items()
        if k.startswith(("max_box_acc_update", "wsolevaluation", "opencv"))
    }
    whole = (
        end_to_end(end_to_end_images, size, repeats)
        if end_to_end_images
        else {}
    )
    return {
        "benchmark": "boxes",
        "cams": [images, size, size],
        "repeats": repeats,
        "statistic": "median after one warm-up, per image, interleaved",
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "opencv": cv2.__version__ if cv2 is not None else None,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "cores": parallel.available_cores(),
        "end_to_end_images": end_to_end_images,
        "results": {**timings, **ratios, **projected, **whole},
    }
