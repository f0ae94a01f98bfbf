"""Pictures: CAM overlays with boxes, CAM blends, T-CAM plots (matplotlib).

Images are float or uint8 `[H, W, 3]` in pixel units [0, 255]; CAMs are
`[H, W]` at image resolution; boxes are pixel boxes `(ymin, xmin, ymax,
xmax)` in the continuous convention of `has_tf.postprocess`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib import patches
from matplotlib.figure import Figure


def _draw_box(ax, box, color, label=None):
    ymin, xmin, ymax, xmax = box
    # Pixel r spans [r, r + 1); imshow centres pixel r at r.
    ax.add_patch(
        patches.Rectangle(
            (xmin - 0.5, ymin - 0.5),
            xmax - xmin,
            ymax - ymin,
            fill=False,
            edgecolor=color,
            linewidth=2,
            label=label,
        )
    )


def blend_cam(image, cam, alpha: float = 0.5) -> np.ndarray:
    """The image with its CAM laid over it as a jet heat map.

    Args:
      image: `[H, W, 3]` pixels in [0, 255] (float or uint8).
      cam: `[H, W]` CAM at image resolution, any range (min-max scaled
        here; a constant CAM shows as the colormap's lowest colour).
      alpha: weight of the heat map in [0, 1].

    Returns:
      uint8 `[H, W, 3]` in [0, 255].
    """
    image = np.asarray(image, np.float64)
    cam = np.asarray(cam, np.float64)
    if image.ndim != 3 or image.shape[-1] != 3 or cam.shape != image.shape[:2]:
        raise ValueError(
            "Expected image [H, W, 3] and cam [H, W] of the same H, W. "
            f"Received: image {image.shape}, cam {cam.shape}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"Expected alpha in [0, 1]. Received: alpha={alpha}")
    span = cam.max() - cam.min()
    scaled = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
    heat = matplotlib.colormaps["jet"](scaled)[..., :3] * 255.0
    out = (1 - alpha) * np.clip(image, 0, 255) + alpha * heat
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def save_overlay(
    path: str,
    image,
    cam,
    pred_box=None,
    gt_boxes: Sequence | None = None,
    title: str = "",
) -> str:
    """Writes the image, its CAM heat map and the boxes side by side.

    Args:
      path: PNG path.
      image: `[H, W, 3]` pixels in [0, 255].
      cam: `[H, W]` CAM.
      pred_box: the predicted pixel box (drawn in white) or None.
      gt_boxes: ground-truth pixel boxes `[N, 4]` (drawn in green).
      title: a title above both panels.

    Returns:
      `path`.
    """
    image = np.clip(np.asarray(image, np.float64), 0, 255).astype(np.uint8)
    fig = Figure(figsize=(6, 3.2))
    axes = fig.subplots(1, 2)
    axes[0].imshow(image)
    axes[1].imshow(image)
    axes[1].imshow(np.asarray(cam), cmap="jet", alpha=0.5)
    for ax in axes:
        for box in gt_boxes if gt_boxes is not None else []:
            _draw_box(ax, box, "lime")
        if pred_box is not None:
            _draw_box(ax, pred_box, "white")
        ax.axis("off")
    axes[0].set_title("image, boxes (green: truth)", fontsize=8)
    axes[1].set_title("CAM, predicted box (white)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def save_tcam_plot(
    path: str,
    tcam,
    duration_s: float,
    gt_segments: Sequence = (),
    detections: Sequence = (),
    threshold: float | None = None,
    title: str = "",
) -> str:
    """Writes one class's T-CAM over time with true and detected segments.

    Args:
      path: PNG path.
      tcam: `[T]` T-CAM of the class; step t covers seconds
        [t, t + 1) * duration_s / T.
      duration_s: the video's length in seconds.
      gt_segments: `(start_s, end_s)` ground truth (green band, top).
      detections: `(start_s, end_s[, score])` (orange band, bottom).
      threshold: the detection threshold in T-CAM units, drawn dashed.
      title: the figure title.

    Returns:
      `path`.
    """
    tcam = np.asarray(tcam, np.float64)
    seconds = (np.arange(tcam.size) + 0.5) * duration_s / max(tcam.size, 1)
    fig = Figure(figsize=(8, 2.6))
    ax = fig.subplots()
    ax.plot(seconds, tcam, color="tab:blue", linewidth=1.2, label="T-CAM")
    low, high = (float(tcam.min()), float(tcam.max())) if tcam.size else (0, 1)
    span = (high - low) or 1.0
    for start, end, *_ in gt_segments:
        ax.axvspan(start, end, ymin=0.9, ymax=1.0, color="tab:green", alpha=0.8)
    for start, end, *_ in detections:
        ax.axvspan(
            start, end, ymin=0.0, ymax=0.1, color="tab:orange", alpha=0.8
        )
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(0, duration_s)
    ax.set_ylim(low - 0.15 * span, high + 0.15 * span)
    ax.set_xlabel("seconds (green: truth, orange: detections)")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def save(fig: Figure, path: str, dpi: int = 100) -> str:
    """Writes a figure of this module to a PNG; returns `path`.

    The figures are `matplotlib.figure.Figure` objects outside pyplot, so
    nothing needs closing and no backend is switched: a notebook shows one
    by displaying it.
    """
    fig.savefig(path, dpi=dpi)
    return path


def hidden_patch_grid(
    images,
    patch_sizes: Sequence[int] = (16, 32, 44, 56),
    hide_prob: float = 0.5,
    fill_value=0,
    seed: int = 0,
):
    """A grid of images (columns) with patches hidden, one row per size.

    The last row draws the size per image from `patch_sizes` (the mixed
    setting, with 0 meaning no hiding if it is listed).

    Args:
      images: uint8 `[K, H, W, 3]` training images.
      patch_sizes: the sizes to show, one row each.
      hide_prob: probability that a cell is hidden.
      fill_value: the fill (the dataset-mean pixel in training).
      seed: the hiding seed.

    Returns:
      A matplotlib Figure (save it with `save`).
    """
    # TensorFlow only here: the other figures (and evaluate_cams, which
    # draws one) load without it.
    from has_tf.augmentation import hiding

    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"Expected images [K, H, W, 3]. Received: shape {images.shape}"
        )
    rows = [
        (
            f"S={size}",
            hiding.hide_patches(
                images, size, hide_prob, fill_value, seed=(seed, index)
            ),
        )
        for index, size in enumerate(patch_sizes)
    ]
    rows.append(
        (
            f"mixed {tuple(patch_sizes)}",
            hiding.hide_patches(
                images,
                list(patch_sizes),
                hide_prob,
                fill_value,
                seed=(seed, 99),
            ),
        )
    )
    count = images.shape[0]
    fig = Figure(figsize=(1.6 * count, 1.7 * len(rows)))
    axes = fig.subplots(len(rows), count, squeeze=False)
    for r, (label, hidden) in enumerate(rows):
        for c in range(count):
            axes[r, c].imshow(np.asarray(hidden[c]).astype(np.uint8))
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.suptitle(
        f"Hidden patches (each cell hidden with probability {hide_prob})",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def cam_grid(
    images,
    cams: dict,
    boxes: dict | None = None,
    gt_boxes: Sequence | None = None,
):
    """Each image (rows) with the CAM of each model (columns) and boxes.

    Args:
      images: `[K, H, W, 3]` pixels in [0, 255].
      cams: `{model name: [K, H, W] CAMs}`.
      boxes: `{model name: [K, 4] predicted pixel boxes}` (white).
      gt_boxes: per image, `[N, 4]` ground-truth pixel boxes (green).

    Returns:
      A matplotlib Figure.
    """
    images = np.asarray(images)
    names = list(cams)
    count = images.shape[0]
    fig = Figure(figsize=(2.2 * (len(names) + 1), 2.2 * count))
    axes = fig.subplots(count, len(names) + 1, squeeze=False)
    for i in range(count):
        axes[i, 0].imshow(np.clip(images[i], 0, 255).astype(np.uint8))
        for j, name in enumerate(names, start=1):
            axes[i, j].imshow(blend_cam(images[i], np.asarray(cams[name][i])))
            if boxes and name in boxes:
                _draw_box(axes[i, j], boxes[name][i], "white")
        for ax in axes[i]:
            for box in gt_boxes[i] if gt_boxes is not None else []:
                _draw_box(ax, box, "lime")
            ax.axis("off")
    axes[0, 0].set_title("image (green: truth)", fontsize=8)
    for j, name in enumerate(names, start=1):
        axes[0, j].set_title(f"{name}: CAM, box", fontsize=8)
    fig.tight_layout()
    return fig


def threshold_curves(curves: dict, marker: float | None = 0.2):
    """GT-known localization accuracy against the CAM threshold.

    Args:
      curves: `{name: (thresholds [K], accuracy [K])}`, e.g. from
        an image evaluation's "threshold_free"/"box_acc_curve".
      marker: a threshold to mark (the paper's 0.2), or None.

    Returns:
      A matplotlib Figure.
    """
    fig = Figure(figsize=(4.5, 3.2))
    ax = fig.subplots()
    for name, (thresholds, accuracy) in curves.items():
        ax.plot(thresholds, accuracy, label=name)
    if marker is not None:
        ax.axvline(marker, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("CAM threshold (fraction of max)")
    ax.set_ylabel("GT-known Loc (IoU >= 0.5)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
