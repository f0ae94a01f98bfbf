"""has_tf's words for its choices: every option's allowed values, once.

One word names one thing across the project (the layer that owns a list
re-exports it under the same name, and `tests/test_vocabulary.py` checks
that owner and list agree):

- `EVAL_CROPS`: how evaluation crops an image (`--eval_crop`);
  `TRAIN_CROPS`: the training crop (`--crop`).
- "protocol" is a set of scoring rules, never a crop: `BOX_PROTOCOLS`
  for boxes (MaxBoxAcc, PxAP; `--box_protocol` of `evaluate_cams`),
  `MAP_PROTOCOLS` for temporal mAP.
- "normalization" is the input's mean/std (`NORMALIZATIONS`,
  `--normalization`); "cam_normalization" how a CAM is scaled before it
  is thresholded (`CAM_NORMALIZATIONS`).
- "run_info" is a run's record (`run_info.json`).
- The two tasks pair in every layer: `images` / `videos` in, `boxes` /
  `segments` out (`TASKS` names the tasks).

Plain Python: importing it (and `has_tf.config`, which reads it) loads no
TensorFlow.
"""

from __future__ import annotations

# The tasks (`has_tf.tasks`), by the name runs record.
TASKS = ("image_localization", "action_localization", "box_regression")

# Global pooling of the image classifiers: GAP, or the GMP ablation.
POOLINGS = ("avg", "max")
# The action network's pooling over time and its loss.
TEMPORAL_POOLINGS = ("max_features", "max", "topk", "avg")
TEMPORAL_LOSSES = ("softmax", "sigmoid")

# Input pipelines (`has_tf.input_pipeline.images`).
TRAIN_CROPS = ("resize_crop", "random_resized")
EVAL_CROPS = ("center_crop", "ten_crop", "resize")
RESIZE_METHODS = ("antialias", "bilinear")
# The input normalisation (and the hidden pixels' fill): the training
# split's mean/std, ImageNet's, or what the pretrained weights of
# `--init_from` were trained with (`has_tf.models.pretrained`).
NORMALIZATIONS = ("dataset", "imagenet", "weights")
# ImageNet's mean and std in pixel units (torchvision's 0.485, 0.456,
# 0.406 / 0.229, 0.224, 0.225 times 255), RGB.
IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)
# Weight decay: Keras's decoupled `w -= lr * wd * w`, or L2 added to the
# gradient (PyTorch's and Torch7's SGD; `has_tf.training.optimizers`).
WEIGHT_DECAY_TYPES = ("decoupled", "l2")
# The optimizer: SGD with momentum (the paper's, wsolevaluation's) or
# AdamW (timm's, which the transformer methods train with).
OPTIMIZERS = ("sgd", "adamw", "adam")
# How training resamples a video to F steps, and keeps its features.
VIDEO_SAMPLINGS = ("uniform", "random_perturb")
# DELU's evidential loss (`models.delu`): THUMOS14's, ActivityNet's.
DELU_EDL_LOSSES = ("log", "mse")
VIDEO_CACHES = ("memory", "memory_float16", "none")
# Where images are hidden: the tf.data pipeline, or the model's first op.
HIDE_ON = ("host", "device")

# Post-processing (`has_tf.postprocess`).
CAM_NORMALIZATIONS = ("max", "minmax")
CONNECTIVITIES = (8, 4)
SEGMENT_SCORES = ("mean", "outer_inner")
# T-CAM -> segments as each method's code does it (`postprocess.presets`).
POSTPROCESS_PRESETS = (
    "has_paper",
    "stpn",
    "wtalc",
    "basnet",
    "cola",
    "co2",
    "aicl",
    "delu",
)

# Scoring rules (`has_tf.metrics`).
BOX_PROTOCOLS = ("has_tf", "wsolevaluation")
# What map a class's box is drawn from (`--localization_map`): its CAM,
# or the first principal component of the CAM head's features
# (`postprocess.pc1`).
LOCALIZATION_MAPS = ("cam", "pc1")
# The paper protocol's box from a map, as each method's code draws it
# (`postprocess.box_rules`; `--box_rule`, `Method.box_rule`).
BOX_RULES = ("paper", "cams_deit", "sat_evaluator")
# `--box_rule`: "method" takes the run's method's own rule.
BOX_RULE_CHOICES = ("method", *BOX_RULES)
MAP_PROTOCOLS = ("thumos14", "activitynet")
# Which weights `python -m has_tf.evaluate --checkpoint` scores: the
# final model, or the checkpoint best on a selection split.
CHECKPOINTS = ("last", "best")
# How `python -m has_tf.pseudo_labels` draws a split's pseudo-labels: the
# run's rule at --cam_threshold, at the threshold best on a selection
# split's boxes, or PSOL's DDT boxes from the features.
PSEUDO_RULES = ("threshold", "best_threshold", "ddt")

# How training is spread and its dtype policy (Keras's names).
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
