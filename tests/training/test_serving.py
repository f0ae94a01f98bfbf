"""The exported SavedModel's contract: raw uint8 pixels in, the run's
normalisation inside, empty batches, no float input."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from has_tf import tasks


def test_saved_model_serves_raw_pixels(tmp_path, one_step_run):
    run = one_step_run()
    served = tf.saved_model.load(os.path.join(run, "saved_model"))
    pixels = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 3))
    out = served.serve(tf.constant(pixels, tf.uint8))
    assert out["logits"].shape == (2, 3)
    assert out["cams"].shape == (2, 7, 7, 3)
    assert np.isfinite(out["cams"].numpy()).all()
    # The model takes the pixels and normalises them itself, with the
    # moments run_info.json records: its layers after `input_pixels` on
    # the normalised pixels give the same logits.
    info = json.loads(open(os.path.join(run, "run_info.json")).read())
    model, _ = tasks.load_run(run)
    logits = model(pixels.astype(np.uint8), training=False)
    np.testing.assert_allclose(out["logits"], logits, rtol=1e-4, atol=1e-5)
    first = model.get_layer("input_pixels")
    assert (first.mean, first.std) == (info["mean"], info["std"])
    after = keras.Model(first.output, model.output)
    normalised = (pixels - info["mean"]) / info["std"]
    np.testing.assert_allclose(
        out["logits"],
        after(normalised.astype(np.float32)),
        rtol=1e-4,
        atol=1e-5,
    )
    # An empty batch gives empty outputs; float input is refused.
    empty = served.serve(tf.zeros([0, 28, 28, 3], tf.uint8))
    assert empty["logits"].shape == (0, 3)
    assert empty["cams"].shape == (0, 7, 7, 3)
    with pytest.raises((TypeError, ValueError)):
        served.serve(tf.zeros([1, 28, 28, 3]))
