"""Flagfiles: checked before absl reads them (no circular include, no
comment after a value, no flag twice), the plugins they name loaded
first, read into fresh `FlagValues` or a `TrainConfig`."""

from __future__ import annotations

import os
import re

from absl import flags

from has_tf import methods
from has_tf.config.flags import define_flags
from has_tf.config.flags import train_config
from has_tf.config.training import TrainConfig


def check_flagfiles(argv) -> None:
    """Raises if a flagfile named in `argv` includes itself, at any depth,
    puts a comment after a value, or gives one flag twice.

    absl only warns about a circular `--flagfile=` and goes on with the
    defaults, reads `--model_dir=runs/x  # baseline` as that whole value,
    and keeps the later of two lines silently; a run must not start from a
    configuration nobody wrote.

    Args:
      argv: command-line arguments (`--flagfile=PATH` or `--flagfile
        PATH`), e.g. `sys.argv`.

    Raises:
      ValueError: naming the chain of files, e.g. "a.cfg -> b.cfg ->
        a.cfg", or the file and line.
    """
    args = list(argv)
    paths = [
        arg.split("=", 1)[1] if "=" in arg else args[i + 1]
        for i, arg in enumerate(args)
        if arg.split("=", 1)[0] in ("--flagfile", "-flagfile")
        and ("=" in arg or i + 1 < len(args))
    ]
    for path in paths:
        _follow_flagfile(path, [])


def _follow_flagfile(path: str, chain: list) -> None:
    real = os.path.realpath(path)
    if real in chain:
        names = [os.path.relpath(p) for p in chain + [real]]
        raise ValueError(
            "--flagfile: a circular include: " + " -> ".join(names)
        )
    if not os.path.exists(real):
        return  # absl reports a missing file itself.
    seen = {}
    with open(real) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith(("#", "//")):
                continue
            where = f"{os.path.relpath(path)}:{number}"
            if re.search(r"\s(#|//)", line):
                raise ValueError(
                    f"{where}: a comment after a value is read by absl as "
                    f"part of the value ({line!r}); put it on a line of its "
                    "own."
                )
            name = line.split("=", 1)[0].lstrip("-")
            if line.startswith("--flagfile="):
                _follow_flagfile(line.split("=", 1)[1], chain + [real])
            elif name in seen:
                raise ValueError(
                    f"{where}: --{name} is given twice in this file (line "
                    f"{seen[name]} too); absl would keep the later one "
                    "silently. (Override a flag of an included flagfile "
                    "after its --flagfile= line, or on the command line.)"
                )
            else:
                seen[name] = number


def plugins_named(argv) -> list:
    """The modules `--plugins` names in `argv` and in the flagfiles it
    names (at any depth), in order: what must be imported before the
    flags are parsed, since their methods' options are flags too."""
    found = []

    def add(value):
        found.extend(m.strip() for m in value.split(",") if m.strip())

    def follow(path, chain):
        real = os.path.realpath(path)
        if real in chain or not os.path.isfile(real):
            return  # check_flagfiles and absl report these.
        with open(real) as f:
            for line in f:
                line = line.strip()
                if line.startswith("--flagfile="):
                    follow(line.split("=", 1)[1], chain + [real])
                elif line.startswith("--plugins="):
                    add(line.split("=", 1)[1])

    args = list(argv)
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in ("--flagfile", "-flagfile"):
            value = value or (args[i + 1] if i + 1 < len(args) else "")
            follow(value, [])
        elif name in ("--plugins", "-plugins"):
            add(value or (args[i + 1] if i + 1 < len(args) else ""))
    return found


def load_plugins(argv, values: flags.FlagValues) -> None:
    """Imports the modules `--plugins` names in `argv` (or its
    flagfiles) and defines their methods' options on `values`.

    Raises:
      ValueError: a module that does not import (naming `--plugins`).
    """
    methods.load_plugins(plugins_named(argv))
    define_flags(values)


def read_flagfile(path: str, **overrides) -> flags.FlagValues:
    """Parses a flagfile with the config's flags into fresh `FlagValues`.

    Nested `--flagfile=` lines are followed; the process's `flags.FLAGS`
    is left alone. `overrides` set flags afterwards (by name).

    Raises:
      absl.flags.Error: an unknown flag or a bad value.
      ValueError: a circular include.
    """
    check_flagfiles([f"--flagfile={path}"])
    values = flags.FlagValues()
    methods.load_plugins(plugins_named([f"--flagfile={path}"]))
    define_flags(values)
    values(["has_tf", f"--flagfile={path}"])
    for name, value in overrides.items():
        values[name].value = value
    return values


def train_config_from_flagfile(path: str, **overrides) -> TrainConfig:
    """The `TrainConfig` a flagfile describes, with `overrides` on top.

    Notebooks and tests run the experiments of `flags/` exactly this way.

    Raises:
      ValueError: an invalid combination (naming the flag);
      absl.flags.Error: an unknown flag or a bad value in the file.
    """
    return train_config(read_flagfile(path, **overrides))
