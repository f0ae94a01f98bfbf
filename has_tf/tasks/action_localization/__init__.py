"""Weakly-supervised temporal action localization on video features.

Training: `input_pipeline.videos.train_pipeline` (resample to F_total,
hide segments per batch) into `models.temporal_net`. Evaluation streams
over the split (batches of resampled features; only the detections, a few
numbers per video, are kept): T-CAMs -> `postprocess.segments` -> both
protocols of `metrics.segments.temporal_map` at temporal IoU 0.1..0.7 with
per-class AP; writes `eval/metrics.json`, the detections as THUMOS14 text
and ActivityNet JSON, and T-CAM plots of the first videos.

Paper says / we chose:

- features resampled to F_total = `--num_steps` (2000) per video, hidden
  in segments of F_segment = `--segment_size` (100) with `--hide_prob`
  (0.5), filled with the training set's mean feature: as the paper;
- loss: the paper says softmax; for videos with several classes we chose
  the cross-entropy against the labels normalised to sum to one
  (`--temporal_loss=softmax`); `sigmoid` gives independent binary
  cross-entropies (later work's multi-label loss);
- pooling: `--temporal_pooling` (the paper: max over features).

Modules, one job each: `task` (`ActionLocalization`, the
`tasks.base.Task` contract) and `scoring` (evaluation: `VideoOutputs`,
the scorers, each dataset's rules), the pair of the image task's.
"""

from has_tf.tasks.action_localization.scoring import ClassificationScorer
from has_tf.tasks.action_localization.scoring import DetectionScorer
from has_tf.tasks.action_localization.scoring import TcamPlotScorer
from has_tf.tasks.action_localization.scoring import VideoOutputs
from has_tf.tasks.action_localization.scoring import dataset_rules
from has_tf.tasks.action_localization.task import ActionLocalization

__all__ = [
    "ActionLocalization",
    "ClassificationScorer",
    "DetectionScorer",
    "TcamPlotScorer",
    "VideoOutputs",
    "dataset_rules",
]
