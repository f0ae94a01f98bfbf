"""DeiT as timm builds it: parameter counts, and logits and attention equal
to timm's own forward pass on recorded random weights (golden fixtures
from tests/fixtures/deit/make_golden.py: PROVENANCE.json)."""

import pathlib

import numpy as np
import pytest

from has_tf.models import deit
from has_tf.models import pretrained
from has_tf.models import vit_weights

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "deit"
# The fixture's reduced DeiT: width 48, depth 2, 3 heads, 5 classes.
SIZE = (48, 2, 3)


# timm's counts without the classifier (`num_classes=0`): DeiT-S's is the
# one the issue quotes; tiny and base are timm's 5.72M and 86.57M with
# their 1000-class heads (192 x 1000 + 1000, 768 x 1000 + 1000) removed.
@pytest.mark.parametrize(
    "variant, count",
    [
        ("deit_tiny", 5_524_416),
        ("deit_small", 21_665_664),
        ("deit_base", 85_798_656),
    ],
)
def test_parameter_counts_are_timms(variant, count):
    assert deit.vision_transformer(variant).count_params() == count


def _golden():
    return dict(np.load(FIXTURES / "golden.npz"))


@pytest.mark.parametrize("size", [(64, 64), (96, 80)])
def test_logits_and_attention_equal_timms(size):
    """At the weights' own 64 x 64 and at 96 x 80, whose position
    embedding is resampled from the 4 x 4 grid to 6 x 5 as timm does."""
    golden = _golden()
    key = f"{size[0]}x{size[1]}"
    model = deit.vision_transformer(
        SIZE, (*size, 3), num_classes=5, attention=True
    )
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    assert vit_weights.load_timm(model, tensors) == ()
    np.testing.assert_allclose(
        model.get_layer("tokens").get_weights()[1],
        golden[f"pos_embed_{key}"],
        atol=1e-6,
    )
    logits, *attention = model(golden[f"images_{key}"])
    want = golden[f"logits_{key}"]
    tolerance = 1e-4 * np.abs(want).max()
    np.testing.assert_allclose(np.asarray(logits), want, atol=tolerance)
    assert len(attention) == 2
    for index, probabilities in enumerate(attention):
        np.testing.assert_allclose(
            np.asarray(probabilities),
            golden[f"attention_{key}_{index}"],
            atol=1e-4,
        )


def test_a_file_that_does_not_fit_is_named():
    tensors = pretrained.read_tensors(str(FIXTURES / "golden.safetensors"))
    model = deit.vision_transformer(SIZE, (64, 64, 3))  # No head: dropped.
    assert vit_weights.load_timm(model, dict(tensors)) == (
        "head.bias",
        "head.weight",
    )
    short = {k: v for k, v in tensors.items() if k != "blocks.1.mlp.fc2.bias"}
    with pytest.raises(pretrained.WeightsError, match="blocks.1.mlp.fc2.bias"):
        vit_weights.load_timm(model, short, "x.safetensors")
    wide = dict(tensors, **{"norm.weight": np.ones(49, np.float32)})
    with pytest.raises(pretrained.WeightsError, match="'norm.weight'"):
        vit_weights.load_timm(model, wide, "x.safetensors")
    other = deit.vision_transformer((48, 3, 3), (64, 64, 3))
    with pytest.raises(pretrained.WeightsError, match="missing"):
        vit_weights.load_timm(other, dict(tensors), "x.safetensors")


def test_position_embedding_resampling_checks_its_input():
    with pytest.raises(ValueError, match="Received: shape"):
        vit_weights.resample_position_embedding(
            np.zeros((1, 11, 4)), (3, 3), (4, 4)
        )
    with pytest.raises(ValueError, match="Received: variant="):
        deit.vision_transformer("deit_huge")
    with pytest.raises(ValueError, match="multiples of 16"):
        deit.vision_transformer("deit_tiny", (200, 224, 3))


def test_the_cam_models_round_trip_and_give_a_cam_per_patch(tmp_path):
    """The table's DeiT: pixels in, hidden in training by the first op,
    a CAM of one cell per 16 x 16 patch; saved and loaded as .keras."""
    import keras

    from has_tf import models

    model = models.IMAGE_MODELS["deit_tiny"](
        3,
        input_shape=(64, 48, 3),
        model_input=models.ModelInput(
            normalization=((120.0,) * 3, (60.0,) * 3), hide_patch_sizes=(16,)
        ),
    )
    assert models.INPUT_SIDES["deit_tiny"] == 224
    pixels = np.random.default_rng(0).integers(0, 256, (2, 64, 48, 3))
    pixels = pixels.astype("uint8")
    out = models.cam_model(model)(pixels)
    assert tuple(out["cams"].shape) == (2, 4, 3, 3)
    # GAP of the CAMs plus the bias are the logits (cam_head's contract).
    bias = model.get_layer("logits").get_weights()[1]
    np.testing.assert_allclose(
        np.asarray(out["cams"]).mean(axis=(1, 2)) + bias,
        np.asarray(out["logits"]),
        rtol=1e-4,
        atol=1e-4,
    )
    model.save(tmp_path / "deit.keras")
    loaded = keras.saving.load_model(tmp_path / "deit.keras")
    np.testing.assert_allclose(
        np.asarray(loaded(pixels)), np.asarray(model(pixels)), atol=1e-5
    )
    with pytest.raises(ValueError, match="deit_tiny: has no conv1 hiding"):
        models.deit_tiny(
            3, model_input=models.ModelInput(conv1_hide_patch_sizes=(4,))
        )


def _timm_file(path, variant="deit_tiny"):
    """A file in the layout of timm's `deit_tiny_patch16_224.fb_in1k`
    `model.safetensors` (random values, timm's names and shapes)."""
    from safetensors.numpy import save_file

    width, depth, _ = deit.VARIANTS[variant]
    model = deit.vision_transformer(variant, num_classes=1000)
    rng = np.random.default_rng(0)
    tensors = {}
    for layer_name, pairs in vit_weights._timm_layers(depth).items():
        weights = model.get_layer(layer_name).get_weights()
        for name, index, _ in pairs:
            shape = weights[index].shape
            if name == "patch_embed.proj.weight":
                shape = (shape[3], shape[2], shape[0], shape[1])
            elif len(shape) == 2:
                shape = shape[::-1]
            tensors[name] = rng.normal(0, 0.02, shape).astype(np.float32)
    tensors["cls_token"] = rng.normal(0, 0.02, (1, 1, width)).astype("f4")
    tensors["pos_embed"] = rng.normal(0, 0.02, (1, 197, width)).astype("f4")
    save_file(tensors, str(path))
    return tensors


def test_timms_deit_file_loads_into_the_cam_model(tmp_path):
    from has_tf import models

    path = tmp_path / "model.safetensors"
    tensors = _timm_file(path)
    info = pretrained.describe(str(path), "deit_tiny")
    assert info.format == "torchvision"
    assert info.mean == models.pretrained.vocabulary.IMAGENET_MEAN_RGB
    model = models.deit_tiny(3, input_shape=(64, 64, 3))
    report = pretrained.load(model, str(path), "deit_tiny")
    assert report.dropped == ("head.bias", "head.weight")
    assert report.fresh == ("logits",)
    assert "blocks_11_mlp_fc2" in report.loaded and "tokens" in report.loaded
    np.testing.assert_array_equal(
        model.get_layer("blocks_3_attn_qkv").get_weights()[0],
        tensors["blocks.3.attn.qkv.weight"].T,
    )
    pos = model.get_layer("tokens").get_weights()[1]
    np.testing.assert_allclose(
        pos,
        vit_weights.resample_position_embedding(
            tensors["pos_embed"], (14, 14), (4, 4)
        ),
    )
    with pytest.raises(
        pretrained.WeightsError, match="patch_embed.proj.weight"
    ):
        pretrained.load(models.deit_small(3), str(path), "deit_small")
    h5 = tmp_path / "weights.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(
        pretrained.WeightsError, match=r"takes \['torchvision'\]"
    ):
        pretrained.describe(str(h5), "deit_tiny")


def test_stochastic_depth_follows_timms_rule():
    """timm's drop path: block i of L at `rate * i / (L - 1)`, each
    example's branch zeroed or scaled by 1 / keep in training, the
    identity at inference (and no layer at all at rate 0)."""
    model = deit.vision_transformer((8, 3, 2), (32, 32, 3), drop_path_rate=0.3)
    rates = {
        layer.name: layer.rate
        for layer in model.layers
        if isinstance(layer, deit.DropPath)
    }
    assert rates == {
        "blocks_1_drop_path1": pytest.approx(0.15),
        "blocks_1_drop_path2": pytest.approx(0.15),
        "blocks_2_drop_path1": pytest.approx(0.3),
        "blocks_2_drop_path2": pytest.approx(0.3),
    }
    plain = deit.vision_transformer((8, 3, 2), (32, 32, 3))
    assert not any(isinstance(x, deit.DropPath) for x in plain.layers)
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3))
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model(images), plain(images), rtol=1e-6)

    layer = deit.DropPath(0.25, seed=1)
    x = np.ones((4000, 3, 2), "float32")
    out = np.asarray(layer(x, training=True))
    kept = out[:, 0, 0] > 0
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(out[~kept], 0.0)
    assert abs(kept.mean() - 0.75) < 0.03
    np.testing.assert_array_equal(layer(x, training=False), x)
    with pytest.raises(ValueError, match="Received: rate=1.0"):
        deit.DropPath(1.0)
    with pytest.raises(ValueError, match="drop_path_rate=-0.1"):
        deit.vision_transformer("deit_tiny", drop_path_rate=-0.1)
