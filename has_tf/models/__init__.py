"""CAM models: AlexNet-GAP, GoogLeNet-GAP, a small CPU net, CAM outputs;
the action network and its temporal CAM."""

from has_tf.models.alexnet_gap import alexnet_gap
from has_tf.models.cam import ClassActivationMaps
from has_tf.models.cam import cam_model
from has_tf.models.cam import class_cams
from has_tf.models.cam import upsample_cams
from has_tf.models.common import LocalResponseNorm
from has_tf.models.googlenet_gap import googlenet_gap
from has_tf.models.small_gap import small_gap
from has_tf.models.temporal import TemporalClassifier
from has_tf.models.temporal import temporal_cam_model
from has_tf.models.temporal import temporal_net

__all__ = [
    "ClassActivationMaps",
    "LocalResponseNorm",
    "alexnet_gap",
    "cam_model",
    "class_cams",
    "googlenet_gap",
    "small_gap",
    "TemporalClassifier",
    "temporal_cam_model",
    "temporal_net",
    "upsample_cams",
]
