"""`TrainConfig`: everything a training run needs (`has_tf.train`), its
options checked by group (images, schedule, videos) and the methods' own
options (`method_options`, read as attributes)."""

from __future__ import annotations

import dataclasses
import functools
import os

from has_tf import _checks
from has_tf import methods
from has_tf import vocabulary
from has_tf.config.fields import RunConfig
from has_tf.config.fields import checked
from has_tf.config.fields import fail
from has_tf.config.fields import option
from has_tf.config.fields import option_field

STRATEGIES = vocabulary.STRATEGIES
# Keras dtype policies.
PRECISIONS = vocabulary.PRECISIONS


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

    train_split: str = option("train", "TFDS split to train on.")
    model: str = option(
        "small_gap",
        "The image classifier: a name in has_tf.models.table (small_gap, "
        "alexnet_gap, googlenet_gap, vgg16_cam, resnet50_cam, "
        "inception_v3_cam, deit_tiny, deit_small, deit_base; a plugin's "
        "own), or a .keras file of a CAM "
        "classifier on any backbone "
        "(has_tf.cam_classifier; its own head is used, so --pooling and "
        "--dropout_rate do not apply).",
        task="images",
    )
    pooling: str = option(
        "avg",
        "Global pooling: GAP or the GMP ablation.",
        choices=vocabulary.POOLINGS,
        task="images",
    )
    dropout_rate: float = option(
        0.0,
        "Dropout before the classifier (inception_v3_cam: its head's three "
        "dropouts, 0.5 in wsolevaluation and in its recipes here).",
        lower=0.0,
        upper=1.0,
        upper_open=True,
    )
    dropout_at_test: bool = option(
        False,
        "Keep --dropout_rate's dropout active at evaluation too (the "
        "paper's dropout-traintest baseline, Table 3).",
        task="images",
    )
    large_feature_map: bool = option(
        False,
        "vgg16_cam, resnet50_cam, inception_v3_cam: one downsampling less "
        "(a 28x28 CAM at 224 instead of 14x14), wsolevaluation's option.",
        task="images",
    )
    drop_path_rate: float = option(
        0.0,
        "A transformer's stochastic depth in training (timm's "
        "drop_path_rate: block i of L dropped per example with probability "
        "rate * i / (L - 1)); deit_tiny, deit_small, deit_base. TS-CAM "
        "trains with 0.1.",
        lower=0.0,
        upper=1.0,
        upper_open=True,
        task="images",
    )
    image_size: int = option(224, "Training crop side.", lower=8, task="images")
    crop: str = option(
        "resize_crop",
        "Training crop.",
        choices=vocabulary.TRAIN_CROPS,
        task="images",
    )
    method: str = option(
        "auto",
        "The method (has_tf.methods). Images: cam (no hiding), has "
        "(Hide-and-Seek, --patch_sizes), and as wsolevaluation runs them "
        "cutmix (--cutmix_beta, --cutmix_prob), adl (--adl_drop_rate, "
        "--adl_threshold), acol (--acol_threshold); on deit_tiny/small/base "
        "tscam, scm and sat (--sat_area), with which hiding composes "
        "(--patch_sizes in multiples of 16, --token_patch_sizes); the other "
        "methods hide nothing (leave --patch_sizes at its default or "
        "empty). "
        "Videos: cam, has (--segment_size), cola (CoLA's network and "
        "snippet contrast, --cola_*), aicl (AICL's network and objective, "
        "--aicl_*), delu (DELU's, --delu_*); hiding composes with each: "
        "--segment_size set. "
        "auto: has when something is hidden, else cam. A method of your "
        "own: --plugins.",
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
    patch_sizes: tuple = option(
        (0, 16, 32, 44, 56),
        "Hide-and-Seek patch sizes (0 = hide nothing); empty: no hiding.",
        item=int,
        lower=0,
        task="images",
    )
    hide_prob: float = option(
        0.5, "Probability of hiding a cell.", lower=0.0, upper=1.0
    )
    hide_on: str = option(
        "host",
        "Where images are hidden: host (the tf.data pipeline, on uint8 "
        "pixels) or device (the model's first op, on normalised images: "
        "the host does no per-pixel hiding work; for GPU/TPU).",
        choices=vocabulary.HIDE_ON,
        task="images",
    )
    conv1_patch_sizes: tuple = option(
        (),
        "Hide patches of this many conv1 cells (the paper's conv1 "
        "ablation: 5 or 11 on AlexNet's 55x55 conv1); empty: off. "
        "alexnet_gap, small_gap.",
        item=int,
        lower=0,
        task="images",
    )
    conv1_hide_prob: float = option(
        0.5,
        "Hiding probability of the conv1 cells.",
        lower=0.0,
        upper=1.0,
        task="images",
    )
    token_patch_sizes: tuple = option(
        (),
        "Hide grid cells of a transformer's patch tokens, sides in tokens "
        "(one drawn per image, 0 hides nothing), each replaced by a learned "
        "mask token before the position embedding; empty: off. deit_tiny, "
        "deit_small, deit_base.",
        item=int,
        lower=0,
        task="images",
    )
    token_hide_prob: float = option(
        0.5,
        "Hiding probability of the token cells.",
        lower=0.0,
        upper=1.0,
        task="images",
    )
    normalization: str = option(
        "dataset",
        "Mean/std (and fill) from the training split, ImageNet's, or the "
        "ones --init_from's weights were trained with.",
        choices=vocabulary.NORMALIZATIONS,
        task="images",
    )
    batch_size: int = option(64, "Global batch size.", lower=1)
    epochs: int = option(
        10,
        "Epochs; 0: no step, the run holds its initial weights (--init_from: "
        "a pretrained backbone, e.g. for python -m has_tf.pseudo_labels "
        "--pseudo_rule=ddt).",
        lower=0,
    )
    steps_per_epoch: int = option(
        0, "Steps per epoch; 0: the split's size / batch.", lower=0
    )
    optimizer: str = option(
        "sgd",
        "sgd: SGD with --momentum (the paper's, wsolevaluation's); adamw: "
        "AdamW as timm's create_optimizer makes it (betas 0.9/0.999, eps "
        "1e-8, decoupled --weight_decay, none on biases, normalisation "
        "scales and shifts, the class token and the position embedding), "
        "what TS-CAM, SCM and SAT train with; adam: PyTorch's Adam (betas "
        "0.9/0.999, eps 1e-8), --weight_decay L2 (--weight_decay_type=l2, "
        "torch.optim.Adam's) or decoupled, what CoLA, AICL and DELU train "
        "with.",
        choices=vocabulary.OPTIMIZERS,
    )
    learning_rate: float = option(0.01, "Initial learning rate.", lower=0.0)
    lr_boundaries: tuple = option(
        (0.5, 0.75),
        "The paper's step schedule: increasing fractions of "
        "training where the rate is multiplied by --lr_decay (1e-2 -> 1e-3 "
        "-> 1e-4 by default); empty: a constant rate.",
        item=float,
        lower=0.0,
        upper=1.0,
        lower_open=True,
        upper_open=True,
    )
    lr_decay: float = option(0.1, "Step factor.", lower=0.0)
    momentum: float = option(
        0.9, "SGD momentum.", lower=0.0, upper=1.0, upper_open=True
    )
    nesterov: bool = option(False, "Nesterov momentum (wsolevaluation's).")
    weight_decay: float = option(5e-4, "Weight decay.", lower=0.0)
    weight_decay_type: str = option(
        "decoupled",
        "decoupled: Keras's SGD (w -= lr * wd * w beside the update); l2: "
        "PyTorch's and Torch7's SGD (wd * w added to the gradient before "
        "momentum), the update wsolevaluation's figures were trained with.",
        choices=vocabulary.WEIGHT_DECAY_TYPES,
    )
    lr_multiplier: float = option(
        1.0,
        "Learning-rate factor of the layers the classifier adds to its "
        "backbone (the CAM convs and the classifier; ResNet50-CAM's layer4 "
        "too, as wsolevaluation groups them); its recipes use 10.",
        lower=0.0,
        lower_open=True,
        task="images",
    )
    pseudo_labels: str = option(
        "",
        "Train PSOL's class-agnostic box regressor "
        "(has_tf.models.box_regressor) on this pseudo-label file (python -m "
        "has_tf.pseudo_labels, boxes of --train_split of --dataset) instead "
        "of a CAM classifier: --model is its backbone, --init_from its "
        "weights, --lr_multiplier the head's rate (PSOL: 2); its evaluation "
        "scores Top-1 / Top-5 Loc with --classes_from's classes.",
        task="images",
    )
    box_features: str = option(
        "",
        "With --pseudo_labels: the --model layer whose feature map the box "
        "regressor pools (e.g. vgg16_cam's conv5_3_relu with "
        "--box_features_pool=2: PSOL's vgggap, which pools torchvision's "
        "VGG16 features through pool5). Empty: the CAM head's input "
        "(densenet161's relu5, resnet50_cam's layer 4).",
        task="images",
    )
    box_features_pool: int = option(
        1,
        "With --pseudo_labels: max-pool --box_features' map p x p, stride "
        "p, before the regressor's average pooling (PyTorch's MaxPool2d(p)).",
        lower=1,
        task="images",
    )
    init_from: str = option(
        "",
        "Initial weights: a pretrained weights file for vgg16_cam, "
        "resnet50_cam or inception_v3_cam (torchvision/timm .safetensors or "
        "a keras.applications .h5; has_tf.models.pretrained) or for the "
        "DeiTs (timm's model.safetensors), or a has_tf "
        "run directory (its model.keras: every layer of the same name and "
        "shape, e.g. CUB from an ILSVRC run). Empty: random.",
        task="images",
    )
    seed: int = option(0, "Seed of every random draw.")
    deterministic: bool = option(
        False,
        "Reproducible on one machine and TensorFlow build: TensorFlow's op "
        "determinism on top of the seeds (slower on accelerators).",
    )
    strategy: str = option(
        "default",
        "tf.distribute strategy.",
        choices=STRATEGIES,
        shapes_run=False,
    )
    mixed_precision: str = option(
        "float32", "Keras dtype policy.", choices=PRECISIONS
    )
    jit_compile: bool = option(
        False, "Compile the step with XLA.", shapes_run=False
    )
    data_service: str = option(
        "",
        "grpc://host:port of a tf.data service dispatcher: the input "
        "pipeline runs on its workers (has_tf.data_service; image "
        "datasets; the input order is then not repeatable). Empty: local.",
        shapes_run=False,
    )
    checkpoint_steps: int = option(
        0,
        "Checkpoint every this many steps (0: each epoch); a killed run "
        "resumes from the last one.",
        lower=0,
    )
    keep_checkpoints: int = option(
        2,
        "Complete checkpoints kept in backup/, the newest; 0: every one, "
        "for python -m has_tf.evaluate --checkpoint=best to choose among "
        "(single-host strategies).",
        lower=0,
        shapes_run=False,
    )
    tensorboard_images: int = option(
        8,
        "CAMs of this many fixed --eval_split images logged to "
        "TensorBoard after every checkpoint interval; 0 logs none.",
        lower=0,
        shapes_run=False,
        task="images",
    )
    overwrite: bool = option(
        False,
        "Start over in a --model_dir that holds a run with other training "
        "options (deleting it); without it such a restart refuses.",
        shapes_run=False,
    )
    num_steps: int = option(
        2000,
        "F_total: steps every video is resampled to (the paper: 2000).",
        lower=1,
        task="videos",
    )
    segment_size: int = option(
        100,
        "F_segment: steps per hidden segment (the paper: 100); 0 turns "
        "hiding off.",
        lower=0,
        task="videos",
    )
    video_sampling: str = option(
        "uniform",
        "How training draws --num_steps steps of a video each epoch: "
        "uniform (the paper; evaluation always does) or random_perturb "
        "(BaS-Net / CoLA: a random step per slice; their recipes use 750).",
        choices=vocabulary.VIDEO_SAMPLINGS,
        task="videos",
    )
    video_cache: str = option(
        "memory",
        "How training keeps each video's own features between epochs: "
        "memory (float32), memory_float16 (half the bytes, rounded) or "
        "none (re-read from the dataset each epoch).",
        choices=vocabulary.VIDEO_CACHES,
        task="videos",
    )
    temporal_pooling: str = option(
        "max_features",
        "Pooling over time (the paper: max over features; "
        "topk: mean of the T/8 largest T-CAM values).",
        choices=vocabulary.TEMPORAL_POOLINGS,
        task="videos",
    )
    temporal_loss: str = option(
        "softmax",
        "softmax (the paper; multi-hot labels scaled to sum 1) "
        "or sigmoid (multi-label).",
        choices=vocabulary.TEMPORAL_LOSSES,
        task="videos",
    )
    units: int = option(
        500, "Width of the temporal convs.", lower=1, task="videos"
    )
    temporal_kernel_size: int = option(
        1,
        "Width of the temporal convs in steps, odd (the paper: 1; BaS-Net "
        "and CoLA embed with 3).",
        lower=1,
        task="videos",
    )
    temporal_attention: bool = option(
        False,
        "Add a foreground-attention branch that weights the features "
        "before the classifier (STPN, BaS-Net's filter, CO2-Net); the "
        "stpn and co2 post-processing use it.",
        task="videos",
    )
    temporal_background: bool = option(
        False,
        "BaS-Net's background class and suppression: two branches through "
        "one classifier of N + 1 classes, the base one on the features, "
        "the suppressed one weighted by the attention (needs "
        "--temporal_attention), trained with BaS-Net's loss.",
        task="videos",
    )
    attention_l1: float = option(
        0.0,
        "Weight of the attention's sparsity loss (STPN's L1; 1e-4 in "
        "BaS-Net's recipe).",
        lower=0.0,
        task="videos",
    )

    def __post_init__(self):
        super().__post_init__()
        if not self.model_dir:
            fail("model_dir", "a run needs a directory.", self.model_dir)
        self._check_method_options()
        self._check_images()
        self._check_schedule()
        self._check_videos()
        if self.data_service:
            _checks.grpc_address(self.data_service, "data_service")

    def _check_images(self):
        """The image options among themselves (what the method and the
        model ask of them is `has_tf.tasks.resolve`'s)."""
        if self.normalization == "weights" and not self.init_from:
            fail(
                "normalization",
                "'weights' is the normalisation of --init_from's weights; "
                "--init_from is empty.",
                self.normalization,
            )
        if (
            self.overwrite
            and self.init_from
            and _within(self.init_from, self.model_dir)
        ):
            fail(
                "init_from",
                f"it is in --model_dir={self.model_dir}, which --overwrite "
                "deletes before the weights are read: copy them out of the "
                "run first, or leave --overwrite off.",
                self.init_from,
            )
        if not self.pseudo_labels and (
            self.box_features or self.box_features_pool != 1
        ):
            fail(
                "box_features" if self.box_features else "box_features_pool",
                "an option of the box regressor, which trains with "
                "--pseudo_labels; --pseudo_labels is empty.",
                self.box_features or self.box_features_pool,
            )
        if self.crop == "resize_crop" and self.image_size > self.resize_size:
            fail(
                "image_size",
                f"the crop is larger than --resize_size={self.resize_size}.",
                self.image_size,
            )

    def _check_schedule(self):
        if list(self.lr_boundaries) != sorted(self.lr_boundaries):
            fail(
                "lr_boundaries",
                "expected increasing fractions in (0, 1).",
                self.lr_boundaries,
            )
        if self.optimizer == "sgd":
            return
        checks = [("nesterov", True, "Nesterov momentum is SGD's")]
        if self.optimizer == "adamw":
            checks.append(
                ("weight_decay_type", "l2", "AdamW's decay is decoupled")
            )
        for flag, value, why in checks:
            if getattr(self, flag) == value:
                fail(flag, f"{why} (--optimizer={self.optimizer}).", value)
        if self.lr_multiplier != 1:
            fail(
                "lr_multiplier",
                f"--optimizer={self.optimizer} trains every layer at one "
                "rate; leave it at 1.",
                self.lr_multiplier,
            )

    def _check_videos(self):
        if self.segment_size > self.num_steps:
            fail(
                "segment_size",
                f"expected 0 (no hiding) to --num_steps={self.num_steps}.",
                self.segment_size,
            )
        if self.temporal_background and not self.temporal_attention:
            fail(
                "temporal_background",
                "background suppression weights the features by the "
                "attention: add --temporal_attention.",
                self.temporal_background,
            )
        if self.temporal_background and self.temporal_loss != "softmax":
            fail(
                "temporal_loss",
                "--temporal_background trains with BaS-Net's own loss "
                "(softmax scores); leave --temporal_loss=softmax.",
                self.temporal_loss,
            )
        if self.temporal_kernel_size % 2 == 0:
            fail(
                "temporal_kernel_size",
                "expected an odd width (centred windows).",
                self.temporal_kernel_size,
            )

    def _check_method_options(self):
        """`method` is auto or registered; `method_options` holds every
        registered method's options (defaults filled in), each checked."""
        if self.method != "auto" and self.method not in methods.names():
            fail(
                "method",
                f"expected auto or one of {methods.names()} (a method of "
                "your own: --plugins=<its module>).",
                self.method,
            )
        known = {option.name: option for option in methods.options()}
        unknown = sorted(set(self.method_options) - set(known))
        if unknown:
            fail(
                "method_options",
                f"no registered method has the options {unknown}.",
                self.method_options,
            )
        self.method_options = {
            name: checked(
                option_field(option),
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


def _within(path: str, directory: str) -> bool:
    """Whether `path` is `directory` or inside it (links resolved)."""
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([path, directory]) == directory
