"""How a config field is declared and checked, and the fields training
and evaluation share (`RunConfig`).

`option(default, help, choices=..., lower=..., upper=..., item=...,
shapes_run=..., task=...)` declares a field once; its flag
(`has_tf.config.flags`), the dataclass's checks (`check_fields`) and the
restart check (`has_tf.runs.run_dir`) all read that declaration. A
method's own options (`has_tf.methods.Option`) become the same kind of
declaration (`option_field`).
"""

from __future__ import annotations

import dataclasses
import math

from has_tf import methods
from has_tf import vocabulary

# Which task reads an option: both, or one of them.
TASK_GROUPS = ("both tasks", "images", "videos")
# The group the methods' own options are listed under.
METHOD_OPTIONS_TASK = "images"


def option(
    default,
    help_text: str,
    *,
    choices=None,
    lower=None,
    upper=None,
    lower_open=False,
    upper_open=False,
    item=None,
    shapes_run=True,
    task="both tasks",
):
    """A config field: its default and what its flag says and accepts.

    Args:
      default: the default (a tuple for list-valued options).
      help_text: the flag's help.
      choices: the allowed values, if a fixed list.
      lower, upper: inclusive bounds of a number (`lower_open`,
        `upper_open`: exclusive); of every item for list-valued options.
      item: `int` or `float`, the item type of a list-valued option.
      shapes_run: whether the option changes what training computes (a
        restart must match the recorded value, `has_tf.runs.run_dir`); False
        for where data lives, logging and how the work is spread.
    """
    return dataclasses.field(
        default=default,
        metadata=dict(
            help=help_text,
            choices=choices,
            lower=lower,
            upper=upper,
            lower_open=lower_open,
            upper_open=upper_open,
            item=item,
            shapes_run=shapes_run,
            task=task,
        ),
    )


def check_fields(config) -> None:
    """Coerces and checks every field of `config` by its declaration."""
    for field in dataclasses.fields(config):
        if not field.metadata.get("flag", True):
            continue  # Checked by its owner (`method_options`).
        setattr(config, field.name, checked(field, getattr(config, field.name)))


def fail(name, message, value):
    raise ValueError(f"--{name}: {message} Received: {value!r}")


def _in_bounds(value, meta) -> bool:
    lower, upper = meta["lower"], meta["upper"]
    if isinstance(value, float) and math.isnan(value):
        return lower is None and upper is None
    if lower is not None and (
        value <= lower if meta["lower_open"] else value < lower
    ):
        return False
    if upper is not None and (
        value >= upper if meta["upper_open"] else value > upper
    ):
        return False
    return True


def _bounds_text(meta) -> str:
    lower, upper = meta["lower"], meta["upper"]
    if upper is None:
        return f"{'>' if meta['lower_open'] else '>='} {lower}"
    start = "(" if meta["lower_open"] else "["
    end = ")" if meta["upper_open"] else "]"
    return f"in {start}{lower}, {upper}{end}"


def checked(field, value):
    """`value` coerced to the field's type, or a ValueError naming it."""
    meta = field.metadata
    if meta["item"] is not None:
        try:
            value = tuple(meta["item"](v) for v in value)
        except (TypeError, ValueError):
            fail(
                field.name,
                f"expected a list of {meta['item'].__name__}s.",
                value,
            )
        items = value
    else:
        items = (value,)
    if meta["choices"] is not None and value not in meta["choices"]:
        fail(field.name, f"expected one of {tuple(meta['choices'])}.", value)
    if meta["lower"] is not None or meta["upper"] is not None:
        if not all(_in_bounds(v, meta) for v in items):
            fail(field.name, f"expected values {_bounds_text(meta)}.", value)
    return value


def option_field(declared: methods.Option):
    """A registered method's `Option` as a field declaration (its flag and
    checks come from it as from the config's own fields)."""
    field = option(
        declared.default,
        declared.help,
        choices=declared.choices,
        lower=declared.lower,
        upper=declared.upper,
        lower_open=declared.lower_open,
        upper_open=declared.upper_open,
        task=METHOD_OPTIONS_TASK,
    )
    field.name = declared.name
    return field


@dataclasses.dataclass
class RunConfig:
    """What training and evaluation both read: the data and the run."""

    model_dir: str | None = option(
        None,
        "The run's directory (written by train, read by evaluate).",
        shapes_run=False,
    )
    dataset: str = option(
        "synthetic_parts",
        "has_tf dataset name, optionally with a config (synthetic_parts/tiny).",
    )
    data_dir: str | None = option(
        None, "TFDS data directory.", shapes_run=False
    )
    manual_dir: str | None = option(
        None, "Manual download directory (ILSVRC, THUMOS14).", shapes_run=False
    )
    allow_pickle: bool = option(
        False,
        "Read pickled files while preparing the dataset (W-TALC's feature "
        "bundles); unpickling a downloaded file can run code: only for "
        "files you trust.",
        shapes_run=False,
    )
    eval_split: str = option(
        "test",
        "TFDS split to score (train logs CAMs of its first images).",
        shapes_run=False,
    )
    resize_size: int = option(
        256,
        "Square resize before the crop (training's resize_crop; "
        "evaluation's center_crop and ten_crop).",
        lower=8,
        task="images",
    )
    plugins: tuple = option(
        (),
        "Modules to import first, e.g. my_lab.my_method: each registers "
        "methods (has_tf.methods.register) or models of its own. A run "
        "records them; evaluation and restarts import them again.",
        item=str,
        shapes_run=False,
    )
    resize_method: str = option(
        "antialias",
        "Image resize kernel: antialias (bilinear widened when shrinking, "
        "as PIL/torchvision) or bilinear (no widening: faster on the host, "
        "aliases when shrinking over ~2x). See input_pipeline.",
        choices=vocabulary.RESIZE_METHODS,
        task="images",
    )

    def __post_init__(self):
        check_fields(self)
        methods.load_plugins(self.plugins)
