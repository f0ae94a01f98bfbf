"""Localization metrics (NumPy only, no TensorFlow).

- `localization`: image protocols: `box_iou`, `PaperLocalization`,
  `ThresholdFreeLocalization` (MaxBoxAcc, MaxBoxAccV2),
  `PixelAveragePrecision`;
- `temporal`: `temporal_map` under the THUMOS14 kit's and ActivityNet's
  rules;
- `detection_files`: THUMOS14 detection text and ActivityNet JSON.

The names of `localization` and `temporal_map` are also this package's.
"""

from has_tf.metrics import detection_files
from has_tf.metrics import temporal
from has_tf.metrics.localization import PaperLocalization
from has_tf.metrics.localization import PixelAveragePrecision
from has_tf.metrics.localization import ThresholdFreeLocalization
from has_tf.metrics.localization import box_iou
from has_tf.metrics.localization import default_thresholds
from has_tf.metrics.temporal import temporal_map

__all__ = [
    "PaperLocalization",
    "PixelAveragePrecision",
    "ThresholdFreeLocalization",
    "box_iou",
    "default_thresholds",
    "detection_files",
    "temporal",
    "temporal_map",
]
