"""Class activation maps (Zhou et al., CVPR 2016) from GAP classifiers.

For a classifier that ends in feature maps F `[B, h, w, K]`, global
pooling and a dense layer with kernel W `[K, N]` and bias b `[N]`, the CAM
of class c is `cams[..., c] = sum_k W[k, c] * F[..., k]` (no bias). With
global average pooling, `logits[c] == mean(cams[..., c]) + b[c]`: the CAM
spreads the class score over space, which is what makes it a localization
map. With global max pooling the same CAM is used, without that identity.
"""

from __future__ import annotations

import keras
from keras import ops

from has_tf.models.acol import AcolHeads
from has_tf.models.common import POOL_NAMES


@keras.saving.register_keras_serializable(package="has_tf")
class ClassActivationMaps(keras.layers.Layer):
    """Projects feature maps on a dense classifier's kernel: the CAMs.

    Shares the weights of `classifier` (a `keras.layers.Dense`): no copy,
    so the CAMs follow training.

    Input shape:
      `[B, h, w, K]` feature maps, any float dtype.

    Output shape:
      float32 `[B, h, w, N]`, N the classifier's units.
    """

    def __init__(self, classifier: keras.layers.Dense, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier

    def call(self, features):
        kernel = ops.cast(self.classifier.kernel, "float32")
        return ops.einsum(
            "bhwk,kn->bhwn", ops.cast(features, "float32"), kernel
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.classifier.units)


@keras.saving.register_keras_serializable(package="has_tf")
class AcolCams(keras.layers.Layer):
    """ACoL's CAMs: `max(minmax(A), minmax(B))` of an `AcolHeads` layer
    (shared weights), head B on the features erased by the labels.

    Call: `(features [B, h, w, C], labels int [B], -1: the top-1)` ->
    float32 `[B, h, w, N]`.
    """

    def __init__(self, heads, **kwargs):
        super().__init__(**kwargs)
        self.heads = heads

    def call(self, features, labels):
        return self.heads.cams(features, labels)

    def compute_output_shape(self, features_shape, labels_shape=None):
        return (*features_shape[:-1], self.heads.num_classes)


def _acol_cam_model(model, heads):
    features, labels = heads.input
    cams = AcolCams(heads, name="cams")(features, labels)
    return keras.Model(
        model.inputs,
        {"logits": model.outputs[0], "cams": cams},
        name=f"{model.name}_cam",
    )


def takes_labels(net) -> bool:
    """Whether a classifier or CAM net takes `[images, labels]` (ACoL)."""
    return len(net.inputs) == 2


def net_inputs(net, images, classes=None):
    """What `net` takes for `images`: the images, or for an ACoL net
    `[images, labels]` with `classes` (int `[B]`) as the labels, -1 (the
    top-1 class of its first head) when None."""
    if not takes_labels(net):
        return images
    images = ops.convert_to_tensor(images)
    if classes is None:
        classes = ops.full((ops.shape(images)[0],), -1, "int32")
    return [images, ops.cast(classes, "int32")]


@keras.saving.register_keras_serializable(package="has_tf")
class TopOneLabels(keras.layers.Layer):
    """-1 labels (int32 `[B]`) for a batch: "the top-1 class" to ACoL."""

    def call(self, images):
        return ops.full((ops.shape(images)[0],), -1, "int32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)


def images_only(net: keras.Model) -> keras.Model:
    """`net` as a model of the images alone: an ACoL net gets -1 labels
    (its CAMs are those of its top-1 class); other nets are returned."""
    if not takes_labels(net):
        return net
    spec = net.inputs[0]
    images = keras.Input(spec.shape[1:], dtype=spec.dtype, name="images")
    labels = TopOneLabels(name="top1_labels")(images)
    return keras.Model(images, net([images, labels]), name=net.name)


def _pool_layer(model: keras.Model):
    for name in POOL_NAMES.values():
        try:
            return model.get_layer(name)
        except ValueError:
            continue
    raise ValueError(
        "Expected a model with a global pooling layer named "
        f"{sorted(POOL_NAMES.values())} (as the has_tf.models builders "
        f"make). Received: model {model.name!r} with layers "
        f"{[layer.name for layer in model.layers][-6:]} (last six)"
    )


def feature_map(model: keras.Model, layer_name: str, option: str):
    """The output `[B, h, w, C]` of `model`'s layer `layer_name` (a
    symbolic tensor of the functional graph), for options that read a
    feature map other than the CAM head's (`--ddt_layer`,
    `--box_features`).

    Raises:
      ValueError: naming `option` and the value: no such layer, or one
        whose output is not a 4-D map.
    """
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        names = [layer.name for layer in model.layers if layer.weights]
        raise ValueError(
            f"{option}: model {model.name!r} has no layer {layer_name!r} "
            f"(its layers with weights end {names[-6:]}). Received: "
            f"{layer_name!r}"
        ) from None
    if len(layer.output.shape) != 4:
        raise ValueError(
            f"{option}: expected a layer with a feature map [B, h, w, C]; "
            f"{layer_name!r} gives {tuple(layer.output.shape)}. Received: "
            f"{layer_name!r}"
        )
    return layer.output


def cam_model(model: keras.Model, features: bool = False) -> keras.Model:
    """A model sharing `model`'s weights that also outputs the CAMs.

    Args:
      model: a classifier built by `has_tf.models` (or any functional model
        with a global pooling layer named `gap`/`gmp` on the CAM feature
        maps and a dense classifier named `logits`).
      features: also output the feature map the CAM head reads,
        `"features"` float `[B, h, w, K]` (the input of its pooling, whose
        channels the `logits` kernel `[K, N]` weighs): what PC1 maps are
        made of (`has_tf.postprocess.pc1`). Only for a model whose CAMs
        are its CAM head's.

    A layer of `model` with a `cams_of(model)` method (TS-CAM's
    `SemanticMaps`) says how the model's CAMs are read: they are what it
    returns, a tensor of the model's graph.

    Returns:
      A `keras.Model` from the same inputs to
      `{"logits": float32 [B, N], "cams": float32 [B, h, w, N]}`. For an
      ACoL model (`has_tf.models.acol`) the inputs are `[images,
      labels]` and channel `labels[i]` of image i's CAMs is its CAM of
      that class (`net_inputs` builds them).

    Raises:
      ValueError: the model lacks those layers; `features` for a model
        whose CAMs a method's own layer makes.
    """
    for layer in model.layers:
        own = isinstance(layer, AcolHeads) or callable(
            getattr(layer, "cams_of", None)
        )
        if own and features:
            raise ValueError(
                "--localization_map=pc1 reads the feature map a CAM head "
                f"weighs; model {model.name!r} makes its maps in its "
                f"method's own layer {layer.name!r} "
                f"({type(layer).__name__}). Use --localization_map=cam."
            )
        if isinstance(layer, AcolHeads):
            return _acol_cam_model(model, layer)
        if callable(getattr(layer, "cams_of", None)):
            return keras.Model(
                model.inputs,
                {"logits": model.outputs[0], "cams": layer.cams_of(model)},
                name=f"{model.name}_cam",
            )
    pool = _pool_layer(model)
    try:
        classifier = model.get_layer("logits")
    except ValueError:
        raise ValueError(
            "Expected a dense classifier layer named 'logits'. "
            f"Received: model {model.name!r}"
        ) from None
    if not isinstance(classifier, keras.layers.Dense):
        raise ValueError(
            "Expected the 'logits' layer to be keras.layers.Dense. "
            f"Received: {type(classifier).__name__}"
        )
    cams = ClassActivationMaps(classifier, name="cams")(pool.input)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    outputs = {"logits": model.outputs[0], "cams": cams}
    if features:
        outputs["features"] = pool.input
    return keras.Model(inputs, outputs, name=f"{model.name}_cam")


def class_cams(cams, classes=None, logits=None):
    """The CAM of one class per image: the given class, or the top-1.

    Args:
      cams: float `[B, h, w, N]`.
      classes: int `[B]` class per image (e.g. the true labels), or None
        to take each image's top-1 class from `logits`.
      logits: float `[B, N]`, needed when `classes` is None.

    Returns:
      float32 `[B, h, w]`.

    Raises:
      ValueError: neither `classes` nor `logits` given.
    """
    if classes is None:
        if logits is None:
            raise ValueError(
                "Expected `classes` or `logits` (for the top-1 class). "
                "Received: classes=None, logits=None"
            )
        classes = ops.argmax(logits, axis=-1)
    cams = ops.cast(ops.convert_to_tensor(cams), "float32")
    index = ops.reshape(ops.cast(classes, "int32"), (-1, 1, 1, 1))
    return ops.take_along_axis(cams, index, axis=3)[..., 0]


def upsample_cams(cams, size):
    """Bilinearly resizes CAMs to an image size (half-pixel centres).

    Args:
      cams: float `[B, h, w]` or `[B, h, w, N]`.
      size: `(height, width)` of the output.

    Returns:
      float32 `[B, height, width]` or `[B, height, width, N]`.
    """
    cams = ops.cast(ops.convert_to_tensor(cams), "float32")
    squeeze = len(cams.shape) == 3
    if squeeze:
        cams = cams[..., None]
    out = ops.image.resize(
        cams, tuple(size), interpolation="bilinear", antialias=False
    )
    return out[..., 0] if squeeze else out


def class_cams_at_size(cams, classes, size):
    """The CAM of one class per image at image size: float32 `[B, H, W]`.

    `upsample_cams(class_cams(cams, classes), size)`: what localization
    (boxes, pictures) works on.

    Args:
      cams: float `[B, h, w, N]`.
      classes: int `[B]` class per image.
      size: `(H, W)` of the image.
    """
    return upsample_cams(class_cams(cams, classes=classes), size)
