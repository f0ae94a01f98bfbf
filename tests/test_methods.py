"""The WSOL methods in the apps: `--method` and what each run does.

CutMix in the training pipeline (soft labels, seeded, resumable), ADL and
ACoL built into the models, ACoL's labels input and its two losses, the
methods' CAMs in evaluation and serving, and each method through
`python -m has_tf.train` / `evaluate`.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from has_tf import config as config_lib
from has_tf import models
from has_tf import tasks
from has_tf.input_pipeline import images as image_pipeline
from has_tf.models import acol


def _config(**options):
    """A config whose method is resolved for images, as training does."""
    base = dict(model_dir="/tmp/unused", dataset="synthetic_parts/tiny")
    config = config_lib.TrainConfig(**{**base, **options})
    tasks.resolve(config)
    return config


@pytest.mark.parametrize(
    "options, method, patch_sizes",
    [
        (dict(), "has", (0, 16, 32, 44, 56)),
        (dict(patch_sizes=()), "cam", ()),
        (dict(method="cutmix"), "cutmix", ()),
        (dict(method="adl", patch_sizes=()), "adl", ()),
        (dict(method="has", patch_sizes=(0, 8)), "has", (0, 8)),
    ],
)
def test_method_resolves_and_turns_hiding_off(options, method, patch_sizes):
    config = _config(**options)
    assert config.method == method
    assert tuple(config.patch_sizes) == patch_sizes


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(method="cutmix", patch_sizes=(0, 8)), "cutmix hides no"),
        (dict(method="has", patch_sizes=()), "has hides patches"),
        (dict(method="acol", model="alexnet_gap"), "built into"),
        (dict(method="bogus"), "method"),
        (dict(method="cutmix", adl_drop_rate=2.0), "adl_drop_rate"),
        (dict(method="cutmix", cutmix_beta=0.0), "cutmix_beta"),
        (dict(method="adl", adl_threshold=1.5), "adl_threshold"),
    ],
)
def test_bad_method_options(options, match):
    with pytest.raises(ValueError, match=match):
        _config(**options)


def _images(count=16, side=32):
    rng = np.random.default_rng(0)
    return tf.data.Dataset.from_tensor_slices(
        {
            "image": rng.integers(0, 256, (count, side, side, 3), np.uint8),
            "label": rng.integers(0, 4, count),
        }
    )


def _pipeline(**options):
    mixing = ("cutmix_beta", "cutmix_prob")
    cutmix = {k: options.pop(k) for k in mixing if k in options}
    augmentation = image_pipeline.ImageAugmentation(
        image_size=24,
        resize_size=32,
        resize_method="bilinear",
        patch_sizes=None,
        **cutmix,
    )
    base = dict(batch_size=4, seed=3, shuffle_buffer=0, repeat=False)
    return image_pipeline.train_pipeline(
        _images(), augmentation=augmentation, **{**base, **options}
    )


def test_pipeline_cutmix_soft_labels_seeded_and_resumable():
    options = dict(cutmix_beta=1.0, num_classes=4, normalize=False)
    first = list(_pipeline(**options))
    again = list(_pipeline(**options))
    plain = list(_pipeline(normalize=False))
    assert len(first) == 4
    for (x, y), (x2, y2), (p, labels) in zip(first, again, plain):
        assert x.dtype == tf.uint8 and y.shape == (4, 4)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
        np.testing.assert_allclose(y.numpy().sum(1), 1.0, rtol=1e-6)
        # Every image keeps at least its own label's share of pixels.
        own = y.numpy()[np.arange(4), labels.numpy()]
        unchanged = np.all(x.numpy() == p.numpy(), axis=-1).mean((1, 2))
        assert np.all(own >= unchanged - 1e-6)
    assert any(not np.array_equal(x, p) for (x, _), (p, _) in zip(first, plain))
    resumed = list(_pipeline(start_batch=2, **options))
    for (x, y), (x2, y2) in zip(first[2:], resumed):
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
    # Normalised batches mix the same pixels.
    floats = list(_pipeline(cutmix_beta=1.0, num_classes=4))
    mean, std = (
        image_pipeline.IMAGENET_MEAN_RGB,
        image_pipeline.IMAGENET_STD_RGB,
    )
    for (x, y), (f, fy) in zip(first, floats):
        np.testing.assert_allclose(
            (x.numpy() - np.float32(mean)) / np.float32(std), f, rtol=1e-6
        )
        np.testing.assert_array_equal(y, fy)


def test_pipeline_cutmix_needs_its_classes():
    with pytest.raises(ValueError, match="num_classes"):
        _pipeline(cutmix_beta=1.0)
    with pytest.raises(ValueError, match="cutmix_prob"):
        _pipeline(cutmix_beta=1.0, num_classes=4, cutmix_prob=2.0)


def test_acol_training_loss_is_the_sum_of_both_heads():
    model = models.small_gap(
        3,
        (16, 16, 3),
        widths=(8, 8),
        cam_filters=8,
        batch_norm=False,
        method=acol.built_in(),
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(1)
    images = rng.standard_normal((4, 16, 16, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 1], np.int32)
    heads = model.get_layer("acol")
    features = keras.Model(model.inputs, heads.input[0])([images, labels])
    out = heads.branches(features, labels)
    expected = sum(
        float(
            np.mean(
                keras.losses.sparse_categorical_crossentropy(
                    labels, out[key], from_logits=True
                )
            )
        )
        for key in ("logits", "logit_b")
    )
    loss = model.train_on_batch([images, labels], labels)
    assert float(np.asarray(loss)) == pytest.approx(expected, rel=1e-5)


def test_acol_cams_follow_the_class_asked_for():
    model = models.small_gap(
        3, (16, 16, 3), widths=(8, 8), cam_filters=8, method=acol.built_in()
    )
    net = models.cam_model(model)
    images = np.random.default_rng(2).standard_normal((2, 16, 16, 3))
    images = images.astype(np.float32)
    top1 = np.argmax(model(models.net_inputs(model, images)), axis=1)
    by_top1 = net(models.net_inputs(net, images))["cams"]
    np.testing.assert_allclose(
        by_top1, net(models.net_inputs(net, images, top1))["cams"]
    )
    heads = model.get_layer("acol")
    features = keras.Model(model.inputs, heads.input[0])(
        models.net_inputs(model, images)
    )
    other = (top1 + 1) % 3
    np.testing.assert_allclose(
        net(models.net_inputs(net, images, other))["cams"],
        heads.cams(features, other),
        rtol=1e-6,
    )
    served = models.images_only(net)
    assert len(served.inputs) == 1
    np.testing.assert_allclose(served(images)["cams"], by_top1, rtol=1e-6)


def test_adl_models_are_the_cam_model_at_inference():
    plain = models.small_gap(3, (16, 16, 3), widths=(8, 8), cam_filters=8)
    with_adl = models.small_gap(
        3,
        (16, 16, 3),
        widths=(8, 8),
        cam_filters=8,
        method=models.adl.built_in(),
    )
    with_adl.set_weights(plain.get_weights())
    images = np.random.default_rng(3).standard_normal((2, 16, 16, 3))
    np.testing.assert_allclose(
        with_adl(images), plain(images), rtol=1e-6, atol=1e-6
    )
    assert [x.name for x in with_adl.layers if "adl" in x.name] == [
        "adl1",
        "adl2",
        "adl3",
    ]
    with pytest.raises(ValueError, match="method"):
        models.small_gap(3, (16, 16, 3), method="has")


# ACoL (labels in, two heads) through the apps' command lines; the others
# through the same functions in this process (one TensorFlow import).
@pytest.mark.slow
@pytest.mark.parametrize(
    "method, via_apps", [("cutmix", False), ("adl", False), ("acol", True)]
)
def test_each_method_trains_evaluates_and_serves(
    tmp_path, run_app, method, via_apps
):
    from has_tf import evaluate
    from has_tf import train

    model_dir = tmp_path / "run"
    where = dict(
        dataset="synthetic_parts/tiny",
        data_dir=str(tmp_path),
        model_dir=str(model_dir),
    )
    options = dict(
        method=method,
        image_size=28,
        resize_size=32,
        batch_size=4,
        epochs=1,
        steps_per_epoch=3,
        learning_rate=0.02,
    )
    if via_apps:
        common = [f"--{k}={v}" for k, v in where.items()]
        flags = [f"--{k}={v}" for k, v in options.items()]
        trained = run_app("has_tf.train", *common, *flags)
        assert trained.returncode == 0, trained.stderr[-2000:]
        evaluated = run_app("has_tf.evaluate", *common, "--num_pictures=1")
        assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    else:
        train.train(train.TrainConfig(**where, **options))
        evaluate.evaluate(
            str(model_dir),
            where["dataset"],
            data_dir=where["data_dir"],
            num_pictures=1,
        )
    info = json.loads((model_dir / "run_info.json").read_text())
    assert info["method"]["name"] == method
    metrics = json.loads((model_dir / "eval" / "metrics.json").read_text())
    assert metrics["count"] == 6 and 0 <= metrics["max_box_acc_v2"] <= 1
    served = tf.saved_model.load(os.path.join(model_dir, "saved_model"))
    out = served.serve(tf.zeros([2, 28, 28, 3], tf.uint8))
    assert out["cams"].shape[0] == 2 and np.isfinite(out["cams"]).all()
    if method == "acol":
        from has_tf.tasks import load_run

        assert acol.takes_labels(load_run(str(model_dir))[0])


def test_an_acol_run_scores_each_class_with_its_own_erasing(one_step_run):
    from has_tf.tasks import image_localization
    from has_tf.tasks import load_run

    run = one_step_run(method="acol", patch_sizes=(), tensorboard_images=2)
    model, info = load_run(run)
    net = models.cam_model(model)
    rng = np.random.default_rng(4)
    images = tf.constant(rng.integers(0, 256, (2, 28, 28, 3)), tf.uint8)
    classes = np.array([0, 2])
    scores, cams_of, _, raw_cams_of = image_localization.score_batch(
        net, images, "resize", 28, 32
    )
    direct = net(models.net_inputs(net, images, classes))["cams"].numpy()
    np.testing.assert_allclose(
        raw_cams_of(classes), direct[[0, 1], ..., [0, 2]], rtol=1e-6
    )
    assert cams_of(classes).shape == (2, 28, 28)
    # Ten crops: each crop erased by the class asked for.
    crops = tf.stack([images] * 10, axis=1)
    _, ten_cams_of, _, _ = image_localization.score_batch(
        net, crops, "ten_crop", 28, 32
    )
    assert ten_cams_of(classes).shape == (2, 32, 32)
    out = image_localization.predict_cams(run, images.numpy(), labels=classes)
    assert out["cams"].shape == (2, 28, 28)
    top1 = image_localization.predict_cams(run, images.numpy())
    np.testing.assert_array_equal(top1["top1"], np.argmax(scores, axis=1))
