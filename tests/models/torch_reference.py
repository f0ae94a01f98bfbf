"""An independent NumPy forward pass of wsolevaluation's CAM backbones.

Written from `wsol/vgg.py`, `wsol/resnet.py` and `wsol/inception.py`
(clovaai/wsolevaluation, architecture type "cam", eval mode) in PyTorch's
conventions: NCHW tensors, OIHW kernels, a state dict keyed by
torchvision's module names, symmetric zero padding, max pooling that pads
with minus infinity and rounds up in ceil mode as PyTorch does (a last
window must start inside the input or its left padding), average pooling
that counts its padding, batch norm from running statistics. It shares no
code with `has_tf.models`, which is what makes the comparison a test.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """`F.conv2d`: x `[N, C, H, W]`, weight `[O, C, kh, kw]`."""
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = weight.shape[2:]
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]
    out = np.einsum("nchwij,ocij->nohw", windows, weight, optimize=True)
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out


def _pool_out(size, kernel, stride, padding, ceil_mode):
    rounding = math.ceil if ceil_mode else math.floor
    out = rounding((size + 2 * padding - kernel) / stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def max_pool2d(x, kernel, stride, padding=0, ceil_mode=False):
    """`F.max_pool2d`: padding and the ceil-mode overhang count as -inf."""
    n, c, h, w = x.shape
    oh = _pool_out(h, kernel, stride, padding, ceil_mode)
    ow = _pool_out(w, kernel, stride, padding, ceil_mode)
    extra_h = max((oh - 1) * stride + kernel - h - 2 * padding, 0)
    extra_w = max((ow - 1) * stride + kernel - w - 2 * padding, 0)
    x = np.pad(
        x,
        (
            (0, 0),
            (0, 0),
            (padding, padding + extra_h),
            (padding, padding + extra_w),
        ),
        constant_values=-np.inf,
    )
    windows = sliding_window_view(x, (kernel, kernel), axis=(2, 3))
    return windows[:, :, ::stride, ::stride][:, :, :oh, :ow].max(axis=(4, 5))


def avg_pool2d(x, kernel, stride, padding):
    """`F.avg_pool2d` with `count_include_pad=True` (its default)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x, (kernel, kernel), axis=(2, 3))
    return windows[:, :, ::stride, ::stride].mean(axis=(4, 5))


def batch_norm(x, sd, name, eps):
    mean = sd[f"{name}.running_mean"][None, :, None, None]
    var = sd[f"{name}.running_var"][None, :, None, None]
    gamma = sd[f"{name}.weight"][None, :, None, None]
    beta = sd[f"{name}.bias"][None, :, None, None]
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def relu(x):
    return np.maximum(x, 0.0)


def _head(features, sd, conv6=None):
    """avgpool + fc, and the CAM of every class (weights . features)."""
    pooled = features.mean(axis=(2, 3))
    logits = pooled @ sd["fc.weight"].T + sd["fc.bias"]
    cams = np.einsum("nkhw,ck->nchw", features, sd["fc.weight"])
    return logits, cams


def vgg16_cam(x, sd, large_feature_map=False):
    """x `[N, 3, H, W]` -> (logits `[N, K]`, cams `[N, K, h, w]`).

    Without pool4 the tool's convs shift position in `features`; its
    `adjust_pretrained_model` pairs them with torchvision's by order.
    """
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]
    cfg += [512, 512, 512] if large_feature_map else ["M", 512, 512, 512]
    torchvision = sorted(
        int(k.split(".")[1])
        for k in sd
        if k.startswith("features.") and k.endswith(".weight")
    )
    convs = iter(torchvision)
    for v in cfg:
        if v == "M":
            x = max_pool2d(x, 2, 2)
        else:
            index = next(convs)
            x = relu(
                conv2d(
                    x,
                    sd[f"features.{index}.weight"],
                    sd[f"features.{index}.bias"],
                    padding=1,
                )
            )
    x = relu(conv2d(x, sd["conv6.weight"], sd["conv6.bias"], padding=1))
    return _head(x, sd)


def _bottleneck(x, sd, name, stride, downsample):
    out = relu(
        batch_norm(
            conv2d(x, sd[f"{name}.conv1.weight"]), sd, f"{name}.bn1", 1e-5
        )
    )
    out = relu(
        batch_norm(
            conv2d(out, sd[f"{name}.conv2.weight"], stride=stride, padding=1),
            sd,
            f"{name}.bn2",
            1e-5,
        )
    )
    out = batch_norm(
        conv2d(out, sd[f"{name}.conv3.weight"]), sd, f"{name}.bn3", 1e-5
    )
    identity = x
    if downsample:
        identity = batch_norm(
            conv2d(x, sd[f"{name}.downsample.0.weight"], stride=stride),
            sd,
            f"{name}.downsample.1",
            1e-5,
        )
    return relu(out + identity)


def resnet50_cam(x, sd, large_feature_map=False):
    x = relu(
        batch_norm(
            conv2d(x, sd["conv1.weight"], stride=2, padding=3), sd, "bn1", 1e-5
        )
    )
    x = max_pool2d(x, 3, 2, padding=1)
    inplanes = 64
    strides = (1, 2, 1 if large_feature_map else 2, 1)
    for layer, (planes, blocks) in enumerate(
        ((64, 3), (128, 4), (256, 6), (512, 3)), start=1
    ):
        for block in range(blocks):
            stride = strides[layer - 1] if block == 0 else 1
            downsample = block == 0 and (stride != 1 or inplanes != planes * 4)
            x = _bottleneck(x, sd, f"layer{layer}.{block}", stride, downsample)
            inplanes = planes * 4
    return _head(x, sd)


def _basic(x, sd, name, stride=1, padding=0):
    return relu(
        batch_norm(
            conv2d(
                x, sd[f"{name}.conv.weight"], stride=stride, padding=padding
            ),
            sd,
            f"{name}.bn",
            1e-3,
        )
    )


def _inception_a(x, sd, n):
    b1 = _basic(x, sd, f"{n}.branch1x1")
    b5 = _basic(
        _basic(x, sd, f"{n}.branch5x5_1"), sd, f"{n}.branch5x5_2", padding=2
    )
    b3 = _basic(x, sd, f"{n}.branch3x3dbl_1")
    b3 = _basic(b3, sd, f"{n}.branch3x3dbl_2", padding=1)
    b3 = _basic(b3, sd, f"{n}.branch3x3dbl_3", padding=1)
    bp = _basic(avg_pool2d(x, 3, 1, 1), sd, f"{n}.branch_pool")
    return np.concatenate([b1, b5, b3, bp], axis=1)


def _inception_b(x, sd, n):
    b3 = _basic(x, sd, f"{n}.branch3x3", stride=1, padding=1)
    bd = _basic(x, sd, f"{n}.branch3x3dbl_1")
    bd = _basic(bd, sd, f"{n}.branch3x3dbl_2", padding=1)
    bd = _basic(bd, sd, f"{n}.branch3x3dbl_3", stride=1, padding=1)
    bp = max_pool2d(x, 3, 1, padding=1)
    return np.concatenate([b3, bd, bp], axis=1)


def _inception_c(x, sd, n):
    b1 = _basic(x, sd, f"{n}.branch1x1")
    b7 = _basic(x, sd, f"{n}.branch7x7_1")
    b7 = _basic(b7, sd, f"{n}.branch7x7_2", padding=(0, 3))
    b7 = _basic(b7, sd, f"{n}.branch7x7_3", padding=(3, 0))
    bd = _basic(x, sd, f"{n}.branch7x7dbl_1")
    bd = _basic(bd, sd, f"{n}.branch7x7dbl_2", padding=(3, 0))
    bd = _basic(bd, sd, f"{n}.branch7x7dbl_3", padding=(0, 3))
    bd = _basic(bd, sd, f"{n}.branch7x7dbl_4", padding=(3, 0))
    bd = _basic(bd, sd, f"{n}.branch7x7dbl_5", padding=(0, 3))
    bp = _basic(avg_pool2d(x, 3, 1, 1), sd, f"{n}.branch_pool")
    return np.concatenate([b1, b7, bd, bp], axis=1)


def inception_v3_cam(x, sd, large_feature_map=False):
    """The tool's InceptionCam; `SPG_A4` (a 1x1 conv) given as `fc`."""
    x = _basic(x, sd, "Conv2d_1a_3x3", stride=2, padding=1)
    x = _basic(x, sd, "Conv2d_2a_3x3")
    x = _basic(x, sd, "Conv2d_2b_3x3", padding=1)
    x = max_pool2d(x, 3, 2, padding=1, ceil_mode=True)
    x = _basic(x, sd, "Conv2d_3b_1x1")
    x = _basic(x, sd, "Conv2d_4a_3x3")
    x = max_pool2d(x, 3, 2, padding=1, ceil_mode=True)
    for n in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
        x = _inception_a(x, sd, n)
    if not large_feature_map:
        x = max_pool2d(x, 3, 2, ceil_mode=True)
    x = _inception_b(x, sd, "Mixed_6a")
    for n in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
        x = _inception_c(x, sd, n)
    x = relu(
        conv2d(x, sd["SPG_A3_1b.0.weight"], sd["SPG_A3_1b.0.bias"], padding=1)
    )
    x = relu(
        conv2d(x, sd["SPG_A3_2b.0.weight"], sd["SPG_A3_2b.0.bias"], padding=1)
    )
    feat_map = conv2d(x, sd["SPG_A4.weight"], sd["SPG_A4.bias"])
    return feat_map.mean(axis=(2, 3)), feat_map


NETWORKS = {
    "vgg16_cam": vgg16_cam,
    "resnet50_cam": resnet50_cam,
    "inception_v3_cam": inception_v3_cam,
}


# --- torchvision's state dicts: names and shapes, from its __init__s -------


def _conv(shapes, name, out, inp, kernel, bias):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    shapes[f"{name}.weight"] = (out, inp, kh, kw)
    if bias:
        shapes[f"{name}.bias"] = (out,)


def _bn(shapes, name, channels):
    for suffix in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"{name}.{suffix}"] = (channels,)
    shapes[f"{name}.num_batches_tracked"] = ()


def _basic_shapes(shapes, name, out, inp, kernel):
    _conv(shapes, f"{name}.conv", out, inp, kernel, bias=False)
    _bn(shapes, f"{name}.bn", out)


def vgg16_shapes():
    shapes, inp, index = {}, 3, 0
    for v in [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        "M",
    ]:
        if v == "M":
            index += 1
            continue
        _conv(shapes, f"features.{index}", v, inp, 3, bias=True)
        inp, index = v, index + 2
    return shapes


def resnet50_shapes():
    shapes = {}
    _conv(shapes, "conv1", 64, 3, 7, bias=False)
    _bn(shapes, "bn1", 64)
    inplanes = 64
    for layer, (planes, blocks, stride) in enumerate(
        ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=1
    ):
        for block in range(blocks):
            n = f"layer{layer}.{block}"
            _conv(shapes, f"{n}.conv1", planes, inplanes, 1, False)
            _bn(shapes, f"{n}.bn1", planes)
            _conv(shapes, f"{n}.conv2", planes, planes, 3, False)
            _bn(shapes, f"{n}.bn2", planes)
            _conv(shapes, f"{n}.conv3", planes * 4, planes, 1, False)
            _bn(shapes, f"{n}.bn3", planes * 4)
            if block == 0 and (stride != 1 or inplanes != planes * 4):
                _conv(
                    shapes, f"{n}.downsample.0", planes * 4, inplanes, 1, False
                )
                _bn(shapes, f"{n}.downsample.1", planes * 4)
            inplanes = planes * 4
    return shapes


def inception_v3_shapes():
    """Conv2d_1a_3x3 .. Mixed_6e (the part the CAM backbone keeps)."""
    s = {}
    for name, out, inp, k in (
        ("Conv2d_1a_3x3", 32, 3, 3),
        ("Conv2d_2a_3x3", 32, 32, 3),
        ("Conv2d_2b_3x3", 64, 32, 3),
        ("Conv2d_3b_1x1", 80, 64, 1),
        ("Conv2d_4a_3x3", 192, 80, 3),
    ):
        _basic_shapes(s, name, out, inp, k)
    for n, inp, pool in (
        ("Mixed_5b", 192, 32),
        ("Mixed_5c", 256, 64),
        ("Mixed_5d", 288, 64),
    ):
        _basic_shapes(s, f"{n}.branch1x1", 64, inp, 1)
        _basic_shapes(s, f"{n}.branch5x5_1", 48, inp, 1)
        _basic_shapes(s, f"{n}.branch5x5_2", 64, 48, 5)
        _basic_shapes(s, f"{n}.branch3x3dbl_1", 64, inp, 1)
        _basic_shapes(s, f"{n}.branch3x3dbl_2", 96, 64, 3)
        _basic_shapes(s, f"{n}.branch3x3dbl_3", 96, 96, 3)
        _basic_shapes(s, f"{n}.branch_pool", pool, inp, 1)
    _basic_shapes(s, "Mixed_6a.branch3x3", 384, 288, 3)
    _basic_shapes(s, "Mixed_6a.branch3x3dbl_1", 64, 288, 1)
    _basic_shapes(s, "Mixed_6a.branch3x3dbl_2", 96, 64, 3)
    _basic_shapes(s, "Mixed_6a.branch3x3dbl_3", 96, 96, 3)
    for n, c7 in (
        ("Mixed_6b", 128),
        ("Mixed_6c", 160),
        ("Mixed_6d", 160),
        ("Mixed_6e", 192),
    ):
        _basic_shapes(s, f"{n}.branch1x1", 192, 768, 1)
        _basic_shapes(s, f"{n}.branch7x7_1", c7, 768, 1)
        _basic_shapes(s, f"{n}.branch7x7_2", c7, c7, (1, 7))
        _basic_shapes(s, f"{n}.branch7x7_3", 192, c7, (7, 1))
        _basic_shapes(s, f"{n}.branch7x7dbl_1", c7, 768, 1)
        _basic_shapes(s, f"{n}.branch7x7dbl_2", c7, c7, (7, 1))
        _basic_shapes(s, f"{n}.branch7x7dbl_3", c7, c7, (1, 7))
        _basic_shapes(s, f"{n}.branch7x7dbl_4", c7, c7, (7, 1))
        _basic_shapes(s, f"{n}.branch7x7dbl_5", 192, c7, (1, 7))
        _basic_shapes(s, f"{n}.branch_pool", 192, 768, 1)
    return s


SHAPES = {
    "vgg16_cam": vgg16_shapes,
    "resnet50_cam": resnet50_shapes,
    "inception_v3_cam": inception_v3_shapes,
}


def random_state_dict(backbone, seed=0):
    """torchvision-named float32 tensors: He-scaled convs, BN statistics
    away from the identity (so a swapped mean/var or gamma/beta shows)."""
    rng = np.random.default_rng(seed)
    sd = {}
    for name, shape in SHAPES[backbone]().items():
        if name.endswith("num_batches_tracked"):
            sd[name] = np.array(7, np.int64)
        elif name.endswith("running_var"):
            sd[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif name.endswith("running_mean"):
            sd[name] = rng.normal(0, 0.2, shape).astype(np.float32)
        elif len(shape) == 4:
            fan_in = np.prod(shape[1:])
            sd[name] = (
                rng.standard_normal(shape) * np.sqrt(2 / fan_in)
            ).astype(np.float32)
        elif name.endswith(".weight"):  # BN scale
            sd[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            sd[name] = rng.normal(0, 0.1, shape).astype(np.float32)
    return sd
