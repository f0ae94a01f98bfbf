"""python -m has_tf.evaluate's library side: compare, and the errors for
runs that cannot be evaluated."""

import hashlib
import json
import os

import pytest

from has_tf import evaluate
from has_tf.runs import run_dir
from has_tf.tasks import image_localization
from has_tf.tasks.image_localization import HEADLINE


def test_compare_prints_runs_side_by_side(tmp_path):
    for name, value in (("a", 0.5), ("b", 0.25)):
        os.makedirs(tmp_path / name / "eval")
        metrics = {key: value for key in HEADLINE}
        metrics["count"] = 10
        (tmp_path / name / "eval" / "metrics.json").write_text(
            json.dumps(metrics)
        )
    table = evaluate.compare([str(tmp_path / "a"), str(tmp_path / "b")])
    row = next(
        line for line in table.splitlines() if line.startswith("gt_known_loc")
    )
    assert row.split()[1:] == ["0.5", "0.25"]
    with pytest.raises(FileNotFoundError, match="No evaluation"):
        evaluate.compare([str(tmp_path / "missing")])


def test_evaluate_tells_missing_from_unreadable(tmp_path, one_step_run):
    run = one_step_run(tensorboard_images=0)
    model = os.path.join(run, "model.keras")
    with open(model, "rb") as f:
        data = f.read()
    with open(model, "wb") as f:
        f.write(data[: len(data) // 3])  # A disk that filled up.
    with pytest.raises(ValueError, match="Unreadable trained model"):
        evaluate.evaluate(run, "synthetic_parts/tiny", "test", str(tmp_path))
    os.remove(model)
    with pytest.raises(FileNotFoundError, match="No trained model"):
        evaluate.evaluate(run, "synthetic_parts/tiny", "test", str(tmp_path))


def test_evaluate_without_a_model_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="No trained model"):
        evaluate.evaluate(str(tmp_path), "synthetic_parts/tiny")


def test_a_run_without_its_record_is_named(tmp_path, one_step_run):
    # has_tf 0.1 named the run record normalization.json: no longer read.
    run = one_step_run(tensorboard_images=0)
    os.rename(
        os.path.join(run, "run_info.json"),
        os.path.join(run, "normalization.json"),
    )
    with pytest.raises(FileNotFoundError, match="run_info.json"):
        evaluate.evaluate(
            run, "synthetic_parts/tiny", "test", str(tmp_path), num_pictures=0
        )


@pytest.mark.slow
def test_a_user_error_is_one_line_and_exit_status_1(tmp_path, run_app):
    done = run_app(
        "has_tf.evaluate",
        f"--model_dir={tmp_path}/none",
        "--dataset=synthetic_parts/tiny",
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("has_tf.evaluate: error: No trained model")
    assert "Traceback" not in done.stderr
    done = run_app("has_tf.evaluate", "--eval_crop=eleven_crop")
    assert done.returncode == 1 and "--eval_crop" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_evaluation_records_what_it_scored(tmp_path, one_step_run):
    run = one_step_run(tensorboard_images=0)
    result = evaluate.evaluate(
        run, "synthetic_parts/tiny", "test", str(tmp_path), num_pictures=1
    )
    digest = hashlib.sha256(
        open(os.path.join(run, "model.keras"), "rb").read()
    ).hexdigest()
    saved = json.load(open(os.path.join(run, "eval", "metrics.json")))
    for record in (result["scored"], saved["scored"]):
        assert record["model_sha256"] == digest
        assert record["dataset"] == "synthetic_parts/tiny"
        assert record["split"] == "test"
        assert record["options"]["num_pictures"] == 1
    # The model changes (trained again): compare refuses the old figures.
    with open(os.path.join(run, "model.keras"), "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="scored another model"):
        evaluate.compare([run])


def test_evaluation_waits_for_the_run_and_swaps_eval_in_whole(
    tmp_path, one_step_run, monkeypatch
):
    run = one_step_run(tensorboard_images=0)
    evaluate.evaluate(
        run, "synthetic_parts/tiny", "test", str(tmp_path), num_pictures=2
    )
    before = sorted(os.listdir(os.path.join(run, "eval")))
    metrics = open(os.path.join(run, "eval", "metrics.json")).read()
    # Not while another process holds the run (training, or evaluating).
    with run_dir.RunLock(run):
        with pytest.raises(run_dir.RunLockedError, match="in use"):
            evaluate.evaluate(
                run, "synthetic_parts/tiny", "test", str(tmp_path)
            )
    # An evaluation that fails after writing its first picture leaves the
    # previous eval/ whole, and nothing aside.
    calls = []

    def fail_on_second(self, outputs):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("killed mid-way")
        return original(self, outputs)

    original = image_localization.OverlayScorer.update
    monkeypatch.setattr(
        image_localization.OverlayScorer, "update", fail_on_second
    )
    with pytest.raises(RuntimeError, match="mid-way"):
        evaluate.evaluate(
            run,
            "synthetic_parts/tiny",
            "test",
            str(tmp_path),
            num_pictures=6,
            eval_batch_size=2,
        )
    assert sorted(os.listdir(os.path.join(run, "eval"))) == before
    assert open(os.path.join(run, "eval", "metrics.json")).read() == metrics
    assert not [n for n in os.listdir(run) if n.startswith("eval.")]


def test_a_model_of_other_classes_than_the_dataset_is_refused(
    tmp_path, one_step_run
):
    from has_tf import models

    run = one_step_run(tensorboard_images=0)  # 3 classes.
    other = models.small_gap(num_classes=5, input_shape=(28, 28, 3))
    other.save(os.path.join(run, "model.keras"))
    with pytest.raises(ValueError, match="model of 5 classes.*has 3"):
        evaluate.evaluate(run, "synthetic_parts/tiny", "test", str(tmp_path))


def _float_input_twin(run, twin):
    """`run` as has_tf 0.2 recorded it: the same weights in a model that
    takes float images normalised on the host (no `input_pixels`)."""
    import keras

    from has_tf import models
    from has_tf.training import checkpoints

    model = keras.saving.load_model(os.path.join(run, "model.keras"))
    assert image_localization.takes_pixels(model)
    old = models.small_gap(3, input_shape=(28, 28, 3))
    assert not image_localization.takes_pixels(old)
    old.set_weights(model.get_weights())
    os.makedirs(twin)
    checkpoints.save_model(old, os.path.join(twin, "model.keras"))
    for name in ("run_info.json", "flags.txt"):
        if os.path.exists(os.path.join(run, name)):
            with (
                open(os.path.join(run, name)) as f,
                open(os.path.join(twin, name), "w") as g,
            ):
                g.write(f.read())
    return twin


@pytest.mark.parametrize("eval_crop", ["center_crop", "ten_crop", "resize"])
def test_a_run_of_version_0_2_float_input_still_evaluates(
    tmp_path, one_step_run, eval_crop
):
    """0.2's models took float images normalised on the host; evaluation
    feeds them so, and the figures equal those of the same weights taking
    uint8 pixels (the two contracts give the same float inputs)."""
    run = one_step_run(tensorboard_images=0)
    twin = _float_input_twin(run, str(tmp_path / "v0_2"))
    results = [
        evaluate.evaluate(
            path,
            "synthetic_parts/tiny",
            "test",
            str(tmp_path),
            eval_crop=eval_crop,
            num_pictures=1,
        )
        for path in (run, twin)
    ]
    for key in (*HEADLINE, "count"):
        assert results[0][key] == results[1][key], key
    assert results[0]["count"] == 6
    assert os.path.exists(os.path.join(twin, "eval", "overlay_000.png"))


@pytest.mark.parametrize(
    "metrics",
    [
        [1],
        {"count": 1},
        {"task": "image_localization", "count": 1},
        {"task": "no_such_task", "count": 1},
        {"task": "action_localization", "map": {}},
    ],
    ids=["a_list", "no_task", "no_figures", "unknown_task", "no_count"],
)
def test_compare_names_a_malformed_metrics_json(tmp_path, metrics):
    (tmp_path / "eval").mkdir()
    path = tmp_path / "eval" / "metrics.json"
    path.write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match="expected the metrics.json") as e:
        evaluate.compare([str(tmp_path)])
    assert str(e.value).startswith(str(path))


def test_pc1_maps_are_scored_by_every_protocol(tmp_path, one_step_run):
    import numpy as np

    from has_tf.postprocess import pc1
    from has_tf.tasks.image_localization import scoring

    run = one_step_run(tensorboard_images=0)
    cam = evaluate.evaluate(
        run, "synthetic_parts/tiny", "test", str(tmp_path), num_pictures=0
    )
    maps = evaluate.evaluate(
        run,
        "synthetic_parts/tiny",
        "test",
        str(tmp_path),
        num_pictures=1,
        localization_map="pc1",
    )
    assert cam["localization_map"] == "cam"
    assert maps["localization_map"] == "pc1"
    # The classes are the model's either way; the boxes are not.
    assert maps["top1_cls"] == cam["top1_cls"]
    assert maps["threshold_free"] != cam["threshold_free"]
    # predict_cams gives the maps pc1_map makes of the CAM head's features.
    images = np.random.default_rng(0).integers(0, 256, (2, 40, 40, 3))
    predict = image_localization.predict_cams
    out = predict(run, images, labels=[0, 2])
    got = predict(run, images, [0, 2], localization_map="pc1")
    assert not np.allclose(got["cams"], out["cams"])
    import tensorflow as tf

    from has_tf import models
    from has_tf import tasks

    model, info = tasks.load_run(run)
    assert image_localization.takes_pixels(model)
    net = models.cam_model(model, features=True)
    side = info["image_size"]
    pixels = tf.image.resize(tf.cast(images, tf.float32), (side, side))
    pixels = tf.cast(tf.round(tf.clip_by_value(pixels, 0, 255)), tf.uint8)
    features = np.asarray(net(pixels)["features"])
    kernel = np.asarray(net.get_layer("logits").kernel)
    raw = np.stack(
        [pc1.pc1_map(features[i], kernel[:, c]) for i, c in enumerate([0, 2])]
    )
    want = np.asarray(models.upsample_cams(raw, (side, side)))
    np.testing.assert_allclose(got["cams"], want, rtol=1e-5, atol=1e-5)
    assert scoring.pc1_maps(features, [0, 2], kernel).dtype == np.float32
    with pytest.raises(ValueError, match="localization_map"):
        predict(run, images, localization_map="pc2")


def test_classes_from_another_run_or_a_file(tmp_path, one_step_run):
    import tensorflow_datasets as tfds

    from has_tf.metrics import class_files

    run = one_step_run(tensorboard_images=0)
    args = (run, "synthetic_parts/tiny", "test", str(tmp_path))
    own = evaluate.evaluate(*args, num_pictures=0)
    assert own["predictions"] == "predictions.csv"
    path = os.path.join(run, "eval", "predictions.csv")
    written = class_files.read_classes(path, 3)
    assert sorted(written.classes, key=int) == [str(i) for i in range(6)]
    # A run's own classes back: the same figures.
    again = evaluate.evaluate(*args, num_pictures=0, classes_from=run)
    assert again["classes_from"]["path"] == os.path.abspath(path)
    for key in ("top1_loc", "top5_loc", "top1_cls", "gt_known_loc"):
        assert again[key] == own[key], key
    # Classes that are always right: Top-1 Loc is GT-known Loc.
    labels = [
        int(x["label"])
        for x in tfds.load(
            "synthetic_parts/tiny", split="test", data_dir=str(tmp_path)
        ).as_numpy_iterator()
    ]
    right = tmp_path / "right.csv"
    class_files.write_classes(
        str(right), [str(i) for i in range(6)], [[c] for c in labels]
    )
    oracle = evaluate.evaluate(*args, num_pictures=0, classes_from=str(right))
    assert oracle["top1_cls"] == oracle["top5_cls"] == 1.0
    assert oracle["top1_loc"] == oracle["gt_known_loc"] == own["gt_known_loc"]
    # A file naming an image the split does not have, by its line.
    extra = tmp_path / "extra.csv"
    extra.write_text(right.read_text() + "6,0\n")
    with pytest.raises(ValueError, match="line 8: image '6' is not in"):
        evaluate.evaluate(*args, num_pictures=0, classes_from=str(extra))
    # A run scored on another split.
    evaluate.evaluate(run, "synthetic_parts/tiny", "train", str(tmp_path))
    with pytest.raises(ValueError, match="scored on dataset/split"):
        evaluate.evaluate(*args, classes_from=run)


def test_the_best_checkpoint_is_chosen_on_a_split_never_scored(
    tmp_path, one_step_run
):
    """--checkpoint=best scores every kept checkpoint on the selection
    split and the chosen one on --eval_split; the last checkpoint's figure
    is model.keras's."""
    import glob
    import importlib

    from has_tf import config as config_lib

    run = one_step_run(epochs=3, steps_per_epoch=2, keep_checkpoints=0)
    data = str(tmp_path)
    assert len(glob.glob(os.path.join(run, "backup", "ckpt-*.json"))) == 3
    last = evaluate.evaluate(
        run, "synthetic_parts/tiny", split="validation", data_dir=data
    )
    result = evaluate.evaluate(
        run,
        "synthetic_parts/tiny",
        data_dir=data,
        checkpoint="best",
        checkpoint_select="ground_truth:validation",
    )
    chosen = result["checkpoint"]
    assert chosen["split"] == "validation"
    assert chosen["metric"] == "max_box_acc_v2"
    assert sorted(chosen["figures"]) == ["1", "2", "3"]
    assert chosen["figures"]["3"] == last["max_box_acc_v2"]
    best = max(chosen["figures"].values())
    assert chosen["figures"][str(chosen["chosen"])] == best
    assert (
        min(int(e) for e, v in chosen["figures"].items() if v == best)
        == (chosen["chosen"])
    )
    assert result["count"] == 6  # The test split, scored once.
    leftovers = [n for n in os.listdir(run) if n.startswith(".tmp")]
    assert not leftovers
    # On pseudo-boxes of the train split, as the WACV 2025 protocol.
    labels_app = importlib.import_module("has_tf.pseudo_labels.__main__")
    boxes = labels_app.label(
        run,
        config_lib.EvalConfig(
            model_dir=run,
            dataset="synthetic_parts/tiny",
            data_dir=data,
            eval_split="train",
        ),
        out=str(tmp_path / "boxes.jsonl"),
    )
    result = evaluate.evaluate(
        run,
        "synthetic_parts/tiny",
        data_dir=data,
        checkpoint="best",
        checkpoint_select=f"pseudo_boxes:{boxes}",
    )
    assert result["checkpoint"]["split"] == "train"
    assert sorted(result["checkpoint"]["figures"]) == ["1", "2", "3"]
    with pytest.raises(ValueError, match="--checkpoint_select: the split"):
        evaluate.evaluate(
            run,
            "synthetic_parts/tiny",
            data_dir=data,
            checkpoint="best",
            checkpoint_select="ground_truth:test",
        )
    with pytest.raises(ValueError, match="--checkpoint_select"):
        evaluate.evaluate(
            run, "synthetic_parts/tiny", data_dir=data, checkpoint="best"
        )
