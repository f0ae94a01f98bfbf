"""Names and module paths of has_tf 0.2 that still work in 0.3, with a warning.

Each old name warns once per process (a `FutureWarning`, which Python shows
by default) and is removed in has_tf 0.4; CHANGELOG.md lists them. No
TensorFlow here: the NumPy-only packages use it too.

- `alias_module(old, new)`: called by a module left at its 0.2 path, makes
  that path the module at the new path.
- `moved_attribute(package, name, moved)`: a package's `__getattr__` for
  the names it no longer exports itself.
- `renamed_arguments(old=new, ...)`: a decorator for renamed keywords.
"""

from __future__ import annotations

import functools
import importlib
import sys
import warnings

REMOVED_IN = "0.4"

_warned: set = set()


def warn_once(key: str, message: str, stacklevel: int = 3) -> None:
    """Warns `message` (a FutureWarning) the first time `key` is seen."""
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(
        f"{message} The old name is removed in has_tf {REMOVED_IN}.",
        FutureWarning,
        stacklevel=stacklevel,
    )


def alias_module(old: str, new: str) -> None:
    """Makes the module path `old` the module `new` (warns once).

    Called at the top of a module left at its has_tf 0.2 path: every name
    of `new`, private ones included, is then reachable through `old`.
    """
    warn_once(old, f"{old} moved to {new}.", stacklevel=4)
    sys.modules[old] = importlib.import_module(new)


def moved_attribute(package: str, name: str, moved: dict):
    """The value of a name `package` no longer exports (warns once).

    Args:
      package: the package's `__name__`.
      name: the attribute asked for.
      moved: old name -> "module" or "module:new_name".

    Raises:
      AttributeError: `name` is neither exported nor moved.
    """
    if name not in moved:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    module, _, new_name = moved[name].partition(":")
    new_name = new_name or name
    warn_once(
        f"{package}.{name}",
        f"{package}.{name} moved to {module}.{new_name}.",
        stacklevel=4,  # The code that asked for the name.
    )
    return getattr(importlib.import_module(module), new_name)


def renamed_arguments(**renames):
    """Decorates a function whose keywords `old` are now `new` (warns once).

    `@renamed_arguments(normalization="cam_normalization")`: a call with
    `normalization=` works as `cam_normalization=`; giving both raises.
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(
                        f"{function.__qualname__}() got both {old}= (its "
                        f"0.2 name) and {new}=."
                    )
                warn_once(
                    f"{function.__module__}.{function.__qualname__}:{old}",
                    f"{function.__qualname__}(): the argument {old}= is "
                    f"now {new}=.",
                )
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate
