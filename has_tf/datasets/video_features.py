"""The feature schema shared by the temporal (video feature) datasets.

Every example is one video:

- "video": its name (THUMOS14: "video_test_0000004");
- "features": float32 `[T, D]`, one row per snippet;
- "feature_rate": float32, snippets per second;
- "feature_offset_s": float32, seconds before step 0 (step t covers
  seconds offset + [t, t + 1) / feature_rate, so its centre is at
  offset + (t + 0.5) / feature_rate; 0 for non-overlapping snippets);
- "duration_s": float32, the video's length in seconds (the true length
  where the dataset has it, else T / feature_rate);
- "labels": float32 `[N]`, multi-hot video-level labels;
- "segments": the action instances, each {"start_s", "end_s" (float32
  seconds), "label" (class index)};
- "ambiguous": intervals {"start_s", "end_s"} to ignore when scoring.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds


def features_dict(class_names, dim: int) -> tfds.features.FeaturesDict:
    """The FeaturesDict for `class_names` and feature dimension `dim`."""
    return tfds.features.FeaturesDict(
        {
            "video": tfds.features.Text(),
            "features": tfds.features.Tensor(
                shape=(None, dim), dtype=np.float32
            ),
            "feature_rate": tfds.features.Scalar(dtype=np.float32),
            "feature_offset_s": tfds.features.Scalar(dtype=np.float32),
            "duration_s": tfds.features.Scalar(dtype=np.float32),
            "labels": tfds.features.Tensor(
                shape=(len(class_names),), dtype=np.float32
            ),
            "segments": tfds.features.Sequence(
                {
                    "start_s": np.float32,
                    "end_s": np.float32,
                    "label": tfds.features.ClassLabel(names=list(class_names)),
                }
            ),
            "ambiguous": tfds.features.Sequence(
                {
                    "start_s": np.float32,
                    "end_s": np.float32,
                }
            ),
        }
    )


def example(
    video,
    features,
    rate,
    segments,
    num_classes,
    ambiguous=(),
    offset_s=0.0,
    duration_s=None,
    labels=(),
):
    """One example dict.

    Args:
      segments: (start_s, end_s, label) triples; their labels are on.
      offset_s: seconds before step 0 (see the module docstring).
      duration_s: the true length; None: `len(features) / rate`.
      labels: more class indices that are on (video-level labels without
        segments, e.g. the 101-class labels of THUMOS14 validation).
    """
    multi_hot = np.zeros(num_classes, np.float32)
    for label in [c for _, _, c in segments] + list(labels):
        multi_hot[label] = 1.0
    if duration_s is None:
        duration_s = len(features) / rate
    return {
        "video": video,
        "features": np.asarray(features, np.float32),
        "feature_rate": np.float32(rate),
        "feature_offset_s": np.float32(offset_s),
        "duration_s": np.float32(duration_s),
        "labels": multi_hot,
        "segments": {
            "start_s": np.array([s for s, _, _ in segments], np.float32),
            "end_s": np.array([e for _, e, _ in segments], np.float32),
            "label": np.array([c for _, _, c in segments], np.int64),
        },
        "ambiguous": {
            "start_s": np.array([s for s, _ in ambiguous], np.float32),
            "end_s": np.array([e for _, e in ambiguous], np.float32),
        },
    }
