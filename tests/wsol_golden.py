"""Reads the golden cases wsolevaluation's own code produced for CutMix,
ADL and ACoL (tests/fixtures/wsol_methods: README.md, make_fixtures.py)."""

import functools
import json
import pathlib

import numpy as np

HERE = pathlib.Path(__file__).parent / "fixtures" / "wsol_methods"


@functools.lru_cache(maxsize=None)
def _load():
    return (
        json.loads((HERE / "cases.json").read_text()),
        dict(np.load(HERE / "cases.npz")),
    )


def cases(method):
    """[(scalars, arrays)] of one method ("cutmix", "adl", "acol")."""
    meta, arrays = _load()
    out = []
    for index, scalars in enumerate(meta[method]):
        prefix = f"{method}/{index}/"
        found = {}
        for key, value in arrays.items():
            if key.startswith(prefix):
                name = key[len(prefix) :]
                if "/" in name:
                    head, item = name.split("/")
                    found.setdefault(head, {})[int(item)] = value
                else:
                    found[name] = value
        for key, value in found.items():
            if isinstance(value, dict):
                found[key] = [value[i] for i in sorted(value)]
        out.append((scalars, found))
    return out


def placements():
    """The reference's placements: `{backbone_method_side: {...}}`."""
    return _load()[0]["placements"]
