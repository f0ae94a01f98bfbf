"""Pseudo-boxes of a split from an image run (`python -m
has_tf.pseudo_labels`): one box per image, from the map of its true class
(the labels of a weakly supervised training split are known), under one
of three rules (`vocabulary.PSEUDO_RULES`):

- "threshold": the run's box rule (`--box_rule`, `postprocess.box_rules`)
  at `--cam_threshold`;
- "best_threshold": the same rule at the threshold with the best GT-known
  Loc (IoU >= 0.5 under the rule) on a selection split with boxes
  (`--selection_split`, e.g. wsolevaluation's train-fullsup); the first
  of equals on the `--threshold_step` grid;
- "ddt": PSOL's DDT boxes (`postprocess.ddt`): the first principal axis
  of each class's features (the run's CAM-head feature maps of all its
  images of the split, one pass), then each image's map projected on it,
  its largest positive component.

Every image is seen whole, resized to the model's side (wsolevaluation's
"resize" crop; PSOL resizes to 448 x 448 likewise), so the boxes are
normalised to the whole image, `(ymin, xmin, ymax, xmax)` in [0, 1].
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from has_tf import _progress
from has_tf import models
from has_tf.metrics import boxes as metric_boxes
from has_tf.postprocess import box_rules
from has_tf.postprocess import boxes as postprocess_boxes
from has_tf.postprocess import ddt
from has_tf.postprocess import wsolevaluation
from has_tf.tasks.base import check_classes
from has_tf.tasks.base import load_run
from has_tf.tasks.image_localization.batches import eval_batches
from has_tf.tasks.image_localization.batches import images_to_score
from has_tf.tasks.image_localization.model import takes_pixels
from has_tf.tasks.image_localization.scoring import ImageStep
from has_tf.tasks.image_localization.scoring import box_rule

__all__ = ["best_threshold", "ddt_axes", "pseudo_boxes"]


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What every pass over a split shares."""

    config: object
    model: object
    run_info: dict
    net: object
    pixels: bool
    side: int
    rule: box_rules.BoxRule
    ddt_pool: int = 1


def _ddt_net(model, layer_name: str):
    """The model up to layer `layer_name`, its output as "features"."""
    features = models.feature_map(model, layer_name, "--ddt_layer")
    return keras.Model(model.inputs, {"features": features})


def _setup(
    model_dir, config, features: bool, ddt_layer=None, ddt_pool=1
) -> _Setup:
    if config.eval_crop != "resize":
        raise ValueError(
            "--eval_crop: pseudo-labels are drawn on each whole image "
            "resized to the model's side, normalised to the image. Received: "
            f"{config.eval_crop!r} (use resize)"
        )
    model, run_info = load_run(model_dir)
    return _Setup(
        config=config,
        model=model,
        run_info=run_info,
        net=(
            _ddt_net(model, ddt_layer)
            if ddt_layer
            else models.cam_model(model, features=features)
        ),
        pixels=takes_pixels(model),
        side=run_info["image_size"],
        rule=box_rules.get(box_rule(config, run_info)),
        ddt_pool=ddt_pool,
    )


def _batches(setup: _Setup, split: str, skip: int = 0):
    """`(builder, batches)` of `split`, its first `skip` images left out."""
    config = dataclasses.replace(setup.config, eval_split=split)
    return eval_batches(
        config, setup.run_info, normalize=not setup.pixels, skip=skip
    )


def _bar(progress: bool, builder, setup: _Setup, split, done, label):
    """A progress line over the images of `split` left, or None."""
    if not progress:
        return None
    config = dataclasses.replace(setup.config, eval_split=split)
    total = images_to_score(builder, config)
    left = None if total is None else total - done
    return _progress.Progress(left, "images", label)


def _step(setup: _Setup) -> ImageStep:
    return ImageStep(
        setup.net,
        "resize",
        setup.side,
        setup.config.resize_size,
        setup.config.localization_map,
    )


def _maps(setup: _Setup, outputs) -> np.ndarray:
    """The true classes' maps as the rule reads them: at the model's size
    (`cams_deit`, `sat_evaluator`) or at the frame (`paper`)."""
    if setup.rule.cam_at_model_size:
        return outputs.raw_cams_of(outputs.labels)
    return outputs.known


def _normalised(box, side: int) -> list:
    box = np.clip(np.asarray(box, np.float64) / side, 0.0, 1.0)
    return [float(v) for v in box]


def best_threshold(setup: _Setup, split: str, progress: bool = False) -> dict:
    """The threshold of the best GT-known Loc on `split`'s boxes.

    Every image with a box is scored at every threshold of the
    `--threshold_step` grid under the run's box rule (its boxes and IoU;
    a hit at IoU >= 0.5).

    Returns:
      `{"split", "threshold", "gt_known_loc", "count"}`: the lowest of
      the best thresholds, its GT-known Loc (a fraction) and the images
      scored.

    Raises:
      ValueError: naming --selection_split, when no image of it has a box.
    """
    config, rule, side = setup.config, setup.rule, setup.side
    thresholds = metric_boxes.default_thresholds(config.threshold_step)
    builder, batches = _batches(setup, split)
    bar = _bar(progress, builder, setup, split, 0, "selection")
    step = _step(setup)
    hits, count = np.zeros(len(thresholds)), 0
    for batch in batches:
        outputs = step(batch)
        maps = _maps(setup, outputs)
        for i in np.flatnonzero(outputs.keep):
            truth = outputs.gt_boxes[i]
            if rule.name == "paper":
                found = postprocess_boxes.cam_boxes_for_thresholds(
                    maps[i], thresholds
                )
            else:
                found = np.stack(
                    [rule.box(maps[i], t, side) for t in thresholds]
                )
            if rule.integer:
                ious = wsolevaluation.inclusive_box_iou(
                    found, box_rules.gt_corners(truth, side)
                )
            else:
                ious = metric_boxes.box_iou(found, truth)
            hits += ious.max(axis=1) >= 0.5
            count += 1
        if bar is not None:
            bar.advance(len(outputs.labels))
    if bar is not None:
        bar.close()
    if not count:
        raise ValueError(
            f"--selection_split: no image of split {split!r} of "
            f"{config.dataset} has a ground-truth box to select the "
            "threshold on"
        )
    best = int(np.argmax(hits))  # The first of equals: the lowest.
    return {
        "split": split,
        "threshold": float(thresholds[best]),
        "gt_known_loc": float(hits[best] / count),
        "count": count,
    }


def _features(setup: _Setup, batch) -> np.ndarray:
    """The batch's feature maps `[B, h, w, C]`, max-pooled by `ddt_pool`
    (PyTorch's `MaxPool2d(p, p)`: windows p x p, the rest dropped)."""
    inputs = models.net_inputs(setup.net, batch["image"])
    features = np.asarray(setup.net(inputs, training=False)["features"])
    pool = setup.ddt_pool
    if pool > 1:
        count, height, width, channels = features.shape
        height, width = height // pool, width // pool
        if not height or not width:
            raise ValueError(
                f"--ddt_pool: the feature map {features.shape[1:3]} is "
                f"smaller than the pool. Received: {pool}"
            )
        features = (
            features[:, : height * pool, : width * pool]
            .reshape(count, height, pool, width, pool, channels)
            .max(axis=(2, 4))
        )
    return features


def ddt_axes(setup: _Setup, split: str, progress: bool = False) -> dict:
    """Each class's DDT `(mean, axis)` from the CAM head's features of all
    its images of `split` (`postprocess.ddt`), summed in one pass.

    Returns:
      `{"<class>": {"mean": [C], "axis": [C]}}` (JSON-ready) for every
      class with an image in the split.
    """
    builder, batches = _batches(setup, split)
    bar = _bar(progress, builder, setup, split, 0, "ddt axes")
    moments = {}
    for batch in batches:
        features = _features(setup, batch)
        labels = batch["label"].numpy()
        for c in np.unique(labels):
            found = ddt.ddt_moments(features[labels == c])
            seen = moments.get(int(c))
            if seen is not None:
                found = tuple(a + b for a, b in zip(seen, found))
            moments[int(c)] = found
        if bar is not None:
            bar.advance(len(labels))
    if bar is not None:
        bar.close()
    axes = {}
    for c, values in sorted(moments.items()):
        mean, axis = ddt.axis_from_moments(*values)
        axes[str(c)] = {"mean": mean.tolist(), "axis": axis.tolist()}
    return axes


def pseudo_boxes(
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
    """The pseudo-boxes of `config.eval_split`, one image at a time.

    Args:
      model_dir: an image run.
      config: an `EvalConfig` whose `eval_split` is the split to label
        (its `cam_threshold`, `box_rule`, `localization_map`,
        `threshold_step`, `eval_batch_size`, `max_images` apply).
      rule: "threshold", "best_threshold" or "ddt" (module docstring).
      selection_split: the split "best_threshold" selects on.
      start: images already written (a resumed job): the first `start`
        of the split are left out.
      state: where a resumed job finds what an earlier one chose or
        computed before labelling (`get(key)`, `put(key, value)`,
        JSON values): the selected threshold, the DDT axes. None: kept
        nowhere.
      progress: progress lines on stderr.
      ddt_layer: DDT's features: this layer's output (e.g. VGG16's
        `conv5_3_relu`, as PSOL's pretrained `features`); None: the CAM
        head's input.
      ddt_pool: DDT's features max-pooled p x p first (PSOL's VGG16 ends
        in pool5, which wsolevaluation's `vgg16_cam` drops: 2).

    Returns:
      `(provenance, records)`: the dict the file's header records, and an
      iterator of `{"image_id", "label", "boxes": [[ymin, xmin, ymax,
      xmax]]}` (normalised to the whole image), in the split's order.

    Raises:
      ValueError: naming the flag: another crop than resize, no
        --selection_split for best_threshold, a model of another class
        count, DDT or PC1 on a method's own maps.
    """
    if rule == "best_threshold" and not selection_split:
        raise ValueError(
            "--selection_split: --pseudo_rule=best_threshold selects the "
            "threshold on a split with boxes (e.g. wsolevaluation's val). "
            "Received: none"
        )
    if rule == "ddt" and config.localization_map != "cam":
        raise ValueError(
            "--localization_map: DDT projects the CAM head's features on "
            "its own axis, no map of a class. Received: "
            f"{config.localization_map!r}"
        )
    if rule != "ddt" and (ddt_layer or ddt_pool != 1):
        raise ValueError(
            "--ddt_layer, --ddt_pool: options of --pseudo_rule=ddt. "
            f"Received: --pseudo_rule={rule}"
        )
    if not isinstance(ddt_pool, int) or ddt_pool < 1:
        raise ValueError(
            f"--ddt_pool: expected an int >= 1. Received: {ddt_pool!r}"
        )
    setup = _setup(
        model_dir,
        config,
        features=rule == "ddt" or config.localization_map == "pc1",
        ddt_layer=ddt_layer if rule == "ddt" else None,
        ddt_pool=ddt_pool,
    )
    state = state if state is not None else _Memory()
    split = config.eval_split
    builder, batches = _batches(setup, split, skip=start)
    check_classes(
        setup.model,
        builder.info.features["label"].num_classes,
        model_dir,
        config.dataset,
    )
    provenance = {
        "run": model_dir,
        "dataset": config.dataset,
        "split": split,
        "rule": rule,
        "image_size": setup.side,
        "crop": "resize",
        "max_images": config.max_images,
    }
    if rule == "ddt":
        axes = state.get("ddt_axes")
        if axes is None:
            axes = ddt_axes(setup, split, progress)
            state.put("ddt_axes", axes)
        provenance.update(
            map=f"ddt: {ddt_layer or 'the CAM head input'}'s features",
            ddt_layer=ddt_layer,
            ddt_pool=ddt_pool,
            box_rule="ddt",
        )
    else:
        threshold = config.cam_threshold
        if rule == "best_threshold":
            selected = state.get("selection")
            if selected is None:
                selected = best_threshold(setup, selection_split, progress)
                state.put("selection", selected)
            threshold = selected["threshold"]
            provenance["selection"] = selected
        provenance.update(
            map=config.localization_map,
            box_rule=setup.rule.name,
            threshold=threshold,
        )
    bar = _bar(progress, builder, setup, split, start, "pseudo_labels")

    def records():
        step = None if rule == "ddt" else _step(setup)
        for batch in batches:
            labels = batch["label"].numpy()
            ids = [i.decode() for i in batch["image_id"].numpy()]
            if rule == "ddt":
                boxes = _ddt_boxes(setup, batch, labels, axes)
            else:
                outputs = step(batch)
                maps = _maps(setup, outputs)
                boxes = [
                    setup.rule.box(maps[i], threshold, setup.side)
                    for i in range(len(labels))
                ]
            for image_id, label, box in zip(ids, labels, boxes):
                yield {
                    "image_id": image_id,
                    "label": int(label),
                    "boxes": [_normalised(box, setup.side)],
                }
            if bar is not None:
                bar.advance(len(labels))
        if bar is not None:
            bar.close()

    return provenance, records()


def _ddt_boxes(setup: _Setup, batch, labels, axes) -> np.ndarray:
    """Pixel boxes at the model's side from each image's DDT map."""
    features = _features(setup, batch)
    maps = np.stack(
        [
            ddt.ddt_maps(
                features[i : i + 1],
                axes[str(int(c))]["mean"],
                axes[str(int(c))]["axis"],
            )[0]
            for i, c in enumerate(labels)
        ]
    )
    return ddt.boxes_of_maps(maps, setup.side) * setup.side


class _Memory:
    """A job's state kept in memory (nothing resumes)."""

    def __init__(self):
        self.values = {}

    def get(self, key):
        return self.values.get(key)

    def put(self, key, value):
        self.values[key] = value
