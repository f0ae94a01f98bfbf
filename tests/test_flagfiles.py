"""Every flagfile parses with the apps' flags into a valid config."""

import glob
import os

import pytest
from absl import flags

from has_tf import config as config_lib

FILES = sorted(glob.glob(os.path.join("flags", "*.cfg")))


def test_overrides_and_bad_files(tmp_path):
    config = config_lib.train_config_from_flagfile(
        "flags/quickstart.cfg", epochs=1
    )
    assert config.epochs == 1 and config.patch_sizes == (0, 8, 16, 24)
    bad = tmp_path / "bad.cfg"
    bad.write_text("--hide_prob=2\n")
    with pytest.raises(flags.IllegalFlagValueError, match="hide_prob"):
        config_lib.train_config_from_flagfile(str(bad))
    bad.write_text("--no_such_flag=1\n")
    with pytest.raises(flags.UnrecognizedFlagError, match="no_such_flag"):
        config_lib.train_config_from_flagfile(str(bad))


def test_there_are_experiment_files():
    names = {os.path.basename(f) for f in FILES}
    for name in (
        "quickstart.cfg",
        "quickstart_baseline.cfg",
        "alexnet_gap.cfg",
        "alexnet_has_mixed.cfg",
        "googlenet_has_32.cfg",
        "alexnet_has_conv1_11.cfg",
        "alexnet_gmp_has_56.cfg",
        "alexnet_has_mixed_p75.cfg",
        "cub_googlenet_has_mixed.cfg",
        "alexnet_dropout.cfg",
    ):
        assert name in names


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_flagfile_gives_a_valid_config(path):
    text = open(path).read()
    if not os.path.basename(path).startswith("base_"):
        assert "# Run:  python -m has_tf.train --flagfile=" + path in text
        assert "Paper" in text.split("\n--", 1)[0]
    config = config_lib.train_config_from_flagfile(path, model_dir="unused")
    assert config.epochs >= 1
    if "_has_" in path and "conv1" not in path:
        assert config.patch_sizes
    if path.endswith("_gap.cfg"):
        assert not config.patch_sizes and not config.conv1_patch_sizes
