"""CAM and mask files for `has_tf.evaluate_cams`, and one image's score.

A CAM is `<cams_dir>/<image id>.npy`, a 2-D array; masks are `.npy` arrays or
image files read as `> 0.5`. Every reader names the file it could not use.
`score_listed_image` loads and scores one metadata entry; it is what the
worker processes of `has_tf.metrics.parallel` run.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from PIL import Image

from has_tf.metrics.cam_evaluation import check_cam

__all__ = [
    "ListedImage",
    "check_orientation",
    "load_cam",
    "load_mask",
    "score_listed_image",
    "union",
]


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
    return check_cam(cam, path)


def check_orientation(cam, size, path: str) -> None:
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


def load_mask(path: str) -> np.ndarray:
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


def union(masks, paths) -> np.ndarray:
    """The union of one image's instance masks, which share a size."""
    shapes = {m.shape for m in masks}
    if len(shapes) > 1:
        raise ValueError(
            "Expected the masks of one image to share a size. Received: "
            + ", ".join(f"{p} {m.shape}" for p, m in zip(paths, masks))
        )
    return np.any(masks, axis=0)


class ListedImage(NamedTuple):
    """One metadata entry to score: its CAM file and what it is scored on.

    `boxes` (corner boxes in the image's pixels) with `size` `(width,
    height)`, or `masks` (paths) with an optional `ignore` path.
    """

    image_id: str
    cam_path: str
    label: int | None
    boxes: np.ndarray | None = None
    size: tuple | None = None
    masks: tuple = ()
    ignore: str | None = None


def score_listed_image(evaluator, item: ListedImage) -> None:
    """Loads `item`'s CAM (and masks) and adds it to a `CamEvaluator`.

    Raises:
      FileNotFoundError: a missing CAM or mask (named).
      ValueError: an unreadable or malformed file, or a CAM that cannot
        be scored, with the CAM's path and the image id.
    """
    path = item.cam_path
    cam = load_cam(path)
    try:
        if item.boxes is not None:
            check_orientation(cam, item.size, path)
            evaluator.add_boxes(cam, item.boxes, item.size, label=item.label)
        else:
            masks = [load_mask(p) for p in item.masks]
            evaluator.add_mask(
                cam,
                union(masks, item.masks),
                load_mask(item.ignore) if item.ignore else None,
            )
    except FileNotFoundError:
        raise
    except (ValueError, ArithmeticError, OSError) as error:
        # With 50,000 CAMs, which one matters most.
        raise ValueError(f"{path} (image {item.image_id!r}): {error}") from None
