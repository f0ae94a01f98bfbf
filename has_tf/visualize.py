"""Pictures: CAM overlays with boxes, CAM blends, T-CAM plots (matplotlib).

Images are float or uint8 `[H, W, 3]` in pixel units [0, 255]; CAMs are
`[H, W]` at image resolution; boxes are pixel boxes `(ymin, xmin, ymax,
xmax)` in the continuous convention of `has_tf.postprocess`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw_box(ax, box, color, label=None):
    import matplotlib.patches as patches

    ymin, xmin, ymax, xmax = box
    # Pixel r spans [r, r + 1); imshow centres pixel r at r.
    ax.add_patch(patches.Rectangle(
        (xmin - 0.5, ymin - 0.5), xmax - xmin, ymax - ymin, fill=False,
        edgecolor=color, linewidth=2, label=label))


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
    import matplotlib

    image = np.asarray(image, np.float64)
    cam = np.asarray(cam, np.float64)
    if image.ndim != 3 or image.shape[-1] != 3 or cam.shape != image.shape[:2]:
        raise ValueError(
            "Expected image [H, W, 3] and cam [H, W] of the same H, W. "
            f"Received: image {image.shape}, cam {cam.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"Expected alpha in [0, 1]. Received: alpha={alpha}")
    span = cam.max() - cam.min()
    scaled = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
    heat = matplotlib.colormaps["jet"](scaled)[..., :3] * 255.0
    out = (1 - alpha) * np.clip(image, 0, 255) + alpha * heat
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def save_overlay(path: str, image, cam, pred_box=None,
                 gt_boxes: Sequence | None = None, title: str = "") -> str:
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
    plt = _pyplot()
    image = np.clip(np.asarray(image, np.float64), 0, 255).astype(np.uint8)
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.2))
    axes[0].imshow(image)
    axes[1].imshow(image)
    axes[1].imshow(np.asarray(cam), cmap="jet", alpha=0.5)
    for ax in axes:
        for box in (gt_boxes if gt_boxes is not None else []):
            _draw_box(ax, box, "lime")
        if pred_box is not None:
            _draw_box(ax, pred_box, "white")
        ax.axis("off")
    axes[0].set_title("image, boxes (green: truth)", fontsize=8)
    axes[1].set_title("CAM, predicted box (white)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_tcam_plot(path: str, tcam, duration_s: float,
                   gt_segments: Sequence = (), detections: Sequence = (),
                   threshold: float | None = None, title: str = "") -> str:
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
    plt = _pyplot()
    tcam = np.asarray(tcam, np.float64)
    seconds = (np.arange(tcam.size) + 0.5) * duration_s / max(tcam.size, 1)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.plot(seconds, tcam, color="tab:blue", linewidth=1.2, label="T-CAM")
    low, high = (float(tcam.min()), float(tcam.max())) if tcam.size else (0, 1)
    span = (high - low) or 1.0
    for start, end, *_ in gt_segments:
        ax.axvspan(start, end, ymin=0.9, ymax=1.0, color="tab:green",
                   alpha=0.8)
    for start, end, *_ in detections:
        ax.axvspan(start, end, ymin=0.0, ymax=0.1, color="tab:orange",
                   alpha=0.8)
    if threshold is not None:
        ax.axhline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_xlim(0, duration_s)
    ax.set_ylim(low - 0.15 * span, high + 0.15 * span)
    ax.set_xlabel("seconds (green: truth, orange: detections)")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
