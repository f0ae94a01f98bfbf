"""A `.keras` file with has_tf's objects loads with `keras.saving.load_model`
after `import has_tf` alone, in a fresh process, under each backend.

Keras finds a custom class by its registered name only once the module
defining it has run, and `import has_tf` loads its names lazily: before
`has_tf.registration`, no saved model of has_tf's loaded in a new process.
Each file is written under one backend and loaded under each, in processes
of their own; the loaded model's outputs are the saved one's.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent

BACKENDS = ("tensorflow", "jax")
SCRIPT = pathlib.Path(__file__).with_name("keras_files.py")


def _script(*args, backend, cwd):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "XLA_FLAGS": "--xla_backend_optimization_level=0",
    }
    # A fresh interpreter, in the folder of the files.
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
    )


@pytest.mark.slow
@pytest.mark.parametrize("saver", BACKENDS)
def test_a_saved_model_loads_after_import_has_tf(tmp_path, saver):
    """Saved under `saver`, loaded under each backend."""
    done = _script("save", tmp_path, backend=saver, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    names = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(names) == 11
    for loader in BACKENDS:
        done = _script(
            "load", tmp_path, json.dumps(names), backend=loader, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results = json.loads(done.stdout.split("RESULTS", 1)[1])
        # Under JAX, registering the layers loads no TensorFlow.
        assert results.pop("tensorflow loaded") == (loader == "tensorflow")
        assert results == {name: "ok" for name in names}, loader


def _registering_modules():
    """has_tf's modules that register a Keras object, from the source."""
    names = []
    for path in sorted((ROOT / "has_tf").rglob("*.py")):
        if "register_keras_serializable" in path.read_text():
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(p for p in parts if p != "__init__"))
    return names


@pytest.mark.parametrize(
    "statement",
    [
        "import has_tf; import keras",  # the README's order
        "import keras; import has_tf",
        "import has_tf.models",  # Keras imported inside a has_tf import
    ],
)
def test_every_object_is_registered_whatever_the_import_order(statement):
    import importlib

    import keras

    for name in _registering_modules():
        importlib.import_module(name)
    registry = keras.saving.get_custom_objects()
    expected = sorted(k for k in registry if k.startswith("has_tf>"))
    assert len(expected) >= 20  # layers, losses, metrics, the optimizer
    code = (
        f"{statement}\n"
        "import json, sys, keras\n"
        "names = [k for k in keras.saving.get_custom_objects()\n"
        "         if k.startswith('has_tf>')]\n"
        "print(json.dumps([sorted(names), 'tensorflow' in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "jax"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names, tensorflow = json.loads(done.stdout.strip().splitlines()[-1])
    assert names == expected
    assert not tensorflow  # under JAX, no TensorFlow for the registration
