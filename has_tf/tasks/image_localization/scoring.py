"""The image task's evaluation: batches, one inference step per batch
(`ImageStep` -> `ImageOutputs`), the scorers (`PaperScorer`,
`ThresholdFreeScorer`, `OverlayScorer`), and `predict_cams`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from has_tf import _checks
from has_tf import methods
from has_tf import models
from has_tf import visualize
from has_tf import vocabulary
from has_tf.metrics import boxes as metric_boxes
from has_tf.metrics import parallel
from has_tf.postprocess import box_rules
from has_tf.postprocess import boxes as postprocess_boxes
from has_tf.postprocess import pc1
from has_tf.postprocess import ten_crop
from has_tf.tasks.base import load_run
from has_tf.tasks.image_localization.model import takes_pixels

# The headline figures, in order, for printing.
HEADLINE = (
    "top1_loc",
    "top5_loc",
    "gt_known_loc",
    "top1_cls",
    "top5_cls",
    "max_box_acc",
    "max_box_acc_v2",
)


def box_rule(config, run_info: dict) -> str:
    """The paper protocol's box rule for this evaluation: `--box_rule`, or
    with "method" the rule of the run's method (`Method.box_rule`;
    paper for runs from before `--method`).

    Raises:
      ValueError: naming --box_rule, for a rule that needs the CAM at the
        model's size under `--eval_crop=ten_crop`.
    """
    rule = config.box_rule
    if rule == "method":
        method = run_info.get("method")
        name = method.get("name") if isinstance(method, dict) else None
        rule = methods.get(name, "images").box_rule if name else "paper"
    box_rules.check_crop(rule, config.eval_crop)
    return rule


def predict_cams(
    model_dir: str,
    images,
    labels=None,
    cam_threshold: float = 0.2,
    localization_map: str = "cam",
) -> dict:
    """CAMs, boxes and predictions of a trained model on raw images.

    Args:
      model_dir: a run's model dir (`model.keras`, `run_info.json`).
      images: uint8 or float `[K, H, W, 3]` pixels in [0, 255]; resized to
        the model's input side.
      labels: `[K]` classes whose CAMs to return; None: the top-1 classes.
      cam_threshold: the paper's box threshold (fraction of the max).
      localization_map: "cam", the class's CAM; or "pc1", the first
        principal component of the CAM head's features weighed by the
        class (`has_tf.postprocess.pc1`, CAM Back Again's).

    Returns:
      `{"images": float32 [K, S, S, 3] resized pixels, "cams": [K, S, S]
      the maps (bilinear from the model's size), "boxes": [K, 4] pixel
      boxes at side S, "top1": [K]}`.
    """
    _checks.choice(
        localization_map, "localization_map", vocabulary.LOCALIZATION_MAPS
    )
    model, run_info = load_run(model_dir)
    size = run_info["image_size"]
    pixels = tf.image.resize(tf.cast(images, tf.float32), (size, size))
    pc1_wanted = localization_map == "pc1"
    net = models.cam_model(model, features=pc1_wanted)
    if takes_pixels(model):
        inputs = tf.cast(tf.round(tf.clip_by_value(pixels, 0, 255)), tf.uint8)
    else:
        inputs = (pixels - run_info["mean"]) / run_info["std"]
    out = net(models.net_inputs(net, inputs), training=False)
    top1 = np.argmax(out["logits"].numpy(), axis=1)
    classes = top1 if labels is None else np.asarray(labels)
    if labels is not None and models.takes_labels(net):
        out = net(models.net_inputs(net, inputs, classes), training=False)
    if pc1_wanted:
        weights = np.asarray(net.get_layer("logits").kernel, np.float32)
        raw = pc1_maps(out["features"], classes, weights)
        cams = np.asarray(models.upsample_cams(raw, (size, size)))
    else:
        cams = models.class_cams_at_size(
            out["cams"], classes, (size, size)
        ).numpy()
    boxes = np.stack(
        [postprocess_boxes.cam_to_box(c, cam_threshold) for c in cams]
    )
    return {
        "images": pixels.numpy(),
        "cams": cams,
        "boxes": boxes,
        "top1": top1,
    }


@dataclasses.dataclass
class ImageOutputs:
    """One evaluation batch after inference, in the boxes' frame.

    Attributes:
      labels: int `[B]` true classes.
      top5: int `[B, 5]` classes by score (fewer with fewer classes).
      known: float `[B, F, F]` CAMs of the true classes.
      top_cams: `[K]` float `[B, F, F]`: the CAMs of each top-5 rank.
      gt_boxes: per image, float `[M, 4]` pixel boxes in the frame (only
        images with boxes; `keep` says which).
      keep: bool `[B]`, images with at least one ground-truth box.
      frame_of: `i -> [F, F, 3]` image i as the model took it (uint8
        pixels or float normalised; built only when asked for).
      raw_known: float `[B, h, w]` the true classes' CAMs at the model's
        CAM size ("resize" crop only; None otherwise).
      wsol_boxes: per image, int `[M, 4]` the tool's corners in the
        original image ("resize" only).
      image_sizes: int `[B, 2]` original (width, height) ("resize" only).
      masks, ignores: uint8 `[B, F, F]` foreground and ignore masks, for
        datasets with masks ("resize" only).
      raw_cams_of: `classes [B] -> float [B, h, w]` those classes' CAMs at
        the model's CAM size (None for "ten_crop").
      image_ids: `[B]` str, the images' ids (`metrics.class_files`).
      own_top5: int `[B, 5]` the model's own classes by score (`top5`
        holds those of `--classes_from` when given).
    """

    labels: np.ndarray
    top5: np.ndarray
    known: np.ndarray
    top_cams: list
    gt_boxes: list
    keep: np.ndarray
    frame_of: Callable
    raw_known: np.ndarray | None = None
    wsol_boxes: list | None = None
    image_sizes: np.ndarray | None = None
    masks: np.ndarray | None = None
    ignores: np.ndarray | None = None
    raw_cams_of: Callable | None = None
    image_ids: list | None = None
    own_top5: np.ndarray | None = None


class ImageStep:
    """Inference on one batch: `__call__(batch) -> ImageOutputs`.

    The frame F is the model's input side, or `resize_size` for
    "ten_crop", whose class scores are the softmax averaged over the
    crops and whose CAMs are the crops' merged by
    `postprocess.ten_crop.merge_ten_crop_cams`. Counts in `without_boxes`
    the images with no ground-truth box (counted, not scored). With
    `localization_map="pc1"` the maps of a class are the PC1 maps of the
    CAM head's features (`postprocess.pc1`), not its CAMs: `cam_net` is
    then a `cam_model(model, features=True)`.
    """

    def __init__(
        self,
        cam_net,
        eval_crop,
        size,
        resize_size,
        localization_map="cam",
        classes=None,
    ):
        self.cam_net, self.eval_crop = cam_net, eval_crop
        self.size, self.resize_size = size, resize_size
        self.frame = resize_size if eval_crop == "ten_crop" else size
        self.without_boxes = 0
        # `metrics.class_files.ClassPredictions` in place of the model's
        # classes for the paper figures, and the images it was asked for.
        self.classes, self.seen = classes, []
        self.pc1_weights = None
        if localization_map == "pc1":
            kernel = cam_net.get_layer("logits").kernel
            self.pc1_weights = np.asarray(kernel, np.float32)

    def __call__(self, batch) -> ImageOutputs:
        scores, cams_of, frame_of, raw_cams_of = score_batch(
            self.cam_net,
            batch["image"],
            self.eval_crop,
            self.size,
            self.resize_size,
            self.pc1_weights,
        )
        labels = batch["label"].numpy()
        counts = batch["num_boxes"].numpy()
        keep = counts > 0
        self.without_boxes += int((~keep).sum())
        all_gt = batch["boxes"].numpy()
        own_top5 = top5 = np.argsort(-scores, axis=1)[:, :5]
        ids = None
        if "image_id" in batch:
            ids = [i.decode() for i in batch["image_id"].numpy()]
        if self.classes is not None:
            if ids is None:
                raise ValueError(
                    "--classes_from: the images of this dataset carry no "
                    "ids to match the file's lines with"
                )
            self.seen.extend(ids)
            top5 = np.array([self.classes.of(i) for i in ids])
        extra = {}
        if "wsol_boxes" in batch:
            corners = batch["wsol_boxes"].numpy()
            number = batch["num_wsol_boxes"].numpy()
            extra.update(
                raw_known=raw_cams_of(labels),
                wsol_boxes=[
                    corners[i, : number[i]] for i in range(len(labels))
                ],
                image_sizes=batch["image_size"].numpy(),
            )
        if "mask" in batch:
            extra.update(
                masks=batch["mask"].numpy(), ignores=batch["ignore"].numpy()
            )
        return ImageOutputs(
            labels=labels,
            top5=top5,
            known=cams_of(labels),
            top_cams=[cams_of(top5[:, k]) for k in range(top5.shape[1])],
            gt_boxes=[
                postprocess_boxes.boxes_to_pixels(
                    all_gt[i, : counts[i]], self.frame, self.frame
                )
                for i in range(len(labels))
            ],
            keep=keep,
            frame_of=frame_of,
            raw_cams_of=raw_cams_of,
            image_ids=ids,
            own_top5=own_top5,
            **extra,
        )


class PaperScorer:
    """The paper's protocol: Top-1 Loc, GT-known Loc, Top-1 Clas, and
    the Top-5 Loc and Top-5 Clas the later tables print beside them
    (localized: one of the five best classes is the true one and its
    CAM's box matches).

    The box of a CAM is drawn by `box_rule` (`postprocess.box_rules`):
    "paper", `postprocess.boxes.cam_to_box` at `cam_threshold` of its
    max on the CAM at the frame; "cams_deit" or "sat_evaluator", the
    method's own code's
    rule on the CAM at the model's size (`ImageOutputs.raw_cams_of`).
    `metrics.boxes.PaperLocalization` scores it under the same rule.
    """

    FIGURES = ("top1_loc", "top5_loc", "gt_known_loc", "top1_cls", "top5_cls")

    def __init__(self, cam_threshold: float, box_rule: str = "paper"):
        self.cam_threshold = cam_threshold
        self.metric = metric_boxes.PaperLocalization(box_rule=box_rule)
        self.rule = self.metric.rule

    def update(self, outputs: ImageOutputs) -> None:
        rule, keep = self.rule, np.flatnonzero(outputs.keep)
        if not keep.size:
            return
        if rule.cam_at_model_size:
            if outputs.raw_cams_of is None:
                raise ValueError(
                    f"--box_rule: the {rule.name} rule reads each CAM at "
                    "the model's size, which this crop does not give."
                )
            known = outputs.raw_cams_of(outputs.labels)
            top_cams = [
                outputs.raw_cams_of(outputs.top5[:, k])
                for k in range(outputs.top5.shape[1])
            ]
        else:
            known, top_cams = outputs.known, outputs.top_cams
        side = outputs.known.shape[-1]
        for i in keep:
            boxes = [rule.box(c[i], self.cam_threshold, side) for c in top_cams]
            known_box = rule.box(known[i], self.cam_threshold, side)
            gt = outputs.gt_boxes[i]
            if rule.integer:
                gt = box_rules.gt_corners(gt, side)
            self.metric.update(
                outputs.labels[i], outputs.top5[i], boxes, known_box, gt
            )

    def result(self) -> dict:
        return self.metric.result()


class ThresholdFreeScorer:
    """MaxBoxAcc and MaxBoxAccV2 of the true classes' CAMs, and PxAP where
    the split has masks, under either rule set of
    `metrics.cam_evaluation.CamEvaluator` (the path `has_tf.evaluate_cams`
    takes for CAMs from elsewhere):

    - "has_tf": the CAMs at the evaluation frame, boxes in its pixels;
    - "wsolevaluation": the official tool's: each CAM at the model's size,
      resized to 224 x 224 with OpenCV's bicubic rule and min-max
      normalised, against the tool's integer boxes scaled from the image's
      size (the "resize" crop).
    """

    # Images scored here before worker processes start: each imports
    # has_tf.evaluate (TensorFlow), worth it for large splits only.
    START_AFTER = 1000

    def __init__(
        self,
        threshold_step: float,
        protocol: str = "has_tf",
        iou_thresholds=(0.3, 0.5, 0.7),
        workers: int = 0,
    ):
        self.protocol = protocol
        self.scoring = parallel.ParallelScoring(
            parallel.score_call,
            dict(
                protocol=protocol,
                thresholds=metric_boxes.default_thresholds(threshold_step),
                iou_thresholds=tuple(iou_thresholds) or (0.3, 0.5, 0.7),
            ),
            workers=workers,
            start_after=self.START_AFTER,
        )
        self.evaluator = None  # The merged evaluator, after result().

    def update(self, outputs: ImageOutputs) -> None:
        tool = self.protocol == "wsolevaluation"
        add = self.scoring.add
        for i in np.flatnonzero(outputs.keep):
            label = int(outputs.labels[i])
            if tool:
                args = (
                    outputs.raw_known[i],
                    outputs.wsol_boxes[i],
                    tuple(outputs.image_sizes[i]),
                )
                add(("add_boxes", args, {"label": label}))
            else:
                args = (outputs.known[i], outputs.gt_boxes[i])
                add(("add_frame_boxes", args, {"label": label}))
        if outputs.masks is None:
            return
        side = self.scoring.evaluator.size
        if tool and outputs.masks.shape[1:] != (side, side):
            raise ValueError(
                "--box_protocol=wsolevaluation scores masks in the tool's "
                f"{side} x {side} frame, resized once from the original; the "
                f"evaluation resize is {outputs.masks.shape[1]} x "
                f"{outputs.masks.shape[2]}: use --image_size={side}."
            )
        for i in range(len(outputs.labels)):
            args = (
                outputs.raw_known[i] if tool else outputs.known[i],
                outputs.masks[i] > 0,
                outputs.ignores[i] > 0,
            )
            add(("add_mask", args, {}))

    def result(self) -> dict:
        self.evaluator = self.scoring.finish()
        out = (
            self.evaluator.boxes.result()
            if self.evaluator.scored_boxes
            else {"max_box_acc_v2": 0.0, "protocol": self.protocol}
        )
        out["protocol"] = self.protocol
        if self.evaluator.scored_masks:
            masks = self.evaluator.result()
            out.update(pxap=masks["pxap"], pr_curve=masks.get("pr_curve"))
            out["scored_masks"] = self.evaluator.scored_masks
        return out


class OverlayScorer:
    """Writes `overlay_NNN.png` (image, true class's CAM, its box, the true
    boxes) for the first `count` scored images into `out_dir`; `pixels`:
    the frames are uint8 pixels, else normalised (`takes_pixels`)."""

    def __init__(self, out_dir, count, cam_threshold, run_info, pixels=True):
        self.out_dir, self.count = out_dir, count
        self.cam_threshold = cam_threshold
        self.mean, self.std = run_info["mean"], run_info["std"]
        if pixels:
            self.mean, self.std = 0.0, 1.0
        self.written = 0

    def update(self, outputs: ImageOutputs) -> None:
        for i in np.flatnonzero(outputs.keep):
            if self.written >= self.count:
                return
            known_box = postprocess_boxes.cam_to_box(
                outputs.known[i], self.cam_threshold
            )
            visualize.save_overlay(
                os.path.join(self.out_dir, f"overlay_{self.written:03d}.png"),
                np.asarray(outputs.frame_of(i), np.float32) * self.std
                + self.mean,
                outputs.known[i],
                known_box,
                outputs.gt_boxes[i],
                title=(
                    f"label {outputs.labels[i]}, top-1 {outputs.top5[i, 0]}"
                ),
            )
            self.written += 1

    def result(self) -> dict:
        return {"pictures": self.written}


def pc1_maps(features, classes, weights) -> np.ndarray:
    """float32 `[B, h, w]`: image i's PC1 map (`postprocess.pc1`) of its
    features `[h, w, K]` weighed by class `classes[i]`'s column of the
    classifier kernel `weights` `[K, N]`."""
    features = np.asarray(features)
    return np.stack(
        [
            pc1.pc1_map(features[i], weights[:, int(c)])
            for i, c in enumerate(np.asarray(classes))
        ]
    ).astype(np.float32)


def score_batch(
    cam_net, batch_images, eval_crop, size, resize_size, pc1_weights=None
):
    """Class scores and CAMs of one batch, in the frame its boxes use.

    With `pc1_weights` (the classifier kernel `[K, N]`; `cam_net` outputs
    "features") every map is the class's PC1 map (`pc1_maps`), not its
    CAM.

    Returns:
      `(scores [B, N], cams_of, frame_of, raw_cams_of)`: `cams_of(classes
      [B])` gives
      the CAMs of those classes as float `[B, F, F]` at the boxes' frame
      (F = `size`, or `resize_size` for "ten_crop", whose class scores are
      the softmax averaged over the crops and whose CAMs are the crops'
      merged by `ten_crop.merge_ten_crop_cams`); `frame_of(i)` gives
      image i as the model took it, `[F, F, 3]` in that frame (for pictures, so
      built only when asked for); `raw_cams_of(classes)` the CAMs at the
      model's CAM size (None for "ten_crop").
    """
    if eval_crop != "ten_crop":
        out = cam_net(models.net_inputs(cam_net, batch_images), training=False)

        rerun = {}

        def maps(classes):
            if not models.takes_labels(cam_net):
                return out["cams"]
            # ACoL: head B sees the features erased by these classes.
            key = np.asarray(classes).tobytes()
            if key not in rerun:
                inputs = models.net_inputs(cam_net, batch_images, classes)
                rerun[key] = cam_net(inputs, training=False)["cams"]
            return rerun[key]

        pc1_done = {}

        def raw_cams_of(classes):
            if pc1_weights is not None:
                # An SVD per image: once per batch and classes, however
                # many scorers ask (the frame's maps, the raw ones).
                key = np.asarray(classes).tobytes()
                if key not in pc1_done:
                    pc1_done[key] = pc1_maps(
                        out["features"], classes, pc1_weights
                    )
                return pc1_done[key]
            return np.asarray(models.class_cams(maps(classes), classes))

        def cams_of(classes):
            if pc1_weights is not None:
                raw = raw_cams_of(classes)
                return np.asarray(models.upsample_cams(raw, (size, size)))
            return models.class_cams_at_size(
                maps(classes), classes, (size, size)
            ).numpy()

        return (
            out["logits"].numpy(),
            cams_of,
            lambda i: batch_images[i].numpy(),
            raw_cams_of,
        )
    count = batch_images.shape[0]
    flat = tf.reshape(batch_images, (-1, *batch_images.shape[2:]))
    out = cam_net(models.net_inputs(cam_net, flat), training=False)
    scores = tf.reduce_mean(
        tf.reshape(tf.nn.softmax(out["logits"]), (count, 10, -1)), axis=1
    ).numpy()

    def frame_of(i):
        crops = batch_images[i].numpy()  # [10, S, S, 3]
        return np.stack(
            [
                ten_crop.merge_ten_crop_cams(crops[..., ch], resize_size)
                for ch in range(3)
            ],
            axis=-1,
        )

    def cams_of(classes):
        repeated = np.repeat(classes, 10)
        maps = out["cams"]
        if models.takes_labels(cam_net):
            inputs = models.net_inputs(cam_net, flat, repeated)
            maps = cam_net(inputs, training=False)["cams"]
        if pc1_weights is not None:
            raw = pc1_maps(out["features"], repeated, pc1_weights)
            cams = models.upsample_cams(raw, (size, size))
        else:
            cams = models.class_cams_at_size(maps, repeated, (size, size))
        cams = np.asarray(cams).reshape(count, 10, size, size)
        return np.stack(
            [ten_crop.merge_ten_crop_cams(c, resize_size) for c in cams]
        )

    return scores, cams_of, frame_of, None
