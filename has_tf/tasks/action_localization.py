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
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from has_tf import datasets
from has_tf import methods
from has_tf import models
from has_tf import visualize
from has_tf.datasets import thumos14_features
from has_tf.input_pipeline import videos
from has_tf.metrics import detection_files
from has_tf.metrics import segments as metric_segments
from has_tf.models import temporal as temporal_models
from has_tf.postprocess import presets
from has_tf.postprocess import segments
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import check_classes
from has_tf.tasks.base import load_run
from has_tf.tasks.base import score
from has_tf.tasks.base import write_metrics
from has_tf.training import serving

__all__ = ["ActionLocalization"]


class ActionLocalization:
    """The action network on video-feature datasets (module docstring)."""

    name = "action_localization"
    inputs = "videos"

    def resolve(self, config) -> methods.Method:
        """The run's method (`methods.resolve` for videos)."""
        return methods.resolve(config, self.inputs)

    def training(self, config, dataset, builder) -> TrainingSetup:
        method = self.resolve(config)
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
                fill_value=mean,
                seed=config.seed,
                input_context=context,
                start_batch=start_step,
                sampling=config.video_sampling,
                cache=config.video_cache,
                # Nothing is hidden unless the method says so.
                **{"segment_size": 0, **method.pipeline(config)},
            )

        def build_model():
            return models.temporal_net(
                num_classes,
                dim,
                steps=config.num_steps,
                units=config.units,
                pooling=config.temporal_pooling,
                dropout_rate=config.dropout_rate,
                kernel_size=config.temporal_kernel_size,
                attention=config.temporal_attention,
                attention_l1=config.attention_l1,
                background=config.temporal_background,
            )

        return TrainingSetup(
            num_examples=builder.info.splits[config.train_split].num_examples,
            run_info={
                "fill": mean.tolist(),
                "num_steps": config.num_steps,
                "num_classes": num_classes,
                "model": "temporal_net",
                "temporal_loss": config.temporal_loss,
                "method": method.record(config),
            },
            inputs=inputs,
            build_model=build_model,
            loss=(
                temporal_models.background_suppression_loss
                if config.temporal_background
                else models.temporal_loss(config.temporal_loss)
            ),
            metrics=[
                keras.metrics.MeanMetricWrapper(
                    temporal_models.suppressed_accuracy, name="accuracy"
                )
                if config.temporal_background
                else keras.metrics.CategoricalAccuracy(name="accuracy")
            ],
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

    def evaluate(self, model_dir: str, config, out_dir=None) -> dict:
        """Scores the action network in `model_dir`; returns the metrics.

        A short pipeline: the split's batches (the dataset's rules,
        `dataset_rules`, choose the scored videos) -> one inference step
        per batch (`_TcamStep`: class scores, T-CAMs and the ground
        truth per video) -> the scorers (`Detections`: T-CAM -> segments
        and mAP under both protocols; `VideoClassification`; `TcamPlots`)
        -> `eval/metrics.json` and the dataset's detection files.

        Returns:
          A dict: "task", "map" and "ap" per protocol ("thumos14",
          "activitynet") and IoU (string keys "0.1".."0.7"; values
          fractions in [0, 1]), "classes", "top1_cls" (video-level, top
          class among the true ones), "count" (videos),
          "ground_truth_segments", the options used, and what the
          dataset's rules add (THUMOS14: "test_list").
        """
        model, run_info = load_run(model_dir)
        data, builder = datasets.load(
            config.dataset,
            config.eval_split,
            config.data_dir,
            config.manual_dir,
            try_autocache=not config.max_images,
        )
        rules = dataset_rules(config)
        data = rules.scored(data)
        if config.max_images:
            data = data.take(config.max_images)
        names = builder.info.features["segments"]["label"].names
        check_classes(
            model,
            len(names),
            model_dir,
            config.dataset,
            outputs=temporal_models.action_classes(model),
        )
        out_dir = out_dir or os.path.join(model_dir, "eval")
        os.makedirs(out_dir, exist_ok=True)
        step = _TcamStep(
            models.temporal_cam_model(model),
            sigmoid=run_info.get("temporal_loss") == "sigmoid",
        )
        found = Detections(config)
        classification = VideoClassification()
        plots = TcamPlots(
            out_dir, config.num_plots, config.tcam_threshold, names, found
        )
        score(
            videos.eval_pipeline(
                data, config.eval_batch_size, run_info["num_steps"]
            ),
            step,
            [found, classification, plots],
        )
        result = {
            "task": self.name,
            "count": classification.count,
            "ground_truth_segments": len(found.ground_truth),
            **found.result(names),
            "top1_cls": classification.result()["top1_cls"],
            "options": {
                "tcam_threshold": config.tcam_threshold,
                "class_threshold": config.class_threshold,
                "segment_score": config.segment_score,
                "nms_iou": config.nms_iou,
                "postprocess": config.postprocess,
                "num_steps": run_info["num_steps"],
            },
            **rules.result_fields(),
        }
        write_metrics(out_dir, result)
        rules.write_detections(out_dir, found.detections, names)
        return result

    def headline(self, result: dict) -> str:
        """One line per protocol: mAP at IoU 0.1..0.5 in percent (the whole
        grid when it lacks those), then the grid's averages."""
        lines = [
            f"{result['count']} videos, top-1 clas {result['top1_cls']:.3f}"
        ]
        for protocol, values in result["map"].items():
            shown = ["0.1", "0.2", "0.3", "0.4", "0.5"]
            if not all(k in values for k in shown):
                shown = list(values)
            figures = " / ".join(f"{100 * values[k]:.2f}" for k in shown)
            line = f"{protocol} mAP@{shown[0]}..{shown[-1]}: {figures}"
            means = result.get("averages", {}).get(protocol, {})
            if means:
                line += "; " + ", ".join(
                    f"avg {k} {100 * v:.2f}" for k, v in means.items()
                )
            lines.append(line)
        return "\n".join(lines)

    def figures(self, result: dict) -> dict:
        """Top-1 Clas, then mAP at IoU 0.1, 0.3, 0.5, 0.7 per protocol (those
        in the grid) and the grid's averages (`metrics.segments.averages`)."""
        out = {"top1_cls": result["top1_cls"]}
        for protocol, values in result["map"].items():
            for iou in ("0.1", "0.3", "0.5", "0.7"):
                if iou in values:
                    out[f"{protocol}_map@{iou}"] = values[iou]
            for name, value in (
                result.get("averages", {}).get(protocol, {}).items()
            ):
                out[f"{protocol}_avg_map@{name}"] = value
        return out


@dataclasses.dataclass
class VideoOutputs:
    """One evaluation batch after inference, per video.

    Attributes:
      videos: `[B]` video ids (str).
      durations: float `[B]` seconds (the true lengths).
      spans: float `[B]` seconds the features cover (T / feature rate).
      offsets: float `[B]` seconds before the first feature step.
      scores: float `[B, N]` class scores (softmax, or sigmoid for runs
        trained with the sigmoid loss).
      labels: `[B, N]` multi-hot true classes.
      tcams: float `[B, T, N]` T-CAMs.
      truth: per video, `[(video, start_s, end_s, class)]`.
      ambiguous: per video, `[(video, start_s, end_s)]`.
      attention: float `[B, T]` (nets with the attention branch) or None.
      background: float `[B, T]` the background class's CAS (nets with
        `--temporal_background`), or None (the presets then use the N
        classes alone).
    """

    videos: list
    durations: np.ndarray
    spans: np.ndarray
    offsets: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    tcams: np.ndarray
    truth: list
    ambiguous: list
    attention: np.ndarray | None = None
    background: np.ndarray | None = None


class _TcamStep:
    """Inference on one batch: `__call__(batch) -> VideoOutputs`."""

    def __init__(self, net, sigmoid: bool):
        self.net, self.sigmoid = net, sigmoid

    def __call__(self, batch) -> VideoOutputs:
        out = self.net(batch["features"], training=False)
        logits = out["logits"]
        scores = tf.sigmoid(logits) if self.sigmoid else tf.nn.softmax(logits)
        if "background" in out:  # Softmax over N + 1; the N action scores.
            scores = scores[:, :-1]
        videos_ = [v.decode() for v in batch["video"].numpy()]
        segments_ = batch["segments"].numpy()
        spans = batch["ambiguous"].numpy()
        return VideoOutputs(
            videos=videos_,
            durations=batch["duration_s"].numpy(),
            spans=batch["span_s"].numpy(),
            offsets=batch["offset_s"].numpy(),
            scores=scores.numpy(),
            labels=batch["labels"].numpy(),
            tcams=out["tcam"].numpy(),
            attention=out["attention"].numpy() if "attention" in out else None,
            background=(
                out["background"].numpy() if "background" in out else None
            ),
            truth=[
                [(video, s, e, int(c)) for s, e, c in segments_[i] if c >= 0]
                for i, video in enumerate(videos_)
            ],
            ambiguous=[
                [(video, s, e) for s, e in spans[i] if e >= 0]
                for i, video in enumerate(videos_)
            ],
        )


def _row(values, i):
    return None if values is None else values[i]


class Detections:
    """T-CAMs -> scored segments (`postprocess.segments.tcam_to_segments`),
    kept with the ground truth; `result` scores them by `temporal_map`
    under every protocol of `metrics.segments.MAP_PROTOCOLS`."""

    def __init__(self, config):
        self.config = config
        self.detections, self.ground_truth, self.ambiguous = [], [], []
        self.last = []  # The last batch's detections, per video.

    def update(self, outputs: VideoOutputs) -> None:
        config = self.config
        self.last = []
        for i, video in enumerate(outputs.videos):
            offset = float(outputs.offsets[i])
            duration = float(outputs.durations[i])
            found = [
                (video, *segments.to_video_time(row, offset, duration))
                for row in presets.detect(
                    config.postprocess,
                    outputs.tcams[i],
                    outputs.scores[i],
                    float(outputs.spans[i]),
                    attention=_row(outputs.attention, i),
                    background=_row(outputs.background, i),
                    ambiguous=[
                        (s - offset, e - offset)
                        for _, s, e in outputs.ambiguous[i]
                    ],
                    **(
                        {
                            "class_threshold": config.class_threshold,
                            "cam_threshold": config.tcam_threshold,
                            "score": config.segment_score,
                            "nms_iou": config.nms_iou or None,
                        }
                        if config.postprocess == "has_paper"
                        else {}
                    ),
                )
            ]
            self.ground_truth += outputs.truth[i]
            self.ambiguous += outputs.ambiguous[i]
            self.detections += found
            self.last.append(found)

    def result(self, names) -> dict:
        grid = (
            tuple(self.config.iou_thresholds)
            or metric_segments.DEFAULT_IOU_THRESHOLDS
        )
        out = {"classes": None, "map": {}, "ap": {}, "averages": {}}
        for protocol in metric_segments.MAP_PROTOCOLS:
            scored = metric_segments.temporal_map(
                self.detections,
                self.ground_truth,
                grid,
                protocol,
                self.ambiguous if protocol == "thumos14" else None,
            )
            out["classes"] = [names[c] for c in scored["classes"]]
            out["map"][protocol] = {
                f"{t:g}": v for t, v in scored["map"].items()
            }
            out["ap"][protocol] = {f"{t:g}": v for t, v in scored["ap"].items()}
            out["averages"][protocol] = metric_segments.averages(scored["map"])
        return out


class VideoClassification:
    """Top-1 Clas over the videos with a label: is the top class true?"""

    def __init__(self):
        self.count = self.labelled = self.hits = 0

    def update(self, outputs: VideoOutputs) -> None:
        self.count += len(outputs.videos)
        for scores, labels in zip(outputs.scores, outputs.labels):
            if labels.sum() > 0:
                self.labelled += 1
                self.hits += int(labels[int(np.argmax(scores))] > 0)

    def result(self) -> dict:
        return {"top1_cls": self.hits / max(1, self.labelled)}


class TcamPlots:
    """Writes `tcam_NNN.png` (the first true class's T-CAM with its true
    and found segments) for the first `count` videos with ground truth.

    The found segments are those `detections` (a `Detections` scorer fed
    the same batch before this one) kept.
    """

    def __init__(self, out_dir, count, tcam_threshold, names, detections):
        self.out_dir, self.count, self.names = out_dir, count, names
        self.tcam_threshold, self.detections = tcam_threshold, detections
        self.written = 0

    def update(self, outputs: VideoOutputs) -> None:
        for i, video in enumerate(outputs.videos):
            if self.written >= self.count:
                return
            if not outputs.truth[i]:
                continue
            _plot(
                os.path.join(self.out_dir, f"tcam_{self.written:03d}.png"),
                outputs.tcams[i],
                float(outputs.durations[i]),
                outputs.truth[i],
                self.detections.last[i],
                self.tcam_threshold,
                f"{video}: ",
                self.names,
            )
            self.written += 1

    def result(self) -> dict:
        return {"plots": self.written}


class DatasetRules:
    """How a dataset's evaluation differs, the hook `dataset_rules` picks.

    The default: every video of the split is scored, no field is added,
    and the detections are written as ActivityNet JSON.
    """

    def scored(self, data: tf.data.Dataset) -> tf.data.Dataset:
        """The examples to score."""
        return data

    def result_fields(self) -> dict:
        """Fields the dataset adds to `metrics.json`."""
        return {}

    def write_detections(self, out_dir: str, detections, names) -> None:
        """Writes the detections in the dataset's formats."""
        detection_files.write_activitynet_json(
            os.path.join(out_dir, "detections_activitynet.json"),
            detections,
            class_names=names,
        )


class Thumos14Rules(DatasetRules):
    """THUMOS14: the named test list (`--test_list`) decides the scored
    videos, and the detections are also written as the kit's text."""

    def __init__(self, test_list: str):
        self.test_list = test_list
        self.excluded = thumos14_features.excluded_videos(test_list)

    def scored(self, data):
        excluded = tf.constant(list(self.excluded) or [""])
        return data.filter(
            lambda e: tf.reduce_all(tf.not_equal(e["video"], excluded))
        )

    def result_fields(self) -> dict:
        return {"test_list": self.test_list}

    def write_detections(self, out_dir, detections, names) -> None:
        detection_files.write_thumos_detections(
            os.path.join(out_dir, "detections_thumos14.txt"),
            detections,
            class_names=names,
        )
        super().write_detections(out_dir, detections, names)


def dataset_rules(config) -> DatasetRules:
    """The evaluation rules of `config.dataset` (THUMOS14's, or none)."""
    if config.dataset.partition("/")[0] == "thumos14_features":
        return Thumos14Rules(config.test_list)
    return DatasetRules()


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
