"""`has_tf.datasets.load`: a dataset whose files are missing is one clear
error naming what is missing, where it goes, and which README says how."""

import pytest

import has_tf.datasets
from has_tf.datasets import DataMissingError


@pytest.mark.parametrize(
    "name, readme",
    [
        ("ilsvrc_loc", "has_tf/datasets/ilsvrc_loc/README.md"),
        ("thumos14_features", "has_tf/datasets/thumos14_features/README.md"),
    ],
)
def test_missing_manual_files_are_named(tmp_path, name, readme):
    manual = tmp_path / "manual"
    with pytest.raises(DataMissingError) as raised:
        has_tf.datasets.load(
            name, "validation", data_dir=str(tmp_path), manual_dir=str(manual)
        )
    message = str(raised.value)
    assert f"--dataset={name}" in message
    assert f"--manual_dir={manual}" in message and readme in message
    assert isinstance(raised.value, FileNotFoundError)


@pytest.mark.slow
def test_a_recipe_without_its_data_is_one_line(tmp_path, run_app):
    done = run_app(
        "has_tf.train",
        "--flagfile=flags/alexnet_has_mixed.cfg",
        f"--data_dir={tmp_path}",
        f"--manual_dir={tmp_path}/manual",
        f"--model_dir={tmp_path}/run",
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("has_tf.train: error: --dataset=ilsvrc_loc: ")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "run_config.json").exists()
