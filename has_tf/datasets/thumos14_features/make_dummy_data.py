"""Writes the tiny fake manual dir in `dummy_data/` (`dummy` config, 8-d).

From the repository root:
`python -m has_tf.datasets.thumos14_features.make_dummy_data`.
Validation: two videos with features (one holding HighJump and Diving,
one HighJump). Test: one video as an RGB + flow pair of different
lengths (PoleVault, an Ambiguous interval), one video that a test list
excludes (1292, only Ambiguous), and one annotated video without features
(skipped by the builder).
"""

from __future__ import annotations

import os
import pathlib
import shutil

import numpy as np

from has_tf.metrics import detection_files

HERE = pathlib.Path(__file__).parent / "dummy_data"
_SUBSETS = (("validation", "val"), ("test", "test"))
_ANNOTATIONS = {
    ("validation", "HighJump_val.txt"): (
        "video_validation_0000001 1.0 3.0\nvideo_validation_0000002 0.5 2\n"
    ),
    ("validation", "Diving_val.txt"): "video_validation_0000001 4.0 6.0\n",
    ("test", "PoleVault_test.txt"): (
        "video_test_0000004 2.0 5.0\nvideo_test_0000009 1 2\n"
    ),
    ("test", "Ambiguous_test.txt"): (
        "video_test_0001292 0 1\nvideo_test_0000004 6 7\n"
    ),
}
# file name -> [T, D]; video_test_0000009 has annotations, no features.
_FEATURES = {
    ("validation", "video_validation_0000001.npy"): (20, 8),
    ("validation", "video_validation_0000002.npy"): (20, 8),
    ("test", "video_test_0000004_rgb.npy"): (16, 4),
    ("test", "video_test_0000004_flow.npy"): (15, 4),
    ("test", "video_test_0001292.npy"): (10, 8),
}


def write(root) -> pathlib.Path:
    """Writes the manual dir under `root` (created); returns its path."""
    root = pathlib.Path(root)
    for split, subset in _SUBSETS:
        (root / "annotations" / split).mkdir(parents=True, exist_ok=True)
        (root / "features" / split).mkdir(parents=True, exist_ok=True)
        for name in detection_files.THUMOS14_CLASSES:
            (root / "annotations" / split / f"{name}_{subset}.txt").write_text(
                ""
            )
    for (split, name), text in _ANNOTATIONS.items():
        (root / "annotations" / split / name).write_text(text)
    rng = np.random.default_rng(0)
    for (split, name), shape in _FEATURES.items():
        np.save(root / "features" / split / name, rng.normal(size=shape))
    return root


if __name__ == "__main__":
    shutil.rmtree(HERE, ignore_errors=True)
    print(f"Wrote {os.fspath(write(HERE))}")
