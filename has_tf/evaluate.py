"""Evaluates a trained model's localization: `python -m has_tf.evaluate`.

    python -m has_tf.evaluate --flagfile=flags/quickstart.cfg \\
        --model_dir=runs/quickstart

Reads `model.keras` and `normalization.json` from `--model_dir`, runs the
evaluation pipeline, turns CAMs into boxes and scores both protocols: the
paper's (Top-1 Loc, GT-known Loc, Top-1 Clas at `--cam_threshold`) and the
threshold-free one (MaxBoxAcc, MaxBoxAccV2). Streams over the split (memory
stays flat), writes `eval/metrics.json` (fractions in [0, 1]) and overlay
pictures of the first `--num_pictures` images into the model dir, and
prints the figures. `--compare=dir_a,dir_b` prints evaluated runs side by
side instead. Training and evaluation share their flags
(`has_tf.shared_flags`), so one flagfile drives both.
"""

from __future__ import annotations

import json
import os

import numpy as np
from absl import app
from absl import flags

from has_tf import shared_flags

# The headline figures, in order, for printing.
HEADLINE = ("top1_loc", "gt_known_loc", "top1_cls", "max_box_acc",
            "max_box_acc_v2")


def load_run(model_dir: str):
    """The trained model and the `normalization.json` of a run's dir.

    Returns:
      `(keras.Model, dict)`.

    Raises:
      FileNotFoundError: `model_dir` holds no trained model.
    """
    path = os.path.join(model_dir, "model.keras")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No trained model in {model_dir!r}: expected {path} (written at "
            "the end of python -m has_tf.train; a run still in progress "
            "keeps its checkpoints in backup/).")
    import keras

    import has_tf.models  # noqa: F401  (registers the custom layers)

    with open(os.path.join(model_dir, "normalization.json")) as f:
        info = json.load(f)
    # Evaluation needs no optimizer or loss: skip the compile config.
    return keras.models.load_model(path, compile=False), info


def evaluate(model_dir: str, dataset: str, split: str = "test",
             data_dir=None, manual_dir=None, protocol: str = "resize",
             cam_threshold: float = 0.2, threshold_step: float = 0.01,
             batch_size: int = 64, max_images: int = 0,
             num_pictures: int = 8) -> dict:
    """Scores the model in `model_dir`; returns and writes the metrics.

    Returns:
      A dict with the headline figures (fractions in [0, 1]), "count",
      "paper" and "threshold_free" details (per class included).

    Raises:
      FileNotFoundError: `model_dir` holds no trained model.
    """
    import has_tf.datasets
    from has_tf import input_pipeline
    from has_tf import metrics
    from has_tf import models
    from has_tf import postprocess
    from has_tf import visualize

    model, norm = load_run(model_dir)
    cam_net = models.cam_model(model)
    size = norm["image_size"]
    data, _ = has_tf.datasets.load(dataset, split, data_dir, manual_dir)
    if max_images:
        data = data.take(max_images)
    resize_size = max(size, int(round(size * 256 / 224)))
    batches = input_pipeline.eval_pipeline(
        data, batch_size, protocol, image_size=size,
        resize_size=resize_size, mean=norm["mean"], std=norm["std"])
    paper = metrics.PaperLocalization()
    free = metrics.ThresholdFreeLocalization(
        thresholds=metrics.default_thresholds(threshold_step))
    out_dir = os.path.join(model_dir, "eval")
    os.makedirs(out_dir, exist_ok=True)
    pictures = 0
    for batch in batches:
        scores, cams_of, frame_of = _score_batch(
            cam_net, batch["image"], protocol, size, resize_size)
        labels = batch["label"].numpy()
        all_gt = batch["boxes"].numpy()
        frame = resize_size if protocol == "ten_crop" else size
        top5 = np.argsort(-scores, axis=1)[:, :5]
        known = cams_of(labels)
        top_cams = [cams_of(top5[:, k]) for k in range(top5.shape[1])]
        for i, label in enumerate(labels):
            count = int(batch["num_boxes"][i])
            gt = all_gt[i, :count] * frame
            if count == 0:
                continue
            boxes = [postprocess.cam_to_box(c[i], cam_threshold)
                     for c in top_cams]
            known_box = postprocess.cam_to_box(known[i], cam_threshold)
            paper.update(label, top5[i], boxes, known_box, gt)
            free.update(known[i], gt, label=label)
            if pictures < num_pictures:
                image = frame_of(i) * norm["std"] + norm["mean"]
                visualize.save_overlay(
                    os.path.join(out_dir, f"overlay_{pictures:03d}.png"),
                    image, known[i], known_box, gt,
                    title=f"label {label}, top-1 {top5[i, 0]}")
                pictures += 1
    result_paper, result_free = paper.result(), free.result()
    result = {
        "top1_loc": result_paper["top1_loc"],
        "gt_known_loc": result_paper["gt_known_loc"],
        "top1_cls": result_paper["top1_cls"],
        "max_box_acc": result_free.get("max_box_acc", 0.0),
        "max_box_acc_v2": result_free["max_box_acc_v2"],
        "count": result_paper["count"],
        "cam_threshold": cam_threshold,
        "protocol": protocol,
        "paper": result_paper,
        "threshold_free": result_free,
    }
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result


def predict_cams(model_dir: str, images, labels=None,
                 cam_threshold: float = 0.2) -> dict:
    """CAMs, boxes and predictions of a trained model on raw images.

    Args:
      model_dir: a run's model dir (`model.keras`, `normalization.json`).
      images: uint8 or float `[K, H, W, 3]` pixels in [0, 255]; resized to
        the model's input side.
      labels: `[K]` classes whose CAMs to return; None: the top-1 classes.
      cam_threshold: the paper's box threshold (fraction of the max).

    Returns:
      `{"images": float32 [K, S, S, 3] resized pixels, "cams": [K, S, S],
      "boxes": [K, 4] pixel boxes at side S, "top1": [K]}`.
    """
    import tensorflow as tf

    from has_tf import models
    from has_tf import postprocess

    model, norm = load_run(model_dir)
    size = norm["image_size"]
    pixels = tf.image.resize(tf.cast(images, tf.float32), (size, size))
    net = models.cam_model(model)
    out = net((pixels - norm["mean"]) / norm["std"], training=False)
    top1 = np.argmax(out["logits"].numpy(), axis=1)
    classes = top1 if labels is None else np.asarray(labels)
    cams = models.upsample_cams(models.class_cams(out["cams"],
                                                  classes=classes),
                                (size, size)).numpy()
    boxes = np.stack([postprocess.cam_to_box(c, cam_threshold)
                      for c in cams])
    return {"images": pixels.numpy(), "cams": cams, "boxes": boxes,
            "top1": top1}


def _score_batch(cam_net, images, protocol, size, resize_size):
    """Class scores and CAMs of one batch, in the frame its boxes use.

    Returns:
      `(scores [B, N], cams_of, frame_of)`: `cams_of(classes [B])` gives
      the CAMs of those classes as float `[B, F, F]` at the boxes' frame
      (F = `size`, or `resize_size` for "ten_crop", whose class scores are
      the softmax averaged over the crops and whose CAMs are the crops'
      merged by `postprocess.merge_ten_crop_cams`); `frame_of(i)` gives
      image i, normalised, as `[F, F, 3]` in that frame (for pictures, so
      built only when asked for).
    """
    import tensorflow as tf

    from has_tf import models
    from has_tf import postprocess

    if protocol != "ten_crop":
        out = cam_net(images, training=False)

        def cams_of(classes):
            return models.upsample_cams(
                models.class_cams(out["cams"], classes=classes),
                (size, size)).numpy()

        return out["logits"].numpy(), cams_of, lambda i: images[i].numpy()
    count = images.shape[0]
    flat = tf.reshape(images, (-1, *images.shape[2:]))
    out = cam_net(flat, training=False)
    scores = tf.reduce_mean(tf.reshape(
        tf.nn.softmax(out["logits"]), (count, 10, -1)), axis=1).numpy()

    def frame_of(i):
        crops = images[i].numpy()  # [10, S, S, 3]
        return np.stack([postprocess.merge_ten_crop_cams(crops[..., ch],
                                                         resize_size)
                         for ch in range(3)], axis=-1)

    def cams_of(classes):
        cams = models.upsample_cams(
            models.class_cams(out["cams"], classes=np.repeat(classes, 10)),
            (size, size)).numpy().reshape(count, 10, size, size)
        return np.stack([postprocess.merge_ten_crop_cams(c, resize_size)
                         for c in cams])

    return scores, cams_of, frame_of


def compare(model_dirs) -> str:
    """A table of the headline figures of several evaluated runs.

    Args:
      model_dirs: directories holding `eval/metrics.json`.

    Returns:
      The table as text, one row per metric and one column per run.

    Raises:
      FileNotFoundError: a run has not been evaluated.
    """
    results = []
    for model_dir in model_dirs:
        path = os.path.join(model_dir, "eval", "metrics.json")
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"No evaluation in {model_dir!r}: expected {path} (run "
                "python -m has_tf.evaluate --model_dir=... first).")
        with open(path) as f:
            results.append(json.load(f))
    width = max(14, *(len(d) for d in model_dirs))
    lines = [f"{'':16}" + "".join(f"{d:>{width + 2}}" for d in model_dirs)]
    for key in HEADLINE + ("count",):
        cells = "".join(f"{r[key]:>{width + 2}.4g}" for r in results)
        lines.append(f"{key:16}{cells}")
    return "\n".join(lines)


def run_from_flags(values, model_dir: str):
    """Evaluates `model_dir` as the parsed flags `values` say.

    Image datasets go to `evaluate`, video-feature datasets to
    `has_tf.evaluate_temporal`.

    Returns:
      `(result dict, printable summary)`.
    """
    import has_tf.datasets

    v = {name: values[name].value for name in values}
    name = v["dataset"]
    if has_tf.datasets.is_temporal(name):
        from has_tf import evaluate_temporal

        result = evaluate_temporal.evaluate_temporal(
            model_dir, name, v["eval_split"], v["data_dir"], v["manual_dir"],
            v["eval_batch_size"], v["max_images"], v["tcam_threshold"],
            v["class_threshold"], v["segment_score"], v["nms_iou"],
            v["num_plots"], v["test_list"])
        return result, evaluate_temporal.headline(result)
    result = evaluate(
        model_dir, name, v["eval_split"], v["data_dir"], v["manual_dir"],
        v["protocol"], v["cam_threshold"], v["threshold_step"],
        v["eval_batch_size"], v["max_images"], v["num_pictures"])
    figures = ", ".join(f"{k} {result[k]:.3f}" for k in HEADLINE)
    return result, f"{result['count']} images: {figures}"


def main(argv):
    del argv
    if shared_flags.COMPARE.value:
        try:
            print(compare(shared_flags.COMPARE.value))
        except FileNotFoundError as error:
            raise app.UsageError(str(error)) from None
        return
    model_dir = shared_flags.MODEL_DIR.value
    if not model_dir:
        raise app.UsageError("--model_dir is required.")
    try:
        _, text = run_from_flags(flags.FLAGS, model_dir)
    except (FileNotFoundError, ValueError) as error:
        raise app.UsageError(str(error)) from None
    print(text)
    print(f"Metrics and pictures in {os.path.join(model_dir, 'eval')}")


if __name__ == "__main__":
    app.run(main)
