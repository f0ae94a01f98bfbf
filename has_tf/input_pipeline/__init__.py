"""tf.data input pipelines, one module per task.

- `images`: decode, crop, flip, hide per batch, normalise; evaluation
  crops with boxes. Its names are also this package's.
- `videos`: resample feature sequences, hide segments per batch.
"""

from has_tf.input_pipeline import videos
from has_tf.input_pipeline.images import CROPS
from has_tf.input_pipeline.images import IMAGENET_MEAN_RGB
from has_tf.input_pipeline.images import IMAGENET_STD_RGB
from has_tf.input_pipeline.images import PROTOCOLS
from has_tf.input_pipeline.images import RESIZE_METHODS
from has_tf.input_pipeline.images import crop_boxes
from has_tf.input_pipeline.images import decode_image
from has_tf.input_pipeline.images import eval_pipeline
from has_tf.input_pipeline.images import example_fields
from has_tf.input_pipeline.images import train_pipeline

__all__ = [
    "CROPS",
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD_RGB",
    "PROTOCOLS",
    "RESIZE_METHODS",
    "crop_boxes",
    "decode_image",
    "eval_pipeline",
    "example_fields",
    "train_pipeline",
    "videos",
]
