"""Writes a tiny THUMOS14 feature set in any published layout (tests, docs).

`write(layout, root)` lays out four videos (two validation, two test) the
way the named set is downloaded (`layouts`): the real file and folder
names, array shapes and dtypes (2048-d joint or 1024-d per stream, CMCS's
`[crops, T, 1024]` npz), real-format video names, and lengths T that
match each video's duration x rate. Durations are short (10 to 32 s) so
the files stay small. Options add the official annotation text and meta
`.mat` files, or give one video features at the wrong frame rate.

    python -m has_tf.datasets.thumos14_features.make_layout_fixtures \\
        wtalc /tmp/thumos14_wtalc
"""

from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
from scipy import io as sio

from has_tf.datasets.thumos14_features import layouts
from has_tf.metrics import detection_files

__all__ = ["VIDEOS", "write", "steps_of"]

# video -> (subset, duration s, fps, [(start, end, class)], [ambiguous]).
VIDEOS = {
    "video_validation_0000051": (
        "validation",
        32.0,
        30.0,
        [(1.0, 3.5, "HighJump"), (20.0, 24.0, "HighJump")],
        [],
    ),
    "video_validation_0000052": (
        "validation",
        10.0,
        25.0,
        [(2.0, 4.0, "CliffDiving"), (2.0, 4.0, "Diving")],
        [],
    ),
    "video_test_0000004": (
        "test",
        14.0,
        30.0,
        [(2.0, 5.0, "PoleVault")],
        [(6.0, 7.0)],
    ),
    "video_test_0000007": (
        "test",
        9.6,
        25.0,
        [(1.0, 2.0, "Billiards")],
        [],
    ),
}
# Only in the full W-TALC set: a validation video without temporal
# annotations (a 101-class label only) and an unannotated test video.
EXTRA_FULL = {
    "video_validation_0000001": ("validation", 8.0, 30.0, "ApplyEyeMakeup"),
    "video_test_0000001": ("test", 8.0, 25.0, None),
}


def steps_of(layout: str, duration: float, fps: float) -> int:
    """T of a video in `layout` (what its feature extractor gives)."""
    if layout in ("actionformer", "cmcs"):
        frames = int(round(duration * fps))
        return (frames - layouts.WINDOW) // layouts.STRIDE + 1
    return int(round(duration * layouts.I3D_RATE))


def _features(rng, steps, dim):
    return rng.normal(size=(steps, dim)).astype(np.float32)


def _official(root, split, folder=None):
    """The official annotation text of `split` for VIDEOS."""
    subset = {"validation": "val", "test": "test"}[split]
    folder = folder or root / "annotations" / split
    folder.mkdir(parents=True, exist_ok=True)
    lines = {name: [] for name in detection_files.THUMOS14_CLASSES}
    ambiguous = []
    for video, (sub, _, _, segments, spans) in VIDEOS.items():
        if sub != split:
            continue
        for s, e, c in segments:
            lines[c].append(f"{video} {s:.1f} {e:.1f}")
        ambiguous += [f"{video} {s:.1f} {e:.1f}" for s, e in spans]
    for name, rows in lines.items():
        text = "".join(f"{row}\n" for row in rows)
        (folder / f"{name}_{subset}.txt").write_text(text)
    if ambiguous:
        text = "".join(f"{row}\n" for row in ambiguous)
        (folder / f"Ambiguous_{subset}.txt").write_text(text)


def write_meta(path, split, videos=None) -> None:
    """A meta `.mat` file in the official struct layout (`meta.read_meta`)."""
    videos = videos or {
        v: (d, f, segments)
        for v, (sub, d, f, segments, _) in VIDEOS.items()
        if sub == split
    }
    fields = [
        "video_name",
        "primary_action",
        "primary_action_index",
        "video_duration_seconds",
        "number_of_frames",
        "frame_rate_FPS",
        "secondary_actions_indices",
    ]
    table = np.empty((1, len(videos)), dtype=[(f, "O") for f in fields])
    for i, (video, (duration, fps, segments)) in enumerate(videos.items()):
        ids = [detection_files.id_of_class_name(c) for _, _, c in segments]
        ids = sorted(set(ids))
        table[0, i] = (
            video,
            segments[0][2] if segments else "",
            np.array([[ids[0]]] if ids else np.zeros((0, 0)), np.uint8),
            np.array([[duration]]),
            np.array([[int(round(duration * fps))]]),
            np.array([[fps]]),
            np.array([ids[1:]], np.uint8) if len(ids) > 1 else np.zeros((0, 0)),
        )
    key = "validation_videos" if split == "validation" else "test_videos"
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.savemat(path, {key: table})


def write(
    layout: str,
    root,
    official: bool = False,
    with_meta: bool = False,
    wrong_fps: str | None = None,
    seed: int = 0,
) -> pathlib.Path:
    """Writes the fixture set in `layout` under `root`; returns `root`.

    Args:
      layout: one of `layouts.LAYOUTS` but has_tf (see `make_dummy_data`).
      official: add the official annotation text in `annotations/`.
      with_meta: add the official meta files (`test_set_meta.mat`, ...).
      wrong_fps: a video whose features are extracted at 30 fps where the
        layout assumes 25 (T = duration x 30 / 16).
    """
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def steps(video, duration, fps):
        if video == wrong_fps:
            return int(round(duration * 30.0 / 16.0))
        return steps_of(layout, duration, fps)

    if layout in ("wtalc", "wtalc_full"):
        _write_wtalc(root, layout == "wtalc_full", rng, steps)
    elif layout in ("basnet", "acmnet"):
        _write_split_json(root, layout, rng, steps)
    elif layout == "actionformer":
        _write_actionformer(root, rng, steps)
    elif layout == "cmcs":
        _write_cmcs(root, rng, steps)
    else:
        raise ValueError(
            f"Expected a published layout in {layouts.LAYOUTS[1:]}. "
            f"Received: layout={layout!r}"
        )
    if official and layout != "cmcs":
        for split in layouts.SPLITS:
            _official(root, split)
    if with_meta and layout != "cmcs":
        write_meta(root / "validation_set.mat", "validation")
        write_meta(root / "test_set_meta.mat", "test")
    return root


def _write_wtalc(root, full, rng, steps):
    stem = "Thumos14" if full else "Thumos14reduced"
    folder = root / f"{stem}-Annotations"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        (v, sub, d, f, segments, [c for _, _, c in segments])
        for v, (sub, d, f, segments, _) in VIDEOS.items()
    ]
    if full:
        rows += [
            (v, sub, d, f, [], [label] if label else [])
            for v, (sub, d, f, label) in EXTRA_FULL.items()
        ]
    rows.sort(key=lambda r: (r[1] != "validation", r[0]))
    features = np.empty(len(rows), dtype=object)
    for i, (v, _, d, f, _, _) in enumerate(rows):
        features[i] = _features(rng, steps(v, d, f), 2048)
    np.save(root / f"{stem}-I3D-JOINTFeatures.npy", features)

    def objects(values):
        out = np.empty(len(values), dtype=object)
        for i, value in enumerate(values):
            out[i] = value
        return out

    np.save(folder / "videoname.npy", np.array([r[0].encode() for r in rows]))
    np.save(folder / "subset.npy", np.array([r[1].encode() for r in rows]))
    np.save(folder / "duration.npy", np.array([[r[2]] for r in rows]))
    np.save(folder / "original_fps.npy", np.array([r[3] for r in rows]))
    np.save(
        folder / "segments.npy",
        objects([[[s, e] for s, e, _ in r[4]] for r in rows]),
        allow_pickle=True,
    )
    np.save(
        folder / "labels.npy",
        objects([[c.encode() for _, _, c in r[4]] for r in rows]),
        allow_pickle=True,
    )
    np.save(
        folder / "labels_all.npy",
        objects([sorted({c.encode() for c in r[5]}) for r in rows]),
        allow_pickle=True,
    )
    names = sorted(
        detection_files.UCF101_CLASSES
        if full
        else detection_files.THUMOS14_CLASSES
    )
    np.save(folder / "classlist.npy", np.array([n.encode() for n in names]))
    ambiguous = [  # Two spaces after the name, as W-TALC's file has.
        f"{v}  {s:.1f} {e:.1f}"
        for v, (sub, _, _, _, spans) in VIDEOS.items()
        for s, e in spans
    ]
    (folder / "Ambiguous_test.txt").write_text("\n".join(ambiguous) + "\n")


def _database(with_duration, strings):
    database = {}
    for v, (sub, d, f, segments, _) in VIDEOS.items():
        entry = {"subset": sub if sub == "test" else "validation"}
        if with_duration:
            entry.update(duration=d, frames=int(round(d * f)))
        entry["annotations"] = [
            {
                "segment": [f"{s}", f"{e}"] if strings else [s, e],
                "label": c,
            }
            for s, e, c in segments
        ]
        database[v] = entry
    return database


def _write_split_json(root, layout, rng, steps):
    database = _database(layout == "acmnet", layout == "basnet")
    (root / "gt.json").write_text(json.dumps({"database": database}))
    for split, folder in (("validation", "train"), ("test", "test")):
        names = [v for v, row in VIDEOS.items() if row[0] == split]
        (root / f"split_{folder}.txt").write_text("\n".join(names) + "\n")
        for v in names:
            _, d, f, _, _ = VIDEOS[v]
            t = steps(v, d, f)
            if layout == "basnet":
                for stream in ("rgb", "flow"):
                    out = root / "features" / folder / stream
                    out.mkdir(parents=True, exist_ok=True)
                    np.save(out / f"{v}.npy", _features(rng, t, 1024))
            else:
                (root / folder).mkdir(parents=True, exist_ok=True)
                np.save(root / folder / f"{v}.npy", _features(rng, t, 2048))


def _write_actionformer(root, rng, steps):
    database = {}
    ids = {c: i for i, c in enumerate(detection_files.THUMOS14_CLASSES)}
    for v, (sub, d, f, segments, _) in VIDEOS.items():
        database[v] = {
            "subset": "Validation" if sub == "validation" else "Test",
            "duration": d,
            "fps": f,
            "annotations": [
                {
                    "label": c,
                    "segment": [s, e],
                    "segment(frames)": [s * f, e * f],
                    "label_id": ids[c],
                }
                for s, e, c in segments
            ],
        }
        (root / "i3d_features").mkdir(parents=True, exist_ok=True)
        np.save(
            root / "i3d_features" / f"{v}.npy",
            _features(rng, steps(v, d, f), 2048),
        )
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "thumos14.json").write_text(
        json.dumps({"version": "Thumos14-30fps", "database": database})
    )


def _write_cmcs(root, rng, steps):
    for v, (sub, d, f, _, _) in VIDEOS.items():
        part = "val" if sub == "validation" else "test"
        t = steps(v, d, f)
        for stream in ("rgb", "flow"):
            folder = root / "I3D-4" / f"thumos-{part}-{stream}-oversample"
            folder.mkdir(parents=True, exist_ok=True)
            feature = rng.normal(
                size=(2, t, 1024)
            )  # 2 crops of 10.astype(np.float32)
            np.savez(
                folder / f"{v}-{stream}.npz",
                feature=feature,
                frame_cnt=np.array(int(round(d * f))),
            )
    for split, part in (("validation", "val"), ("test", "test")):
        _official(root, split, root / "labels" / f"thumos14-{part}-annotations")
        write_meta(root / "labels" / f"thumos14-{part}-meta.mat", split)


if __name__ == "__main__":
    print(write(sys.argv[1], sys.argv[2]))
