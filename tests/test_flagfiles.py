"""Every flagfile parses with the apps' flags into a valid config."""

import copy
import glob
import os

import pytest
from absl import flags

from has_tf import shared_flags  # noqa: F401  (defines the flags)
from has_tf import train

FILES = sorted(glob.glob(os.path.join("flags", "*.cfg")))


def test_there_are_experiment_files():
    names = {os.path.basename(f) for f in FILES}
    for name in ("quickstart.cfg", "quickstart_baseline.cfg",
                 "alexnet_gap.cfg", "alexnet_has_mixed.cfg",
                 "googlenet_has_32.cfg", "alexnet_has_conv1_11.cfg",
                 "alexnet_gmp_has_56.cfg", "alexnet_has_mixed_p75.cfg",
                 "cub_googlenet_has_mixed.cfg", "alexnet_dropout.cfg"):
        assert name in names


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_flagfile_gives_a_valid_config(path):
    text = open(path).read()
    if not os.path.basename(path).startswith("base_"):
        assert "# Run:  python -m has_tf.train --flagfile=" + path in text
        assert "Paper" in text.split("\n--", 1)[0]
    values = flags.FlagValues()
    for flag in flags.FLAGS.get_key_flags_for_module(shared_flags):
        values[flag.name] = copy.deepcopy(flag)  # Fresh values.
    values(["prog", f"--flagfile={path}"])
    config = train.TrainConfig(
        **{f: values[f].value for f in train.TrainConfig.__dataclass_fields__
           if f != "model_dir"}, model_dir="unused")
    assert config.epochs >= 1
    if "_has_" in path and "conv1" not in path:
        assert config.patch_sizes
    if path.endswith("_gap.cfg"):
        assert not config.patch_sizes and not config.conv1_patch_sizes
