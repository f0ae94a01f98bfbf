"""CAM models: the paper's AlexNet-GAP and GoogLeNet-GAP, wsolevaluation's
VGG16-, ResNet50- and InceptionV3-CAM (pretrained weights from a local file:
`pretrained`), a small CPU net, CAM outputs; the action network and its
temporal CAM.

`table` is the one table of image models (`ImageModel` rows, each written
by its builder's module); `ModelInput` is how a builder's model takes its
images and hides them in training; `BuiltIn` is what a method builds into
a backbone (`has_tf.methods`).

Modules: one per image classifier (`alexnet_gap`, `googlenet_gap`,
`small_gap`, `vgg16_cam`, `resnet50_cam`, `inception_v3_cam`; `convnext`:
timm's and keras.applications' ConvNeXts with a CAM head; `densenet`:
torchvision's DenseNet-161 with a CAM head; `deit`: timm's
DeiT backbones, their attention and timm's weights, as three CAM models;
`tscam`: TS-CAM's network on a DeiT and its attention-weighted CAMs;
`scm`: SCM's, TS-CAM's with its spatial calibration in training; `sat`:
SAT's spatial-aware token) and
`classifier` (`cam_classifier`, a CAM head on any backbone); `videos` (the
action network and its T-CAM); `cola` (CoLA's network and SniCo loss);
`aicl` (AICL's network and objective); `delu` (DELU's); `cam` (CAM
outputs of any of them);
`common` (blocks, `ModelInput`, `BuiltIn`, the checks); `table`;
`pretrained` (weights files); `torch_style` (PyTorch's padding and
pooling rules); `adl` and `acol` (the layers those methods build in)."""

from has_tf.models import pretrained
from has_tf.models import table
from has_tf.models.acol import AcolHeads
from has_tf.models.adl import ADL
from has_tf.models.aicl import aicl_net
from has_tf.models.alexnet_gap import alexnet_gap
from has_tf.models.cam import ClassActivationMaps
from has_tf.models.cam import cam_model
from has_tf.models.cam import class_cams
from has_tf.models.cam import class_cams_at_size
from has_tf.models.cam import feature_map
from has_tf.models.cam import images_only
from has_tf.models.cam import net_inputs
from has_tf.models.cam import takes_labels
from has_tf.models.cam import upsample_cams
from has_tf.models.classifier import HEADS as CAM_HEADS
from has_tf.models.classifier import cam_classifier
from has_tf.models.cola import cola_net
from has_tf.models.common import POOLINGS
from has_tf.models.common import BuiltIn
from has_tf.models.common import LocalResponseNorm
from has_tf.models.common import ModelInput
from has_tf.models.convnext import convnext_base
from has_tf.models.convnext import convnext_large
from has_tf.models.convnext import convnext_small
from has_tf.models.convnext import convnext_tiny
from has_tf.models.deit import deit_base
from has_tf.models.deit import deit_small
from has_tf.models.deit import deit_tiny
from has_tf.models.deit import vision_transformer
from has_tf.models.delu import delu_net
from has_tf.models.densenet import densenet161
from has_tf.models.googlenet_gap import googlenet_gap
from has_tf.models.inception_v3_cam import inception_v3_cam
from has_tf.models.resnet50_cam import resnet50_cam
from has_tf.models.sat import sat
from has_tf.models.scm import scm
from has_tf.models.small_gap import small_gap
from has_tf.models.table import ImageModel
from has_tf.models.tscam import tscam
from has_tf.models.vgg16_cam import vgg16_cam
from has_tf.models.videos import LOSSES as TEMPORAL_LOSSES
from has_tf.models.videos import POOLINGS as TEMPORAL_POOLINGS
from has_tf.models.videos import TemporalClassifier
from has_tf.models.videos import temporal_cam_model
from has_tf.models.videos import temporal_loss
from has_tf.models.videos import temporal_net

# The table's views (`table`): the image classifiers by name, the input
# side each is usually run at (the paper's and wsolevaluation's 224 crop;
# 64 for the CPU-sized net), and the layers each adds to its backbone as
# name prefixes: what `--lr_multiplier` speeds up (wsolevaluation's
# classifier group, which for ResNet50 includes layer4).
IMAGE_MODELS = table.view("build")
INPUT_SIDES = table.view("input_side")
NEW_LAYERS = table.view("new_layers")
# The models that take pretrained weights (`pretrained.load`): the
# torchvision/keras.applications backbones and those with a table row's
# own `WeightsReader` (timm's DeiT).
PRETRAINED_BACKBONES = table.names(pretrained=True)

__all__ = [
    "ADL",
    "AcolHeads",
    "BuiltIn",
    "ImageModel",
    "ModelInput",
    "IMAGE_MODELS",
    "INPUT_SIDES",
    "NEW_LAYERS",
    "POOLINGS",
    "PRETRAINED_BACKBONES",
    "TEMPORAL_LOSSES",
    "TEMPORAL_POOLINGS",
    "ClassActivationMaps",
    "convnext_base",
    "convnext_large",
    "convnext_small",
    "convnext_tiny",
    "densenet161",
    "deit_base",
    "deit_small",
    "deit_tiny",
    "vision_transformer",
    "LocalResponseNorm",
    "CAM_HEADS",
    "alexnet_gap",
    "cam_classifier",
    "aicl_net",
    "cola_net",
    "delu_net",
    "cam_model",
    "class_cams",
    "feature_map",
    "class_cams_at_size",
    "googlenet_gap",
    "inception_v3_cam",
    "pretrained",
    "table",
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
    "sat",
    "scm",
    "tscam",
    "vgg16_cam",
]
