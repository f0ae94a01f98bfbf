"""From CAMs to localizations (NumPy/SciPy only, no TensorFlow).

- `boxes`: image CAM -> pixel boxes (thresholds, connected components,
  ten-crop merging); its names are also this package's.
- `segments`: temporal CAM (T-CAM) -> scored action segments in seconds.
"""

from has_tf.postprocess import segments
from has_tf.postprocess.boxes import CONNECTIVITIES
from has_tf.postprocess.boxes import NORMALIZATIONS
from has_tf.postprocess.boxes import boxes_to_normalized
from has_tf.postprocess.boxes import boxes_to_pixels
from has_tf.postprocess.boxes import cam_boxes_for_thresholds
from has_tf.postprocess.boxes import cam_component_boxes
from has_tf.postprocess.boxes import cam_to_box
from has_tf.postprocess.boxes import check_options
from has_tf.postprocess.boxes import inclusive_box_iou
from has_tf.postprocess.boxes import merge_ten_crop_cams
from has_tf.postprocess.boxes import normalize_cam
from has_tf.postprocess.boxes import resize_cam_bicubic
from has_tf.postprocess.boxes import ten_crop_offsets
from has_tf.postprocess.boxes import wsolevaluation_boxes
from has_tf.postprocess.boxes import wsolevaluation_normalize

__all__ = [
    "CONNECTIVITIES",
    "NORMALIZATIONS",
    "boxes_to_normalized",
    "boxes_to_pixels",
    "cam_boxes_for_thresholds",
    "cam_component_boxes",
    "cam_to_box",
    "check_options",
    "inclusive_box_iou",
    "merge_ten_crop_cams",
    "normalize_cam",
    "resize_cam_bicubic",
    "segments",
    "ten_crop_offsets",
    "wsolevaluation_boxes",
    "wsolevaluation_normalize",
]
