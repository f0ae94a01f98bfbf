"""From CAMs to localizations (NumPy/SciPy only, no TensorFlow).

One module per output, as in every layer of has_tf:

- `boxes`: an image CAM -> pixel boxes (thresholds, connected components,
  the one-pass threshold sweeps);
- `segments`: a temporal CAM (T-CAM) -> scored action segments in seconds;
- `wsolevaluation`: the official wsolevaluation tool's rules (its boxes,
  IoU and bicubic resize), reproduced exactly;
- `box_rules`: the paper protocol's box as each method's own code draws
  it (TS-CAM's and SCM's, SAT's), reproduced exactly;
- `pc1`: CAM Back Again's PC1 map, the first principal component of a
  feature map, a localization map beside the CAM;
- `ddt`: DDT's class-agnostic pseudo-boxes of a class's images, PSOL's
  first stage;
- `ten_crop`: the ten crops' geometry and their CAMs' merge;
- `presets`: the field's T-CAM post-processing recipes (STPN, W-TALC,
  BaS-Net, CoLA, CO2-Net), each as its reference code runs it, built from
  `temporal_blocks`;
- `_sweep`: the compiled union-find behind the one-pass threshold sweep.

The package exports its modules, not their names.
"""

from has_tf.postprocess import box_rules
from has_tf.postprocess import boxes
from has_tf.postprocess import ddt
from has_tf.postprocess import pc1
from has_tf.postprocess import segments
from has_tf.postprocess import ten_crop
from has_tf.postprocess import wsolevaluation

__all__ = [
    "box_rules",
    "boxes",
    "ddt",
    "pc1",
    "segments",
    "ten_crop",
    "wsolevaluation",
]
