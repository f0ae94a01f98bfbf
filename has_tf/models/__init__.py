"""CAM models: the paper's AlexNet-GAP and GoogLeNet-GAP, wsolevaluation's
VGG16-, ResNet50- and InceptionV3-CAM (pretrained weights from a local file:
`pretrained`), a small CPU net, CAM outputs; the action network and its
temporal CAM."""

from has_tf.models import inception_v3_cam as inception_v3_cam_module
from has_tf.models import pretrained
from has_tf.models import resnet50_cam as resnet50_cam_module
from has_tf.models import vgg16_cam as vgg16_cam_module
from has_tf.models.acol import AcolHeads
from has_tf.models.adl import ADL
from has_tf.models.alexnet_gap import alexnet_gap
from has_tf.models.cam import ClassActivationMaps
from has_tf.models.cam import cam_model
from has_tf.models.cam import class_cams
from has_tf.models.cam import class_cams_at_size
from has_tf.models.cam import images_only
from has_tf.models.cam import net_inputs
from has_tf.models.cam import takes_labels
from has_tf.models.cam import upsample_cams
from has_tf.models.classifier import HEADS as CAM_HEADS
from has_tf.models.classifier import cam_classifier
from has_tf.models.common import POOLINGS
from has_tf.models.common import BuiltIn
from has_tf.models.common import LocalResponseNorm
from has_tf.models.googlenet_gap import googlenet_gap
from has_tf.models.inception_v3_cam import inception_v3_cam
from has_tf.models.resnet50_cam import resnet50_cam
from has_tf.models.small_gap import small_gap
from has_tf.models.temporal import LOSSES as TEMPORAL_LOSSES
from has_tf.models.temporal import POOLINGS as TEMPORAL_POOLINGS
from has_tf.models.temporal import TemporalClassifier
from has_tf.models.temporal import temporal_cam_model
from has_tf.models.temporal import temporal_loss
from has_tf.models.temporal import temporal_net
from has_tf.models.vgg16_cam import vgg16_cam

# The image classifiers by name, with the input side each is usually run
# at (the paper's and wsolevaluation's 224 crop; 64 for the CPU-sized net).
IMAGE_MODELS = {
    "small_gap": small_gap,
    "alexnet_gap": alexnet_gap,
    "googlenet_gap": googlenet_gap,
    "vgg16_cam": vgg16_cam,
    "resnet50_cam": resnet50_cam,
    "inception_v3_cam": inception_v3_cam,
}
INPUT_SIDES = {
    "small_gap": 64,
    "alexnet_gap": 224,
    "googlenet_gap": 224,
    "vgg16_cam": 224,
    "resnet50_cam": 224,
    "inception_v3_cam": 224,
}
# The backbones that take pretrained weights (`pretrained.load`).
PRETRAINED_BACKBONES = pretrained.BACKBONES
# The layers each classifier adds to its backbone, as layer-name prefixes:
# what `--lr_multiplier` speeds up (wsolevaluation's classifier group,
# which for ResNet50 includes layer4).
NEW_LAYERS = {
    "small_gap": ("cam_conv", "logits"),
    "alexnet_gap": ("cam_conv", "logits"),
    "googlenet_gap": ("cam_conv", "logits"),
    "vgg16_cam": vgg16_cam_module.NEW_LAYERS,
    "resnet50_cam": resnet50_cam_module.NEW_LAYERS,
    "inception_v3_cam": inception_v3_cam_module.NEW_LAYERS,
}

__all__ = [
    "ADL",
    "AcolHeads",
    "BuiltIn",
    "IMAGE_MODELS",
    "INPUT_SIDES",
    "NEW_LAYERS",
    "POOLINGS",
    "PRETRAINED_BACKBONES",
    "TEMPORAL_LOSSES",
    "TEMPORAL_POOLINGS",
    "ClassActivationMaps",
    "LocalResponseNorm",
    "CAM_HEADS",
    "alexnet_gap",
    "cam_classifier",
    "cam_model",
    "class_cams",
    "class_cams_at_size",
    "googlenet_gap",
    "inception_v3_cam",
    "pretrained",
    "resnet50_cam",
    "small_gap",
    "TemporalClassifier",
    "temporal_cam_model",
    "temporal_loss",
    "temporal_net",
    "upsample_cams",
    "images_only",
    "net_inputs",
    "takes_labels",
    "vgg16_cam",
]
