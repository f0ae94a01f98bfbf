"""Readers of the published video-feature bundles, shared by the datasets.

Weakly-supervised action localization code bases publish their features
in a few forms that recur across datasets (THUMOS14, ActivityNet):

- W-TALC's bundle (github.com/sujoyp/wtalc-pytorch; CO2-Net, DELU, P-MIL):
  `<Stem>-I3D-JOINTFeatures.npy`, one pickled object array of `[T, 2048]`
  (RGB then flow), and `<Stem>-Annotations/` with `videoname.npy`,
  `subset.npy`, `duration.npy`, `segments.npy`, `labels.npy` (one label
  per segment), `labels_all.npy` (video labels) and `classlist.npy`
  (`read_wtalc_bundle`);
- BaS-Net's and ACM-Net's folders: `gt.json` (`{"database": {video:
  {"subset", "annotations": [{"segment": [start, end], "label"}],
  "duration"?}}}`, times possibly strings) with `split_{train,test}.txt`
  and one `.npy` per video, joint or per stream (`read_split_folders`).

`Video` is what a reader lists; `check_length` compares a video's T with
its duration x rate and names the likely cause of a mismatch.

W-TALC's files are pickled NumPy object arrays, and unpickling a downloaded
file can run any code it holds. They are read only inside
`allowing_pickles()`, which `has_tf.datasets.prepare(...,
allow_pickle=True)`, `python -m has_tf.datasets --allow_pickle` and the
apps' `--allow_pickle` open; otherwise `PickleRefused` says why and how.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from typing import Callable

import numpy as np
from absl import logging

from has_tf.datasets import video_features

__all__ = [
    "I3D_RATE",
    "LENGTH_TOLERANCE",
    "PickleRefused",
    "allowing_pickles",
    "Video",
    "check_length",
    "examples",
    "gt_entries",
    "joined_loader",
    "likely_cause",
    "lines",
    "npy_loader",
    "read_json",
    "read_split_folders",
    "read_wtalc_bundle",
]

I3D_RATE = 25.0 / 16.0  # 16-frame chunks of 25 fps video.
# T must be within max(steps, fraction x expected) of duration x rate.
LENGTH_TOLERANCE = (4, 0.03)


@dataclasses.dataclass
class Video:
    """One video as a reader lists it.

    Attributes:
      name: the video's id (e.g. "video_validation_0000051").
      load: returns its features, float32 `[T, D]`.
      rate: feature steps per second.
      offset_s: seconds before step 0 (`video_features`).
      duration_s: the true length in seconds, or None (unknown).
      duration_source: where `duration_s` came from ("bundle", "meta").
      labels: video-level class names (may hold classes without segments).
      segments: the set's own `(start_s, end_s, class name)` or None.
      ambiguous: the set's own `(start_s, end_s)` or None.
    """

    name: str
    load: Callable[[], np.ndarray]
    rate: float
    offset_s: float = 0.0
    duration_s: float | None = None
    duration_source: str | None = None
    labels: tuple = ()
    segments: list | None = None
    ambiguous: list | None = None


def npy_loader(path) -> Callable[[], np.ndarray]:
    """A loader of one `.npy` file as float32."""

    def load():
        with path.open("rb") as f:
            return np.load(f).astype(np.float32)

    return load


# Steps by which per-stream files of one video may differ (optical flow
# needs frame pairs: some extractions give one flow snippet less); beyond
# it the streams are not of the same video or extraction.
STREAM_SLACK = 1


def join_streams(parts, names) -> np.ndarray:
    """Joins per-stream `[T_i, D_i]` features along D, cut to the shorter
    T when the streams differ by at most `STREAM_SLACK` steps.

    Raises:
      ValueError: lengths further apart, naming each stream's file and T.
    """
    lengths = [len(p) for p in parts]
    if max(lengths) - min(lengths) > STREAM_SLACK:
        raise ValueError(
            "Expected the streams of one video to have the same length (at "
            f"most {STREAM_SLACK} step apart). Received: "
            + ", ".join(f"{n}: T = {t}" for n, t in zip(names, lengths))
        )
    steps = min(lengths)
    return np.concatenate([p[:steps] for p in parts], 1).astype(np.float32)


def joined_loader(*paths) -> Callable[[], np.ndarray]:
    """Loads per-stream files and joins them along D (`join_streams`)."""

    def load():
        parts = []
        for path in paths:
            with path.open("rb") as f:
                parts.append(np.load(f))
        return join_streams(parts, [os.fspath(p) for p in paths])

    return load


def read_json(path):
    """A JSON file's content; a malformed file names itself."""
    with path.open() as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"Expected JSON in {os.fspath(path)}. Received: {error}"
            ) from None


def lines(path) -> list:
    """The non-blank lines of a text file, stripped."""
    return [
        line.strip() for line in path.read_text().splitlines() if line.strip()
    ]


def gt_entries(database, name, path) -> list:
    """`(start, end, label)` rows of a gt.json entry (times may be strings)."""
    rows = []
    for item in database[name].get("annotations", []):
        try:
            start, end = (float(x) for x in item["segment"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"Expected annotations of {name} in {os.fspath(path)} as "
                f'{{"segment": [start, end], "label": name}}. Received: '
                f"{item!r}"
            ) from None
        rows.append((start, end, item["label"]))
    return rows


def _text(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


class PickleRefused(ValueError):
    """A pickled file, and no `allow_pickle` from the user."""


_permission = threading.local()


@contextlib.contextmanager
def allowing_pickles(allow: bool = True):
    """Within it (in this thread), the readers may unpickle (W-TALC's
    bundles): the user's word that the files are trusted."""
    before = getattr(_permission, "allowed", False)
    _permission.allowed = bool(allow)
    try:
        yield
    finally:
        _permission.allowed = before


def _load_pickled(path):
    """`np.load` of an object array, if the user allowed pickles."""
    if not getattr(_permission, "allowed", False):
        raise PickleRefused(
            f"{os.fspath(path)} is a pickled NumPy file (W-TALC's bundle), "
            "and unpickling a downloaded file can run any code it holds. If "
            "the files are the ones you trust (github.com/sujoyp/"
            "wtalc-pytorch's release), allow it once, for the preparation: "
            "--allow_pickle (python -m has_tf.datasets, train, evaluate) or "
            "has_tf.datasets.prepare(..., allow_pickle=True). The prepared "
            "dataset holds no pickle."
        )
    with open(path, "rb") as f:
        return np.load(f, allow_pickle=True, encoding="bytes")


def read_wtalc_bundle(root, stem: str) -> list:
    """The videos of W-TALC's bundle `<stem>` under `root`.

    Returns:
      `(subset, Video)` pairs in the bundle's order: rate 25/16, offset 0,
      the bundle's duration, segments (class names) and video labels.

    Raises:
      FileNotFoundError: the annotation folder or a file of it missing.
      PickleRefused: outside `allowing_pickles()`.
      ValueError: features and videos of different counts.
    """
    folder = root / f"{stem}-Annotations"
    features_path = root / f"{stem}-I3D-JOINTFeatures.npy"
    for path in (folder / "videoname.npy", folder / "subset.npy"):
        if not path.exists():
            raise FileNotFoundError(
                f"Missing {os.fspath(path)}: W-TALC's annotation folder "
                f"{stem}-Annotations/ (github.com/sujoyp/wtalc-pytorch) "
                "belongs beside its features."
            )

    def array(name):
        return _load_pickled(folder / name)

    videos = [_text(v) for v in array("videoname.npy")]
    subsets = [_text(s) for s in array("subset.npy")]
    durations = array("duration.npy").reshape(len(videos), -1)[:, 0]
    segments = array("segments.npy")
    segment_labels = array("labels.npy")
    labels_all = array("labels_all.npy")
    features = _load_pickled(features_path)
    if len(features) != len(videos):
        raise ValueError(
            f"Expected one feature array per video of "
            f"{os.fspath(folder / 'videoname.npy')} ({len(videos)}). "
            f"Received: {len(features)} in {os.fspath(features_path)}"
        )
    out = []
    for i, name in enumerate(videos):
        rows = [
            (float(s), float(e), _text(c))
            for (s, e), c in zip(segments[i], segment_labels[i])
        ]
        out.append(
            (
                subsets[i],
                Video(
                    name,
                    (lambda a=features[i]: np.asarray(a, np.float32)),
                    I3D_RATE,
                    duration_s=float(durations[i]),
                    duration_source="bundle",
                    labels=tuple(_text(c) for c in labels_all[i]),
                    segments=rows,
                ),
            )
        )
    return out


def read_split_folders(root, splits, joined: bool, rename=None) -> dict:
    """BaS-Net's / ACM-Net's folders: `gt.json`, split lists, features.

    Args:
      root: the folder holding `gt.json` and the split lists.
      splits: `{split: (list file, feature folder)}`.
      joined: per-stream files (`<folder>/{rgb,flow}/<video>.npy`) joined;
        else one joint `<folder>/<video>.npy`.
      rename: maps a listed id to the stored name (e.g. drop "v_").

    Returns:
      `{split: {name: Video or why it is skipped}}`; rate 25/16, offset 0,
      gt.json's duration where it has one.

    Raises:
      ValueError: a listed video without a gt.json entry, or a malformed
        entry (both named).
    """
    path = root / "gt.json"
    database = read_json(path).get("database", {})
    rename = rename or (lambda name: name)
    out = {}
    for split, (listed, folder) in splits.items():
        out[split] = {}
        for name in lines(root / listed):
            if name not in database:
                raise ValueError(
                    f"Expected {name} of {os.fspath(root / listed)} in "
                    f"{os.fspath(path)}. Received: no entry"
                )
            if joined:
                files = [folder / s / f"{name}.npy" for s in ("rgb", "flow")]
            else:
                files = [folder / f"{name}.npy"]
            missing = [f for f in files if not f.exists()]
            if missing:
                out[split][rename(name)] = f"missing {os.fspath(missing[0])}"
                continue
            rows = gt_entries(database, name, path)
            duration = database[name].get("duration")
            out[split][rename(name)] = Video(
                rename(name),
                joined_loader(*files) if joined else npy_loader(files[0]),
                I3D_RATE,
                duration_s=float(duration) if duration is not None else None,
                duration_source="bundle" if duration is not None else None,
                labels=tuple(sorted({c for _, _, c in rows})),
                segments=rows,
            )
    return out


def examples(
    videos,
    skipped: dict,
    metadata,
    *,
    dataset: str,
    split: str,
    names,
    feature_dim: int,
    layout: str,
    check_lengths: bool,
    strict_classes: bool = False,
):
    """Yields `(key, example)` of each `Video` (`video_features`).

    Each video's features are loaded and checked (`[T, feature_dim]`, T >=
    1, `check_length`: a mismatch raises, or with `check_lengths=False`
    joins `skipped`); class names outside `names` are dropped, or raise
    with `strict_classes`. Then `metadata["videos"][split]` holds per
    video its steps, rate, offset, duration and the duration's source, and
    `metadata["skipped"][split]` the skipped videos and why (also logged).
    """
    index = {name: i for i, name in enumerate(names)}
    kept = {}
    for video in videos:
        unknown = sorted(
            {c for _, _, c in video.segments or [] if c not in index}
            | {c for c in video.labels if c not in index}
        )
        if unknown and strict_classes:
            raise ValueError(
                f"Expected class names of {dataset} for {video.name}. "
                f"Received: {unknown}"
            )
        features = video.load()
        if features.ndim != 2 or features.shape[1] != feature_dim:
            raise ValueError(
                f"Expected features [T, {feature_dim}] for {video.name} "
                f"({dataset}, layout {layout}). Received: shape "
                f"{features.shape}"
            )
        if features.shape[0] == 0:
            raise ValueError(
                f"Expected at least one feature step for {video.name}. "
                f"Received: shape {features.shape}"
            )
        finite = np.isfinite(features)
        if not finite.all():
            rows = np.flatnonzero(~finite.all(axis=1))
            raise ValueError(
                f"Expected finite features for {video.name} ({dataset}, "
                f"layout {layout}). Received: {int((~finite).sum())} NaN or "
                f"infinite values in {len(rows)} of {len(features)} steps, "
                f"the first at step {int(rows[0])}: the file is damaged or "
                "was written from a failed extraction."
            )
        _check_segments(video, dataset)
        try:
            check_length(video, len(features), layout)
        except ValueError as error:
            if check_lengths:
                raise
            skipped[video.name] = str(error)
            continue
        kept[video.name] = {
            "steps": int(len(features)),
            "rate": float(video.rate),
            "offset_s": float(video.offset_s),
            "duration_s": video.duration_s,
            "duration_source": video.duration_source or "T / rate",
        }
        yield (
            video.name,
            video_features.example(
                video.name,
                features,
                video.rate,
                [
                    (s, e, index[c])
                    for s, e, c in video.segments or []
                    if c in index
                ],
                len(names),
                video.ambiguous or (),
                offset_s=video.offset_s,
                duration_s=video.duration_s,
                labels=[index[c] for c in video.labels if c in index],
            ),
        )
    for name, why in skipped.items():
        logging.warning("%s/%s: skipping %s (%s).", dataset, split, name, why)
    metadata["videos"][split] = kept
    metadata["skipped"][split] = skipped
    logging.info(
        "%s/%s (%s layout): %d videos built, %d skipped.",
        dataset,
        split,
        layout,
        len(kept),
        len(skipped),
    )


def _check_segments(video: Video, dataset: str) -> None:
    """Refuses an annotated segment that ends before it starts or starts
    before the video (they were stored as they came)."""
    for start, end, label in video.segments or []:
        if not (np.isfinite(start) and np.isfinite(end)):
            problem = "is not finite"
        elif start < 0:
            problem = "starts before the video (start < 0)"
        elif end < start:
            problem = "ends before it starts (end < start)"
        else:
            continue
        raise ValueError(
            f"Expected segments within {video.name} ({dataset}). Received: "
            f"{label} [{start}, {end}] s {problem}: check the annotation "
            "file."
        )


def check_length(video: Video, steps: int, layout: str) -> None:
    """Checks T against duration x rate (`LENGTH_TOLERANCE`).

    Raises:
      ValueError: naming the video, T, the duration, the rate, and the
        likely cause (the fps and stride that T / duration matches).
    """
    if video.duration_s is None or not video.duration_s > 0:
        return
    expected = video.duration_s * video.rate
    tolerance = max(LENGTH_TOLERANCE[0], LENGTH_TOLERANCE[1] * expected)
    if abs(steps - expected) <= tolerance:
        return
    implied = steps / video.duration_s
    raise ValueError(
        f"{video.name}: expected T = duration x rate = "
        f"{video.duration_s:.3f} s x {video.rate:.4g}/s = {expected:.1f} "
        f"steps (+-{tolerance:.1f}, layout {layout}). Received: T = {steps}. "
        f"{likely_cause(implied, video.rate)}"
    )


_FPS = (24.0, 25.0, 30.0, 10.0)
_STRIDES = (4, 8, 16)


def likely_cause(implied: float, rate: float) -> str:
    """Words for a rate mismatch: which fps / stride T / duration matches."""
    best = min(
        (
            (abs(implied - f / s) / (f / s), f, s)
            for f in _FPS
            for s in _STRIDES
        ),
        key=lambda x: x[0],
    )
    if best[0] < 0.03:
        _, fps, stride = best
        return (
            f"Likely cause: T / duration = {implied:.4g} steps/s matches "
            f"{fps:g} fps / {stride}-frame stride, while the layout assumes "
            f"{rate:.4g}/s: the features were extracted at another frame "
            "rate or stride than the layout's (name the right layout, or a "
            "config with that rate)."
        )
    return (
        f"Likely cause: T / duration = {implied:.4g} steps/s matches no "
        "usual fps and stride: the features may be cut short, padded, or "
        "of another video."
    )
