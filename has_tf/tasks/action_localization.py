"""Weakly-supervised temporal action localization on video features.

Training: `input_pipeline.videos.train_pipeline` (resample to F_total,
hide segments per batch) into `models.temporal_net`. Evaluation streams
over the split (batches of resampled features; only the detections, a few
numbers per video, are kept): T-CAMs -> `postprocess.segments` -> both
protocols of `metrics.temporal_map` at temporal IoU 0.1..0.7 with
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
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from has_tf import _files
from has_tf import datasets
from has_tf import metrics
from has_tf import models
from has_tf import serving
from has_tf import visualize
from has_tf.datasets import thumos14_features
from has_tf.input_pipeline import videos
from has_tf.metrics import detection_files
from has_tf.postprocess import segments
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import load_run

__all__ = ["ActionLocalization"]


class ActionLocalization:
    """The action network on video-feature datasets (module docstring)."""

    name = "action_localization"

    def training(self, config, dataset, builder) -> TrainingSetup:
        if config.data_service:
            raise ValueError(
                "--data_service serves image datasets only: the video "
                "pipeline caches its features, which tf.data service's "
                "dynamic sharding cannot split. Received: "
                f"--dataset={config.dataset}, "
                f"--data_service={config.data_service}"
            )
        features = builder.info.features
        num_classes = features["labels"].shape[0]
        dim = features["features"].shape[-1]
        mean = videos.feature_mean(dataset)

        def inputs(context, start_step=0):
            return videos.train_pipeline(
                dataset,
                context.get_per_replica_batch_size(config.batch_size),
                num_steps=config.num_steps,
                segment_size=config.segment_size,
                hide_prob=config.hide_prob,
                fill_value=mean,
                seed=config.seed,
                input_context=context,
                start_batch=start_step,
            )

        def build_model():
            return models.temporal_net(
                num_classes,
                dim,
                steps=config.num_steps,
                units=config.units,
                pooling=config.temporal_pooling,
                dropout_rate=config.dropout_rate,
            )

        return TrainingSetup(
            num_examples=builder.info.splits[config.train_split].num_examples,
            run_info={
                "fill": mean.tolist(),
                "num_steps": config.num_steps,
                "num_classes": num_classes,
                "model": "temporal_net",
                "temporal_loss": config.temporal_loss,
            },
            inputs=inputs,
            build_model=build_model,
            loss=models.temporal_loss(config.temporal_loss),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
            callbacks=lambda model, out_dir: [],
        )

    def serving(self, model, run_info: dict) -> serving.Signature:
        steps = run_info["num_steps"]
        dim = model.inputs[0].shape[-1]
        return serving.Signature(
            net=models.temporal_cam_model(model),
            input_spec=tf.TensorSpec([None, steps, dim], tf.float32),
            preprocess=lambda features: tf.cast(features, tf.float32),
        )

    def evaluate(self, model_dir: str, config) -> dict:
        """Scores the action network in `model_dir`; returns the metrics.

        Returns:
          A dict: "map" and "ap" per protocol ("thumos14", "activitynet")
          and IoU (string keys "0.1".."0.7"; values fractions in [0, 1]),
          "classes", "top1_cls" (video-level, top class among the true
          ones), "count" (videos), "test_list" (THUMOS14 only) and the
          options used.
        """
        model, info = load_run(model_dir)
        net = models.temporal_cam_model(model)
        data, builder = datasets.load(
            config.dataset,
            config.eval_split,
            config.data_dir,
            config.manual_dir,
        )
        thumos = config.dataset.partition("/")[0] == "thumos14_features"
        if thumos:
            excluded = tf.constant(
                list(thumos14_features.excluded_videos(config.test_list))
                or [""]
            )
            data = data.filter(
                lambda e: tf.reduce_all(tf.not_equal(e["video"], excluded))
            )
        if config.max_images:
            data = data.take(config.max_images)
        names = builder.info.features["segments"]["label"].names
        sigmoid = info.get("temporal_loss") == "sigmoid"
        out_dir = os.path.join(model_dir, "eval")
        os.makedirs(out_dir, exist_ok=True)
        detections, ground_truth, ambiguous = [], [], []
        hits = count = labelled = plots = 0
        for batch in videos.eval_pipeline(
            data, config.eval_batch_size, info["num_steps"]
        ):
            out = net(batch["features"], training=False)
            logits = out["logits"].numpy()
            scores = (
                1 / (1 + np.exp(-logits))
                if sigmoid
                else tf.nn.softmax(logits).numpy()
            )
            tcams = out["tcam"].numpy()
            labels = batch["labels"].numpy()
            for i, video in enumerate(batch["video"].numpy()):
                video = video.decode()
                duration = float(batch["duration_s"][i])
                truth = [
                    (video, s, e, int(c))
                    for s, e, c in batch["segments"][i].numpy()
                    if c >= 0
                ]
                spans = [
                    (video, s, e)
                    for s, e in batch["ambiguous"][i].numpy()
                    if e >= 0
                ]
                found = [
                    (video, *row)
                    for row in segments.tcam_to_segments(
                        tcams[i],
                        scores[i],
                        duration,
                        config.class_threshold,
                        config.tcam_threshold,
                        config.segment_score,
                        config.nms_iou or None,
                    )
                ]
                ground_truth += truth
                ambiguous += spans
                detections += found
                count += 1
                if labels[i].sum() > 0:
                    labelled += 1
                    hits += int(labels[i, int(np.argmax(scores[i]))] > 0)
                if plots < config.num_plots and truth:
                    _plot(
                        os.path.join(out_dir, f"tcam_{plots:03d}.png"),
                        tcams[i],
                        duration,
                        truth,
                        found,
                        config.tcam_threshold,
                        f"{video}: ",
                        names,
                    )
                    plots += 1
        result = {
            "count": count,
            "ground_truth_segments": len(ground_truth),
            "classes": None,
            "map": {},
            "ap": {},
            "top1_cls": hits / max(1, labelled),
            "options": {
                "tcam_threshold": config.tcam_threshold,
                "class_threshold": config.class_threshold,
                "segment_score": config.segment_score,
                "nms_iou": config.nms_iou,
                "num_steps": info["num_steps"],
            },
        }
        if thumos:
            result["test_list"] = config.test_list
        for protocol in metrics.temporal.PROTOCOLS:
            scored = metrics.temporal_map(
                detections,
                ground_truth,
                metrics.temporal.DEFAULT_IOU_THRESHOLDS,
                protocol,
                ambiguous if protocol == "thumos14" else None,
            )
            result["classes"] = [names[c] for c in scored["classes"]]
            result["map"][protocol] = {
                f"{t:.1f}": v for t, v in scored["map"].items()
            }
            result["ap"][protocol] = {
                f"{t:.1f}": v for t, v in scored["ap"].items()
            }
        _files.write_json_atomically(
            os.path.join(out_dir, "metrics.json"), result, indent=2
        )
        if thumos:
            detection_files.write_thumos_detections(
                os.path.join(out_dir, "detections_thumos14.txt"), detections
            )
        detection_files.write_activitynet_json(
            os.path.join(out_dir, "detections_activitynet.json"),
            detections,
            class_names=names,
        )
        return result

    def headline(self, result: dict) -> str:
        """One line per protocol: mAP at IoU 0.1..0.5 in percent."""
        lines = [
            f"{result['count']} videos, top-1 clas {result['top1_cls']:.3f}"
        ]
        for protocol, values in result["map"].items():
            figures = " / ".join(
                f"{100 * values[k]:.2f}"
                for k in ("0.1", "0.2", "0.3", "0.4", "0.5")
            )
            lines.append(f"{protocol} mAP@0.1..0.5: {figures}")
        return "\n".join(lines)

    def figures(self, result: dict) -> dict:
        out = {"top1_cls": result["top1_cls"]}
        for protocol, values in result["map"].items():
            for iou in ("0.1", "0.3", "0.5", "0.7"):
                out[f"{protocol}_map@{iou}"] = values[iou]
        return out


def _plot(path, tcam, duration, truth, found, tcam_threshold, title, names):
    """The T-CAM of the first true class with its true and found segments."""
    klass = truth[0][3]
    peak = tcam[:, klass].max()
    visualize.save_tcam_plot(
        path,
        tcam[:, klass],
        duration,
        [(s, e) for _, s, e, c in truth if c == klass],
        [(s, e) for _, s, e, c, _ in found if c == klass],
        threshold=tcam_threshold * peak if peak > 0 else None,
        title=f"{title}{names[klass]}",
    )
