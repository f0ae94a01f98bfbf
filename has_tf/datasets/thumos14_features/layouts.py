"""The published THUMOS14 feature sets, read as they are downloaded.

Each layout is a reader: given the manual dir, it lists the videos of each
split with a loader of their `[T, D]` features, their feature rate and time
offset (per video where the set's rate is the video's fps over a stride),
their true duration where the set or the official meta file has it, their
labels and, where the set brings its own, their segments. `read` detects
the layout from the directory's contents (`detect`) or takes the name.

- `has_tf`: `features/{validation,test}/<video>.npy` (or `_rgb` and
  `_flow`) and the official `annotations/`; the config's rate, offset 0.
- `wtalc`: `Thumos14reduced-I3D-JOINTFeatures.npy` and
  `Thumos14reduced-Annotations/` (W-TALC, CO2-Net, DELU, P-MIL); 25/16.
- `wtalc_full`: `Thumos14-I3D-JOINTFeatures.npy` and `Thumos14-Annotations/`
  (all 1010 + 1574 videos, 101-class labels); 25/16.
- `basnet`: `features/{train,test}/{rgb,flow}/<video>.npy`, `gt.json`,
  `split_{train,test}.txt` (BaS-Net, CoLA, ASL, AICL); 25/16.
- `acmnet`: `{train,test}/<video>.npy` (2048-d), `gt.json` (with
  durations), `split_{train,test}.txt`; 25/16.
- `actionformer`: `i3d_features/<video>.npy`, `annotations/thumos14.json`
  (fps, duration); fps / 4, offset 6 / fps.
- `cmcs`: `<video>-rgb.npz`, `<video>-flow.npz` (`feature` `[crops, T,
  1024]`) up to three folders below, the meta `.mat` files; fps / 4,
  6 / fps.

Offsets: ActionFormer and CMCS take 16-frame windows every 4 frames, so
window t spans frames [4t, 4t + 16) and its centre, (4t + 8) / fps, is
the step's time (`video_features`: centre = offset + (t + 0.5) / rate,
so offset = 6 / fps). CMCS's own code places a window at its first frame;
the centre is used here, as ActionFormer does. The others take
non-overlapping 16-frame chunks at 25 fps: offset 0.

Annotations: the official THUMOS14 text files where the manual dir holds
them (`OFFICIAL_ANNOTATIONS`), else the set's own (`gt.json`, the W-TALC
`segments.npy`), with a warning naming what the set lacks (the Ambiguous
intervals for BaS-Net, ACM-Net and ActionFormer).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np
from absl import logging
from etils import epath

from has_tf.datasets import feature_bundles as bundles
from has_tf.datasets.feature_bundles import LENGTH_TOLERANCE
from has_tf.datasets.feature_bundles import Video
from has_tf.datasets.feature_bundles import check_length
from has_tf.datasets.thumos14_features import annotations
from has_tf.datasets.thumos14_features import meta
from has_tf.metrics import detection_files

__all__ = [
    "LAYOUTS",
    "OFFICIAL_ANNOTATIONS",
    "LENGTH_TOLERANCE",
    "Reading",
    "Video",
    "check_length",
    "detect",
    "read",
]

LAYOUTS = (
    "has_tf",
    "wtalc",
    "wtalc_full",
    "basnet",
    "acmnet",
    "actionformer",
    "cmcs",
)
SPLITS = ("validation", "test")
_SUBSET = {"validation": "val", "test": "test"}
I3D_RATE = bundles.I3D_RATE
STRIDE = 4  # ActionFormer's and CMCS's window stride in frames.
WINDOW = 16

# Where the official annotation folders may be, per split (first found).
OFFICIAL_ANNOTATIONS = {
    "validation": (
        "annotations/validation",
        "labels/thumos14-val-annotations",
        "TH14_Temporal_annotations_validation/annotation",
        "TH14_Temporal_annotations_validation",
    ),
    "test": (
        "annotations/test",
        "labels/thumos14-test-annotations",
        "TH14_Temporal_Annotations_Test/annotations/annotation",
        "TH14_Temporal_annotations_test/annotations/annotation",
        "TH14_Temporal_annotations_test",
    ),
}


@dataclasses.dataclass
class Reading:
    """What `read` found: the layout, each split's videos, notes.

    Attributes:
      layout: one of `LAYOUTS`.
      videos: split -> [Video].
      skipped: split -> {video: why}.
      annotation_source: split -> "official" or the set's file.
      warnings: what the set lacks, in words (also logged).
    """

    layout: str
    videos: dict
    skipped: dict
    annotation_source: dict
    warnings: list


def _exists(root, *names) -> bool:
    return all((root / name).exists() for name in names)


def _deep_glob(root, pattern: str, depth: int = 3) -> list:
    """Files matching `pattern` in `root` and up to `depth` folders below."""
    found = []
    for level in range(depth + 1):
        found += list(root.glob("/".join(["*"] * level + [pattern])))
    return found


def _markers(root) -> list:
    found = []
    if _deep_glob(root, "*-rgb.npz"):
        found.append("cmcs")
    if _exists(root, "Thumos14reduced-I3D-JOINTFeatures.npy"):
        found.append("wtalc")
    if _exists(root, "Thumos14-I3D-JOINTFeatures.npy"):
        found.append("wtalc_full")
    if _exists(root, "i3d_features", "annotations/thumos14.json"):
        found.append("actionformer")
    if _exists(root, "features/train/rgb", "gt.json"):
        found.append("basnet")
    if _exists(root, "train", "test", "gt.json", "split_train.txt"):
        found.append("acmnet")
    if _exists(root, "features/validation", "features/test"):
        found.append("has_tf")
    return found


def detect(root) -> str:
    """The layout of the manual dir `root` (one of `LAYOUTS`).

    Raises:
      FileNotFoundError: no layout's files are there (the message lists
        what each layout needs).
      ValueError: the files of several layouts are there (name one).
    """
    root = epath.Path(root)
    found = _markers(root)
    if len(found) == 1:
        return found[0]
    if not found:
        raise FileNotFoundError(
            f"Found no published THUMOS14 feature layout in "
            f"{os.fspath(root)}. Expected one of: {_NEEDS}"
        )
    raise ValueError(
        f"Found the files of several THUMOS14 feature layouts in "
        f"{os.fspath(root)}: {found}. Name one with its config "
        f"(thumos14_features/<layout>), or keep one set in the directory."
    )


_NEEDS = (
    "features/{validation,test}/ + annotations/ (has_tf); "
    "Thumos14reduced-I3D-JOINTFeatures.npy + Thumos14reduced-Annotations/ "
    "(wtalc); Thumos14-I3D-JOINTFeatures.npy + Thumos14-Annotations/ "
    "(wtalc_full); features/{train,test}/{rgb,flow}/ + gt.json + "
    "split_{train,test}.txt (basnet); {train,test}/ + gt.json + "
    "split_{train,test}.txt (acmnet); i3d_features/ + "
    "annotations/thumos14.json (actionformer); <video>-rgb.npz and "
    "<video>-flow.npz + the meta .mat files (cmcs)."
)


def official_annotations(root, split: str):
    """The official annotation folder of `split` under `root`, or None."""
    subset = _SUBSET[split]
    first = detection_files.THUMOS14_CLASSES[0]
    for name in OFFICIAL_ANNOTATIONS[split]:
        if (root / name / f"{first}_{subset}.txt").exists():
            return root / name
    return None


def _read_has_tf(root, config):
    out = {}
    for split in SPLITS:
        folder = root / "features" / split
        if not folder.exists():
            raise FileNotFoundError(f"Missing {os.fspath(folder)}.")
        names = sorted(
            {p.name[: -len(".npy")] for p in folder.glob("*.npy")}
            | {p.name[: -len("_rgb.npy")] for p in folder.glob("*_rgb.npy")}
            | {p.name[: -len("_flow.npy")] for p in folder.glob("*_flow.npy")}
        )
        names = [
            n
            for n in names
            if not (
                n.endswith(("_rgb", "_flow")) and (n.rsplit("_", 1)[0] in names)
            )
        ]
        out[split] = {}
        for name in names:
            single = folder / f"{name}.npy"
            rgb, flow = folder / f"{name}_rgb.npy", folder / f"{name}_flow.npy"
            if single.exists():
                load = bundles.npy_loader(single)
            elif rgb.exists() and flow.exists():
                load = bundles.joined_loader(rgb, flow)
            else:
                out[split][name] = (
                    "RGB features but no flow"
                    if rgb.exists()
                    else "flow features but no RGB"
                )
                continue
            out[split][name] = Video(name, load, config.feature_rate)
    return out, {}, {}


def _read_wtalc(root, config, full: bool):
    stem = "Thumos14" if full else "Thumos14reduced"
    ambiguous = []
    path = root / f"{stem}-Annotations" / "Ambiguous_test.txt"
    if path.exists():
        ambiguous = annotations.parse_intervals(
            path.read_text(), os.fspath(path)
        )
    out = {split: {} for split in SPLITS}
    for subset, video in bundles.read_wtalc_bundle(root, stem):
        split = {"validation": "validation", "test": "test"}.get(subset)
        if split is None:
            continue
        if not video.segments and not (full and split == "validation"):
            continue  # The 20-class sets: annotated videos only.
        video.ambiguous = (
            [(s, e) for v, s, e in ambiguous if v == video.name]
            if split == "test"
            else []
        )
        out[split][video.name] = video
    return out, {"test": "Ambiguous" if not ambiguous else None}, {}


def _read_split_json(root, train_folder, test_folder, joined: bool, layout):
    found = bundles.read_split_folders(
        root,
        {
            "validation": ("split_train.txt", train_folder),
            "test": ("split_test.txt", test_folder),
        },
        joined,
    )
    return found, {"test": "Ambiguous"}, {}


def _read_actionformer(root, config):
    path = root / "annotations" / "thumos14.json"
    database = bundles.read_json(path).get("database", {})
    out = {split: {} for split in SPLITS}
    for name, entry in sorted(database.items()):
        split = {"validation": "validation", "test": "test"}.get(
            str(entry.get("subset", "")).lower()
        )
        if split is None:
            continue
        file = root / "i3d_features" / f"{name}.npy"
        if not file.exists():
            out[split][name] = f"missing {os.fspath(file)}"
            continue
        if "fps" not in entry:
            raise ValueError(
                f"Expected an fps for {name} in {os.fspath(path)} (the "
                "ActionFormer features' rate is fps / 4). Received: none"
            )
        fps = float(entry["fps"])
        rows = bundles.gt_entries(database, name, path)
        out[split][name] = Video(
            name,
            bundles.npy_loader(file),
            fps / STRIDE,
            offset_s=(WINDOW / 2 - STRIDE / 2) / fps,
            duration_s=float(entry["duration"])
            if "duration" in entry
            else None,
            duration_source="bundle" if "duration" in entry else None,
            labels=tuple(sorted({c for _, _, c in rows})),
            segments=rows,
        )
    return out, {"test": "Ambiguous"}, {}


def _npz(*paths) -> Callable[[], np.ndarray]:
    """CMCS files: `feature` `[crops, T, D]` averaged over crops, joined."""

    def load():
        parts = []
        for path in paths:
            with path.open("rb") as f:
                data = np.load(f)
                feature = np.asarray(data["feature"], np.float32)
            if feature.ndim == 3:
                feature = feature.mean(0)
            parts.append(feature)
        return bundles.join_streams(parts, [os.fspath(p) for p in paths])

    return load


def _read_cmcs(root, config):
    rgb = {p.name[: -len("-rgb.npz")]: p for p in _deep_glob(root, "*-rgb.npz")}
    flow = {
        p.name[: -len("-flow.npz")]: p for p in _deep_glob(root, "*-flow.npz")
    }
    out = {split: {} for split in SPLITS}
    metas = {}
    for split in SPLITS:
        path = meta.find_meta(root, split)
        if path is None:
            raise FileNotFoundError(
                f"Missing the THUMOS14 meta file of {split} under "
                f"{os.fspath(root)} (one of {meta.META_NAMES[split]}): CMCS "
                "features run at each video's own fps, which only the meta "
                "file gives (CMCS ships labels/thumos14-{val,test}-meta.mat)."
            )
        metas[split] = meta.read_meta(path)
    for name in sorted(set(rgb) | set(flow)):
        split = "test" if name.startswith("video_test_") else "validation"
        if name not in rgb or name not in flow:
            out[split][name] = (
                "RGB features but no flow"
                if name in rgb
                else "flow features but no RGB"
            )
            continue
        info = metas[split].get(name)
        if info is None:
            out[split][name] = "not in the meta file"
            continue
        out[split][name] = Video(
            name,
            _npz(rgb[name], flow[name]),
            info.fps / STRIDE,
            offset_s=(WINDOW / 2 - STRIDE / 2) / info.fps,
            duration_s=info.duration_s,
            duration_source="meta",
        )
    return out, {}, {}


def read(root, config, layout: str | None = None) -> Reading:
    """Reads the manual dir `root` in `layout` (None/"auto": `detect`).

    Args:
      root: the manual dir.
      config: the builder config (`feature_rate` for the has_tf layout).
      layout: one of `LAYOUTS`, or None / "auto".

    Returns:
      A `Reading`. Official annotation text, where found, replaces the
      set's own segments; an official meta file, where found, gives the
      durations (and, for `wtalc_full`, nothing else is taken from it).

    Raises:
      FileNotFoundError, ValueError: as `detect`, or a file of the layout
        missing or malformed (named).
    """
    root = epath.Path(root)
    if layout in (None, "auto"):
        layout = detect(root)
    if layout not in LAYOUTS:
        raise ValueError(
            f"Expected a layout in {('auto',) + LAYOUTS}. Received: "
            f"layout={layout!r}"
        )
    if layout == "has_tf":
        found, lacks, _ = _read_has_tf(root, config)
    elif layout in ("wtalc", "wtalc_full"):
        found, lacks, _ = _read_wtalc(root, config, layout == "wtalc_full")
    elif layout == "basnet":
        found, lacks, _ = _read_split_json(
            root,
            root / "features" / "train",
            root / "features" / "test",
            True,
            layout,
        )
    elif layout == "acmnet":
        found, lacks, _ = _read_split_json(
            root, root / "train", root / "test", False, layout
        )
    elif layout == "actionformer":
        found, lacks, _ = _read_actionformer(root, config)
    else:
        found, lacks, _ = _read_cmcs(root, config)
    reading = Reading(layout, {}, {}, {}, [])
    for split in SPLITS:
        videos = {n: v for n, v in found[split].items() if isinstance(v, Video)}
        skipped = {n: v for n, v in found[split].items() if isinstance(v, str)}
        _durations_from_meta(root, split, videos, layout)
        source = _apply_official(root, split, videos, skipped, layout, reading)
        reading.annotation_source[split] = source
        if source != "official" and lacks.get(split):
            reading.warnings.append(
                f"{split}: no official THUMOS14 annotation text in the manual "
                f"dir (e.g. {OFFICIAL_ANNOTATIONS[split][0]}/); the "
                f"{layout} set's own annotations have no {lacks[split]} "
                "intervals, so none is ignored when scoring."
            )
        unknown = [n for n, v in videos.items() if v.duration_s is None]
        if unknown:
            reading.warnings.append(
                f"{split}: {len(unknown)} videos have no true duration (no "
                "meta file, and the set has none): their durations are "
                "T / rate and their lengths go unchecked."
            )
        reading.videos[split] = [videos[n] for n in sorted(videos)]
        reading.skipped[split] = skipped
    for warning in reading.warnings:
        logging.warning("thumos14_features (%s layout): %s", layout, warning)
    return reading


def _durations_from_meta(root, split, videos, layout) -> None:
    path = meta.find_meta(root, split)
    if path is None:
        return
    table = meta.read_meta(path)
    for name, video in videos.items():
        if name in table and video.duration_source != "meta":
            video.duration_s = table[name].duration_s
            video.duration_source = "meta"


def _apply_official(root, split, videos, skipped, layout, reading) -> str:
    """Replaces the set's segments with the official text where present."""
    folder = official_annotations(root, split)
    if folder is None:
        if layout in ("has_tf", "cmcs"):
            raise FileNotFoundError(
                f"Missing the official THUMOS14 annotations of {split} "
                f"under {os.fspath(root)} (one of "
                f"{OFFICIAL_ANNOTATIONS[split]}): the {layout} layout has "
                "no annotations of its own."
            )
        names = detection_files.THUMOS14_CLASSES
        for video in videos.values():
            video.segments = [
                (s, e, c) for s, e, c in video.segments or [] if c in names
            ]
            video.ambiguous = video.ambiguous or []
        return "bundle"
    ground_truth, ambiguous = annotations.read_annotations(
        folder, _SUBSET[split]
    )
    names = detection_files.THUMOS14_CLASSES
    annotated = {row[0] for row in ground_truth} | {row[0] for row in ambiguous}
    if layout in ("has_tf", "cmcs"):
        # The annotated videos make the split; annotated ones without
        # features are named.
        for name in sorted(annotated - set(videos) - set(skipped)):
            skipped[name] = "no features"
        for name in sorted(set(videos) - annotated):
            del videos[name]
    for name, video in videos.items():
        video.segments = [
            (s, e, names[c]) for v, s, e, c in ground_truth if v == name
        ]
        video.ambiguous = [(s, e) for v, s, e in ambiguous if v == name]
    return "official"
