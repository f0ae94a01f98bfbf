"""The SavedModel a run exports: its contract with whoever serves it.

`saved_model/` holds one endpoint, `serve`, which

- takes what a client has: raw uint8 pixels `[B, S, S, 3]` for images
  (the run's normalisation is applied inside, as `run_info.json` records
  it), float32 features `[B, T, D]` for videos;
- gives `{"logits": [B, N], "cams": [B, h, w, N]}` (images) or
  `{"logits": [B, N], "tcam": [B, T, N]}` (videos), float32;
- answers an empty batch with empty outputs of those shapes;
- never turns bad input into plausible figures: an example holding NaN
  gets NaN outputs (uint8 pixels cannot hold NaN).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import tensorflow as tf

from has_tf.runs import files as _files

__all__ = ["Signature", "export"]


@dataclasses.dataclass(frozen=True)
class Signature:
    """What `serve` does for one task.

    Attributes:
      net: a Keras model from the preprocessed input to a dict of float32
        outputs, each `[B, ...]`.
      input_spec: the `tf.TensorSpec` clients send (batch dimension None).
      preprocess: from the client's input to the net's.
    """

    net: keras.Model
    input_spec: tf.TensorSpec
    preprocess: Callable


def serve_function(signature: Signature):
    """The `serve` function of a signature (module docstring)."""
    net = signature.net
    empty = {
        name: tf.zeros([0, *tensor.shape[1:]], tf.float32)
        for name, tensor in net.output.items()
    }

    def serve(inputs):
        def run():
            x = signature.preprocess(inputs)
            outputs = net(x, training=False)
            outputs = {k: tf.cast(v, tf.float32) for k, v in outputs.items()}
            if not x.dtype.is_floating:
                return outputs
            flat = tf.reshape(x, [tf.shape(x)[0], -1])
            bad = tf.reduce_any(tf.math.is_nan(flat), axis=1)
            return {
                k: tf.where(
                    tf.reshape(bad, [-1] + [1] * (v.shape.rank - 1)),
                    tf.constant(float("nan"), tf.float32),
                    v,
                )
                for k, v in outputs.items()
            }

        return tf.cond(
            tf.equal(tf.shape(inputs)[0], 0), lambda: dict(empty), run
        )

    return serve


def export(signature: Signature, path: str) -> str:
    """Writes the SavedModel to `path` (swapped in when complete)."""
    serve = serve_function(signature)

    def write(directory):
        archive = keras.export.ExportArchive()
        archive.track(signature.net)
        archive.add_endpoint(
            name="serve", fn=serve, input_signature=[signature.input_spec]
        )
        archive.write_out(directory, verbose=False)

    return _files.replace_directory(write, path)
