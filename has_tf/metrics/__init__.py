"""Localization metrics (NumPy only, no TensorFlow).

One module per output, as in every layer of has_tf:

- `boxes`: image boxes: `box_iou`, `PaperLocalization` (Top-1 Loc,
  GT-known Loc), `ThresholdFreeLocalization` (MaxBoxAcc, MaxBoxAccV2),
  `PixelAveragePrecision`, under `BOX_PROTOCOLS` ("has_tf",
  "wsolevaluation");
- `segments`: action segments: `temporal_map` under `MAP_PROTOCOLS`
  (the THUMOS14 kit's and ActivityNet's rules);
- `cam_evaluation`: CAMs from any framework against wsolevaluation's
  metadata;
- `detection_files`: THUMOS14 detection text and ActivityNet JSON.

The package exports its modules, not their names; the names it exported
in has_tf 0.2 still work, with a warning, until 0.4.
"""

import importlib

from has_tf import _deprecation
from has_tf.metrics import boxes
from has_tf.metrics import cam_evaluation
from has_tf.metrics import detection_files
from has_tf.metrics import segments

__all__ = ["boxes", "cam_evaluation", "detection_files", "segments"]

_MOVED = {
    **dict.fromkeys(
        (
            "PaperLocalization",
            "PixelAveragePrecision",
            "ThresholdFreeLocalization",
            "box_iou",
            "default_thresholds",
        ),
        "has_tf.metrics.boxes",
    ),
    "temporal_map": "has_tf.metrics.segments",
}


def __getattr__(name):
    if name in ("localization", "temporal"):  # 0.2's modules (they warn).
        return importlib.import_module(f"{__name__}.{name}")
    return _deprecation.moved_attribute(__name__, name, _MOVED)
