"""The first principal component of a feature map as a localization map
(NumPy only, no TensorFlow).

CAM Back Again (Kim et al., CVPR 2024; `snskysk/CAM-Back-Again`,
`utils.get_feature_maps` and `get_heatmap_from_features` with
`localization_method="pc1"`), as its code computes it:

1. the last feature map `[h, w, C]`, each channel multiplied by the
   class's classifier weight (the predicted class there);
2. each channel min-max normalised over the map (so a positive weight
   changes nothing and a negative one turns the channel over: the class
   enters through the signs of its weights only);
3. the channels are the samples and the `h * w` positions the variables
   of a PCA (scikit-learn's `PCA`: each position centred over the
   channels); the map is the first principal axis, its sign
   scikit-learn's (`svd_flip(u_based_decision=False)`: the entry of
   largest magnitude positive), divided by its maximum;
4. the map turned over (`1 - map`) when it is high on the frame: the
   cells above the map's mean are counted on the positions outside
   `[1 : h - 2, 1 : w - 2]` (the reference's slice: one row and column
   on the top and left, two on the bottom and right) and divided by
   `2 (h - 1) + 2 (w - 1)` (its `(side - 1) * 4`); above 0.5, turned.

The reference fits `PCA(n_components=30)`, whose solver for its 1024 x
144 maps is scikit-learn's randomized SVD; this is the exact first
component it approximates. Where the reference divides by zero (a
channel constant over the map), the channel is 0 here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pc1_map"]


def pc1_map(features, weights=None) -> np.ndarray:
    """CAM Back Again's PC1 map of one image.

    Args:
      features: float `[h, w, C]` the last feature map (the CAM head's
        input), h, w >= 3, C >= 2.
      weights: float `[C]` the class's classifier weights (`logits`
        kernel column); None: all ones (no class: the map of the
        features alone).

    Returns:
      float64 `[h, w]`: at most 1 where not turned over (the axis divided
      by its maximum), `1 - that` where turned; not confined to [0, 1]
      (normalise it for thresholds, as every box rule does).

    Raises:
      ValueError: naming the argument, for a wrong shape or non-finite
        values.
    """
    features = np.asarray(features)
    if (
        features.ndim != 3
        or min(features.shape[:2]) < 3
        or features.shape[2] < 2
    ):
        raise ValueError(
            "Expected `features` of shape [h, w, C] with h, w >= 3 and "
            f"C >= 2. Received: features.shape={features.shape}"
        )
    height, width, channels = features.shape
    features = features.astype(np.float32)
    if weights is not None:
        weights = np.asarray(weights, np.float32)
        if weights.shape != (channels,):
            raise ValueError(
                f"Expected `weights` of shape ({channels},) for features "
                f"with {channels} channels. Received: weights.shape="
                f"{weights.shape}"
            )
        features = features * weights
    if not np.isfinite(features).all():
        raise ValueError(
            "Expected finite `features` and `weights`. Received: "
            f"{int((~np.isfinite(features)).sum())} NaN or infinite values"
        )
    # [C, h * w]: a channel per row, min-max normalised over the map.
    rows = features.reshape(height * width, channels).T.astype(np.float64)
    low = rows.min(axis=1, keepdims=True)
    span = rows.max(axis=1, keepdims=True) - low
    rows = np.divide(rows - low, span, out=np.zeros_like(rows), where=span > 0)
    centred = rows - rows.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    if axis[np.argmax(np.abs(axis))] < 0:
        axis = -axis
    pc1 = (axis / axis.max()).reshape(height, width)
    above = pc1 > pc1.mean()
    frame = above.copy()
    frame[1 : height - 2, 1 : width - 2] = False
    if frame.sum() / (2 * (height - 1) + 2 * (width - 1)) > 0.5:
        pc1 = 1.0 - pc1
    return pc1
