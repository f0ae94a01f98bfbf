"""The one command-line convention of every `python -m has_tf.<app>`.

Every app is an absl program run by `run(main)`. A user error (a bad flag
value or combination, a missing file, a run directory in use) is raised as
`UsageError` (absl's) naming the flag and the value received; `run` prints
it as one line on stderr, `<app>: error: <message>`, and exits with status
1, without a traceback or the flags' help (`--helpshort` prints that).
A value a flag cannot parse (absl's `flags.Error`, raised while parsing)
is reported the same way. Any other exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from has_tf import config as config_lib

UsageError = app.UsageError

__all__ = ["UsageError", "fail", "run", "no_arguments"]


def _program() -> str:
    """The app's name as run: `has_tf.train` for `python -m has_tf.train`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return spec.name.removesuffix(".__main__")
    return os.path.basename(sys.argv[0] or "has_tf").removesuffix(".py")


def fail(message: str) -> None:
    """Prints `<app>: error: message` on stderr and exits with status 1."""
    print(f"{_program()}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def no_arguments(argv) -> None:
    """Raises `UsageError` for positional arguments after the program."""
    if len(argv) > 1:
        raise UsageError(
            f"unexpected arguments (every option is a --flag). Received: "
            f"{' '.join(argv[1:])}"
        )


def _parse(argv):
    """absl's flag parsing, its errors as one line (absl prints two)."""
    try:
        if "plugins" in flags.FLAGS:  # An app with the config's flags.
            # The plugins' methods' options are flags: defined first.
            config_lib.load_plugins(argv, flags.FLAGS)
        return flags.FLAGS(argv)
    except ValueError as error:  # A plugin that does not import.
        fail(str(error))
    except flags.Error as error:
        # absl words a flagfile it cannot open "ERROR:: Unable to open ...".
        fail(str(error).removeprefix("ERROR:: "))


def run(main) -> None:
    """`absl.app.run(main)` under the convention above."""

    def guarded(argv):
        try:
            return main(argv)
        except UsageError as error:
            fail(str(error))

    app.run(guarded, flags_parser=_parse)
