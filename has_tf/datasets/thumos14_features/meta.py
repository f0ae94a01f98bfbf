"""THUMOS14's official meta files: every video's duration, fps and labels.

The THUMOS14 release describes its videos in MATLAB files:
`validation_set.mat` (struct array `validation_videos`, 1010 videos) and
`test_set_meta.mat` (`test_videos`, 1574). Each element has, among others,
`video_name`, `video_duration_seconds`, `frame_rate_FPS`,
`primary_action_index` and `secondary_actions_indices` (ids in the
101-class list, `detection_files.UCF101_CLASSES`). Copies ship with
W-TALC (`test_set_meta.mat`) and CMCS (`labels/thumos14-{val,test}-meta.mat`).
They are read with `scipy.io.loadmat`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from etils import epath
from scipy import io as sio

__all__ = ["VideoMeta", "find_meta", "read_meta", "META_NAMES"]

# Where a manual dir may hold each subset's meta file, first found wins.
META_NAMES = {
    "validation": (
        "validation_set.mat",
        "validation_set_meta.mat",
        "thumos14-val-meta.mat",
        "labels/thumos14-val-meta.mat",
        "meta/validation_set.mat",
    ),
    "test": (
        "test_set_meta.mat",
        "thumos14-test-meta.mat",
        "labels/thumos14-test-meta.mat",
        "meta/test_set_meta.mat",
    ),
}


@dataclasses.dataclass(frozen=True)
class VideoMeta:
    """One video of a meta file.

    Attributes:
      duration_s: its true length in seconds.
      fps: its frame rate.
      class_ids: its 101-list ids (primary first, then secondary), 1-based.
    """

    duration_s: float
    fps: float
    class_ids: tuple


def find_meta(root, subset: str):
    """The meta file of `subset` ("validation"/"test") under `root`, or None."""
    root = epath.Path(root)
    for name in META_NAMES[subset]:
        if (root / name).exists():
            return root / name
    return None


def _scalar(value, default=None):
    array = np.asarray(value).ravel()
    return array[0].item() if array.size else default


def read_meta(path) -> dict:
    """`{video: VideoMeta}` of a THUMOS14 meta `.mat` file.

    Raises:
      ValueError: the file holds no `*videos` struct array, or an element
        lacks the duration or frame rate (the message names the file).
    """
    path = epath.Path(path)
    with path.open("rb") as f:
        data = sio.loadmat(f)
    keys = [k for k in data if "videos" in k and not k.startswith("__")]
    if not keys:
        raise ValueError(
            f"Expected a THUMOS14 meta file holding validation_videos or "
            f"test_videos. Received: {os.fspath(path)} with "
            f"{sorted(k for k in data if not k.startswith('__'))}"
        )
    videos = data[keys[0]].ravel()
    names = videos.dtype.names or ()
    for field in ("video_name", "video_duration_seconds", "frame_rate_FPS"):
        if field not in names:
            raise ValueError(
                f"Expected the field {field!r} in {os.fspath(path)}. "
                f"Received: fields {names}"
            )
    out = {}
    for video in videos:
        ids = [_scalar(video["primary_action_index"])]
        if "secondary_actions_indices" in names:
            ids += (
                np.asarray(video["secondary_actions_indices"]).ravel().tolist()
            )
        out[str(_scalar(video["video_name"]))] = VideoMeta(
            duration_s=float(_scalar(video["video_duration_seconds"])),
            fps=float(_scalar(video["frame_rate_FPS"])),
            class_ids=tuple(int(i) for i in ids if i is not None),
        )
    return out
