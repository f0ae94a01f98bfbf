"""Pretrained ImageNet weights from a local file into the field's backbones.

Nothing downloads: the file is the user's. Two kinds are read (a model
whose table row has a `WeightsReader`, timm's DeiT, reads its own):

- **torchvision's ImageNet weights as safetensors** (`.safetensors`): the
  files timm publishes on the Hugging Face Hub as `timm/vgg16.tv_in1k`,
  `timm/resnet50.tv_in1k` and `timm/inception_v3.tv_in1k`
  (`model.safetensors` in each), which hold torchvision's tensors under
  torchvision's names (`features.0.weight`, `layer1.0.conv1.weight`,
  `Mixed_5b.branch1x1.conv.weight`, ...); a state dict saved from
  torchvision with `safetensors.torch.save_file` reads the same. Where a
  machine can download:
  `huggingface-cli download timm/resnet50.tv_in1k model.safetensors
  --local-dir weights/resnet50.tv_in1k`. Inputs: RGB in [0, 1] with
  ImageNet's mean and std, as wsolevaluation feeds all three backbones.
  (torchvision's own Inception-v3 rescales those inputs to [-1, 1] inside
  `transform_input`; wsolevaluation's model has no such step and neither
  has this one.)
- **keras.applications' weight files** (`.h5`) where the layers match:
  `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5` (Caffe's VGG16: BGR
  inputs minus the mean; the first conv's input channels are reversed here
  so the model takes RGB like every other) and
  `inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5` (its batch
  norms have no scale: loaded as 1; inputs in [-1, 1]), from
  `https://storage.googleapis.com/tensorflow/keras-applications/`. Keras's
  ResNet50 does not match: it is ResNet v1 (the stride on each stage's
  first 1x1 conv, not on the 3x3) and its convs carry biases, so it is a
  different network from torchvision's; it is refused with that reason.

Conversion: conv kernels OIHW -> HWIO, dense weights `[out, in]` ->
`[in, out]`, batch norm weight/bias/running mean/running var -> gamma,
beta, moving mean, moving variance (`num_batches_tracked` is dropped).
The padding, pooling and batch-norm epsilon they were trained with are the
models' own (`has_tf.models.torch_style`). Every tensor of the file is
used once or is a part the backbone drops on purpose (VGG16's classifier,
Inception's Mixed_7, AuxLogits and fc, and ResNet's fc unless the model has
its 1000 classes, as wsolevaluation keeps it for ImageNet); anything else,
a missing tensor or a wrong shape is a `WeightsError` naming the tensor.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re

import numpy as np

from has_tf import vocabulary
from has_tf.models import table

__all__ = [
    "BACKBONES",
    "FORMATS",
    "WeightsError",
    "WeightsInfo",
    "describe",
    "file_sha256",
    "load",
    "read_tensors",
    "set_weights",
]

BACKBONES = ("vgg16_cam", "resnet50_cam", "inception_v3_cam")
# How a weights file is laid out: torchvision's names in safetensors, or
# keras.applications' legacy HDF5.
FORMATS = ("torchvision", "keras")

# Inputs each kind of file expects, in pixel units (mean, std), RGB.
_NORMALIZATIONS = {
    ("torchvision", "vgg16_cam"): (
        vocabulary.IMAGENET_MEAN_RGB,
        vocabulary.IMAGENET_STD_RGB,
    ),
    ("torchvision", "resnet50_cam"): (
        vocabulary.IMAGENET_MEAN_RGB,
        vocabulary.IMAGENET_STD_RGB,
    ),
    ("torchvision", "inception_v3_cam"): (
        vocabulary.IMAGENET_MEAN_RGB,
        vocabulary.IMAGENET_STD_RGB,
    ),
    # Caffe's BGR mean, given here in RGB order (the kernel is flipped).
    ("keras", "vgg16_cam"): ((123.68, 116.779, 103.939), (1.0, 1.0, 1.0)),
    ("keras", "inception_v3_cam"): ((127.5,) * 3, (127.5,) * 3),
}
# Tensors a backbone drops on purpose (by name prefix).
_DROPPED = {
    "vgg16_cam": ("classifier.", "pre_logits.", "head."),
    "resnet50_cam": ("fc.",),
    "inception_v3_cam": ("Mixed_7", "AuxLogits.", "fc."),
}
# torchvision's VGG16 `features` indices of the 13 convs, in order.
_VGG_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_VGG_NAMES = tuple(
    f"conv{block}_{index}"
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1)
    for index in range(1, convs + 1)
)

# InceptionV3-CAM's BasicConv2d convs in torchvision's creation order,
# which is also keras.applications' InceptionV3's: its .h5 layers (named
# conv2d_1, conv2d_2, ... as they were made) pair with ours by it.
_MIXED_5 = ("Mixed_5b", "Mixed_5c", "Mixed_5d")
_MIXED_6 = ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e")
_STEM = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
)
_A = (
    "branch1x1",
    "branch5x5_1",
    "branch5x5_2",
    "branch3x3dbl_1",
    "branch3x3dbl_2",
    "branch3x3dbl_3",
    "branch_pool",
)
_B = ("branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3")
_C = (
    "branch1x1",
    "branch7x7_1",
    "branch7x7_2",
    "branch7x7_3",
    "branch7x7dbl_1",
    "branch7x7dbl_2",
    "branch7x7dbl_3",
    "branch7x7dbl_4",
    "branch7x7dbl_5",
    "branch_pool",
)
_INCEPTION_CONVS = (
    _STEM
    + tuple(f"{block}_{b}" for block in _MIXED_5 for b in _A)
    + tuple(f"Mixed_6a_{b}" for b in _B)
    + tuple(f"{block}_{b}" for block in _MIXED_6 for b in _C)
)


class WeightsError(ValueError):
    """A weights file that does not fit the model (names the tensor)."""


@dataclasses.dataclass(frozen=True)
class WeightsInfo:
    """What was loaded, for the run's record.

    Attributes:
      path: the file.
      sha256: its SHA-256, hex.
      format: "torchvision" or "keras".
      mean, std: the input normalisation the weights expect, pixel units,
        RGB.
      loaded: Keras layers that received weights.
      fresh: layers with weights left as initialised (the new layers).
      dropped: the file's tensors not used on purpose.
    """

    path: str
    sha256: str
    format: str
    mean: tuple
    std: tuple
    loaded: tuple = ()
    fresh: tuple = ()
    dropped: tuple = ()

    def record(self) -> dict:
        """The fields `run_info.json` keeps."""
        return {
            "file": os.path.basename(self.path),
            "sha256": self.sha256,
            "format": self.format,
            "mean": list(self.mean),
            "std": list(self.std),
        }


def file_sha256(path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _format_of(path) -> str:
    if not os.path.isfile(path):
        raise WeightsError(
            f"Expected a weights file. Received: {path!r} (no such file)"
        )
    with open(path, "rb") as stream:
        head = stream.read(8)
    if head == b"\x89HDF\r\n\x1a\n":
        return "keras"
    if path.endswith(".safetensors"):
        return "torchvision"
    raise WeightsError(
        "Expected torchvision/timm weights as .safetensors or a "
        "keras.applications .h5 file (a PyTorch .pth pickle needs PyTorch: "
        "convert it once with safetensors.torch.save_file). "
        f"Received: {path!r}"
    )


def _reader(backbone):
    """The table row's own `WeightsReader`, if it has one."""
    return table.view("weights_reader").get(backbone)


def describe(path, backbone: str) -> WeightsInfo:
    """The format, hash and input normalisation of a weights file.

    Raises:
      WeightsError: no such file, an unknown format, or a format this
        backbone cannot take (Keras's ResNet50).
    """
    reader = _reader(backbone)
    if reader is None and backbone not in BACKBONES:
        raise ValueError(
            f"Expected `backbone` in {BACKBONES}. Received: "
            f"backbone={backbone!r}"
        )
    fmt = _format_of(path)
    if reader is not None:
        if fmt not in reader.normalizations:
            raise WeightsError(
                f"{backbone}: takes {sorted(reader.normalizations)} weights "
                f"files, not {fmt!r} ones. Received: {path!r}"
            )
        mean, std = reader.normalizations[fmt]
    elif (fmt, backbone) in _NORMALIZATIONS:
        mean, std = _NORMALIZATIONS[(fmt, backbone)]
    else:
        raise WeightsError(
            f"{backbone}: keras.applications' ResNet50 weights do not fit: "
            "Keras's ResNet50 is ResNet v1 (stride on each stage's first "
            "1x1 conv, convs with biases), a different network from "
            "torchvision's v1.5 that wsolevaluation uses; use torchvision's "
            f"weights (timm/resnet50.tv_in1k). Received: {path!r}"
        )
    return WeightsInfo(path, file_sha256(path), fmt, mean, std)


def read_tensors(path) -> dict:
    """A weights file's arrays by name (torchvision's or the .h5 layers').

    For `.h5` files the names are `<layer>/<weight name>` in the file's
    order, e.g. `block1_conv1/block1_conv1_W_1:0`.
    """
    fmt = _format_of(path)
    try:
        tensors = (
            _read_safetensors(path) if fmt == "torchvision" else _read_h5(path)
        )
    except Exception as error:  # The libraries' errors name no file.
        kind = ".safetensors" if fmt == "torchvision" else ".h5"
        raise WeightsError(
            f"{path}: not a readable {kind} file (a truncated or partial "
            f"download?): {type(error).__name__}: {str(error)[:200]}"
        ) from error
    bad = [
        name
        for name, value in tensors.items()
        if np.issubdtype(value.dtype, np.floating)
        and not np.isfinite(value).all()
    ]
    if bad:
        raise WeightsError(
            f"{path}: NaN or infinite values in {len(bad)} tensors, e.g. "
            f"{bad[:3]}: these weights cannot start a run."
        )
    return tensors


def _read_safetensors(path) -> dict:
    from safetensors.numpy import load_file

    return dict(load_file(path))


def _read_h5(path) -> dict:
    import h5py

    tensors = {}
    with h5py.File(path, "r") as root:
        group = root["model_weights"] if "model_weights" in root else root
        names = group.attrs.get("layer_names", list(group.keys()))
        for layer in names:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            weights = group[layer].attrs.get("weight_names", [])
            for weight in weights:
                weight = (
                    weight.decode() if isinstance(weight, bytes) else weight
                )
                tensors[f"{layer}/{weight}"] = np.asarray(group[layer][weight])
    return tensors


def set_weights(model, values: dict, source, hint: str = "") -> None:
    """Sets each layer's weights from `{layer name: {index: array}}` (all
    of a layer's, in Keras's layout), for models that read their own files
    (`table.WeightsReader`). `source` names the file; `hint` is added to
    the message of a layer the model lacks ("another ConvNeXt size?").

    Raises:
      WeightsError: a layer the model lacks, one not given all its
        weights, or a shape that differs, each named.
    """
    for layer_name, given in values.items():
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            raise WeightsError(
                f"{source}: a tensor for layer {layer_name!r}, which this "
                f"model does not have{f' ({hint})' if hint else ''}"
            ) from None
        current = layer.get_weights()
        if sorted(given) != list(range(len(current))):
            raise WeightsError(
                f"{source}: layer {layer_name!r} takes {len(current)} "
                f"tensors; the file gives {len(given)}"
            )
        new = [np.asarray(given[i]) for i in range(len(current))]
        for index, (value, old) in enumerate(zip(new, current)):
            if value.shape != old.shape:
                raise WeightsError(
                    f"{source}: {layer_name!r} weight {index} has shape "
                    f"{value.shape} in the file; this model takes "
                    f"{old.shape}"
                )
        layer.set_weights([v.astype(o.dtype) for v, o in zip(new, current)])


# --- torchvision names -------------------------------------------------


def _torch_module(backbone, layer_name):
    """The torchvision module of a Keras layer, or None for a new layer."""
    if backbone == "vgg16_cam":
        if layer_name in _VGG_NAMES:
            return f"features.{_VGG_CONVS[_VGG_NAMES.index(layer_name)]}"
        return None
    if backbone == "resnet50_cam":
        if layer_name in ("conv1", "bn1"):
            return layer_name
        if layer_name == "logits":
            return "fc"
        match = re.fullmatch(r"(layer\d)_(\d+)_(.+)", layer_name)
        if not match:
            return None
        rest = match.group(3)
        rest = {
            "downsample_conv": "downsample.0",
            "downsample_bn": "downsample.1",
        }.get(rest, rest)
        return f"{match.group(1)}.{match.group(2)}.{rest}"
    if layer_name.startswith(("cam_conv", "logits")):
        return None
    match = re.fullmatch(r"(Mixed_\d[a-e])_(.+?)(_bn)?", layer_name)
    if match:
        prefix = f"{match.group(1)}.{match.group(2)}"
    elif layer_name.startswith("Conv2d_"):
        prefix = layer_name.removesuffix("_bn")
    else:
        return None
    return f"{prefix}.{'bn' if layer_name.endswith('_bn') else 'conv'}"


def _converted(layer, tensors, module, take, optional=False):
    """The layer's weights from torchvision tensors under `module`."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        names = [("weight", lambda a: a.transpose(2, 3, 1, 0))]
        if layer.use_bias:
            names.append(("bias", None))
    elif kind == "Dense":
        names = [("weight", lambda a: a.T), ("bias", None)]
    elif kind == "BatchNormalization":
        names = [
            ("weight", None),
            ("bias", None),
            ("running_mean", None),
            ("running_var", None),
        ]
    else:
        raise WeightsError(f"Unexpected weighted layer {layer.name!r} ({kind})")
    arrays = []
    for suffix, convert in names:
        key = f"{module}.{suffix}"
        if key not in tensors:
            if optional:
                return None
            raise WeightsError(
                f"The weights file has no tensor {key!r} for layer "
                f"{layer.name!r}."
            )
        array = np.asarray(tensors[key], np.float32)
        arrays.append((key, convert(array) if convert else array))
    if kind == "BatchNormalization":
        tracked = f"{module}.num_batches_tracked"
        if tracked in tensors:
            take(tracked)
    expected = [tuple(w.shape) for w in layer.get_weights()]
    got = [a.shape for _, a in arrays]
    if expected != got:
        bad = next(i for i, (e, g) in enumerate(zip(expected, got)) if e != g)
        if optional:
            return None
        raise WeightsError(
            f"Tensor {arrays[bad][0]!r} has shape {got[bad]} after "
            f"conversion; layer {layer.name!r} needs {expected[bad]}."
        )
    for key, _ in arrays:
        take(key)
    return [a for _, a in arrays]


def _load_torchvision(model, tensors, backbone):
    used, loaded, fresh = set(), [], []
    take = used.add
    for layer in model.layers:
        if not layer.weights:
            continue
        module = _torch_module(backbone, layer.name)
        if module is None:
            fresh.append(layer.name)
            continue
        # ResNet's fc only fits the 1000-class model (the tool keeps it for
        # ImageNet and drops it elsewhere).
        optional = layer.name == "logits"
        weights = _converted(layer, tensors, module, take, optional)
        if weights is None:
            fresh.append(layer.name)
            continue
        layer.set_weights(weights)
        loaded.append(layer.name)
    leftover = sorted(set(tensors) - used)
    dropped = [k for k in leftover if k.startswith(_DROPPED[backbone])]
    unknown = [k for k in leftover if k not in dropped]
    if unknown:
        raise WeightsError(
            f"{backbone}: {len(unknown)} tensors of the weights file fit no "
            f"layer (is it another network's?), e.g. {unknown[:5]}"
        )
    return loaded, fresh, dropped


# --- keras.applications .h5 ------------------------------------------------


def _by_layer(tensors):
    layers = {}
    for key, array in tensors.items():
        layer, _, weight = key.partition("/")
        layers.setdefault(layer, []).append((weight, array))
    return layers


def _suffix(name):
    match = re.search(r"_(\d+)$", name)
    return int(match.group(1)) if match else 0


def _norm_parts(weights, source):
    """A Keras batch norm's arrays by role (names vary between releases)."""
    parts = {}
    for weight, array in weights:
        name = weight.split("/")[-1].split(":")[0]
        for role in ("moving_mean", "moving_variance", "gamma", "beta"):
            if role in name:
                parts[role] = np.asarray(array, np.float32)
                break
    missing = {"beta", "moving_mean", "moving_variance"} - set(parts)
    if missing:
        raise WeightsError(
            f"Batch norm {source!r} of the weights file lacks "
            f"{sorted(missing)}; it has {[w for w, _ in weights]}."
        )
    return parts


def _load_keras(model, tensors, backbone):
    by_layer = _by_layer(tensors)
    loaded, fresh, used = [], [], set()

    def put(layer, arrays, source):
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(a.shape) for a in arrays]
        if expected != got:
            raise WeightsError(
                f"Layer {source!r} of the weights file has shapes {got}; "
                f"layer {layer.name!r} needs {expected}."
            )
        layer.set_weights(arrays)
        loaded.append(layer.name)
        used.add(source)

    if backbone == "vgg16_cam":
        for name in _VGG_NAMES:
            block, index = name[4:].split("_")
            source = f"block{block}_conv{index}"
            if source not in by_layer:
                raise WeightsError(
                    f"The weights file has no layer {source!r} for layer "
                    f"{name!r}."
                )
            kernel, bias = (
                np.asarray(a, np.float32) for _, a in by_layer[source]
            )
            if name == "conv1_1":
                kernel = kernel[:, :, ::-1, :]  # BGR -> RGB
            put(model.get_layer(name), [kernel, bias], source)
        dropped = ("fc1", "fc2", "predictions")
    else:
        convs = sorted(
            (k for k in by_layer if k.startswith("conv2d")), key=_suffix
        )
        norms = sorted(
            (k for k in by_layer if k.startswith("batch_normalization")),
            key=_suffix,
        )
        ours = list(_INCEPTION_CONVS)
        if len(convs) < len(ours) or len(norms) < len(ours):
            raise WeightsError(
                f"{backbone}: the weights file has {len(convs)} convs and "
                f"{len(norms)} batch norms; InceptionV3 up to Mixed_6e needs "
                f"{len(ours)} of each (is it another network's?)."
            )
        for name, conv_source, norm_source in zip(ours, convs, norms):
            ((_, kernel),) = by_layer[conv_source]
            put(
                model.get_layer(name),
                [np.asarray(kernel, np.float32)],
                conv_source,
            )
            parts = _norm_parts(by_layer[norm_source], norm_source)
            beta = parts["beta"]
            gamma = parts.get("gamma", np.ones_like(beta))
            put(
                model.get_layer(f"{name}_bn"),
                [gamma, beta, parts["moving_mean"], parts["moving_variance"]],
                norm_source,
            )
        dropped = (
            tuple(convs[len(ours) :])
            + tuple(norms[len(ours) :])
            + ("predictions",)
        )
    fresh = [
        layer.name
        for layer in model.layers
        if layer.weights and layer.name not in loaded
    ]
    unknown = sorted(
        k for k in by_layer if k not in used and not k.startswith(dropped)
    )
    if unknown:
        raise WeightsError(
            f"{backbone}: {len(unknown)} layers of the weights file fit no "
            f"layer, e.g. {unknown[:5]}"
        )
    return loaded, fresh, sorted(set(by_layer) - used)


def load(model, path, backbone: str) -> WeightsInfo:
    """Loads a pretrained weights file into a `has_tf.models` backbone.

    Args:
      model: a model built by `vgg16_cam`, `resnet50_cam` or
        `inception_v3_cam` (any `num_classes`, `large_feature_map`).
      path: the weights file (module docstring).
      backbone: which of those builders made `model`.

    Returns:
      `WeightsInfo` (what loaded, what stayed fresh, the normalisation).

    Raises:
      WeightsError: the file does not fit: a missing tensor, a wrong shape
        or an unknown tensor, each named.
    """
    info, reader = describe(path, backbone), _reader(backbone)
    tensors = read_tensors(path)
    loader = {"torchvision": _load_torchvision, "keras": _load_keras}
    loaded, fresh, dropped = (
        reader.load(model, tensors, path)
        if reader is not None
        else loader[info.format](model, tensors, backbone)
    )
    return dataclasses.replace(
        info, loaded=tuple(loaded), fresh=tuple(fresh), dropped=tuple(dropped)
    )
