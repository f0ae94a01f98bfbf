"""Weakly-supervised object localization: CAM classifiers on images.

Training: `input_pipeline.images.train_pipeline` (crop, flip, Hide-and-Seek per
batch on the host, uint8 out) into an image classifier of `has_tf.models` that
takes uint8 pixels and normalises them in its first op (hiding there too with
`--hide_on=device`), with sparse softmax cross-entropy: one input contract for
training, evaluation and serving. A run records its normalisation (the mean is
also the fill of pixels hidden on the host), input side, classes and model.
Runs whose model takes float images normalised on the host (has_tf 0.2, or a
float-input `--model` file) get them: `takes_pixels`.

Evaluation (`ImageLocalization.evaluate`, a pipeline of small scorers):
`input_pipeline.images.eval_pipeline` -> `models.cam_model` -> CAMs of the true
and top-5 classes at image size -> `postprocess.boxes.cam_to_box` -> both
protocols of `has_tf.metrics.boxes`: the paper's (Top-1 Loc, GT-known Loc, Top-1
Clas at `cam_threshold`) and the threshold-free one (MaxBoxAcc, MaxBoxAccV2). It
streams over the split (memory stays flat) and writes `eval/metrics.json`
(fractions in [0, 1]) and overlay pictures.

Modules, one job each: `model` (the method and model checked, the
classifier built), `callbacks` (TensorBoard CAMs), `scoring` (evaluation:
`ImageOutputs`, the scorers, `predict_cams`) and `task`
(`ImageLocalization`, the `tasks.base.Task` contract).
"""

from has_tf.tasks.image_localization.batches import first_per_class
from has_tf.tasks.image_localization.callbacks import CamImages
from has_tf.tasks.image_localization.model import build_model
from has_tf.tasks.image_localization.model import initial_weights
from has_tf.tasks.image_localization.model import model_file
from has_tf.tasks.image_localization.model import normalization
from has_tf.tasks.image_localization.model import resolve
from has_tf.tasks.image_localization.model import takes_pixels
from has_tf.tasks.image_localization.scoring import HEADLINE
from has_tf.tasks.image_localization.scoring import ImageOutputs
from has_tf.tasks.image_localization.scoring import OverlayScorer
from has_tf.tasks.image_localization.scoring import PaperScorer
from has_tf.tasks.image_localization.scoring import ThresholdFreeScorer
from has_tf.tasks.image_localization.scoring import predict_cams
from has_tf.tasks.image_localization.scoring import score_batch
from has_tf.tasks.image_localization.task import ImageLocalization
from has_tf.training.losses import soft_crossentropy
from has_tf.training.losses import sparse_crossentropy

__all__ = [
    "HEADLINE",
    "CamImages",
    "ImageLocalization",
    "ImageOutputs",
    "OverlayScorer",
    "PaperScorer",
    "ThresholdFreeScorer",
    "build_model",
    "first_per_class",
    "initial_weights",
    "model_file",
    "normalization",
    "predict_cams",
    "resolve",
    "score_batch",
    "soft_crossentropy",
    "sparse_crossentropy",
    "takes_pixels",
]
