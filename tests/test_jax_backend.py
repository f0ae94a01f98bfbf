"""tests/test_any_backend.py and tests/test_keras_harness.py again under
Keras's JAX backend, as one item of the suite (a fresh process: the backend
is chosen at Keras's import), so that one `pytest` command runs both and
its workers share the time."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parent.parent


@pytest.mark.slow
def test_the_any_backend_files_pass_under_jax():
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        # Level 0 compiles JAX's many small eager ops ~2.5x faster.
        "XLA_FLAGS": "--xla_backend_optimization_level=0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_any_backend.py",
            "tests/test_keras_harness.py",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = done.stdout.strip().splitlines()[-1:] or ["(no output)"]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in summary[0] and "failed" not in summary[0], summary
