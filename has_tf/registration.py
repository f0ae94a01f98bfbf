"""has_tf's Keras objects, known to `keras.saving.load_model`.

Every layer, loss and optimizer has_tf writes into a `.keras` file is
registered with Keras (`keras.saving.register_keras_serializable(package=
"has_tf")`) by the module that defines it, and Keras finds it by that name
only once that module has run: it imports the module a file names for its
own packages alone. So `import has_tf` arranges the registration without
importing Keras itself (`has_tf.metrics`, `has_tf.postprocess` and the
NumPy-only apps stay free of TensorFlow):

- Keras imported already: the modules of `MODULES` are imported at the end
  of `import has_tf`.
- Keras imported later, by the user or by a has_tf module: they are
  imported as soon as that import (and any has_tf import around it) has
  finished, through an import hook that `import has_tf` installs and that
  removes itself once done.

Under JAX or PyTorch this loads no TensorFlow: the layers import it only
when a TensorFlow tensor reaches them (a `tf.data` pipeline).

A failure to import one of them becomes a warning naming the module, not
an error in the user's `import keras`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
import warnings

# The modules that define has_tf's registered Keras objects.
MODULES = (
    "has_tf.augmentation.cutmix_layer",
    "has_tf.augmentation.layers",
    "has_tf.models",
    "has_tf.training.losses",
    "has_tf.training.optimizers",
)

_lock = threading.RLock()
_state = threading.local()
_done = []


def register() -> None:
    """Imports every module of `MODULES` (once; later calls do nothing)."""
    with _lock:
        if _done:
            return
        _done.append(True)
        _uninstall()
        for name in MODULES:
            try:
                importlib.import_module(name)
            except Exception as error:  # noqa: BLE001 - reported, not raised
                warnings.warn(
                    f"has_tf: {name} did not import ({error!r}); .keras files "
                    "holding its objects will not load.",
                    RuntimeWarning,
                    stacklevel=2,
                )


def _depth() -> int:
    return getattr(_state, "depth", 0)


def _after_an_import() -> None:
    if _depth() == 0 and "keras" in sys.modules and not _done:
        register()


class _Loader(importlib.abc.Loader):
    """A module's own loader, counting the watched imports in flight."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # get_code, get_resource_reader, ...
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        _state.depth = _depth() + 1
        try:
            self._loader.exec_module(module)
        finally:
            _state.depth = _depth() - 1
        _after_an_import()


class _Watch(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader the other finders give for
    `keras` and has_tf's modules."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith("has_tf."):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader)
        return spec


_WATCH = _Watch()


def _uninstall() -> None:
    if _WATCH in sys.meta_path:
        sys.meta_path.remove(_WATCH)


def install() -> None:
    """What `import has_tf` calls: registers now if Keras is imported, else
    watches for its import."""
    if "keras" in sys.modules:
        register()
    elif not _done and _WATCH not in sys.meta_path:
        sys.meta_path.insert(0, _WATCH)
