"""DDT pseudo-boxes (Wei et al., Pattern Recognition 2019), as PSOL
makes them (Zhang et al., CVPR 2020; `tzzcl/PSOL`,
`generate_box_imagenet.py`). NumPy/SciPy only, no TensorFlow.

For one class, from a pretrained backbone's feature maps of all its
training images (PSOL: torchvision's VGG16 `features` at 448 x 448, a
14 x 14 x 512 map each):

1. every position of every image is a sample of the channels: their mean
   is subtracted and the first principal axis of the samples found
   (scikit-learn's `PCA(1)`, its sign scikit-learn's: the entry of
   largest magnitude positive);
2. each image's map is its positions projected on that axis (after the
   same mean); the cells above 0 are kept and the 8-connected component
   with the most cells taken (its `count_max`, the first in raster order
   on a tie);
3. that component, resized to the image's side with OpenCV's nearest
   rule (cell `floor(d * h / S)` at pixel d), gives the box (its
   `regionprops` bbox); no cell above 0 gives the whole image.

PSOL saves `[x, y, w, h] / 448`; here the same box is returned in
has_tf's normalised convention `(ymin, xmin, ymax, xmax)` in [0, 1].
The sign of the axis decides which side of the map is the object: it is
scikit-learn's rule of today (1.5 and later); older versions flipped by
the projections instead, which can turn a class's boxes inside out.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = [
    "axis_from_moments",
    "boxes_of_maps",
    "ddt_axis",
    "ddt_boxes",
    "ddt_maps",
    "ddt_moments",
]

_EIGHT = np.ones((3, 3), bool)


def _check(features) -> np.ndarray:
    features = np.asarray(features)
    if features.ndim != 4 or min(features.shape) < 1 or features.shape[3] < 2:
        raise ValueError(
            "Expected `features` of shape [N, h, w, C] (N >= 1 images of one "
            f"class, C >= 2). Received: features.shape={features.shape}"
        )
    features = features.astype(np.float64)
    if not np.isfinite(features).all():
        raise ValueError(
            "Expected finite `features`. Received: "
            f"{int((~np.isfinite(features)).sum())} NaN or infinite values"
        )
    return features


def ddt_moments(features) -> tuple:
    """What a class's axis needs of some of its images, summable over
    batches: `(count, total, outer)`, the positions counted, float64 `[C]`
    their sum and float64 `[C, C]` the sum of their outer products.

    Args:
      features: float `[N, h, w, C]`: maps of images of one class.
    """
    features = _check(features)
    samples = features.reshape(-1, features.shape[3])
    return len(samples), samples.sum(axis=0), samples.T @ samples


def axis_from_moments(count, total, outer) -> tuple:
    """`(mean, axis)` of a class from its summed `ddt_moments` (what
    `ddt_axis` returns)."""
    total = np.asarray(total, np.float64)
    outer = np.asarray(outer, np.float64)
    if count < 1 or total.ndim != 1 or outer.shape != (len(total),) * 2:
        raise ValueError(
            "Expected moments of at least one position: count >= 1, total "
            f"[C], outer [C, C]. Received: count={count}, total "
            f"{total.shape}, outer {outer.shape}"
        )
    mean = total / count
    # The centred samples' scatter, whose top eigenvector is the first
    # right singular vector of the centred samples.
    scatter = outer - count * np.outer(mean, mean)
    values, vectors = np.linalg.eigh((scatter + scatter.T) / 2)
    axis = vectors[:, np.argmax(values)]
    if axis[np.argmax(np.abs(axis))] < 0:
        axis = -axis
    return mean, axis


def ddt_axis(features) -> tuple:
    """The class's mean and first principal axis of its positions.

    Args:
      features: float `[N, h, w, C]`: the maps of the class's images.

    Returns:
      `(mean, axis)`: float64 `[C]` each (PSOL's `mean_matrix` and
      `trans_matrix[0]`); the axis of unit length, its largest-magnitude
      entry positive.
    """
    return axis_from_moments(*ddt_moments(features))


def ddt_maps(features, mean, axis) -> np.ndarray:
    """Each image's positions projected on the axis: float64 `[N, h, w]`."""
    features = _check(features)
    return (features - np.asarray(mean, np.float64)) @ np.asarray(
        axis, np.float64
    )


def _nearest_span(first, stop, cells, side):
    """Pixels `[start, end)` whose nearest cell lies in `[first, stop)`."""
    pixels = np.arange(side)
    inside = np.flatnonzero(
        (np.floor(pixels * (cells / side)) >= first)
        & (np.floor(pixels * (cells / side)) < stop)
    )
    return inside[0], inside[-1] + 1


def ddt_boxes(features, side: int = 448) -> np.ndarray:
    """PSOL's DDT boxes of one class's images.

    Args:
      features: float `[N, h, w, C]`: a pretrained backbone's maps of
        every training image of the class (PSOL: VGG16 at 448).
      side: the side S the images were resized to (the boxes' grid before
        normalising; PSOL's 448).

    Returns:
      float64 `[N, 4]` normalised boxes `(ymin, xmin, ymax, xmax)` in
      [0, 1]; `(0, 0, 1, 1)` for an image with no cell above 0.
    """
    mean, axis = ddt_axis(features)
    return boxes_of_maps(ddt_maps(features, mean, axis), side)


def boxes_of_maps(maps, side: int = 448) -> np.ndarray:
    """PSOL's box of each projected map (`ddt_maps`): the largest
    8-connected component of the cells above 0, at side `side`.

    Args:
      maps: float `[N, h, w]`.
      side: the side S the images were resized to.

    Returns:
      float64 `[N, 4]` normalised `(ymin, xmin, ymax, xmax)`; the whole
      image where no cell is above 0.
    """
    maps = np.asarray(maps, np.float64)
    if maps.ndim != 3:
        raise ValueError(
            f"Expected `maps` of shape [N, h, w]. Received: {maps.shape}"
        )
    _, height, width = maps.shape
    boxes = np.zeros((len(maps), 4))
    for i, projected in enumerate(maps):
        labels, count = ndimage.label(projected > 0, _EIGHT)
        if count == 0:
            boxes[i] = (0.0, 0.0, 1.0, 1.0)
            continue
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        best = int(np.argmax(sizes)) + 1  # The first on a tie.
        rows, cols = ndimage.find_objects(labels, max_label=best)[best - 1]
        top, bottom = _nearest_span(rows.start, rows.stop, height, side)
        left, right = _nearest_span(cols.start, cols.stop, width, side)
        boxes[i] = np.array([top, left, bottom, right]) / side
    return boxes
