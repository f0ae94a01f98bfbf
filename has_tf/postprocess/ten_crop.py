"""Ten-crop evaluation's geometry and its CAM merge (NumPy only).

The paper tests on ten crops (Singh & Lee, ICCV 2017, as Krizhevsky et
al.): the four corners and the centre of the resized image, and their
left-right flips. `ten_crop_offsets` is the one definition of where the
crops lie (the input pipeline cuts them there); `merge_ten_crop_cams`
brings their CAMs back into the resized image's frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["merge_ten_crop_cams", "ten_crop_offsets"]


def ten_crop_offsets(image_size: int, resize_size: int) -> list:
    """Top-left corners of the ten crops of a square resized image.

    The one definition of the ten-crop geometry: the S x S crops
    (S = `image_size`) of the R x R resized image (R = `resize_size`) at
    its corners TL, TR, BL, BR and its centre, then the same five again
    for the crops' left-right flips.

    >>> ten_crop_offsets(224, 256)[:5]
    [(0, 0), (0, 32), (32, 0), (32, 32), (16, 16)]

    Returns:
      Ten `(top, left)` pixel offsets; entries 5..9 repeat 0..4 (those
      crops are flipped after cropping).
    """
    margin = resize_size - image_size
    corners = [
        (0, 0),
        (0, margin),
        (margin, 0),
        (margin, margin),
        (margin // 2, margin // 2),
    ]
    return corners * 2


def merge_ten_crop_cams(cams, resize_size: int) -> np.ndarray:
    """Averages the CAMs of the ten crops in the resized image's frame.

    The crops are those of `ten_crop_offsets` (as
    `has_tf.input_pipeline.images.eval_pipeline(..., crop="ten_crop")` cuts
    them), the last five flipped left-right. Each CAM is flipped back
    where its crop was flipped, placed at its crop's offset, and every
    pixel of the R x R frame gets the mean of the
    CAMs that cover it (all do when 2 S >= R, as for 224 of 256).

    Args:
      cams: `[10, S, S]` CAMs of one class at crop resolution, finite.
      resize_size: R, the resized side (>= S).

    Returns:
      float64 `[R, R]`; pixels no crop covers hold the minimum of the
      covered ones.

    Raises:
      ValueError: a shape other than `[10, S, S]` or R < S.
    """
    cams = np.asarray(cams, dtype=np.float64)
    if cams.ndim != 3 or cams.shape[0] != 10 or cams.shape[1] != cams.shape[2]:
        raise ValueError(
            "Expected `cams` of shape [10, S, S] (the ten crops). Received: "
            f"cams of shape {cams.shape}"
        )
    side = cams.shape[1]
    if resize_size < side:
        raise ValueError(
            f"Expected resize_size >= the crop side {side}. Received: "
            f"resize_size={resize_size}"
        )
    starts = ten_crop_offsets(side, resize_size)
    total = np.zeros((resize_size, resize_size))
    count = np.zeros((resize_size, resize_size))
    for index, (top, left) in enumerate(starts):
        cam = cams[index][:, ::-1] if index >= 5 else cams[index]
        total[top : top + side, left : left + side] += cam
        count[top : top + side, left : left + side] += 1
    covered = count > 0
    merged = np.zeros_like(total)
    merged[covered] = total[covered] / count[covered]
    merged[~covered] = merged[covered].min()
    return merged
