"""Writes a tiny ActivityNet feature set in a published layout (tests).

`write(layout, root)`: four videos (two training, two validation) with
real-format YouTube ids, ActivityNet class names, T = duration x 25/16,
2048-d features, in W-TALC's 1.2 bundle ("wtalc") or ACM-Net's 1.3
folders ("acmnet", ids with "v_"). `official=True` adds the official
annotation file, which lists one more validation video that has no
features (a "missing" video).

    python -m has_tf.datasets.activitynet_features.make_fixtures \\
        wtalc /tmp/anet12
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np

from has_tf.datasets import feature_bundles as bundles

# id -> (subset, duration s, [(start, end, class)]).
VIDEOS = {
    "5wOmHw6Boj8": ("training", 20.0, [(1.6, 6.1, "Washing dishes")]),
    "AoRk69eieek": ("training", 16.0, [(2.0, 9.0, "Archery")]),
    "nd50oUKdygI": (
        "validation",
        24.0,
        [(3.0, 8.0, "Archery"), (12.0, 20.0, "Archery")],
    ),
    "Bg_CMSihJl0": ("validation", 12.0, [(0.5, 11.0, "Washing dishes")]),
}
MISSING = "ZZmissing01"  # In the official file only.


def _objects(values):
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


def write(layout: str, root, official: bool = False, seed: int = 0):
    """Writes the set under `root`; returns `root`."""
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def features(duration):
        steps = int(round(duration * bundles.I3D_RATE))
        return rng.normal(size=(steps, 2048)).astype(np.float32)

    names = list(VIDEOS)
    if layout == "wtalc":
        folder = root / "ActivityNet1.2-Annotations"
        folder.mkdir(exist_ok=True)
        rows = [VIDEOS[v] for v in names]
        np.save(
            root / "ActivityNet1.2-I3D-JOINTFeatures.npy",
            _objects([features(d) for _, d, _ in rows]),
            allow_pickle=True,
        )
        np.save(folder / "videoname.npy", np.array([v.encode() for v in names]))
        np.save(
            folder / "subset.npy", np.array([s.encode() for s, _, _ in rows])
        )
        np.save(folder / "duration.npy", np.array([[d] for _, d, _ in rows]))
        np.save(
            folder / "segments.npy",
            _objects([[[s, e] for s, e, _ in seg] for _, _, seg in rows]),
            allow_pickle=True,
        )
        np.save(
            folder / "labels.npy",
            _objects([[c.encode() for _, _, c in seg] for _, _, seg in rows]),
            allow_pickle=True,
        )
        np.save(
            folder / "labels_all.npy",
            _objects(
                [sorted({c.encode() for _, _, c in seg}) for _, _, seg in rows]
            ),
            allow_pickle=True,
        )
    elif layout == "acmnet":
        database = {}
        for split, folder, subset in (
            ("train", "train", "training"),
            ("test", "test", "validation"),
        ):
            listed = [v for v in names if VIDEOS[v][0] == subset]
            (root / f"split_{split}.txt").write_text(
                "".join(f"v_{v}\n" for v in listed)
            )
            (root / folder).mkdir(exist_ok=True)
            for v in listed:
                _, duration, segments = VIDEOS[v]
                np.save(root / folder / f"v_{v}.npy", features(duration))
                database[f"v_{v}"] = {
                    "subset": subset,
                    "duration": duration,
                    "annotations": [
                        {"segment": [s, e], "label": c} for s, e, c in segments
                    ],
                }
        (root / "gt.json").write_text(json.dumps({"database": database}))
    else:
        raise ValueError(
            f"Expected layout 'wtalc' or 'acmnet'. Received: layout={layout!r}"
        )
    if official:
        version = "1.2" if layout == "wtalc" else "1.3"
        database = {
            v: {
                "subset": subset,
                "duration": duration,
                "annotations": [
                    {"segment": [s, e], "label": c} for s, e, c in segments
                ],
            }
            for v, (subset, duration, segments) in VIDEOS.items()
        }
        database[MISSING] = {
            "subset": "validation",
            "duration": 30.0,
            "annotations": [{"segment": [1.0, 2.0], "label": "Archery"}],
        }
        name = f"activity_net.v{version.replace('.', '-')}.min.json"
        (root / name).write_text(
            json.dumps({"version": f"VERSION {version}", "database": database})
        )
    return root


if __name__ == "__main__":
    print(write(sys.argv[1], sys.argv[2]))
