"""tf.data input pipelines, one module per input, as in every layer:

- `images`: decode (only a crop's window of a JPEG), crop, flip, hide per
  batch, normalise; evaluation crops with their boxes;
- `videos`: resample feature sequences, hide segments per batch.

Both modules have a `train_pipeline` and an `eval_pipeline`, so the
package exports the modules, not their names; the image names it
exported in has_tf 0.2 still work, with a warning, until 0.4.
"""

from has_tf import _deprecation
from has_tf.input_pipeline import images
from has_tf.input_pipeline import videos

__all__ = ["images", "videos"]

_MOVED = {
    **dict.fromkeys(
        (
            "EVAL_CROPS",
            "IMAGENET_MEAN_RGB",
            "IMAGENET_STD_RGB",
            "RESIZE_METHODS",
            "TRAIN_CROPS",
            "crop_boxes",
            "decode_image",
            "eval_pipeline",
            "example_fields",
            "train_pipeline",
        ),
        "has_tf.input_pipeline.images",
    ),
    "CROPS": "has_tf.vocabulary:TRAIN_CROPS",
    "PROTOCOLS": "has_tf.vocabulary:EVAL_CROPS",
}


def __getattr__(name):
    return _deprecation.moved_attribute(__name__, name, _MOVED)
