"""Pseudo-segments of a split from an action run (`python -m
has_tf.pseudo_labels`): each video's T-CAM of its true classes turned
into segments by the run's post-processing (`--postprocess`, its
thresholds; `has_paper` with `--tcam_threshold` and the like), the true
classes given as the class scores (1 for a true class, 0 otherwise), so
that only they are localized. A video without a label gets none.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from has_tf import _progress
from has_tf import models
from has_tf.input_pipeline import videos
from has_tf.tasks.action_localization.scoring import VideoStep
from has_tf.tasks.action_localization.scoring import detect_video
from has_tf.tasks.action_localization.scoring import run_and_split

__all__ = ["pseudo_segments"]


def pseudo_segments(
    model_dir: str,
    config,
    rule: str,
    selection_split: str | None = None,
    start: int = 0,
    state=None,
    progress: bool = False,
    ddt_layer: str | None = None,
    ddt_pool: int = 1,
):
    """The pseudo-segments of `config.eval_split`, one video at a time.

    Args:
      model_dir: an action run.
      config: an `EvalConfig` whose `eval_split` is the split to label.
      rule: "threshold" (the post-processing's own thresholds); the
        image rules are refused.
      selection_split, state: unused (the image rules' needs).
      start: videos already written: the first `start` are left out.
      progress: progress lines on stderr.
      ddt_layer, ddt_pool: refused (DDT's, an image rule).

    Returns:
      `(provenance, records)`: the header's dict and an iterator of
      `{"video", "segments": [[start_s, end_s, class, score], ...]}`.

    Raises:
      ValueError: naming --pseudo_rule for an image rule; a model of
        another class count.
    """
    del selection_split, state
    rule = "ddt" if ddt_layer or ddt_pool != 1 else rule
    if rule != "threshold" or ddt_layer or ddt_pool != 1:
        raise ValueError(
            "--pseudo_rule: a video run's segments come from its "
            "post-processing's thresholds (--postprocess); only threshold "
            f"applies. Received: {rule!r}"
        )
    model, run_info, data, builder, _ = run_and_split(model_dir, config)
    if config.max_images:
        data = data.take(config.max_images)
    total = builder.info.splits[config.eval_split].num_examples
    if config.max_images:
        total = min(total, config.max_images)
    data = data.skip(start)
    step = VideoStep(
        models.temporal_cam_model(model),
        sigmoid=run_info.get("temporal_loss") == "sigmoid",
    )
    options = {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if f.name
        in ("postprocess", "tcam_threshold", "class_threshold", "segment_score")
    }
    provenance = {
        "run": model_dir,
        "dataset": config.dataset,
        "split": config.eval_split,
        "rule": rule,
        "map": "tcam",
        **options,
        "nms_iou": config.nms_iou,
        "max_images": config.max_images,
    }
    batches = videos.eval_pipeline(
        data, config.eval_batch_size, run_info["num_steps"]
    )

    def records():
        bar = (
            _progress.Progress(total - start, "videos", "pseudo_labels")
            if progress
            else None
        )
        for batch in batches:
            outputs = step(batch)
            for i, video in enumerate(outputs.videos):
                truth = np.asarray(outputs.labels[i], np.float64)
                found = (
                    detect_video(config, outputs, i, scores=truth)
                    if truth.any()
                    else []
                )
                yield {
                    "video": video,
                    "segments": [
                        [float(s), float(e), int(c), float(score)]
                        for _, s, e, c, score in found
                    ],
                }
            if bar is not None:
                bar.advance(len(outputs.videos))
        if bar is not None:
            bar.close()

    return provenance, records()
