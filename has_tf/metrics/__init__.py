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
- `detection_files`: THUMOS14 detection text and ActivityNet JSON;
- `cam_files`: the CAM and mask files `cam_evaluation` reads, and one
  image's score;
- `parallel`: scoring CAMs on every core (chunks to worker processes).

The package exports its modules, not their names.
"""

from has_tf.metrics import boxes
from has_tf.metrics import cam_evaluation
from has_tf.metrics import detection_files
from has_tf.metrics import segments

__all__ = ["boxes", "cam_evaluation", "detection_files", "segments"]
