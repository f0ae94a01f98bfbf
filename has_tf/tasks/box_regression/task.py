"""`BoxRegression`: the box regressor's contract (`tasks.base.Task`):
training on a pseudo-label file, serving, evaluation, headline figures."""

from __future__ import annotations

import os

import keras
import tensorflow as tf
from absl import logging

from has_tf import datasets
from has_tf.input_pipeline import box_regression as box_pipeline
from has_tf.metrics import pseudo_label_files
from has_tf.models import box_regressor
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import fingerprint
from has_tf.tasks.base import load_run
from has_tf.tasks.base import progress_scorers
from has_tf.tasks.base import score
from has_tf.tasks.base import write_metrics
from has_tf.tasks.box_regression.scoring import HEADLINE
from has_tf.tasks.box_regression.scoring import BoxScorer
from has_tf.tasks.box_regression.scoring import BoxStep
from has_tf.tasks.image_localization import predictions
from has_tf.tasks.image_localization.batches import eval_batches
from has_tf.tasks.image_localization.batches import images_to_score
from has_tf.tasks.image_localization.model import build_model
from has_tf.tasks.image_localization.model import initial_weights
from has_tf.tasks.image_localization.model import normalization
from has_tf.tasks.image_localization.model import resolve
from has_tf.training import serving


def _fail(flag, message, value):
    raise ValueError(f"--{flag}: {message} Received: {value!r}")


def read_pseudo_boxes(config, builder, num_classes: int):
    """The run's pseudo-label file, checked against the training split.

    A file written with `--max_images` labels the split's first images:
    the run trains on those (logged). Any other file with fewer images
    than the split is refused.

    Raises:
      ValueError: naming --pseudo_labels: no such file, a bad line, a file
        of another dataset or split, or one with fewer images than the
        split.
    """
    path = config.pseudo_labels
    pseudo = pseudo_label_files.read_for(
        path, "pseudo_labels", config.dataset, config.train_split, num_classes
    )
    count = builder.info.splits[config.train_split].num_examples
    if len(pseudo.items) < count and not pseudo.provenance.get("max_images"):
        _fail(
            "pseudo_labels",
            f"the file has boxes of {len(pseudo.items)} images, the split "
            f"{count}.",
            path,
        )
    if len(pseudo.items) < count:
        logging.warning(
            "--pseudo_labels=%s labels the first %d of the split's %d "
            "images (written with --max_images): training on those.",
            path,
            len(pseudo.items),
            count,
        )
    return pseudo


class BoxRegression:
    """PSOL's class-agnostic box regressor (module docstring)."""

    name = "box_regression"
    inputs = "images"
    pseudo_kind = "boxes"

    def resolve(self, config):
        """The image task's resolution (the model checked); the regressor
        trains on boxes, with no method of a CAM classifier."""
        method = resolve(config)
        if method.name != "cam":
            _fail(
                "method",
                "the box regressor (--pseudo_labels) trains on boxes: no "
                "hiding or method of a CAM classifier (use --method=cam, "
                "--patch_sizes= empty).",
                method.name,
            )
        return method

    def training(self, config, dataset, builder) -> TrainingSetup:
        del dataset  # Read again in the split's order: the file's keys.
        method = self.resolve(config)
        num_classes = builder.info.features["label"].num_classes
        pseudo = read_pseudo_boxes(config, builder, num_classes)
        init = initial_weights(config)
        run_info = normalization(config, builder, init)
        if init:
            run_info["init_from"] = init
        ordered, _ = datasets.load(
            config.dataset,
            config.train_split,
            config.data_dir,
            config.manual_dir,
            decode_images=False,
        )
        # The file's images: the split's first (all, or --max_images').
        ordered = (
            ordered.enumerate()
            .map(lambda i, example: {**example, "index": i})
            .take(len(pseudo.items))
        )
        boxes = {key: value[0] for key, value in pseudo.items.items()}

        def inputs(context, start_step=0):
            return box_pipeline.train_pipeline(
                ordered,
                boxes,
                context.get_per_replica_batch_size(config.batch_size),
                config.image_size,
                seed=config.pipeline_seed,
                input_context=context,
                start_batch=start_step,
            )

        return TrainingSetup(
            num_examples=len(pseudo.items),
            run_info={
                **run_info,
                "image_size": config.image_size,
                "num_classes": num_classes,
                "model": config.model,
                "box_features": {
                    "layer": config.box_features or "the CAM head's input",
                    "pool": config.box_features_pool,
                },
                "method": method.record(config),
                "pseudo_labels": {
                    "path": os.path.abspath(config.pseudo_labels),
                    "sha256": fingerprint(config.pseudo_labels),
                    "provenance": pseudo.provenance,
                    "images": len(pseudo.items),
                },
            },
            inputs=inputs,
            build_model=lambda: box_regressor.box_regressor(
                build_model(config, num_classes, run_info, method),
                seed=config.seed,
                features_layer=config.box_features,
                features_pool=config.box_features_pool,
            ),
            loss=box_regressor.box_loss,
            metrics=[
                keras.metrics.MeanMetricWrapper(
                    box_regressor.box_accuracy, name="accuracy"
                )
            ],
            callbacks=lambda model, out_dir: [],
            new_layers=box_regressor.HEAD_LAYERS,
        )

    def serving(self, model, run_info: dict) -> serving.Signature:
        side = run_info["image_size"]
        corners = keras.layers.Lambda(box_regressor.to_corners, name="corners")
        return serving.Signature(
            net=keras.Model(model.inputs, {"boxes": corners(model.output)}),
            input_spec=tf.TensorSpec([None, side, side, 3], tf.uint8),
            preprocess=tf.identity,  # The model normalises.
        )

    def evaluate(
        self, model_dir: str, config, out_dir=None, progress=False
    ) -> dict:
        """Scores the regressor's boxes; returns and writes the metrics.

        Returns:
          A dict: "task", "gt_known_loc" and, with `--classes_from`,
          "top1_loc", "top5_loc", "top1_cls", "top5_cls" (fractions in
          [0, 1]); "count", "skipped_without_boxes", "eval_crop",
          "protocols", "paper" (with per-class figures).

        Raises:
          ValueError: naming --eval_crop for ten_crop (one box per image).
        """
        if config.eval_crop == "ten_crop":
            _fail(
                "eval_crop",
                "the regressor gives one box per crop; PSOL scores its box "
                "on the centre crop (center_crop).",
                config.eval_crop,
            )
        model, run_info = load_run(model_dir)
        out_dir = out_dir or os.path.join(model_dir, "eval")
        os.makedirs(out_dir, exist_ok=True)
        builder, batches = eval_batches(config, run_info, normalize=False)
        num_classes = builder.info.features["label"].num_classes
        if run_info["num_classes"] != num_classes:
            raise ValueError(
                f"--model_dir={model_dir} was trained on a dataset of "
                f"{run_info['num_classes']} classes, but --dataset="
                f"{config.dataset} has {num_classes}."
            )
        classes, classes_record = predictions.classes_source(
            config, num_classes
        )
        step = BoxStep(model, run_info["image_size"])
        scorer = BoxScorer(classes)
        score(
            batches,
            step,
            [
                scorer,
                *progress_scorers(
                    progress, images_to_score(builder, config), "images"
                ),
            ],
        )
        if classes is not None and not (
            config.max_images or config.samples_per_class
        ):
            classes.unknown(step.seen)
        paper = scorer.result()
        figures = {k: paper[k] for k in HEADLINE if k in paper}
        result = {
            "task": self.name,
            **figures,
            "count": paper["count"],
            "skipped_without_boxes": step.without_boxes,
            "eval_crop": config.eval_crop,
            **({"classes_from": classes_record} if classes_record else {}),
            "protocols": dict.fromkeys(
                figures,
                "paper: the regressor's one box per image, IoU >= 0.5 "
                "(continuous boxes); Top-k with --classes_from's classes",
            ),
            "paper": paper,
        }
        write_metrics(out_dir, result)
        return result

    def pseudo_labels(self, model_dir, config, rule, **kwargs):
        """Refused: a regressor's boxes are its predictions, scored by
        `evaluate`; pseudo-labels come from a map."""
        raise ValueError(
            f"--model_dir={model_dir} holds a box regressor: pseudo-labels "
            "come from a CAM run's maps."
        )

    def headline(self, result: dict) -> str:
        figures = self.figures(result)
        text = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        return f"{result['count']} images: {text}"

    def figures(self, result: dict) -> dict:
        return {key: result[key] for key in HEADLINE if key in result}
