"""The temporal half of `has_tf.evaluate`: T-CAMs -> segments -> mAP.

`has_tf.evaluate.evaluate` calls `evaluate_temporal` for video-feature
datasets. It streams over the split (batches of resampled features; only
the detections, a few numbers per video, are kept), scores both protocols
of `has_tf.temporal_metrics` at temporal IoU 0.1..0.7 with per-class AP,
writes `eval/metrics.json`, the detections as THUMOS14 text and
ActivityNet JSON, and T-CAM plots of the first videos.
"""

from __future__ import annotations

import json
import os

import numpy as np

IOUS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def evaluate_temporal(model_dir: str, dataset: str, split: str = "test",
                      data_dir=None, manual_dir=None, batch_size: int = 16,
                      max_videos: int = 0, tcam_threshold: float = 0.5,
                      class_threshold: float = 0.1, segment_score="mean",
                      nms_iou: float = 0.0, num_plots: int = 8,
                      test_list: str = "thumos14-test-210-v1") -> dict:
    """Scores the action network in `model_dir`; returns the metrics.

    Returns:
      A dict: "map" and "ap" per protocol ("thumos14", "activitynet") and
      IoU (string keys "0.1".."0.7"; values fractions in [0, 1]),
      "classes", "top1_cls" (video-level, top class among the true ones),
      "count" (videos), "test_list" (THUMOS14 only) and the options used.

    Raises:
      FileNotFoundError: `model_dir` holds no trained model.
    """
    import tensorflow as tf

    import has_tf.datasets
    from has_tf import evaluate
    from has_tf import models
    from has_tf import temporal_formats
    from has_tf import temporal_metrics
    from has_tf import temporal_pipeline
    from has_tf import temporal_postprocess
    from has_tf import visualize

    model, info = evaluate.load_run(model_dir)
    net = models.temporal_cam_model(model)
    data, builder = has_tf.datasets.load(dataset, split, data_dir,
                                         manual_dir)
    thumos = dataset.partition("/")[0] == "thumos14_features"
    if thumos:
        from has_tf.datasets import thumos14_features

        excluded = tf.constant(
            list(thumos14_features.excluded_videos(test_list)) or [""])
        data = data.filter(lambda e: tf.reduce_all(
            tf.not_equal(e["video"], excluded)))
    if max_videos:
        data = data.take(max_videos)
    names = builder.info.features["segments"]["label"].names
    sigmoid = info.get("temporal_loss") == "sigmoid"
    out_dir = os.path.join(model_dir, "eval")
    os.makedirs(out_dir, exist_ok=True)
    detections, ground_truth, ambiguous = [], [], []
    hits = count = labelled = plots = 0
    for batch in temporal_pipeline.eval_pipeline(data, batch_size,
                                                 info["num_steps"]):
        out = net(batch["features"], training=False)
        logits = out["logits"].numpy()
        scores = (1 / (1 + np.exp(-logits)) if sigmoid
                  else tf.nn.softmax(logits).numpy())
        tcams = out["tcam"].numpy()
        labels = batch["labels"].numpy()
        for i, video in enumerate(batch["video"].numpy()):
            video = video.decode()
            duration = float(batch["duration_s"][i])
            truth = [(video, s, e, int(c))
                     for s, e, c in batch["segments"][i].numpy() if c >= 0]
            spans = [(video, s, e) for s, e in batch["ambiguous"][i].numpy()
                     if e >= 0]
            found = [(video, *row) for row in
                     temporal_postprocess.tcam_to_segments(
                         tcams[i], scores[i], duration, class_threshold,
                         tcam_threshold, segment_score, nms_iou or None)]
            ground_truth += truth
            ambiguous += spans
            detections += found
            count += 1
            if labels[i].sum() > 0:
                labelled += 1
                hits += int(labels[i, int(np.argmax(scores[i]))] > 0)
            if plots < num_plots and truth:
                klass = truth[0][3]
                peak = tcams[i, :, klass].max()
                visualize.save_tcam_plot(
                    os.path.join(out_dir, f"tcam_{plots:03d}.png"),
                    tcams[i, :, klass], duration,
                    [(s, e) for _, s, e, c in truth if c == klass],
                    [(s, e) for _, s, e, c, _ in found if c == klass],
                    threshold=tcam_threshold * peak if peak > 0 else None,
                    title=f"{video}: {names[klass]}")
                plots += 1
    result = {"count": count, "classes": None, "map": {}, "ap": {},
              "top1_cls": hits / max(1, labelled),
              "options": {"tcam_threshold": tcam_threshold,
                          "class_threshold": class_threshold,
                          "segment_score": segment_score,
                          "nms_iou": nms_iou,
                          "num_steps": info["num_steps"]}}
    if thumos:
        result["test_list"] = test_list
    for protocol in temporal_metrics.PROTOCOLS:
        scored = temporal_metrics.temporal_map(
            detections, ground_truth, IOUS, protocol,
            ambiguous if protocol == "thumos14" else None)
        result["classes"] = [names[c] for c in scored["classes"]]
        result["map"][protocol] = {f"{t:.1f}": v
                                   for t, v in scored["map"].items()}
        result["ap"][protocol] = {f"{t:.1f}": v
                                  for t, v in scored["ap"].items()}
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    if thumos:
        temporal_formats.write_thumos_detections(
            os.path.join(out_dir, "detections_thumos14.txt"), detections)
    temporal_formats.write_activitynet_json(
        os.path.join(out_dir, "detections_activitynet.json"), detections,
        class_names=names)
    return result


def headline(result: dict) -> str:
    """One line per protocol: mAP at IoU 0.1..0.5 in percent."""
    lines = [f"{result['count']} videos, top-1 clas "
             f"{result['top1_cls']:.3f}"]
    for protocol, values in result["map"].items():
        figures = " / ".join(f"{100 * values[k]:.2f}"
                             for k in ("0.1", "0.2", "0.3", "0.4", "0.5"))
        lines.append(f"{protocol} mAP@0.1..0.5: {figures}")
    return "\n".join(lines)
