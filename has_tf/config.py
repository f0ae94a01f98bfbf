"""The configuration of the apps: every option defined once, here.

`TrainConfig` (what `python -m has_tf.train` runs) and `EvalConfig` (what
`python -m has_tf.evaluate` scores) are dataclasses; the command-line
flags are generated from their fields, so a field's default, help, choices
and bounds are written once and the flags, the dataclasses and their
checks all read them. Both apps define the same flags, so one flagfile
drives training and evaluation and a process may import both apps. Fields
both apps read (the data, the run's directory, the resize) live in
`RunConfig`, which both configs extend.

Flag names reuse the library's argument names; choice lists come from the
modules that own them (`has_tf.models`, `has_tf.input_pipeline`,
`has_tf.postprocess.segments`).

    config = train_config_from_flagfile("flags/quickstart.cfg", epochs=1)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import textwrap

from absl import flags

from has_tf import _checks
from has_tf import methods
from has_tf import vocabulary

STRATEGIES = vocabulary.STRATEGIES
# Keras dtype policies.
PRECISIONS = vocabulary.PRECISIONS
# Which task reads an option: both, or one of them.
TASK_GROUPS = ("both tasks", "images", "videos")

__all__ = [
    "EvalConfig",
    "RunConfig",
    "check_flagfiles",
    "TrainConfig",
    "define_flags",
    "eval_config",
    "read_flagfile",
    "train_config",
    "train_config_from_flagfile",
]


def _option(
    default,
    help_text: str,
    *,
    choices=None,
    lower=None,
    upper=None,
    lower_open=False,
    upper_open=False,
    item=None,
    shapes_run=True,
    task="both tasks",
):
    """A config field: its default and what its flag says and accepts.

    Args:
      default: the default (a tuple for list-valued options).
      help_text: the flag's help.
      choices: the allowed values, if a fixed list.
      lower, upper: inclusive bounds of a number (`lower_open`,
        `upper_open`: exclusive); of every item for list-valued options.
      item: `int` or `float`, the item type of a list-valued option.
      shapes_run: whether the option changes what training computes (a
        restart must match the recorded value, `has_tf.training.run_dir`); False
        for where data lives, logging and how the work is spread.
    """
    return dataclasses.field(
        default=default,
        metadata=dict(
            help=help_text,
            choices=choices,
            lower=lower,
            upper=upper,
            lower_open=lower_open,
            upper_open=upper_open,
            item=item,
            shapes_run=shapes_run,
            task=task,
        ),
    )


@dataclasses.dataclass
class RunConfig:
    """What training and evaluation both read: the data and the run."""

    model_dir: str | None = _option(
        None,
        "The run's directory (written by train, read by evaluate).",
        shapes_run=False,
    )
    dataset: str = _option(
        "synthetic_parts",
        "has_tf dataset name, optionally with a config (synthetic_parts/tiny).",
    )
    data_dir: str | None = _option(
        None, "TFDS data directory.", shapes_run=False
    )
    manual_dir: str | None = _option(
        None, "Manual download directory (ILSVRC, THUMOS14).", shapes_run=False
    )
    eval_split: str = _option(
        "test",
        "TFDS split to score (train logs CAMs of its first images).",
        shapes_run=False,
    )
    resize_size: int = _option(
        256,
        "Square resize before the crop (training's resize_crop; "
        "evaluation's center_crop and ten_crop).",
        lower=8,
        task="images",
    )
    plugins: tuple = _option(
        (),
        "Modules to import first, e.g. my_lab.my_method: each registers "
        "methods (has_tf.methods.register) or models of its own. A run "
        "records them; evaluation and restarts import them again.",
        item=str,
        shapes_run=False,
    )
    resize_method: str = _option(
        "antialias",
        "Image resize kernel: antialias (bilinear widened when shrinking, "
        "as PIL/torchvision) or bilinear (no widening: faster on the host, "
        "aliases when shrinking over ~2x). See input_pipeline.",
        choices=vocabulary.RESIZE_METHODS,
        task="images",
    )

    def __post_init__(self):
        _check_fields(self)
        methods.load_plugins(self.plugins)


def _method_options_as_keywords(config_class):
    """Lets `config_class(...)` take the methods' own options as keywords
    (`TrainConfig(method=name, <option>=value)`), into
    `method_options`."""
    generated = config_class.__init__

    @functools.wraps(generated)
    def __init__(self, *args, **kwargs):
        names = {option.name for option in methods.options()}
        options = dict(kwargs.pop("method_options", None) or {})
        for name in [k for k in kwargs if k in names]:
            options[name] = kwargs.pop(name)
        generated(self, *args, method_options=options, **kwargs)

    config_class.__init__ = __init__
    return config_class


@_method_options_as_keywords
@dataclasses.dataclass
class TrainConfig(RunConfig):
    """Everything a training run needs (`has_tf.train.train`)."""

    train_split: str = _option("train", "TFDS split to train on.")
    model: str = _option(
        "small_gap",
        "The image classifier: a name in has_tf.models.table (small_gap, "
        "alexnet_gap, googlenet_gap, vgg16_cam, resnet50_cam, "
        "inception_v3_cam; a plugin's own), or a .keras file of a CAM "
        "classifier on any backbone "
        "(has_tf.cam_classifier; its own head is used, so --pooling and "
        "--dropout_rate do not apply).",
        task="images",
    )
    pooling: str = _option(
        "avg",
        "Global pooling: GAP or the GMP ablation.",
        choices=vocabulary.POOLINGS,
        task="images",
    )
    dropout_rate: float = _option(
        0.0,
        "Dropout before the classifier (inception_v3_cam: its head's three "
        "dropouts, 0.5 in wsolevaluation and in its recipes here).",
        lower=0.0,
        upper=1.0,
        upper_open=True,
    )
    dropout_at_test: bool = _option(
        False,
        "Keep --dropout_rate's dropout active at evaluation too (the "
        "paper's dropout-traintest baseline, Table 3).",
        task="images",
    )
    large_feature_map: bool = _option(
        False,
        "vgg16_cam, resnet50_cam, inception_v3_cam: one downsampling less "
        "(a 28x28 CAM at 224 instead of 14x14), wsolevaluation's option.",
        task="images",
    )
    image_size: int = _option(
        224, "Training crop side.", lower=8, task="images"
    )
    crop: str = _option(
        "resize_crop",
        "Training crop.",
        choices=vocabulary.TRAIN_CROPS,
        task="images",
    )
    method: str = _option(
        "auto",
        "The method (has_tf.methods). Images: cam (no hiding), has "
        "(Hide-and-Seek, --patch_sizes), and as wsolevaluation runs them "
        "cutmix (--cutmix_beta, --cutmix_prob), adl (--adl_drop_rate, "
        "--adl_threshold), acol (--acol_threshold); methods other than has "
        "hide nothing (leave --patch_sizes at its default or empty). "
        "Videos: cam, has (--segment_size). auto: has when something is "
        "hidden, else cam. A method of your own: --plugins.",
    )
    method_options: dict = dataclasses.field(
        default_factory=dict,
        metadata=dict(
            flag=False,
            help="The methods' own options (has_tf.methods.Option), by "
            "name; read as attributes (config.cutmix_beta).",
            task="both tasks",
            shapes_run=True,
        ),
    )
    patch_sizes: tuple = _option(
        (0, 16, 32, 44, 56),
        "Hide-and-Seek patch sizes (0 = hide nothing); empty: no hiding.",
        item=int,
        lower=0,
        task="images",
    )
    hide_prob: float = _option(
        0.5, "Probability of hiding a cell.", lower=0.0, upper=1.0
    )
    hide_on: str = _option(
        "host",
        "Where images are hidden: host (the tf.data pipeline, on uint8 "
        "pixels) or device (the model's first op, on normalised images: "
        "the host does no per-pixel hiding work; for GPU/TPU).",
        choices=vocabulary.HIDE_ON,
        task="images",
    )
    conv1_patch_sizes: tuple = _option(
        (),
        "Hide patches of this many conv1 cells (the paper's conv1 "
        "ablation: 5 or 11 on AlexNet's 55x55 conv1); empty: off. "
        "alexnet_gap, small_gap.",
        item=int,
        lower=0,
        task="images",
    )
    conv1_hide_prob: float = _option(
        0.5,
        "Hiding probability of the conv1 cells.",
        lower=0.0,
        upper=1.0,
        task="images",
    )
    normalization: str = _option(
        "dataset",
        "Mean/std (and fill) from the training split, ImageNet's, or the "
        "ones --init_from's weights were trained with.",
        choices=vocabulary.NORMALIZATIONS,
        task="images",
    )
    batch_size: int = _option(64, "Global batch size.", lower=1)
    epochs: int = _option(10, "Epochs.", lower=1)
    steps_per_epoch: int = _option(
        0, "Steps per epoch; 0: the split's size / batch.", lower=0
    )
    learning_rate: float = _option(0.01, "Initial learning rate.", lower=0.0)
    lr_boundaries: tuple = _option(
        (0.5, 0.75),
        "The paper's step schedule: increasing fractions of "
        "training where the rate is multiplied by --lr_decay (1e-2 -> 1e-3 "
        "-> 1e-4 by default).",
        item=float,
        lower=0.0,
        upper=1.0,
        lower_open=True,
        upper_open=True,
    )
    lr_decay: float = _option(0.1, "Step factor.", lower=0.0)
    momentum: float = _option(
        0.9, "SGD momentum.", lower=0.0, upper=1.0, upper_open=True
    )
    nesterov: bool = _option(False, "Nesterov momentum (wsolevaluation's).")
    weight_decay: float = _option(5e-4, "Weight decay.", lower=0.0)
    weight_decay_type: str = _option(
        "decoupled",
        "decoupled: Keras's SGD (w -= lr * wd * w beside the update); l2: "
        "PyTorch's and Torch7's SGD (wd * w added to the gradient before "
        "momentum), the update wsolevaluation's figures were trained with.",
        choices=vocabulary.WEIGHT_DECAY_TYPES,
    )
    lr_multiplier: float = _option(
        1.0,
        "Learning-rate factor of the layers the classifier adds to its "
        "backbone (the CAM convs and the classifier; ResNet50-CAM's layer4 "
        "too, as wsolevaluation groups them); its recipes use 10.",
        lower=0.0,
        lower_open=True,
        task="images",
    )
    init_from: str = _option(
        "",
        "Initial weights: a pretrained weights file for vgg16_cam, "
        "resnet50_cam or inception_v3_cam (torchvision/timm .safetensors or "
        "a keras.applications .h5; has_tf.models.pretrained), or a has_tf "
        "run directory (its model.keras: every layer of the same name and "
        "shape, e.g. CUB from an ILSVRC run). Empty: random.",
        task="images",
    )
    seed: int = _option(0, "Seed of every random draw.")
    deterministic: bool = _option(
        False,
        "Reproducible on one machine and TensorFlow build: TensorFlow's op "
        "determinism on top of the seeds (slower on accelerators).",
    )
    strategy: str = _option(
        "default",
        "tf.distribute strategy.",
        choices=STRATEGIES,
        shapes_run=False,
    )
    mixed_precision: str = _option(
        "float32", "Keras dtype policy.", choices=PRECISIONS
    )
    jit_compile: bool = _option(
        False, "Compile the step with XLA.", shapes_run=False
    )
    data_service: str = _option(
        "",
        "grpc://host:port of a tf.data service dispatcher: the input "
        "pipeline runs on its workers (has_tf.data_service; image "
        "datasets; the input order is then not repeatable). Empty: local.",
        shapes_run=False,
    )
    checkpoint_steps: int = _option(
        0,
        "Checkpoint every this many steps (0: each epoch); a killed run "
        "resumes from the last one.",
        lower=0,
    )
    tensorboard_images: int = _option(
        8,
        "CAMs of this many fixed --eval_split images logged to "
        "TensorBoard after every checkpoint interval; 0 logs none.",
        lower=0,
        shapes_run=False,
        task="images",
    )
    overwrite: bool = _option(
        False,
        "Start over in a --model_dir that holds a run with other training "
        "options (deleting it); without it such a restart refuses.",
        shapes_run=False,
    )
    num_steps: int = _option(
        2000,
        "F_total: steps every video is resampled to (the paper: 2000).",
        lower=1,
        task="videos",
    )
    segment_size: int = _option(
        100,
        "F_segment: steps per hidden segment (the paper: 100); 0 turns "
        "hiding off.",
        lower=0,
        task="videos",
    )
    video_sampling: str = _option(
        "uniform",
        "How training draws --num_steps steps of a video each epoch: "
        "uniform (the paper; evaluation always does) or random_perturb "
        "(BaS-Net / CoLA: a random step per slice; their recipes use 750).",
        choices=vocabulary.VIDEO_SAMPLINGS,
        task="videos",
    )
    video_cache: str = _option(
        "memory",
        "How training keeps each video's own features between epochs: "
        "memory (float32), memory_float16 (half the bytes, rounded) or "
        "none (re-read from the dataset each epoch).",
        choices=vocabulary.VIDEO_CACHES,
        task="videos",
    )
    temporal_pooling: str = _option(
        "max_features",
        "Pooling over time (the paper: max over features; "
        "topk: mean of the T/8 largest T-CAM values).",
        choices=vocabulary.TEMPORAL_POOLINGS,
        task="videos",
    )
    temporal_loss: str = _option(
        "softmax",
        "softmax (the paper; multi-hot labels scaled to sum 1) "
        "or sigmoid (multi-label).",
        choices=vocabulary.TEMPORAL_LOSSES,
        task="videos",
    )
    units: int = _option(
        500, "Width of the temporal convs.", lower=1, task="videos"
    )
    temporal_kernel_size: int = _option(
        1,
        "Width of the temporal convs in steps, odd (the paper: 1; BaS-Net "
        "and CoLA embed with 3).",
        lower=1,
        task="videos",
    )
    temporal_attention: bool = _option(
        False,
        "Add a foreground-attention branch that weights the features "
        "before the classifier (STPN, BaS-Net's filter, CO2-Net); the "
        "stpn and co2 post-processing use it.",
        task="videos",
    )
    temporal_background: bool = _option(
        False,
        "BaS-Net's background class and suppression: two branches through "
        "one classifier of N + 1 classes, the base one on the features, "
        "the suppressed one weighted by the attention (needs "
        "--temporal_attention), trained with BaS-Net's loss.",
        task="videos",
    )
    attention_l1: float = _option(
        0.0,
        "Weight of the attention's sparsity loss (STPN's L1; 1e-4 in "
        "BaS-Net's recipe).",
        lower=0.0,
        task="videos",
    )

    def __post_init__(self):
        super().__post_init__()
        if not self.model_dir:
            _fail("model_dir", "a run needs a directory.", self.model_dir)
        self._check_method_options()
        if self.normalization == "weights" and not self.init_from:
            _fail(
                "normalization",
                "'weights' is the normalisation of --init_from's weights; "
                "--init_from is empty.",
                self.normalization,
            )
        if self.crop == "resize_crop" and self.image_size > self.resize_size:
            _fail(
                "image_size",
                f"the crop is larger than --resize_size={self.resize_size}.",
                self.image_size,
            )
        if list(self.lr_boundaries) != sorted(self.lr_boundaries):
            _fail(
                "lr_boundaries",
                "expected increasing fractions in (0, 1).",
                self.lr_boundaries,
            )
        if self.segment_size > self.num_steps:
            _fail(
                "segment_size",
                f"expected 0 (no hiding) to --num_steps={self.num_steps}.",
                self.segment_size,
            )
        if self.temporal_background and not self.temporal_attention:
            _fail(
                "temporal_background",
                "background suppression weights the features by the "
                "attention: add --temporal_attention.",
                self.temporal_background,
            )
        if self.temporal_background and self.temporal_loss != "softmax":
            _fail(
                "temporal_loss",
                "--temporal_background trains with BaS-Net's own loss "
                "(softmax scores); leave --temporal_loss=softmax.",
                self.temporal_loss,
            )
        if self.temporal_kernel_size % 2 == 0:
            _fail(
                "temporal_kernel_size",
                "expected an odd width (centred windows).",
                self.temporal_kernel_size,
            )
        if self.data_service:
            _checks.grpc_address(self.data_service, "data_service")

    def _check_method_options(self):
        """`method` is auto or registered; `method_options` holds every
        registered method's options (defaults filled in), each checked."""
        if self.method != "auto" and self.method not in methods.names():
            _fail(
                "method",
                f"expected auto or one of {methods.names()} (a method of "
                "your own: --plugins=<its module>).",
                self.method,
            )
        known = {option.name: option for option in methods.options()}
        unknown = sorted(set(self.method_options) - set(known))
        if unknown:
            _fail(
                "method_options",
                f"no registered method has the options {unknown}.",
                self.method_options,
            )
        self.method_options = {
            name: _checked(
                _option_field(option),
                self.method_options.get(name, option.default),
            )
            for name, option in known.items()
        }

    def __getattr__(self, name):
        # The methods' own options read as fields (config.cutmix_beta).
        options = self.__dict__.get("method_options", {})
        if name in options:
            return options[name]
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    @property
    def pipeline_seed(self) -> int | None:
        """The input pipelines' seed: `seed`, or None under tf.data service
        (each worker then draws its own crops and masks; see
        `has_tf.data_service`)."""
        return None if self.data_service else self.seed


def _box_protocol_option():
    """`--box_protocol`, shared by evaluate and evaluate_cams."""
    return _option(
        "has_tf",
        "Threshold-free scoring rules (MaxBoxAcc, MaxBoxAccV2, PxAP): has_tf "
        "(the CAM in the evaluation frame, continuous boxes) or "
        "wsolevaluation (the official tool's: the CAM resized to 224 x 224 "
        "with OpenCV's bicubic rule and min-max normalised, the tool's "
        "integer boxes scaled from the image's size; has_tf.evaluate needs "
        "--eval_crop=resize for it).",
        choices=vocabulary.BOX_PROTOCOLS,
        task="images",
    )


def _iou_thresholds_option():
    """`--iou_thresholds`, shared by evaluate and evaluate_cams."""
    return _option(
        (),
        "IoU thresholds of the scores: MaxBoxAccV2's (images; empty: 0.3, "
        "0.5, 0.7) or temporal mAP's (videos; empty: 0.1 to 0.7 by 0.1; "
        "ActivityNet's 0.5:0.05:0.95 is 0.5,0.55,...,0.95). Averages over "
        "0.1:0.5, 0.3:0.7, 0.1:0.7, 0.5:0.95 are reported where the grid "
        "holds them.",
        item=float,
        lower=0.0,
        upper=1.0,
        lower_open=True,
    )


def _workers_option():
    """`--workers`, shared by evaluate and evaluate_cams."""
    return _option(
        0,
        "Processes scoring the CAMs' threshold-free box figures (MaxBoxAcc, "
        "V2, PxAP); 0: every core. The figures do not depend on it.",
        lower=0,
        shapes_run=False,
        task="images",
    )


@dataclasses.dataclass
class EvalConfig(RunConfig):
    """How `has_tf.evaluate` scores a run (images and videos)."""

    workers: int = _workers_option()
    eval_crop: str = _option(
        "resize",
        "Evaluation crop (see input_pipeline.images): resize, center_crop "
        "or ten_crop, which averages the crops' class scores and merges "
        "their CAMs.",
        choices=vocabulary.EVAL_CROPS,
        task="images",
    )
    cam_threshold: float = _option(
        0.2,
        "Fraction of the CAM's max for the paper's protocol (the "
        "paper: 0.2 AlexNet, 0.3 GoogLeNet).",
        lower=0.0,
        upper=1.0,
        task="images",
    )
    threshold_step: float = _option(
        0.01,
        "Grid step of the threshold-free protocol.",
        lower=0.001,
        upper=1.0,
        task="images",
    )
    box_protocol: str = _box_protocol_option()
    samples_per_class: int = _option(
        0,
        "Score at most this many images of each class (the first in the "
        "split's order; a class with fewer keeps all), as wsolevaluation's "
        "--num_val_sample_per_class trims its train-fullsup split (which "
        "samples at random, and fails on a class with fewer); 0: all.",
        lower=0,
        task="images",
    )
    iou_thresholds: tuple = _iou_thresholds_option()
    eval_batch_size: int = _option(64, "Evaluation batch size.", lower=1)
    max_images: int = _option(
        0, "Score only this many images or videos; 0: all.", lower=0
    )
    num_pictures: int = _option(
        8, "Overlay pictures to write.", lower=0, task="images"
    )
    tcam_threshold: float = _option(
        0.5,
        "Fraction of a class's T-CAM max kept as detections (the paper: 0.5).",
        lower=0.0,
        upper=1.0,
        task="videos",
    )
    class_threshold: float = _option(
        0.1,
        "Classes whose video score reaches this are localized (else "
        "the top-1).",
        lower=0.0,
        upper=1.0,
        task="videos",
    )
    segment_score: str = _option(
        "mean",
        "Detection score: mean T-CAM inside, or inside minus around.",
        choices=vocabulary.SEGMENT_SCORES,
        task="videos",
    )
    nms_iou: float = _option(
        0.0,
        "Per-class temporal NMS at this IoU; 0: off.",
        lower=0.0,
        upper=1.0,
        task="videos",
    )
    postprocess: str = _option(
        "has_paper",
        "T-CAM -> segments as a method's code does it "
        "(has_tf.postprocess.presets): has_paper (the rule of "
        "--tcam_threshold, --class_threshold, --segment_score, --nms_iou), "
        "stpn, wtalc, basnet, cola or co2 (their own thresholds).",
        choices=vocabulary.POSTPROCESS_PRESETS,
        task="videos",
    )
    test_list: str = _option(
        "thumos14-test-210-v1",
        "THUMOS14: the named list of scored test videos (213/212/210).",
        task="videos",
    )
    num_plots: int = _option(
        8, "Videos whose T-CAM plot to write.", lower=0, task="videos"
    )

    def __post_init__(self):
        super().__post_init__()
        if self.box_protocol == "wsolevaluation" and self.eval_crop != "resize":
            _fail(
                "box_protocol",
                "the official tool scores the 224 x 224 resize of each "
                "image: use --eval_crop=resize (received "
                f"--eval_crop={self.eval_crop}).",
                self.box_protocol,
            )


@dataclasses.dataclass
class CamsConfig:
    """What `python -m has_tf.evaluate_cams` scores: CAMs from anywhere.

    Its threshold grid is `EvalConfig.threshold_step`'s flag, read only
    when given (otherwise each protocol's default grid).
    """

    cams_dir: str | None = _option(
        None, "Folder of <image id>.npy CAMs.", task="images"
    )
    metadata_dir: str | None = _option(
        None,
        "wsolevaluation-style metadata: image_ids.txt, class_labels.txt, "
        "image_sizes.txt, localization.txt.",
        task="images",
    )
    mask_dir: str | None = _option(
        None,
        "Where localization.txt's mask paths start; default: metadata_dir.",
        task="images",
    )
    output_dir: str | None = _option(
        None, "Where evaluate_cams writes metrics.json.", task="images"
    )
    box_protocol: str = _box_protocol_option()
    iou_thresholds: tuple = _iou_thresholds_option()
    connectivity: int = _option(
        8,
        "Component connectivity (has_tf protocol; the official tool's is 8).",
        choices=vocabulary.CONNECTIVITIES,
        task="images",
    )
    workers: int = _workers_option()

    def __post_init__(self):
        if not self.iou_thresholds:  # The shared flag's "the usual grid".
            self.iou_thresholds = (0.3, 0.5, 0.7)
        _check_fields(self)
        for name in ("cams_dir", "metadata_dir", "output_dir"):
            if not getattr(self, name):
                _fail(name, "evaluate_cams needs it.", getattr(self, name))


def _check_fields(config) -> None:
    """Coerces and checks every field of `config` by its declaration."""
    for field in flag_fields(type(config), method_options=False):
        setattr(
            config, field.name, _checked(field, getattr(config, field.name))
        )


def _fail(name, message, value):
    raise ValueError(f"--{name}: {message} Received: {value!r}")


def _in_bounds(value, meta) -> bool:
    lower, upper = meta["lower"], meta["upper"]
    if isinstance(value, float) and math.isnan(value):
        return lower is None and upper is None
    if lower is not None and (
        value <= lower if meta["lower_open"] else value < lower
    ):
        return False
    if upper is not None and (
        value >= upper if meta["upper_open"] else value > upper
    ):
        return False
    return True


def _bounds_text(meta) -> str:
    lower, upper = meta["lower"], meta["upper"]
    if upper is None:
        return f"{'>' if meta['lower_open'] else '>='} {lower}"
    start = "(" if meta["lower_open"] else "["
    end = ")" if meta["upper_open"] else "]"
    return f"in {start}{lower}, {upper}{end}"


def _checked(field, value):
    """`value` coerced to the field's type, or a ValueError naming it."""
    meta = field.metadata
    if meta["item"] is not None:
        try:
            value = tuple(meta["item"](v) for v in value)
        except (TypeError, ValueError):
            _fail(
                field.name,
                f"expected a list of {meta['item'].__name__}s.",
                value,
            )
        items = value
    else:
        items = (value,)
    if meta["choices"] is not None and value not in meta["choices"]:
        _fail(field.name, f"expected one of {tuple(meta['choices'])}.", value)
    if meta["lower"] is not None or meta["upper"] is not None:
        if not all(_in_bounds(v, meta) for v in items):
            _fail(field.name, f"expected values {_bounds_text(meta)}.", value)
    return value


def _option_field(option: methods.Option):
    """A registered method's `Option` as a field declaration (its flag and
    checks come from it as from the config's own fields)."""
    field = _option(
        option.default,
        option.help,
        choices=option.choices,
        lower=option.lower,
        upper=option.upper,
        lower_open=option.lower_open,
        upper_open=option.upper_open,
        task=_METHOD_OPTIONS_TASK,
    )
    field.name = option.name
    return field


# The group the methods' own options are listed under.
_METHOD_OPTIONS_TASK = "images"


def flag_fields(config_class, method_options: bool = True) -> list:
    """The fields of `config_class` that are flags, then (for
    `TrainConfig`, with `method_options`) every registered method's own
    options as fields."""
    fields = [
        f
        for f in dataclasses.fields(config_class)
        if f.metadata.get("flag", True)
    ]
    if method_options and issubclass(config_class, TrainConfig):
        fields += [_option_field(o) for o in methods.options()]
    return fields


def _fields():
    """Every option once: RunConfig's, then TrainConfig's (with the
    registered methods' options), EvalConfig's, CamsConfig's."""
    seen = {}
    for config in (TrainConfig, EvalConfig, CamsConfig):
        for field in flag_fields(config):
            seen.setdefault(field.name, field)
    return list(seen.values())


def _module_name(meta) -> str:
    """The group a flag is listed under in --helpfull."""
    return f"has_tf.config ({meta['task']})"


def define_flags(values: flags.FlagValues) -> None:
    """Defines a flag per config field on `values`.

    Each flag's help starts with the task that reads it ("[images]",
    "[videos]"; none for both), and --helpfull lists the flags in one
    group per task. Flags `values` has already are left alone, so calling
    it again after `--plugins` registered methods defines just their
    options.
    """
    for field in _fields():
        if field.name in values:
            continue
        meta, default = field.metadata, field.default
        tag = "" if meta["task"] == TASK_GROUPS[0] else f"[{meta['task']}] "
        common = dict(
            name=field.name,
            help=tag + meta["help"],
            flag_values=values,
            module_name=_module_name(meta),
        )
        if meta["item"] is not None:
            flags.DEFINE_list(default=[str(v) for v in default], **common)
        elif meta["choices"] is not None and isinstance(default, int):
            flags.DEFINE_integer(default=default, **common)
            choices = tuple(meta["choices"])
            flags.register_validator(
                field.name,
                lambda value, choices=choices: value in choices,
                f"--{field.name}: expected one of {choices}.",
                flag_values=values,
            )
        elif meta["choices"] is not None:
            flags.DEFINE_enum(
                default=default, enum_values=meta["choices"], **common
            )
        elif isinstance(default, bool):
            flags.DEFINE_bool(default=default, **common)
        elif isinstance(default, (int, float)):
            define = (
                flags.DEFINE_integer
                if isinstance(default, int)
                else flags.DEFINE_float
            )
            define(
                default=default,
                lower_bound=None if meta["lower_open"] else meta["lower"],
                upper_bound=None if meta["upper_open"] else meta["upper"],
                **common,
            )
        else:
            flags.DEFINE_string(default=default, **common)


def _meta(name: str):
    return next(f.metadata for f in _fields() if f.name == name)


def key_flags(*config_classes) -> list:
    """The flag names of `config_classes`' fields (an app declares them as
    its key flags, so --helpshort lists them)."""
    return [
        field.name for config in config_classes for field in flag_fields(config)
    ]


def options_by_task(*config_classes) -> str:
    """The options of `config_classes` grouped by the task that reads them,
    as text for an app's --helpshort."""
    groups = {task: [] for task in TASK_GROUPS}
    for config in config_classes:
        for field in flag_fields(config):
            names = groups[field.metadata["task"]]
            if f"--{field.name}" not in names:
                names.append(f"--{field.name}")
    lines = ["Options by the task that reads them:"]
    for task, names in groups.items():
        if names:
            lines += textwrap.wrap(
                " ".join(sorted(names)),
                width=80,
                initial_indent=f"  {task}: ",
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
    return "\n".join(lines) + "\n"


def _from_values(config_class, values):
    names = [f.name for f in flag_fields(config_class) if f.name in values]
    return config_class(**{name: values[name].value for name in names})


def train_config(values: flags.FlagValues | None = None) -> TrainConfig:
    """The `TrainConfig` parsed flags (default `flags.FLAGS`) describe.

    Raises:
      ValueError: an invalid value or combination (naming the flag).
    """
    return _from_values(TrainConfig, flags.FLAGS if values is None else values)


def eval_config(values: flags.FlagValues | None = None) -> EvalConfig:
    """The `EvalConfig` parsed flags (default `flags.FLAGS`) describe."""
    return _from_values(EvalConfig, flags.FLAGS if values is None else values)


def check_flagfiles(argv) -> None:
    """Raises if a flagfile named in `argv` includes itself, at any depth,
    puts a comment after a value, or gives one flag twice.

    absl only warns about a circular `--flagfile=` and goes on with the
    defaults, reads `--model_dir=runs/x  # baseline` as that whole value,
    and keeps the later of two lines silently; a run must not start from a
    configuration nobody wrote.

    Args:
      argv: command-line arguments (`--flagfile=PATH` or `--flagfile
        PATH`), e.g. `sys.argv`.

    Raises:
      ValueError: naming the chain of files, e.g. "a.cfg -> b.cfg ->
        a.cfg", or the file and line.
    """
    args = list(argv)
    paths = [
        arg.split("=", 1)[1] if "=" in arg else args[i + 1]
        for i, arg in enumerate(args)
        if arg.split("=", 1)[0] in ("--flagfile", "-flagfile")
        and ("=" in arg or i + 1 < len(args))
    ]
    for path in paths:
        _follow_flagfile(path, [])


def _follow_flagfile(path: str, chain: list) -> None:
    real = os.path.realpath(path)
    if real in chain:
        names = [os.path.relpath(p) for p in chain + [real]]
        raise ValueError(
            "--flagfile: a circular include: " + " -> ".join(names)
        )
    if not os.path.exists(real):
        return  # absl reports a missing file itself.
    seen = {}
    with open(real) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith(("#", "//")):
                continue
            where = f"{os.path.relpath(path)}:{number}"
            if re.search(r"\s(#|//)", line):
                raise ValueError(
                    f"{where}: a comment after a value is read by absl as "
                    f"part of the value ({line!r}); put it on a line of its "
                    "own."
                )
            name = line.split("=", 1)[0].lstrip("-")
            if line.startswith("--flagfile="):
                _follow_flagfile(line.split("=", 1)[1], chain + [real])
            elif name in seen:
                raise ValueError(
                    f"{where}: --{name} is given twice in this file (line "
                    f"{seen[name]} too); absl would keep the later one "
                    "silently. (Override a flag of an included flagfile "
                    "after its --flagfile= line, or on the command line.)"
                )
            else:
                seen[name] = number


def plugins_named(argv) -> list:
    """The modules `--plugins` names in `argv` and in the flagfiles it
    names (at any depth), in order: what must be imported before the
    flags are parsed, since their methods' options are flags too."""
    found = []

    def add(value):
        found.extend(m.strip() for m in value.split(",") if m.strip())

    def follow(path, chain):
        real = os.path.realpath(path)
        if real in chain or not os.path.isfile(real):
            return  # check_flagfiles and absl report these.
        with open(real) as f:
            for line in f:
                line = line.strip()
                if line.startswith("--flagfile="):
                    follow(line.split("=", 1)[1], chain + [real])
                elif line.startswith("--plugins="):
                    add(line.split("=", 1)[1])

    args = list(argv)
    for i, arg in enumerate(args):
        name, _, value = arg.partition("=")
        if name in ("--flagfile", "-flagfile"):
            value = value or (args[i + 1] if i + 1 < len(args) else "")
            follow(value, [])
        elif name in ("--plugins", "-plugins"):
            add(value or (args[i + 1] if i + 1 < len(args) else ""))
    return found


def load_plugins(argv, values: flags.FlagValues) -> None:
    """Imports the modules `--plugins` names in `argv` (or its
    flagfiles) and defines their methods' options on `values`.

    Raises:
      ValueError: a module that does not import (naming `--plugins`).
    """
    methods.load_plugins(plugins_named(argv))
    define_flags(values)


def read_flagfile(path: str, **overrides) -> flags.FlagValues:
    """Parses a flagfile with the config's flags into fresh `FlagValues`.

    Nested `--flagfile=` lines are followed; the process's `flags.FLAGS`
    is left alone. `overrides` set flags afterwards (by name).

    Raises:
      absl.flags.Error: an unknown flag or a bad value.
      ValueError: a circular include.
    """
    check_flagfiles([f"--flagfile={path}"])
    values = flags.FlagValues()
    methods.load_plugins(plugins_named([f"--flagfile={path}"]))
    define_flags(values)
    values(["has_tf", f"--flagfile={path}"])
    for name, value in overrides.items():
        values[name].value = value
    return values


def train_config_from_flagfile(path: str, **overrides) -> TrainConfig:
    """The `TrainConfig` a flagfile describes, with `overrides` on top.

    Notebooks and tests run the experiments of `flags/` exactly this way.

    Raises:
      ValueError: an invalid combination (naming the flag);
      absl.flags.Error: an unknown flag or a bad value in the file.
    """
    return train_config(read_flagfile(path, **overrides))
