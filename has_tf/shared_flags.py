"""The flags of `has_tf.train` and `has_tf.evaluate`, defined once.

Both apps read this one set, so one flagfile drives training and
evaluation, each app still rejects unknown flags, and a process may import
both apps. Names reuse the library's argument names.
"""

from absl import flags

DATASET = flags.DEFINE_string(
    "dataset", "synthetic_parts",
    "has_tf dataset name, optionally with a config (synthetic_parts/tiny).")
DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
MANUAL_DIR = flags.DEFINE_string("manual_dir", None,
                                 "Manual download directory (ILSVRC).")
MODEL_DIR = flags.DEFINE_string("model_dir", None,
                                "The run's directory (written by train).")

# Training.
MODELS = ("small_gap", "alexnet_gap", "googlenet_gap")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")

TRAIN_SPLIT = flags.DEFINE_string("train_split", "train", "TFDS split.")
MODEL = flags.DEFINE_enum("model", "small_gap", MODELS, "The classifier.")
POOLING = flags.DEFINE_enum("pooling", "avg", ("avg", "max"),
                             "Global pooling: GAP or the GMP ablation.")
DROPOUT = flags.DEFINE_float("dropout_rate", 0.0,
                              "Dropout before the classifier.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 224, "Training crop side.",
                                   lower_bound=8)
RESIZE_SIZE = flags.DEFINE_integer("resize_size", 256,
                                    "Square resize before the crop.",
                                    lower_bound=8)
CROP = flags.DEFINE_enum("crop", "resize_crop",
                          ("resize_crop", "random_resized"),
                          "Training crop.")
PATCH_SIZES = flags.DEFINE_list(
    "patch_sizes", ["0", "16", "32", "44", "56"],
    "Hide-and-Seek patch sizes (0 = hide nothing); empty: no hiding.")
CONV1_PATCH_SIZES = flags.DEFINE_list(
    "conv1_patch_sizes", [],
    "Hide patches of this many conv1 cells (the paper's conv1 ablation: 5 "
    "or 11 on AlexNet's 55x55 conv1); empty: off. alexnet_gap, small_gap.")
CONV1_HIDE_PROB = flags.DEFINE_float(
    "conv1_hide_prob", 0.5, "Hiding probability of the conv1 cells.")
HIDE_PROB = flags.DEFINE_float("hide_prob", 0.5,
                                "Probability of hiding a cell.",
                                lower_bound=0.0, upper_bound=1.0)
NORMALIZATION = flags.DEFINE_enum(
    "normalization", "dataset", ("dataset", "imagenet"),
    "Mean/std (and fill) from the training split, or ImageNet's.")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 64, "Global batch size.",
                                   lower_bound=1)
EPOCHS = flags.DEFINE_integer("epochs", 10, "Epochs.", lower_bound=1)
STEPS = flags.DEFINE_integer(
    "steps_per_epoch", 0, "Steps per epoch; 0: the split's size / batch.",
    lower_bound=0)
LR = flags.DEFINE_float("learning_rate", 0.01, "Initial learning rate.",
                         lower_bound=0.0)
BOUNDARIES = flags.DEFINE_list(
    "lr_boundaries", ["0.5", "0.75"],
    "The paper's step schedule: fractions of training where the rate is "
    "multiplied by --lr_decay (1e-2 -> 1e-3 -> 1e-4 by default).")
DECAY = flags.DEFINE_float("lr_decay", 0.1, "Step factor.", lower_bound=0.0)
MOMENTUM = flags.DEFINE_float("momentum", 0.9, "SGD momentum.")
WEIGHT_DECAY = flags.DEFINE_float("weight_decay", 5e-4, "Weight decay.",
                                   lower_bound=0.0)
SEED = flags.DEFINE_integer("seed", 0, "Seed of every random draw.")
STRATEGY = flags.DEFINE_enum("strategy", "default", STRATEGIES,
                              "tf.distribute strategy.")
PRECISION = flags.DEFINE_enum("mixed_precision", "float32", PRECISIONS,
                               "Keras dtype policy.")
JIT = flags.DEFINE_bool("jit_compile", False, "Compile the step with XLA.")
CHECKPOINT_STEPS = flags.DEFINE_integer(
    "checkpoint_steps", 0,
    "Checkpoint every this many steps (0: each epoch); a killed run "
    "resumes from the last one.", lower_bound=0)
TB_IMAGES = flags.DEFINE_integer(
    "tensorboard_images", 8,
    "CAMs of this many fixed --eval_split images logged to TensorBoard "
    "after every checkpoint interval; 0 logs none.", lower_bound=0)

# Video-feature datasets (synthetic_actions, thumos14_features).
NUM_STEPS = flags.DEFINE_integer(
    "num_steps", 2000, "F_total: steps every video is resampled to (the "
    "paper: 2000).", lower_bound=1)
SEGMENT_SIZE = flags.DEFINE_integer(
    "segment_size", 100, "F_segment: steps per hidden segment (the paper: "
    "100); 0 turns hiding off.", lower_bound=0)
TEMPORAL_POOLING = flags.DEFINE_enum(
    "temporal_pooling", "max_features", ("max_features", "max", "topk", "avg"),
    "Pooling over time (the paper: max over features; topk: mean of the "
    "T/8 largest T-CAM values).")
TEMPORAL_LOSS = flags.DEFINE_enum(
    "temporal_loss", "softmax", ("softmax", "sigmoid"),
    "softmax (the paper; multi-hot labels scaled to sum 1) or sigmoid "
    "(multi-label).")
UNITS = flags.DEFINE_integer("units", 500, "Width of the temporal convs.",
                             lower_bound=1)
TCAM_THRESHOLD = flags.DEFINE_float(
    "tcam_threshold", 0.5, "Fraction of a class's T-CAM max kept as "
    "detections (the paper: 0.5).", lower_bound=0.0, upper_bound=1.0)
CLASS_THRESHOLD = flags.DEFINE_float(
    "class_threshold", 0.1, "Classes whose video score reaches this are "
    "localized (else the top-1).", lower_bound=0.0, upper_bound=1.0)
SEGMENT_SCORE = flags.DEFINE_enum(
    "segment_score", "mean", ("mean", "outer_inner"),
    "Detection score: mean T-CAM inside, or inside minus around.")
NMS_IOU = flags.DEFINE_float(
    "nms_iou", 0.0, "Per-class temporal NMS at this IoU; 0: off.",
    lower_bound=0.0, upper_bound=1.0)
TEST_LIST = flags.DEFINE_string(
    "test_list", "thumos14-test-210-v1",
    "THUMOS14: the named list of scored test videos (213/212/210).")
NUM_PLOTS = flags.DEFINE_integer("num_plots", 8,
                                 "Videos whose T-CAM plot to write.",
                                 lower_bound=0)

# Evaluation.
SPLIT = flags.DEFINE_string("eval_split", "test", "TFDS split to score.")
PROTOCOL = flags.DEFINE_enum("protocol", "resize",
                              ("resize", "center_crop", "ten_crop"),
                              "Evaluation crop (see input_pipeline); "
                              "ten_crop averages the crops' class scores "
                              "and merges their CAMs.")
THRESHOLD = flags.DEFINE_float(
    "cam_threshold", 0.2, "Fraction of the CAM's max for the paper's "
    "protocol (the paper: 0.2 AlexNet, 0.3 GoogLeNet).", lower_bound=0.0,
    upper_bound=1.0)
STEP = flags.DEFINE_float("threshold_step", 0.01,
                           "Grid step of the threshold-free protocol.",
                           lower_bound=0.001, upper_bound=1.0)
BATCH = flags.DEFINE_integer("eval_batch_size", 64, "Batch size.",
                              lower_bound=1)
MAX_IMAGES = flags.DEFINE_integer("max_images", 0,
                                   "Score only this many; 0: all.",
                                   lower_bound=0)
PICTURES = flags.DEFINE_integer("num_pictures", 8,
                                 "Overlay pictures to write.", lower_bound=0)

COMPARE = flags.DEFINE_list(
    "compare", [], "Model dirs whose eval/metrics.json to print side by "
    "side (no evaluation runs), e.g. runs/quickstart,runs/quickstart_baseline.")


def read_flagfile(path: str, **overrides) -> flags.FlagValues:
    """Parses a flagfile with these flags into fresh `FlagValues`.

    Nested `--flagfile=` lines are followed; the process's `flags.FLAGS`
    is left alone. `overrides` set flags afterwards (by name).

    Raises:
      absl.flags.Error: an unknown flag or a bad value.
    """
    import copy

    values = flags.FlagValues()
    for flag in flags.FLAGS.get_key_flags_for_module(__name__):
        values[flag.name] = copy.deepcopy(flag)
    values(["has_tf", f"--flagfile={path}"])
    for name, value in overrides.items():
        values[name].value = value
    return values
