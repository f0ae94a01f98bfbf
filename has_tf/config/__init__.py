"""The configuration of the apps: every option defined once, here.

`TrainConfig` (what `python -m has_tf.train` runs) and `EvalConfig` (what
`python -m has_tf.evaluate` scores) are dataclasses; the command-line
flags are generated from their fields, so a field's default, help, choices
and bounds are written once and the flags, the dataclasses and their
checks all read them. Both apps define the same flags, so one flagfile
drives training and evaluation and a process may import both apps. Fields
both apps read (the data, the run's directory, the resize) live in
`RunConfig`, which both configs extend.

Flag names reuse the library's argument names; choice lists come from the
modules that own them (`has_tf.models`, `has_tf.input_pipeline`,
`has_tf.postprocess.segments`).

    config = train_config_from_flagfile("flags/quickstart.cfg", epochs=1)

Modules: `fields` (how a field is declared and checked; `RunConfig`),
`training` (`TrainConfig`), `evaluation` (`EvalConfig`, `CamsConfig`),
`flags` (`define_flags`, which each app calls; configs from parsed flags)
and `flagfiles` (checked, their plugins loaded, read). No TensorFlow.
"""

from has_tf.config.evaluation import CamsConfig
from has_tf.config.evaluation import EvalConfig
from has_tf.config.fields import TASK_GROUPS
from has_tf.config.fields import RunConfig
from has_tf.config.flagfiles import check_flagfiles
from has_tf.config.flagfiles import load_plugins
from has_tf.config.flagfiles import plugins_named
from has_tf.config.flagfiles import read_flagfile
from has_tf.config.flagfiles import train_config_from_flagfile
from has_tf.config.flags import define_flags
from has_tf.config.flags import eval_config
from has_tf.config.flags import flag_fields
from has_tf.config.flags import key_flags
from has_tf.config.flags import options_by_task
from has_tf.config.flags import train_config
from has_tf.config.training import PRECISIONS
from has_tf.config.training import STRATEGIES
from has_tf.config.training import TrainConfig

__all__ = [
    "CamsConfig",
    "EvalConfig",
    "PRECISIONS",
    "RunConfig",
    "STRATEGIES",
    "TASK_GROUPS",
    "TrainConfig",
    "check_flagfiles",
    "define_flags",
    "eval_config",
    "flag_fields",
    "key_flags",
    "load_plugins",
    "options_by_task",
    "plugins_named",
    "read_flagfile",
    "train_config",
    "train_config_from_flagfile",
]
