"""The action task's evaluation: one inference step per batch
(`VideoStep` -> `VideoOutputs`), the scorers (`DetectionScorer`: T-CAM ->
segments -> mAP under both protocols; `ClassificationScorer`;
`TcamPlotScorer`) and each dataset's scoring rules (`dataset_rules`)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from has_tf import datasets
from has_tf import visualize
from has_tf.datasets import thumos14_features
from has_tf.metrics import detection_files
from has_tf.metrics import segments as metric_segments
from has_tf.models import videos as temporal_models
from has_tf.postprocess import presets
from has_tf.postprocess import segments
from has_tf.tasks.base import check_classes
from has_tf.tasks.base import load_run


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
      actionness: float `[B, T]` (CoLA's network), or None.
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
    actionness: np.ndarray | None = None


class VideoStep:
    """Inference on one batch: `__call__(batch) -> VideoOutputs`."""

    def __init__(self, net, sigmoid: bool):
        self.net, self.sigmoid = net, sigmoid

    def __call__(self, batch) -> VideoOutputs:
        out = self.net(batch["features"], training=False)
        logits = out["logits"]
        scores = tf.sigmoid(logits) if self.sigmoid else tf.nn.softmax(logits)
        if logits.shape[-1] == out["tcam"].shape[-1] + 1:
            # Softmax over N + 1 (the background last); the N action scores.
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
            actionness=(
                out["actionness"].numpy() if "actionness" in out else None
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


def run_and_split(model_dir: str, config):
    """`(model, run_info, data, builder, names)`: the run's network and
    the split `config.eval_split` (TFDS examples, its builder, the class
    names), checked to have as many classes.

    Raises:
      ValueError: the model scores another number of classes.
    """
    model, run_info = load_run(model_dir)
    data, builder = datasets.load(
        config.dataset,
        config.eval_split,
        config.data_dir,
        config.manual_dir,
        try_autocache=not config.max_images,
        allow_pickle=config.allow_pickle,
    )
    names = builder.info.features["segments"]["label"].names
    check_classes(
        model,
        len(names),
        model_dir,
        config.dataset,
        outputs=temporal_models.action_classes(model),
    )
    return model, run_info, data, builder, names


def _row(values, i):
    return None if values is None else values[i]


def detect_video(config, outputs: VideoOutputs, i: int, scores=None) -> list:
    """Video i's detections under `config.postprocess` (the preset with
    its own thresholds; `has_paper` with the config's):
    `[(video, start_s, end_s, class, score)]` in the video's seconds.
    `scores`: float `[N]` class scores in place of the model's (the true
    classes, for pseudo-labels)."""
    video = outputs.videos[i]
    offset = float(outputs.offsets[i])
    duration = float(outputs.durations[i])
    return [
        (video, *segments.to_video_time(row, offset, duration))
        for row in presets.detect(
            config.postprocess,
            outputs.tcams[i],
            outputs.scores[i] if scores is None else scores,
            float(outputs.spans[i]),
            attention=_row(outputs.attention, i),
            background=_row(outputs.background, i),
            actionness=_row(outputs.actionness, i),
            ambiguous=[
                (s - offset, e - offset) for _, s, e in outputs.ambiguous[i]
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


class DetectionScorer:
    """T-CAMs -> scored segments (`postprocess.segments.tcam_to_segments`),
    kept with the ground truth; `result` scores them by `temporal_map`
    under every protocol of `metrics.segments.MAP_PROTOCOLS`."""

    def __init__(self, config):
        self.config = config
        self.detections, self.ground_truth, self.ambiguous = [], [], []
        self.last = []  # The last batch's detections, per video.

    def update(self, outputs: VideoOutputs) -> None:
        self.last = []
        for i in range(len(outputs.videos)):
            found = detect_video(self.config, outputs, i)
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


class ClassificationScorer:
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


class TcamPlotScorer:
    """Writes `tcam_NNN.png` (the first true class's T-CAM with its true
    and found segments) for the first `count` videos with ground truth.

    The found segments are those `detections` (a `DetectionScorer` scorer fed
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

    def count(self, builder, config) -> int | None:
        """How many videos `scored` keeps (before `--max_images`), or None
        when that is not known without reading them."""
        return _capped(
            builder.info.splits[config.eval_split].num_examples, config
        )

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

    def count(self, builder, config) -> int | None:
        """The split's videos (the dataset's metadata lists them) less the
        test list's exclusions."""
        videos = (builder.info.metadata or {}).get("videos", {})
        if config.eval_split not in videos:
            return None
        kept = [v for v in videos[config.eval_split] if v not in self.excluded]
        return _capped(len(kept), config)

    def write_detections(self, out_dir, detections, names) -> None:
        detection_files.write_thumos_detections(
            os.path.join(out_dir, "detections_thumos14.txt"),
            detections,
            class_names=names,
        )
        super().write_detections(out_dir, detections, names)


def _capped(count: int, config) -> int:
    return min(count, config.max_images) if config.max_images else count


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
