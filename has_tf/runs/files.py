"""Writing files so that a kill or a full disk never leaves a torn one.

A file is written under a temporary name in its own directory, flushed to
disk, and renamed over the old one: readers see the old file or the new
one, never half of either; a directory (`replace_directory`) is built
beside its place and swapped in whole. (Plain Python; no TensorFlow.)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading

__all__ = [
    "default_mode",
    "replace_directory",
    "write_atomically",
    "write_json_atomically",
]

_UMASK_LOCK = threading.Lock()


def default_mode() -> int:
    """The mode `open()` would give a new file here: 0o666 less the umask
    (a temporary file is created 0600, which would keep other users on
    shared storage from reading the run)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def write_atomically(path: str, data) -> str:
    """Writes `data` (str or bytes) to `path` atomically; returns `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    descriptor, temporary = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        os.chmod(temporary, default_mode())
        with os.fdopen(descriptor, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def write_json_atomically(path: str, value, **dump_args) -> str:
    """`json.dump(value)` to `path` atomically; returns `path`."""
    return write_atomically(path, json.dumps(value, **dump_args))


def replace_directory(build, path: str) -> str:
    """Builds a directory at a temporary path, then swaps it in at `path`.

    Args:
      build: called with the temporary path; writes the directory.
      path: where it ends up. An old directory there stays whole until
        the new one is complete.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    old = f"{path}.old-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        build(temporary)
        if os.path.exists(path):
            os.replace(path, old)
        os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return path
