"""tf.data input pipelines, one module per input, as in every layer:

- `images`: decode (only a crop's window of a JPEG), crop, flip, hide per
  batch, normalise; evaluation crops with their boxes;
- `videos`: resample feature sequences, hide segments per batch;
- `image_windows`: decoding and the crop windows `images` shares between
  training and evaluation;
- `named_map`: a parallel, ordered map whose failures name the example
  (an image that does not decode);
- `dataset_stats`: per-channel mean and std in one streaming pass (the
  normalisation and the hiding fill), cached beside the dataset.

Both modules have a `train_pipeline` and an `eval_pipeline`, so the
package exports the modules, not their names.
"""

from has_tf.input_pipeline import images
from has_tf.input_pipeline import videos

__all__ = ["images", "videos"]
