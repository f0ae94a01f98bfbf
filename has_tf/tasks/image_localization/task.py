"""`ImageLocalization`: the image task's contract (`tasks.base.Task`):
training setup, serving, evaluation, headline figures."""

from __future__ import annotations

import os

import tensorflow as tf

from has_tf import datasets
from has_tf import methods
from has_tf import models
from has_tf.input_pipeline import images as image_pipeline
from has_tf.tasks.base import TrainingSetup
from has_tf.tasks.base import check_classes
from has_tf.tasks.base import load_run
from has_tf.tasks.base import progress_scorers
from has_tf.tasks.base import score
from has_tf.tasks.base import write_metrics
from has_tf.tasks.image_localization import predictions
from has_tf.tasks.image_localization import pseudo_labels
from has_tf.tasks.image_localization.batches import eval_batches
from has_tf.tasks.image_localization.batches import images_to_score
from has_tf.tasks.image_localization.callbacks import CamImages
from has_tf.tasks.image_localization.callbacks import fixed_eval_batch
from has_tf.tasks.image_localization.model import build_model
from has_tf.tasks.image_localization.model import initial_weights
from has_tf.tasks.image_localization.model import model_file
from has_tf.tasks.image_localization.model import normalization
from has_tf.tasks.image_localization.model import resolve
from has_tf.tasks.image_localization.model import takes_pixels
from has_tf.tasks.image_localization.scoring import HEADLINE
from has_tf.tasks.image_localization.scoring import ImageStep
from has_tf.tasks.image_localization.scoring import OverlayScorer
from has_tf.tasks.image_localization.scoring import PaperScorer
from has_tf.tasks.image_localization.scoring import ThresholdFreeScorer
from has_tf.tasks.image_localization.scoring import box_rule
from has_tf.training import serving
from has_tf.training.losses import soft_crossentropy
from has_tf.training.losses import sparse_crossentropy


class ImageLocalization:
    """CAM classifiers on image datasets (module docstring)."""

    name = "image_localization"
    inputs = "images"
    pseudo_kind = "boxes"

    def resolve(self, config) -> methods.Method:
        """The run's method, checked with its model (`resolve`)."""
        return resolve(config)

    def training(self, config, dataset, builder) -> TrainingSetup:
        method = self.resolve(config)
        num_classes = builder.info.features["label"].num_classes
        init = initial_weights(config)
        run_info = normalization(config, builder, init)
        if init:
            run_info["init_from"] = init
        # Every builder's model takes uint8 pixels; a model file, what it
        # was built to take.
        pixels = config.model in models.IMAGE_MODELS or takes_pixels(
            model_file(config.model, num_classes, config.image_size)
        )

        augmentation = image_pipeline.ImageAugmentation(
            image_size=config.image_size,
            resize_size=config.resize_size,
            crop=config.crop,
            resize_method=config.resize_method,
            # Nothing is hidden or mixed unless the method says so.
            **{"patch_sizes": None, **method.pipeline(config)},
        )

        def inputs(context, start_step=0):
            data = image_pipeline.train_pipeline(
                dataset,
                context.get_per_replica_batch_size(config.batch_size),
                augmentation,
                mean=run_info["mean"],
                std=run_info["std"],
                normalize=not pixels,
                num_classes=num_classes,
                seed=config.pipeline_seed,
                input_context=context,
                start_batch=start_step,
            )
            if method.labels_in:
                # The model takes the true classes too (ACoL erases by them).
                data = data.map(
                    lambda images, labels: (
                        (images, tf.cast(labels, tf.int32)),
                        labels,
                    )
                )
            return data

        def callbacks(model, out_dir):
            if not config.tensorboard_images:
                return []
            images, labels = fixed_eval_batch(
                config, run_info, normalize=not takes_pixels(model)
            )
            return [
                CamImages(
                    model,
                    images,
                    labels,
                    os.path.join(out_dir, "tensorboard", "cams"),
                    run_info["mean"],
                    run_info["std"],
                )
            ]

        return TrainingSetup(
            num_examples=builder.info.splits[config.train_split].num_examples,
            run_info={
                **run_info,
                "image_size": config.image_size,
                "num_classes": num_classes,
                "model": config.model,
                "method": method.record(config),
            },
            inputs=inputs,
            build_model=lambda: build_model(
                config, num_classes, run_info, method
            ),
            loss=(
                soft_crossentropy if method.soft_labels else sparse_crossentropy
            ),
            metrics=["accuracy"],
            callbacks=callbacks,
        )

    def serving(self, model, run_info: dict) -> serving.Signature:
        side = run_info["image_size"]
        mean = tf.constant(run_info["mean"], tf.float32)
        std = tf.constant(run_info["std"], tf.float32)
        if takes_pixels(model):
            preprocess = tf.identity  # The model normalises.
        else:
            preprocess = lambda pixels: (  # noqa: E731
                (tf.cast(pixels, tf.float32) - mean) / std
            )
        return serving.Signature(
            net=models.images_only(models.cam_model(model)),
            input_spec=tf.TensorSpec([None, side, side, 3], tf.uint8),
            preprocess=preprocess,
        )

    def evaluate(
        self, model_dir: str, config, out_dir=None, progress=False
    ) -> dict:
        """Scores the run; returns and writes the metrics.

        A short pipeline: the split's batches (`eval_batches`) -> one
        inference step per batch (`ImageStep`: class scores and CAMs in
        the boxes' frame) -> the scorers (`PaperScorer`,
        `ThresholdFreeScorer`, `OverlayScorer`), each `update`d with
        every batch's outputs and asked for its `result` at the end.

        Returns:
          A dict with the `HEADLINE` figures (fractions in [0, 1]),
          "task", "count" (images scored), "skipped_without_boxes"
          (images with no ground-truth box, not scored), "cam_threshold",
          "eval_crop", "protocols" (the scoring rules of each figure), and
          the "paper" and "threshold_free" details (per class included).
        """
        model, run_info = load_run(model_dir)
        out_dir = out_dir or os.path.join(model_dir, "eval")
        os.makedirs(out_dir, exist_ok=True)
        pc1_wanted = config.localization_map == "pc1"
        pixels = takes_pixels(model)
        builder, batches = eval_batches(config, run_info, normalize=not pixels)
        num_classes = builder.info.features["label"].num_classes
        check_classes(model, num_classes, model_dir, config.dataset)
        classes, classes_record = predictions.classes_source(
            config, num_classes
        )
        step = ImageStep(
            models.cam_model(model, features=pc1_wanted),
            config.eval_crop,
            run_info["image_size"],
            config.resize_size,
            config.localization_map,
            classes,
        )
        rule = box_rule(config, run_info)
        paper = PaperScorer(config.cam_threshold, rule)
        free = ThresholdFreeScorer(
            config.threshold_step,
            config.box_protocol,
            config.iou_thresholds,
            workers=config.workers,
        )
        pictures = OverlayScorer(
            out_dir,
            config.num_pictures,
            config.cam_threshold,
            run_info,
            pixels=pixels,
        )
        written = predictions.PredictionsScorer(out_dir)
        with free.scoring:  # Its worker processes stop on any exit.
            try:
                score(
                    batches,
                    step,
                    [
                        paper,
                        free,
                        pictures,
                        written,
                        *progress_scorers(
                            progress, images_to_score(builder, config), "images"
                        ),
                    ],
                )
            except tf.errors.InvalidArgumentError as error:
                raise datasets.decode_error(
                    config.dataset,
                    config.eval_split,
                    config.data_dir,
                    config.manual_dir,
                    error,
                ) from error
            result_paper, result_free = paper.result(), free.result()
        if classes is not None and not (
            config.max_images or config.samples_per_class
        ):
            classes.unknown(step.seen)  # The whole split: no line left.
        result = {
            "task": self.name,
            **{k: result_paper[k] for k in PaperScorer.FIGURES},
            "max_box_acc": result_free.get("max_box_acc", 0.0),
            "max_box_acc_v2": result_free["max_box_acc_v2"],
            **({"pxap": result_free["pxap"]} if "pxap" in result_free else {}),
            "count": result_paper["count"],
            "skipped_without_boxes": step.without_boxes,
            "cam_threshold": config.cam_threshold,
            "eval_crop": config.eval_crop,
            "box_rule": rule,
            "localization_map": config.localization_map,
            **written.result(),
            **({"classes_from": classes_record} if classes_record else {}),
            # The scoring rules of each figure.
            "protocols": {
                **dict.fromkeys(
                    PaperScorer.FIGURES,
                    f"paper at cam_threshold, box rule {rule}: "
                    + paper.rule.summary,
                ),
                **dict.fromkeys(
                    ("max_box_acc", "max_box_acc_v2", "pxap"),
                    f"threshold-free, {result_free['protocol']} rules",
                ),
            },
            "paper": result_paper,
            "threshold_free": result_free,
        }
        write_metrics(out_dir, result)
        return result

    def pseudo_labels(self, model_dir, config, rule, **kwargs):
        """One box per image of the split (`pseudo_labels.pseudo_boxes`)."""
        return pseudo_labels.pseudo_boxes(model_dir, config, rule, **kwargs)

    def headline(self, result: dict) -> str:
        figures = self.figures(result)
        text = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        return f"{result['count']} images: {text}"

    def figures(self, result: dict) -> dict:
        figures = {key: result[key] for key in HEADLINE}
        if "pxap" in result:
            figures["pxap"] = result["pxap"]
        return figures
