"""The config's flags: one per field (and per registered method's
option), defined by `define_flags`, which each app calls; the parsed
values as configs (`train_config`, `eval_config`); the help grouped by
task."""

from __future__ import annotations

import dataclasses
import textwrap

from absl import flags

from has_tf import methods
from has_tf.config.evaluation import CamsConfig
from has_tf.config.evaluation import EvalConfig
from has_tf.config.fields import TASK_GROUPS
from has_tf.config.fields import option_field
from has_tf.config.training import TrainConfig


def flag_fields(config_class, method_options: bool = True) -> list:
    """The fields of `config_class` that are flags, then (for
    `TrainConfig`, with `method_options`) every registered method's own
    options as fields."""
    fields = [
        f
        for f in dataclasses.fields(config_class)
        if f.metadata.get("flag", True)
    ]
    if method_options and issubclass(config_class, TrainConfig):
        fields += [option_field(o) for o in methods.options()]
    return fields


def _fields():
    """Every option once: RunConfig's, then TrainConfig's (with the
    registered methods' options), EvalConfig's, CamsConfig's."""
    seen = {}
    for config in (TrainConfig, EvalConfig, CamsConfig):
        for field in flag_fields(config):
            seen.setdefault(field.name, field)
    return list(seen.values())


def _module_name(meta) -> str:
    """The group a flag is listed under in --helpfull."""
    return f"has_tf.config ({meta['task']})"


def define_flags(values: flags.FlagValues) -> None:
    """Defines a flag per config field on `values`.

    Each flag's help starts with the task that reads it ("[images]",
    "[videos]"; none for both), and --helpfull lists the flags in one
    group per task. Flags `values` has already are left alone, so calling
    it again after `--plugins` registered methods defines just their
    options.
    """
    for field in _fields():
        if field.name in values:
            continue
        meta, default = field.metadata, field.default
        tag = "" if meta["task"] == TASK_GROUPS[0] else f"[{meta['task']}] "
        common = dict(
            name=field.name,
            help=tag + meta["help"],
            flag_values=values,
            module_name=_module_name(meta),
        )
        if meta["item"] is not None:
            flags.DEFINE_list(default=[str(v) for v in default], **common)
        elif meta["choices"] is not None and isinstance(default, int):
            flags.DEFINE_integer(default=default, **common)
            choices = tuple(meta["choices"])
            flags.register_validator(
                field.name,
                lambda value, choices=choices: value in choices,
                f"--{field.name}: expected one of {choices}.",
                flag_values=values,
            )
        elif meta["choices"] is not None:
            flags.DEFINE_enum(
                default=default, enum_values=meta["choices"], **common
            )
        elif isinstance(default, bool):
            flags.DEFINE_bool(default=default, **common)
        elif isinstance(default, (int, float)):
            define = (
                flags.DEFINE_integer
                if isinstance(default, int)
                else flags.DEFINE_float
            )
            define(
                default=default,
                lower_bound=None if meta["lower_open"] else meta["lower"],
                upper_bound=None if meta["upper_open"] else meta["upper"],
                **common,
            )
        else:
            flags.DEFINE_string(default=default, **common)


def _meta(name: str):
    return next(f.metadata for f in _fields() if f.name == name)


def key_flags(*config_classes) -> list:
    """The flag names of `config_classes`' fields (an app declares them as
    its key flags, so --helpshort lists them)."""
    return [
        field.name for config in config_classes for field in flag_fields(config)
    ]


def options_by_task(*config_classes) -> str:
    """The options of `config_classes` grouped by the task that reads them,
    as text for an app's --helpshort."""
    groups = {task: [] for task in TASK_GROUPS}
    for config in config_classes:
        for field in flag_fields(config):
            names = groups[field.metadata["task"]]
            if f"--{field.name}" not in names:
                names.append(f"--{field.name}")
    lines = ["Options by the task that reads them:"]
    for task, names in groups.items():
        if names:
            lines += textwrap.wrap(
                " ".join(sorted(names)),
                width=80,
                initial_indent=f"  {task}: ",
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
    return "\n".join(lines) + "\n"


def _from_values(config_class, values):
    names = [f.name for f in flag_fields(config_class) if f.name in values]
    return config_class(**{name: values[name].value for name in names})


def train_config(values: flags.FlagValues | None = None) -> TrainConfig:
    """The `TrainConfig` parsed flags (default `flags.FLAGS`) describe.

    Raises:
      ValueError: an invalid value or combination (naming the flag).
    """
    return _from_values(TrainConfig, flags.FLAGS if values is None else values)


def eval_config(values: flags.FlagValues | None = None) -> EvalConfig:
    """The `EvalConfig` parsed flags (default `flags.FLAGS`) describe."""
    return _from_values(EvalConfig, flags.FLAGS if values is None else values)
