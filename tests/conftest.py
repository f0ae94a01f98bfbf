"""Shared test setup: quiet TensorFlow, headless matplotlib."""

import os

import pytest

from tests import app_server

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


def _run_app(module: str, *args, cwd=None, env=None):
    return app_server.run(["-m", module, *map(str, args)], cwd=cwd, env=env)


@pytest.fixture
def run_app():
    """`run_app(module, *args, cwd=None, env=None)`: runs `python -m module
    args` as a user does (`env` added to the environment); returns the
    CompletedProcess (text stdout and stderr)."""
    return _run_app


# A tiny image run: the synthetic parts set's "tiny" config, 28-pixel crops.
_TINY = dict(
    dataset="synthetic_parts/tiny",
    image_size=28,
    resize_size=32,
    patch_sizes=(0, 8),
    batch_size=4,
    learning_rate=0.02,
)


@pytest.fixture
def tiny():
    """The `TrainConfig` options of a tiny image run (a fresh dict)."""
    return dict(_TINY)


@pytest.fixture
def one_step_run(tmp_path):
    """`one_step_run(**options)`: trains one step of a tiny image run in
    `tmp_path/run` (data in `tmp_path`); returns the run's directory."""
    from has_tf import train

    def run(**kwargs):
        model_dir = str(tmp_path / "run")
        config = dict(epochs=1, steps_per_epoch=1, **_TINY)
        config.update(kwargs)
        train.train(
            train.TrainConfig(
                model_dir=model_dir, data_dir=str(tmp_path), **config
            )
        )
        return model_dir

    return run
