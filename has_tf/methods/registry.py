"""The registry of methods: names to records, and `--method`'s resolution.

`register(method)` adds a `Method` (each method module calls it when it is
imported; a user's module does the same, `load_plugins`); `get(name,
task)` finds it; `resolve(config, task)` turns `--method` (a name, or
"auto") into the record the run trains with and checks the options against
it. Plain Python: no TensorFlow.
"""

from __future__ import annotations

import importlib

from has_tf.methods.base import TASKS
from has_tf.methods.base import Method

# The method `--method=auto` falls back to when no method's
# `chosen_by_auto` holds: the plain class activation map.
DEFAULTS = {"images": "cam", "videos": "cam"}

_METHODS: dict = {}  # (task, name) -> Method, in registration order.
_PLUGINS: list = []  # Modules loaded by `load_plugins`, in order.

__all__ = [
    "DEFAULTS",
    "get",
    "load_plugins",
    "methods",
    "names",
    "options",
    "plugins",
    "register",
    "resolve",
]


def register(method: Method) -> Method:
    """Adds `method` to the registry; returns it (so a module can write
    `METHOD = register(Method(...))`).

    Registering the same record again (a module imported twice) is a no-op.

    Raises:
      ValueError: not a `Method`; another method of the task has its name;
        one of its options is another method's option.
    """
    if not isinstance(method, Method):
        raise ValueError(
            f"Expected a has_tf.methods.Method. Received: method={method!r}"
        )
    key = (method.task, method.name)
    if key in _METHODS:
        if _METHODS[key] == method:
            return method
        raise ValueError(
            f"A {method.task} method named {method.name!r} is registered "
            "already; give yours another name. Received: "
            f"method={method!r}"
        )
    for other in _METHODS.values():
        for option in method.options:
            known = {o.name: o for o in other.options}
            if option.name in known and known[option.name] != option:
                raise ValueError(
                    f"Method {method.name!r}: option --{option.name} is "
                    f"method {other.name!r}'s already; give it another "
                    f"name. Received: {option!r}"
                )
    _METHODS[key] = method
    return method


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"Expected a task in {TASKS}. Received: task={task!r}")


def methods(task: str | None = None) -> list:
    """The registered records (of `task`, if given), in order."""
    if task is not None:
        _check_task(task)
    return [m for m in _METHODS.values() if task in (None, m.task)]


def names(task: str | None = None) -> tuple:
    """The registered method names (of `task`, if given), without
    repeats."""
    return tuple(dict.fromkeys(m.name for m in methods(task)))


def get(name: str, task: str) -> Method:
    """The method `name` of `task` ("images" or "videos").

    Raises:
      ValueError: naming `--method`, the value and the task's methods.
    """
    _check_task(task)
    if (task, name) not in _METHODS:
        raise ValueError(
            f"--method: no {task} method is called {name!r}; expected "
            f"auto or one of {names(task)} (a method of your own: "
            "--plugins=<its module>). Received: " + repr(name)
        )
    return _METHODS[(task, name)]


def options() -> list:
    """Every registered method's own options, each once."""
    found = {}
    for method in _METHODS.values():
        for option in method.options:
            found.setdefault(option.name, option)
    return list(found.values())


def resolve(config, task: str) -> Method:
    """The method `config.method` names for `task`, its options checked.

    "auto" becomes the first method of the task whose `chosen_by_auto`
    holds for `config`, else the task's default (`DEFAULTS`). Sets
    `config.method` to the name and runs the record's `check`, which may
    also settle options the method makes moot (a method that hides
    nothing empties `--patch_sizes`). Calling it again is a no-op. (Which
    models a method goes with is the task's check: `has_tf.tasks.resolve`.)

    Raises:
      ValueError: an unknown method, or options that do not go with it
        (naming the flag).
    """
    name = config.method
    if name == "auto":
        name = next(
            (
                m.name
                for m in methods(task)
                if m.chosen_by_auto is not None and m.chosen_by_auto(config)
            ),
            DEFAULTS[task],
        )
    method = get(name, task)
    config.method = name
    if method.check is not None:
        method.check(config)
    return method


def plugins() -> tuple:
    """The modules `load_plugins` imported, in order (a run records them
    so that evaluation and restarts find its method again)."""
    return tuple(_PLUGINS)


def load_plugins(modules) -> None:
    """Imports each of `modules` (dotted names, e.g. "my_lab.my_method"),
    whose import registers their methods or models.

    Raises:
      ValueError: naming `--plugins` and the module that did not import,
        with the import's error.
    """
    for module in modules:
        module = module.strip()
        if not module:
            continue
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 (reported with its type)
            raise ValueError(
                f"--plugins: could not import {module!r} "
                f"({type(error).__name__}: {error}). Is it on PYTHONPATH "
                f"(or installed)? Received: {module!r}"
            ) from error
        if module not in _PLUGINS:
            _PLUGINS.append(module)
