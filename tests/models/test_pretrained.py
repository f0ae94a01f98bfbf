"""Tests for has_tf.models.pretrained: torchvision and Keras weight files.

The converted networks are compared with `torch_reference`, a NumPy forward
pass of wsolevaluation's backbones written in PyTorch's conventions.
"""

import h5py
import numpy as np
import pytest
from safetensors.numpy import save_file

from has_tf import models
from has_tf.models import pretrained
from tests.models import torch_reference


def _write(path, tensors):
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, path)
    return str(path)


def _head_in_torch_layout(model, backbone):
    """The model's fresh head as the reference's torch tensors."""
    dense = model.get_layer("logits")
    kernel, bias = (w.numpy() for w in dense.weights)
    if backbone == "inception_v3_cam":
        sd = {"SPG_A4.weight": kernel.T[:, :, None, None], "SPG_A4.bias": bias}
        for index in (1, 2):
            k, b = model.get_layer(f"cam_conv{index}").get_weights()
            key = {1: "SPG_A3_1b.0", 2: "SPG_A3_2b.0"}[index]
            sd[f"{key}.weight"] = k.transpose(3, 2, 0, 1)
            sd[f"{key}.bias"] = b
        return sd
    sd = {"fc.weight": kernel.T, "fc.bias": bias}
    if backbone == "vgg16_cam":
        k, b = model.get_layer("cam_conv").get_weights()
        sd.update({"conv6.weight": k.transpose(3, 2, 0, 1), "conv6.bias": b})
    return sd


@pytest.mark.slow
@pytest.mark.parametrize(
    "backbone, side, large",
    [
        ("vgg16_cam", 48, False),
        ("vgg16_cam", 40, True),
        ("resnet50_cam", 62, False),
        ("resnet50_cam", 45, True),
        ("inception_v3_cam", 75, False),
        ("inception_v3_cam", 61, True),
    ],
)
def test_converted_network_equals_the_pytorch_reference(
    tmp_path, backbone, side, large
):
    sd = torch_reference.random_state_dict(backbone, seed=1)
    path = _write(tmp_path / "w.safetensors", sd)
    model = models.IMAGE_MODELS[backbone](
        5, input_shape=(side, side, 3), large_feature_map=large, weights=path
    )
    x = np.random.default_rng(2).normal(0, 1, (2, side, side, 3))
    x = x.astype(np.float32)
    out = models.cam_model(model)(x, training=False)
    reference = {**sd, **_head_in_torch_layout(model, backbone)}
    logits, cams = torch_reference.NETWORKS[backbone](
        x.transpose(0, 3, 1, 2).astype(np.float64), reference, large
    )
    ours = out["cams"].numpy().transpose(0, 3, 1, 2)
    if backbone == "inception_v3_cam":
        # The tool's CAM is its 1x1 conv's output: the bias included.
        ours = ours + reference["SPG_A4.bias"][None, :, None, None]
    scale = np.abs(cams).max()
    assert ours.shape == cams.shape
    np.testing.assert_allclose(ours, cams, atol=2e-4 * scale)
    np.testing.assert_allclose(
        out["logits"].numpy(), logits, atol=2e-4 * np.abs(logits).max()
    )


def _small_vgg_file(tmp_path, extra=None, drop=None, reshape=None):
    sd = torch_reference.random_state_dict("vgg16_cam")
    sd["classifier.6.weight"] = np.zeros((3, 2), np.float32)  # dropped
    sd.update(extra or {})
    for key in drop or ():
        del sd[key]
    for key, shape in (reshape or {}).items():
        sd[key] = np.zeros(shape, np.float32)
    return _write(tmp_path / "vgg16.safetensors", sd), sd


def test_every_tensor_lands_in_its_layer_once(tmp_path):
    path, sd = _small_vgg_file(tmp_path)
    model = models.vgg16_cam(3, input_shape=(32, 32, 3))
    info = pretrained.load(model, path, "vgg16_cam")
    kernel, bias = model.get_layer("conv3_2").get_weights()
    np.testing.assert_array_equal(
        kernel, sd["features.12.weight"].transpose(2, 3, 1, 0)
    )
    np.testing.assert_array_equal(bias, sd["features.12.bias"])
    assert len(info.loaded) == 13
    assert info.fresh == ("cam_conv", "logits")
    assert info.dropped == ("classifier.6.weight",)
    assert info.format == "torchvision"
    assert info.sha256 == pretrained.file_sha256(path)
    assert info.record()["file"] == "vgg16.safetensors"
    assert info.mean == models.pretrained.vocabulary.IMAGENET_MEAN_RGB


@pytest.mark.parametrize(
    "change, match",
    [
        (
            dict(drop=["features.10.bias"]),
            r"no tensor 'features\.10\.bias' "
            r"for layer 'conv3_1'",
        ),
        (
            dict(reshape={"features.0.weight": (64, 3, 5, 5)}),
            r"'features\.0\.weight' has shape \(5, 5, 3, 64\).*'conv1_1' needs "
            r"\(3, 3, 3, 64\)",
        ),
        (
            dict(extra={"layer1.0.conv1.weight": np.zeros(1, np.float32)}),
            r"1 tensors of the weights file fit no layer.*layer1\.0\.conv1",
        ),
    ],
)
def test_a_file_that_does_not_fit_names_the_tensor(tmp_path, change, match):
    path, _ = _small_vgg_file(tmp_path, **change)
    model = models.vgg16_cam(3, input_shape=(32, 32, 3))
    with pytest.raises(pretrained.WeightsError, match=match):
        pretrained.load(model, path, "vgg16_cam")


def test_another_backbones_file_is_refused(tmp_path):
    path = _write(
        tmp_path / "vgg.safetensors",
        torch_reference.random_state_dict("vgg16_cam"),
    )
    model = models.resnet50_cam(3, input_shape=(32, 32, 3))
    with pytest.raises(
        pretrained.WeightsError, match="no tensor 'conv1.weight'"
    ):
        pretrained.load(model, path, "resnet50_cam")


@pytest.mark.parametrize("classes, loads_fc", [(1000, True), (7, False)])
def test_resnet_keeps_the_imagenet_classifier_only_at_1000_classes(
    tmp_path, classes, loads_fc
):
    sd = torch_reference.random_state_dict("resnet50_cam")
    sd["fc.weight"] = (
        np.random.default_rng(0).normal(size=(1000, 2048)).astype(np.float32)
    )
    sd["fc.bias"] = np.arange(1000, dtype=np.float32)
    path = _write(tmp_path / "r.safetensors", sd)
    model = models.resnet50_cam(classes, input_shape=(32, 32, 3))
    info = pretrained.load(model, path, "resnet50_cam")
    assert ("logits" in info.loaded) == loads_fc
    assert ("fc.weight" in info.dropped) == (not loads_fc)
    if loads_fc:
        np.testing.assert_array_equal(
            model.get_layer("logits").kernel.numpy(), sd["fc.weight"].T
        )


def test_unreadable_files_are_named(tmp_path):
    model = models.vgg16_cam(3, input_shape=(32, 32, 3))
    with pytest.raises(pretrained.WeightsError, match="no such file"):
        pretrained.load(model, str(tmp_path / "nope.safetensors"), "vgg16_cam")
    pth = tmp_path / "vgg16-397923af.pth"
    pth.write_bytes(b"PK\x03\x04 torch pickle")
    with pytest.raises(pretrained.WeightsError, match=r"\.pth pickle needs"):
        pretrained.load(model, str(pth), "vgg16_cam")
    with pytest.raises(ValueError, match="backbone='alexnet_gap'"):
        pretrained.describe(str(pth), "alexnet_gap")


def test_broken_and_non_finite_files_are_named(tmp_path):
    """Truncated, empty and random files gave the libraries' tracebacks,
    naming no file; NaN weights loaded and failed later as "became NaN"."""
    import h5py

    model = models.vgg16_cam(3, input_shape=(32, 32, 3))
    whole = tmp_path / "whole.safetensors"
    _write(str(whole), {"features.0.weight": np.ones((4, 3, 3, 3), "f4")})
    cases = {
        "truncated.safetensors": whole.read_bytes()[:40],
        "empty.safetensors": b"",
        "random.safetensors": np.random.default_rng(0).bytes(256),
    }
    h5 = tmp_path / "whole.h5"
    with h5py.File(h5, "w") as file:
        file["block1_conv1/kernel"] = np.ones((3, 3, 3, 64), "f4")
    cases["truncated.h5"] = h5.read_bytes()[:1000]
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(pretrained.WeightsError, match="not a readable"):
            pretrained.load(model, str(path), "vgg16_cam")
    nan = tmp_path / "nan.safetensors"
    weight = np.ones((64, 3, 3, 3), "f4")
    weight[0, 0, 0, 0] = np.nan
    _write(str(nan), {"features.0.weight": weight})
    with pytest.raises(pretrained.WeightsError, match="NaN or infinite") as e:
        pretrained.load(model, str(nan), "vgg16_cam")
    assert "nan.safetensors" in str(e.value)
    assert "features.0.weight" in str(e.value)


# --- keras.applications' legacy .h5 files ----------------------------------


def _write_legacy_h5(path, layers):
    """keras.applications' layout: layer groups with `weight_names`."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [name.encode() for name, _ in layers]
        for name, weights in layers:
            group = f.create_group(name)
            group.attrs["weight_names"] = [
                f"{name}/{w}".encode() for w, _ in weights
            ]
            for w, array in weights:
                group.create_dataset(f"{name}/{w}", data=array)
    return str(path)


def test_keras_vgg16_file_loads_with_its_caffe_inputs_made_rgb(tmp_path):
    rng = np.random.default_rng(0)
    layers, inp = [], 3
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        out = (64, 128, 256, 512, 512)[block - 1]
        for index in range(1, convs + 1):
            name = f"block{block}_conv{index}"
            layers.append(
                (
                    name,
                    [
                        (
                            "kernel:0",
                            rng.normal(size=(3, 3, inp, out)).astype("f4"),
                        ),
                        ("bias:0", rng.normal(size=(out,)).astype("f4")),
                    ],
                )
            )
            inp = out
        layers.append((f"block{block}_pool", []))
    path = _write_legacy_h5(tmp_path / "vgg16_notop.h5", layers)
    model = models.vgg16_cam(3, input_shape=(32, 32, 3))
    info = pretrained.load(model, path, "vgg16_cam")
    first = layers[0][1][0][1]
    np.testing.assert_array_equal(
        model.get_layer("conv1_1").kernel.numpy(), first[:, :, ::-1, :]
    )
    np.testing.assert_array_equal(
        model.get_layer("conv5_3").kernel.numpy(), layers[-2][1][0][1]
    )
    assert info.format == "keras"
    assert info.mean == (123.68, 116.779, 103.939)
    assert info.std == (1.0, 1.0, 1.0)


def test_keras_inception_file_loads_in_creation_order_with_unit_scale(
    tmp_path,
):
    rng = np.random.default_rng(0)
    shapes = torch_reference.inception_v3_shapes()
    convs = [k for k in shapes if k.endswith(".conv.weight")]
    layers = []
    for index, key in enumerate(convs, start=1):
        o, i, kh, kw = shapes[key]
        layers.append(
            (
                f"conv2d_{index}",
                [("kernel:0", rng.normal(size=(kh, kw, i, o)).astype("f4"))],
            )
        )
        layers.append(
            (
                f"batch_normalization_{index}",
                [
                    (name, rng.uniform(0.5, 1.5, (o,)).astype("f4"))
                    for name in ("beta:0", "moving_mean:0", "moving_variance:0")
                ],
            )
        )
    # Mixed_7 (dropped): two more convs, ordered numerically, not as text.
    for index in (71, 94):
        layers.append(
            (f"conv2d_{index}", [("kernel:0", np.zeros((1, 1, 2, 2), "f4"))])
        )
        layers.append(
            (
                f"batch_normalization_{index}",
                [
                    (n, np.zeros(2, "f4"))
                    for n in ("beta:0", "moving_mean:0", "moving_variance:0")
                ],
            )
        )
    path = _write_legacy_h5(tmp_path / "inception_v3_notop.h5", layers)
    model = models.inception_v3_cam(3, input_shape=(75, 75, 3))
    info = pretrained.load(model, path, "inception_v3_cam")
    index = convs.index("Mixed_6b.branch7x7dbl_3.conv.weight") + 1
    np.testing.assert_array_equal(
        model.get_layer("Mixed_6b_branch7x7dbl_3").kernel.numpy(),
        dict(layers)[f"conv2d_{index}"][0][1],
    )
    bn = model.get_layer("Mixed_6b_branch7x7dbl_3_bn")
    np.testing.assert_array_equal(bn.gamma.numpy(), 1.0)
    np.testing.assert_array_equal(
        bn.moving_variance.numpy(),
        dict(layers)[f"batch_normalization_{index}"][2][1],
    )
    assert "conv2d_94" in info.dropped
    assert info.fresh == ("cam_conv1", "cam_conv2", "logits")
    assert info.mean == (127.5,) * 3


def test_keras_resnet50_file_is_refused_with_the_reason(tmp_path):
    path = _write_legacy_h5(
        tmp_path / "resnet50_notop.h5",
        [("conv1_conv", [("kernel:0", np.zeros((7, 7, 3, 64), "f4"))])],
    )
    with pytest.raises(pretrained.WeightsError, match="ResNet v1"):
        pretrained.describe(path, "resnet50_cam")
