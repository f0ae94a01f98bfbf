"""Shared test setup: quiet TensorFlow, headless matplotlib."""

import os
import subprocess
import sys

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


def _run_app(module: str, *args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


@pytest.fixture
def run_app():
    """`run_app(module, *args)`: runs `python -m module args` as a user
    does; returns the CompletedProcess (text stdout and stderr)."""
    return _run_app
