"""From CAMs to localizations (NumPy/SciPy only, no TensorFlow).

One module per output, as in every layer of has_tf:

- `boxes`: an image CAM -> pixel boxes (thresholds, connected components,
  the one-pass threshold sweeps);
- `segments`: a temporal CAM (T-CAM) -> scored action segments in seconds;
- `wsolevaluation`: the official wsolevaluation tool's rules (its boxes,
  IoU and bicubic resize), reproduced exactly;
- `ten_crop`: the ten crops' geometry and their CAMs' merge.

The package exports its modules, not their names; the names it exported
in has_tf 0.2 (all of `boxes`) still work, with a warning, until 0.4.
"""

from has_tf import _deprecation
from has_tf.postprocess import boxes
from has_tf.postprocess import segments
from has_tf.postprocess import ten_crop
from has_tf.postprocess import wsolevaluation

__all__ = ["boxes", "segments", "ten_crop", "wsolevaluation"]

_MOVED = {
    **dict.fromkeys(boxes.__all__, "has_tf.postprocess.boxes"),
    "NORMALIZATIONS": "has_tf.postprocess.boxes:CAM_NORMALIZATIONS",
    "merge_ten_crop_cams": "has_tf.postprocess.ten_crop",
    "ten_crop_offsets": "has_tf.postprocess.ten_crop",
    **dict.fromkeys(
        (
            "inclusive_box_iou",
            "resize_cam_bicubic",
            "wsolevaluation_boxes",
            "wsolevaluation_normalize",
        ),
        "has_tf.postprocess.wsolevaluation",
    ),
}


def __getattr__(name):
    return _deprecation.moved_attribute(__name__, name, _MOVED)
