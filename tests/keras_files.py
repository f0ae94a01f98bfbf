"""`python tests/keras_files.py save|load FOLDER [NAMES]`: the two halves of
tests/test_registration.py, each run in a fresh interpreter.

`save` builds a model per has_tf object a `.keras` file can hold (every
image builder as the apps build them, conv1 hiding, ADL, ACoL, has_tf's
loss and optimizer compiled in, CutMix and HideSegments in a user's model,
the action network), writes `<name>.keras`, its inputs and
its outputs, and prints the names. `load` imports `has_tf` and Keras only,
loads each file with `keras.saving.load_model`, compares its outputs with
the saved ones and prints `RESULTS` and a JSON object: per name "ok" or
the error, and whether TensorFlow got loaded.
"""

import json
import sys

import numpy as np

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
SIDES = {
    "small_gap": 32,
    "alexnet_gap": 67,
    "googlenet_gap": 32,
    "vgg16_cam": 32,
    "resnet50_cam": 32,
    "inception_v3_cam": 75,
}


def numpy_initial_weights(set_attribute=setattr):
    """Under JAX, Keras's initial weights drawn by NumPy.

    JAX compiles each random draw once per shape: seconds per model for
    the initial weights, most of a builder's test under JAX. A loaded
    model's weights are the file's, and a test of what a model computes
    serves as well with NumPy's. `set_attribute`: `setattr`, or pytest's
    `monkeypatch.setattr` to undo it after the test."""
    import keras

    if keras.backend.backend() != "jax":
        return
    import jax.numpy as jnp
    from keras.src.backend.jax import random

    rng = np.random.default_rng(0)

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return jnp.asarray(
            rng.uniform(minval, maxval, shape), dtype or "float32"
        )

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return jnp.asarray(rng.normal(mean, stddev, shape), dtype or "float32")

    def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        values = np.clip(rng.normal(0.0, 1.0, shape), -2, 2) * stddev + mean
        return jnp.asarray(values, dtype or "float32")

    set_attribute(random, "uniform", uniform)
    set_attribute(random, "normal", normal)
    set_attribute(random, "truncated_normal", truncated_normal)


def _models():
    """name -> (model, its inputs)."""
    import keras

    from has_tf import models
    from has_tf.augmentation.cutmix_layer import CutMix
    from has_tf.augmentation.layers import HideSegments
    from has_tf.training.losses import sparse_crossentropy
    from has_tf.training.optimizers import GroupSGD

    rng = np.random.default_rng(1)

    def pixels(side):
        return rng.integers(0, 256, (2, side, side, 3)).astype("uint8")

    built = {}
    for name, side in SIDES.items():
        # As the apps build them: uint8 pixels normalised (and hidden in
        # training) by the first layer.
        model_input = models.ModelInput((MEAN, STD), hide_patch_sizes=(8,))
        model = models.IMAGE_MODELS[name](
            3, input_shape=(side, side, 3), model_input=model_input
        )
        built[name] = model, [pixels(side)]
    conv1 = models.ModelInput((MEAN, STD), conv1_hide_patch_sizes=(5,))
    model = models.alexnet_gap(3, input_shape=(67, 67, 3), model_input=conv1)
    built["alexnet_gap_conv1"] = model, [pixels(67)]
    for method in ("adl", "acol"):
        model = models.small_gap(
            3,
            (16, 16, 3),
            widths=(8, 8),
            cam_filters=8,
            method=getattr(models, method).built_in(),
        )
        inputs = [pixels(16)]
        if method == "acol":
            inputs.append(np.array([0, 2], "int32"))
        built[f"small_gap_{method}"] = model, inputs
    compiled = built["small_gap"][0]
    compiled.compile(GroupSGD(0.01, momentum=0.9), loss=sparse_crossentropy)
    # The layers in a user's own model.
    images = keras.Input((16, 16, 3))
    labels = keras.Input((), dtype="int32")
    mixed, soft = CutMix(3, seed=1)([images, labels])
    built["cutmix"] = (
        keras.Model([images, labels], [mixed, soft]),
        [
            pixels(16).astype("float32"),
            np.array([0, 2], "int32"),
        ],
    )
    features = keras.Input((12, 6))
    hidden = HideSegments(4, 0.5, seed=2)(features)
    net = models.temporal_net(
        4, 6, steps=12, units=8, attention=True, background=True
    )
    built["temporal"] = (
        keras.Model(features, net(hidden)),
        [rng.normal(size=(2, 12, 6)).astype("float32")],
    )
    return built


def _outputs(model, inputs):
    import keras

    x = inputs if len(inputs) > 1 else inputs[0]
    if keras.backend.backend() == "tensorflow":
        out = model(x, training=False)  # eager: no tracing per model
    else:
        out = model.predict(x, verbose=0)  # compiled: eager JAX is slower
    if isinstance(out, dict):
        return [np.asarray(out[k]) for k in sorted(out)]
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return [np.asarray(out)]


def _arrays(path):
    with np.load(path) as file:
        return [file[f"arr_{i}"] for i in range(len(file.files))]


def save(folder):
    names = []
    for name, (model, inputs) in _models().items():
        outputs = _outputs(model, inputs)
        model.save(f"{folder}/{name}.keras")
        np.savez(f"{folder}/{name}_in.npz", *inputs)
        np.savez(f"{folder}/{name}_out.npz", *outputs)
        names.append(name)
    print(json.dumps(names))


def load(folder, names):
    """As the README has it: `import has_tf`, then Keras."""
    import has_tf  # noqa: F401, I001 - before Keras, as a user has it
    import keras

    numpy_initial_weights()
    results = {}
    for name in names:
        try:
            model = keras.saving.load_model(f"{folder}/{name}.keras")
            got = _outputs(model, _arrays(f"{folder}/{name}_in.npz"))
            want = _arrays(f"{folder}/{name}_out.npz")
            for a, b in zip(got, want, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
            results[name] = "ok"
        except Exception as error:  # noqa: BLE001 - reported per file
            results[name] = f"{type(error).__name__}: {str(error)[:400]}"
    results["tensorflow loaded"] = "tensorflow" in sys.modules
    print("RESULTS", json.dumps(results))


if __name__ == "__main__":
    if sys.argv[1] == "save":
        numpy_initial_weights()
        save(sys.argv[2])
    else:
        load(sys.argv[2], json.loads(sys.argv[3]))
