"""CAM models: AlexNet-GAP, GoogLeNet-GAP, a small CPU net, CAM outputs;
the action network and its temporal CAM."""

from has_tf.models.alexnet_gap import alexnet_gap
from has_tf.models.cam import ClassActivationMaps
from has_tf.models.cam import cam_model
from has_tf.models.cam import class_cams
from has_tf.models.cam import class_cams_at_size
from has_tf.models.cam import upsample_cams
from has_tf.models.common import POOLINGS
from has_tf.models.common import LocalResponseNorm
from has_tf.models.googlenet_gap import googlenet_gap
from has_tf.models.small_gap import small_gap
from has_tf.models.temporal import LOSSES as TEMPORAL_LOSSES
from has_tf.models.temporal import POOLINGS as TEMPORAL_POOLINGS
from has_tf.models.temporal import TemporalClassifier
from has_tf.models.temporal import temporal_cam_model
from has_tf.models.temporal import temporal_loss
from has_tf.models.temporal import temporal_net

# The image classifiers by name, with the input side each is usually run
# at (the paper's 224 crop; 64 for the CPU-sized net).
IMAGE_MODELS = {
    "small_gap": small_gap,
    "alexnet_gap": alexnet_gap,
    "googlenet_gap": googlenet_gap,
}
INPUT_SIDES = {"small_gap": 64, "alexnet_gap": 224, "googlenet_gap": 224}

__all__ = [
    "IMAGE_MODELS",
    "INPUT_SIDES",
    "POOLINGS",
    "TEMPORAL_LOSSES",
    "TEMPORAL_POOLINGS",
    "ClassActivationMaps",
    "LocalResponseNorm",
    "alexnet_gap",
    "cam_model",
    "class_cams",
    "class_cams_at_size",
    "googlenet_gap",
    "small_gap",
    "TemporalClassifier",
    "temporal_cam_model",
    "temporal_loss",
    "temporal_net",
    "upsample_cams",
]
