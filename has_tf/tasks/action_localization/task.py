"""`ActionLocalization`: the action task's contract (`tasks.base.Task`):
the method resolved, training setup, serving, evaluation, headline
figures."""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from has_tf import methods
from has_tf import models
from has_tf.input_pipeline import videos
from has_tf.models import videos as temporal_models
from has_tf.tasks.action_localization import pseudo_labels
from has_tf.tasks.action_localization.scoring import ClassificationScorer
from has_tf.tasks.action_localization.scoring import DetectionScorer
from has_tf.tasks.action_localization.scoring import TcamPlotScorer
from has_tf.tasks.action_localization.scoring import VideoStep
from has_tf.tasks.action_localization.scoring import dataset_rules
from has_tf.tasks.action_localization.scoring import run_and_split
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import progress_scorers
from has_tf.tasks.base import score
from has_tf.tasks.base import write_metrics
from has_tf.training import serving


class ActionLocalization:
    """The action network on video-feature datasets (module docstring)."""

    name = "action_localization"
    inputs = "videos"
    pseudo_kind = "segments"

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

        if method.network is not None:
            # The method's own network and objective (`Method.network`).
            build_model, loss = method.network(config, num_classes, dim)
            model_name = method.name
        else:

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

            loss = (
                temporal_models.background_suppression_loss
                if config.temporal_background
                else models.temporal_loss(config.temporal_loss)
            )
            model_name = "temporal_net"

        return TrainingSetup(
            num_examples=builder.info.splits[config.train_split].num_examples,
            run_info={
                "fill": mean.tolist(),
                "num_steps": config.num_steps,
                "num_classes": num_classes,
                "model": model_name,
                "temporal_loss": config.temporal_loss,
                "method": method.record(config),
            },
            inputs=inputs,
            build_model=build_model,
            loss=loss,
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

    def evaluate(
        self, model_dir: str, config, out_dir=None, progress=False
    ) -> dict:
        """Scores the action network in `model_dir`; returns the metrics.

        A short pipeline: the split's batches (the dataset's rules,
        `dataset_rules`, choose the scored videos) -> one inference step
        per batch (`VideoStep`: class scores, T-CAMs and the ground
        truth per video) -> the scorers (`DetectionScorer`: T-CAM -> segments
        and mAP under both protocols; `ClassificationScorer`; `TcamPlotScorer`)
        -> `eval/metrics.json` and the dataset's detection files.

        Returns:
          A dict: "task", "map" and "ap" per protocol ("thumos14",
          "activitynet") and IoU (string keys "0.1".."0.7"; values
          fractions in [0, 1]), "classes", "top1_cls" (video-level, top
          class among the true ones), "count" (videos),
          "ground_truth_segments", the options used, and what the
          dataset's rules add (THUMOS14: "test_list").
        """
        model, run_info, data, builder, names = run_and_split(model_dir, config)
        rules = dataset_rules(config)
        data = rules.scored(data)
        if config.max_images:
            data = data.take(config.max_images)
        out_dir = out_dir or os.path.join(model_dir, "eval")
        os.makedirs(out_dir, exist_ok=True)
        step = VideoStep(
            models.temporal_cam_model(model),
            sigmoid=run_info.get("temporal_loss") == "sigmoid",
        )
        found = DetectionScorer(config)
        classification = ClassificationScorer()
        plots = TcamPlotScorer(
            out_dir, config.num_plots, config.tcam_threshold, names, found
        )
        score(
            videos.eval_pipeline(
                data, config.eval_batch_size, run_info["num_steps"]
            ),
            step,
            [
                found,
                classification,
                plots,
                *progress_scorers(
                    progress, rules.count(builder, config), "videos"
                ),
            ],
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

    def pseudo_labels(self, model_dir, config, rule, **kwargs):
        """The segments of each video's true classes
        (`pseudo_labels.pseudo_segments`)."""
        return pseudo_labels.pseudo_segments(model_dir, config, rule, **kwargs)

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
