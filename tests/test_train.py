"""Train then evaluate on the tiny synthetic config; resume after SIGKILL."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import has_tf.datasets
from has_tf import evaluate
from has_tf import tasks
from has_tf import train
from has_tf.tasks import image_localization
from tests import app_server


def test_train_then_evaluate(tmp_path, tiny):
    data = str(tmp_path / "data")
    run = str(tmp_path / "run")
    record = train.train(
        train.TrainConfig(
            model_dir=run,
            data_dir=data,
            epochs=2,
            steps_per_epoch=3,
            tensorboard_images=TINY_IMAGES,
            **tiny,
        )
    )
    assert record["steps_done"] == 6 and len(record["loss"]) == 2
    for name in ("model.keras", "run_info.json", "history.json"):
        assert os.path.exists(os.path.join(run, name))
    result = evaluate.evaluate(
        run,
        "synthetic_parts/tiny",
        "test",
        data,
        threshold_step=0.1,
        num_pictures=2,
    )
    assert result["count"] == 6 and result["skipped_without_boxes"] == 0
    assert result["protocols"]["max_box_acc"].endswith("has_tf rules")
    for key in image_localization.HEADLINE:
        assert 0.0 <= result[key] <= 1.0
    saved = json.load(open(os.path.join(run, "eval", "metrics.json")))
    assert saved["gt_known_loc"] == result["gt_known_loc"]
    assert saved["task"] == "image_localization"
    info = json.load(open(os.path.join(run, "run_info.json")))
    history = json.load(open(os.path.join(run, "history.json")))
    assert info["task"] == history["task"] == "image_localization"
    assert history["model"] == "small_gap"
    pictures = sorted(os.listdir(os.path.join(run, "eval")))
    assert pictures[:2] == ["metrics.json", "overlay_000.png"]
    _check_cam_summaries(
        os.path.join(run, "tensorboard", "cams"),
        steps=[3, 6],
        count=TINY_IMAGES,
    )
    ten = evaluate.evaluate(
        run,
        "synthetic_parts/tiny",
        "test",
        data,
        eval_crop="ten_crop",
        resize_size=32,
        threshold_step=0.1,
        num_pictures=1,
    )
    assert ten["count"] == 6 and ten["eval_crop"] == "ten_crop"
    for key in image_localization.HEADLINE:
        assert 0.0 <= ten[key] <= 1.0


TINY_IMAGES = 3


def _check_cam_summaries(log_dir, steps, count):
    """The CAM images and learning rate logged after every interval."""

    images, rates = {}, {}
    for name in os.listdir(log_dir):
        for event in tf.compat.v1.train.summary_iterator(
            os.path.join(log_dir, name)
        ):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                if value.tag == "cams":
                    images[event.step] = tensor
                elif value.tag == "learning_rate":
                    rates[event.step] = float(tensor)
    assert sorted(images) == steps and sorted(rates) == steps
    # An image summary holds width, height, then one PNG per image.
    for tensor in images.values():
        assert len(tensor) == 2 + count
        assert (int(tensor[0]), int(tensor[1])) == (28, 28)
        assert tensor[2][:4] == b"\x89PNG"
    # The step schedule: 0.02 up to step 3, then two decays by 0.1.
    assert rates[3] == pytest.approx(0.02)
    assert rates[6] == pytest.approx(0.0002)


def test_conv1_hiding_reaches_the_model(tmp_path, tiny):
    config = train.TrainConfig(
        model_dir=str(tmp_path),
        **tiny,
        conv1_patch_sizes=(2,),
        conv1_hide_prob=0.25,
    )
    moments = {"mean": [120.0] * 3, "std": [60.0] * 3}
    model = image_localization.build_model(config, 3, moments)
    layer = model.get_layer("conv1_hide")
    assert layer.hide_prob == 0.25
    plain = image_localization.build_model(
        train.TrainConfig(model_dir=str(tmp_path), **tiny), 3, moments
    )
    assert "conv1_hide" not in [layer.name for layer in plain.layers]


MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from has_tf import train
record = train.train(train.TrainConfig(
    model_dir=sys.argv[1], data_dir=sys.argv[2], strategy="mirrored",
    epochs=1, steps_per_epoch=3, dataset="synthetic_parts/tiny",
    image_size=28, resize_size=32, patch_sizes=(0, 8), batch_size=4))
print("RECORD", json.dumps(record))
"""


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpu_devices(tmp_path):
    env = {"PYTHONPATH": os.getcwd(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = app_server.run(
        ["-c", MIRRORED, str(tmp_path / "run"), str(tmp_path / "data")],
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    record = json.loads(out.split("RECORD", 1)[1])
    assert record["replicas"] == 2
    assert all(loss == loss and abs(loss) < 1e6 for loss in record["loss"])
    assert record["replica_weights_max_diff"] == 0.0


def test_hiding_on_the_device(tmp_path, tiny):
    config = train.TrainConfig(
        model_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path),
        epochs=1,
        steps_per_epoch=2,
        tensorboard_images=0,
        **{**tiny, "patch_sizes": (0, 7)},
        hide_on="device",
    )
    record = train.train(config)
    assert record["steps_done"] == 2
    model, _ = tasks.load_run(config.model_dir)
    # uint8 pixels in; the first op normalises and hides.
    assert str(model.inputs[0].dtype) == "uint8"
    layer = model.get_layer("input_pixels")
    assert layer.patch_sizes == (0, 7) and layer.hide_prob == 0.5
    # The same masks' statistics either way: with sizes (0, 7) on 28 x 28
    # images, half the images are hidden in cells of 7 with probability
    # 0.5, so a quarter of the pixels on average, at the fill. Host: the
    # pipeline's batches; device: the layer, which fills with 0.
    dataset, builder = has_tf.datasets.load(
        tiny["dataset"], "train", str(tmp_path)
    )
    host = train.TrainConfig(**{**config.__dict__, "hide_on": "host"})
    setup = tasks.ImageLocalization().training(host, dataset, builder)
    batches = setup.inputs(tf.distribute.InputContext(), 0).take(40)
    images = np.concatenate([b[0].numpy() for b in batches])
    # The host hides uint8 pixels with the rounded mean as fill.
    assert images.dtype == np.uint8
    mean, std = (np.array(setup.run_info[k]) for k in ("mean", "std"))
    fill = np.clip(np.round(mean), 0, 255)
    host_hidden = np.mean(np.all(images == fill, axis=-1))
    # The device normalises, then fills with 0 (the mean, normalised).
    ones = tf.ones([160, 28, 28, 3], tf.uint8)
    device_hidden = np.mean(
        np.all(np.asarray(layer(ones, training=True)) == 0, axis=-1)
    )
    # 160 images: a binomial bound on the mean fraction (sd about 0.03).
    assert abs(host_hidden - 0.25) < 0.1 and abs(device_hidden - 0.25) < 0.1
    np.testing.assert_allclose(  # Test time: normalised, nothing hidden.
        np.asarray(layer(ones[:4])),
        np.broadcast_to((1 - mean) / std, (4, 28, 28, 3)),
        rtol=1e-6,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["--hide_prob=2"], "--hide_prob=2"),  # absl cannot parse it.
        (["--patch_sizes=0,40", "--image_size=28"], "--patch_sizes"),
        (["--flagfile=no/such.cfg"], "no/such.cfg"),
    ],
)
def test_a_user_error_is_one_line_and_exit_status_1(
    tmp_path, run_app, args, message
):
    done = run_app("has_tf.train", f"--model_dir={tmp_path}/run", *args)
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("has_tf.train: error: ") and message in last
    assert "Traceback" not in done.stderr
    # That line alone: no flag help before it (TensorFlow's start-up logs
    # aside).
    logs = ("I0000", "W0000", "WARNING: All log", "To enable")
    said = [
        line
        for line in done.stderr.splitlines()
        if line.strip() and not line.startswith(logs)
    ]
    assert said == [last]


# What TensorFlow says about a pipeline that reads part of a cached split.
_PIPELINE_WARNINGS = ("did not fully read the dataset being cached",)


@pytest.mark.slow
def test_training_and_evaluation_logs_no_pipeline_warning(tmp_path, run_app):
    """TensorFlow's own warnings stay on (TF_CPP_MIN_LOG_LEVEL=0): the
    TensorBoard images and `--max_images` read part of a split."""
    common = [
        "--dataset=synthetic_parts/tiny",
        f"--data_dir={tmp_path}/data",
        f"--model_dir={tmp_path}/run",
    ]
    loud = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    trained = run_app(
        "has_tf.train",
        *common,
        "--image_size=28",
        "--resize_size=32",
        "--patch_sizes=0,8",
        "--batch_size=4",
        "--epochs=1",
        "--steps_per_epoch=2",
        "--tensorboard_images=2",
        env=loud,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    evaluated = run_app(
        "has_tf.evaluate",
        *common,
        "--max_images=3",
        "--num_pictures=1",
        env=loud,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    # The progress line (a log, not a terminal: plain lines).
    assert "evaluate: 3/3 images (100.0%), in " in evaluated.stderr
    # The log level let TF speak: its start-up lines (oneDNN's where the
    # build prints it, the CPU features' everywhere).
    assert "oneDNN" in trained.stderr or "cpu_feature_guard" in trained.stderr
    for done in (trained, evaluated):
        assert not [w for w in _PIPELINE_WARNINGS if w in done.stderr]


# One backbone through training (the slowest test of its kind; in this
# process: the flags are the config's fields, parsed by every flagfile
# test); every backbone's weight files load in
# tests/models/test_pretrained.py.
@pytest.mark.slow
@pytest.mark.parametrize(
    "backbone, first_conv, torch_name",
    [("resnet50_cam", "conv1", "conv1.weight")],
)
def test_fine_tuning_a_pretrained_backbone(
    tmp_path, backbone, first_conv, torch_name
):
    from safetensors.numpy import save_file

    from has_tf.models import pretrained
    from has_tf.training.optimizers import GroupSGD
    from tests.models import torch_reference

    weights = tmp_path / f"{backbone}.tv_in1k.safetensors"
    state = torch_reference.random_state_dict(backbone)
    save_file(state, str(weights))
    run = tmp_path / "run"
    train.train(
        train.TrainConfig(
            model_dir=str(run),
            data_dir=str(tmp_path),
            dataset="synthetic_parts/tiny",
            model=backbone,
            init_from=str(weights),
            normalization="weights",
            image_size=32,
            resize_size=36,
            batch_size=4,
            epochs=1,
            steps_per_epoch=2,
            patch_sizes=(0, 8),
            hide_on="device",
            lr_multiplier=10,
            weight_decay_type="l2",
            nesterov=True,
            learning_rate=0.0001,
            tensorboard_images=0,
        )
    )
    info = json.load(open(run / "run_info.json"))
    assert info["init_from"]["file"] == weights.name
    assert info["init_from"]["sha256"] == pretrained.file_sha256(weights)
    assert info["mean"] == pytest.approx([123.675, 116.28, 103.53])
    assert info["std"] == pytest.approx([58.395, 57.12, 57.375])
    history = json.load(open(run / "history.json"))
    assert history["steps_done"] == 2 and np.isfinite(history["loss"]).all()
    model, _ = tasks.load_run(str(run))
    # Two small steps from the file's weights: moved, and still close.
    assert model.get_layer("input_pixels").patch_sizes == (0, 8)
    trained = model.get_layer(first_conv).kernel.numpy()
    loaded = state[torch_name].transpose(2, 3, 1, 0)
    assert not np.array_equal(trained, loaded)
    np.testing.assert_allclose(trained, loaded, atol=0.02)
    import keras

    optimizer = keras.saving.load_model(run / "model.keras").optimizer
    assert isinstance(optimizer, GroupSGD) and optimizer.nesterov
    assert optimizer.weight_decay_type == "l2"
    from has_tf import models

    assert optimizer.lr_multipliers == [
        (prefix, 10.0) for prefix in models.NEW_LAYERS[backbone]
    ]


@pytest.mark.slow
def test_a_run_starts_from_another_runs_model(one_step_run, tmp_path, tiny):
    source = one_step_run()
    config = train.TrainConfig(
        model_dir=str(tmp_path / "second"),
        data_dir=str(tmp_path),
        epochs=1,
        steps_per_epoch=1,
        tensorboard_images=0,
        **{**tiny, "learning_rate": 0.0},
        init_from=source,
        normalization="weights",
        seed=5,
    )
    train.train(config)
    first, first_info = tasks.load_run(source)
    second, info = tasks.load_run(config.model_dir)
    for name in ("conv1", "cam_conv", "logits"):
        for a, b in zip(
            first.get_layer(name).weights, second.get_layer(name).weights
        ):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert info["init_from"]["format"] == "has_tf"
    assert info["init_from"]["run"] == os.path.abspath(source)
    assert info["mean"] == first_info["mean"]
    # The source's weights replaced between a kill and the restart: the
    # restart refuses (it recorded the new file as the run's source).
    with open(os.path.join(source, "model.keras"), "ab") as file:
        file.write(b"\0")
    with pytest.raises(ValueError, match="--init_from: its weights changed"):
        train.train(config)
    again = json.loads((tmp_path / "second" / "run_info.json").read_text())
    again = again["init_from"]
    assert again["sha256"] == info["init_from"]["sha256"]


@pytest.mark.parametrize(
    "options, match",
    [
        (
            dict(model="small_gap", init_from="w.safetensors"),
            "--init_from: a weights file initialises .*vgg16_cam",
        ),
        (dict(normalization="weights"), "--init_from is empty"),
        (
            dict(model="small_gap", large_feature_map=True),
            "--large_feature_map: only .*vgg16_cam",
        ),
        (
            dict(model="vgg16_cam", conv1_patch_sizes=(4,)),
            "conv1 hiding is built into alexnet_gap, small_gap only",
        ),
    ],
)
def test_fine_tuning_options_are_checked(tmp_path, tiny, options, match):
    with pytest.raises(ValueError, match=match):
        tasks.resolve(
            train.TrainConfig(model_dir=str(tmp_path), **{**tiny, **options})
        )


def test_deterministic_ends_with_the_run(tmp_path):
    """--deterministic switches TensorFlow's op determinism on for the run
    only: after it an unseeded shuffle, which determinism refuses, runs."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    from has_tf import train as train_lib

    assert not tf_config.is_op_determinism_enabled()
    train_lib.train(
        train_lib.TrainConfig(
            model_dir=str(tmp_path / "run"),
            data_dir=str(tmp_path / "data"),
            dataset="synthetic_actions/tiny",
            num_steps=32,
            segment_size=4,
            units=8,
            batch_size=4,
            epochs=1,
            steps_per_epoch=1,
            patch_sizes=(),
            tensorboard_images=0,
            deterministic=True,
        ),
        saved_model=False,
    )
    assert not tf_config.is_op_determinism_enabled()
    shuffled = tf.data.Dataset.range(8).shuffle(8)
    assert sorted(int(x) for x in shuffled) == list(range(8))
