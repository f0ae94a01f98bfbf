"""A method of the user's own, outside has_tf: registered by its module
(`--plugins`), it trains, evaluates and resumes through the apps."""

import json
import os
import pathlib
import sys

import pytest

from has_tf import config as config_lib
from has_tf import methods
from has_tf.methods import registry

PLUGINS = pathlib.Path(__file__).parent / "plugins"


def _env():
    path = [str(PLUGINS), os.getcwd(), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in path if p)}


@pytest.mark.slow
def test_a_plugin_method_trains_evaluates_and_resumes(tmp_path, run_app):
    model_dir = tmp_path / "run"
    common = [
        "--dataset=synthetic_parts/tiny",
        f"--data_dir={tmp_path}",
        f"--model_dir={model_dir}",
    ]
    train_args = [
        *common,
        "--plugins=toy_channel_drop",
        "--method=channel_drop",
        "--channel_drop_rate=0.5",
        "--image_size=28",
        "--resize_size=32",
        "--batch_size=4",
        "--epochs=1",
        "--steps_per_epoch=4",
        "--checkpoint_steps=2",
        "--tensorboard_images=0",
    ]
    trained = run_app("has_tf.train", *train_args, env=_env())
    assert trained.returncode == 0, trained.stderr[-2000:]
    info = json.loads((model_dir / "run_info.json").read_text())
    assert info["method"] == {"name": "channel_drop", "channel_drop_rate": 0.5}
    assert info["plugins"] == ["toy_channel_drop"]
    # Evaluation finds the method's layer through the run's record alone.
    evaluated = run_app(
        "has_tf.evaluate", *common, "--num_pictures=0", env=_env()
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    metrics = json.loads((model_dir / "eval" / "metrics.json").read_text())
    assert metrics["count"] == 6
    # A crash after the first checkpoint: the restart resumes from it.
    (model_dir / "model.keras").unlink()
    (model_dir / "backup" / "ckpt-000002.json").unlink()
    resumed = run_app("has_tf.train", *train_args, env=_env())
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    history = json.loads((model_dir / "history.json").read_text())
    assert history["steps_done"] == 4 and history["steps_this_run"] == 2
    # Without the plugin, the restart refuses: its option is not known.
    refused = run_app(
        "has_tf.train",
        *[a for a in train_args if not a.startswith("--plugins")],
    )
    assert refused.returncode == 1
    assert "channel_drop" in refused.stderr


def test_a_plugin_that_does_not_import_is_named(run_app):
    done = run_app(
        "has_tf.train",
        "--plugins=no_such_module_here",
        "--model_dir=/tmp/unused",
    )
    assert done.returncode == 1
    assert "--plugins" in done.stderr and "no_such_module_here" in done.stderr


def test_a_plugin_named_in_a_flagfile_is_loaded_first(tmp_path, monkeypatch):
    # The registry as it was, afterwards: other tests see the built-ins.
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_PLUGINS", list(registry._PLUGINS))
    monkeypatch.delitem(sys.modules, "toy_channel_drop", raising=False)
    monkeypatch.syspath_prepend(str(PLUGINS))
    inner = tmp_path / "inner.cfg"
    inner.write_text("--plugins=toy_channel_drop\n")
    outer = tmp_path / "outer.cfg"
    outer.write_text(
        f"--flagfile={inner}\n--method=channel_drop\n"
        "--channel_drop_rate=0.1\n--model_dir=/tmp/unused\n"
    )
    assert config_lib.plugins_named([f"--flagfile={outer}"]) == [
        "toy_channel_drop"
    ]
    config = config_lib.train_config_from_flagfile(str(outer))
    method = methods.resolve(config, "images")
    assert method.name == "channel_drop" and config.channel_drop_rate == 0.1
    assert "channel_drop" in methods.names("images")
    sys.modules.pop("toy_channel_drop")
