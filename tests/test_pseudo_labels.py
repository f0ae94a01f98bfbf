"""python -m has_tf.pseudo_labels: a split's boxes (or segments) from a run,
checked against the evaluation and the DDT of the same features; a killed
job resumes to the same file; other datasets and bad options refused."""

import dataclasses
import importlib
import os

import keras
import numpy as np
import pytest

from has_tf import config as config_lib
from has_tf import datasets
from has_tf import evaluate
from has_tf import models
from has_tf import train
from has_tf.metrics import boxes as metric_boxes
from has_tf.metrics import pseudo_label_files
from has_tf.postprocess import ddt
from has_tf.runs import files as run_files
from has_tf.tasks import base as task_base
from has_tf.tasks.image_localization import batches

app = importlib.import_module("has_tf.pseudo_labels.__main__")

TINY = dict(
    dataset="synthetic_parts/tiny",
    image_size=28,
    resize_size=32,
    patch_sizes=(0, 8),
    batch_size=4,
    learning_rate=0.02,
)


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pseudo")
    data, run = str(root / "data"), str(root / "run")
    train.train(
        train.TrainConfig(
            model_dir=run, data_dir=data, epochs=1, steps_per_epoch=3, **TINY
        )
    )
    return run, data


def _config(run, data, split, **options):
    return config_lib.EvalConfig(
        model_dir=run,
        dataset=TINY["dataset"],
        data_dir=data,
        eval_split=split,
        eval_batch_size=4,
        **options,
    )


def _truth(data, split):
    """The split's ground-truth boxes, normalised, in the split's order."""
    examples, _ = datasets.load(TINY["dataset"], split, data)
    return [np.asarray(e["objects"]["bbox"]).reshape(-1, 4) for e in examples]


def test_threshold_boxes_score_as_the_evaluation_does(image_run, tmp_path):
    run, data = image_run
    out = app.label(
        run,
        _config(run, data, "test", cam_threshold=0.3),
        out=str(tmp_path / "test.jsonl"),
    )
    read = pseudo_label_files.read_pseudo_labels(out, "boxes", num_classes=3)
    assert read.provenance["threshold"] == 0.3
    assert read.provenance["box_rule"] == "paper"
    assert read.provenance["model_sha256"] == task_base.fingerprint(
        os.path.join(run, "model.keras")
    )
    truth = _truth(data, "test")
    assert list(read.items) == [str(i) for i in range(len(truth))]
    hits = [
        metric_boxes.box_iou(read.of(str(i)), t).max() >= 0.5
        for i, t in enumerate(truth)
    ]
    result = evaluate.evaluate(
        run, TINY["dataset"], split="test", data_dir=data, cam_threshold=0.3
    )
    assert np.mean(hits) == pytest.approx(result["gt_known_loc"])


def test_best_threshold_is_the_best_on_the_selection_split(image_run, tmp_path):
    run, data = image_run
    out = app.label(
        run,
        _config(run, data, "train", threshold_step=0.1),
        "best_threshold",
        "test",
        out=str(tmp_path / "best.jsonl"),
    )
    read = pseudo_label_files.read_pseudo_labels(out)
    chosen = read.provenance["selection"]
    assert chosen["split"] == "test" and chosen["count"] == 6
    assert read.provenance["threshold"] == chosen["threshold"]
    scored = {
        t: evaluate.evaluate(
            run, TINY["dataset"], split="test", data_dir=data, cam_threshold=t
        )["gt_known_loc"]
        for t in (0.0, 0.6, chosen["threshold"])
    }
    assert scored[chosen["threshold"]] == pytest.approx(chosen["gt_known_loc"])
    assert max(scored.values()) == pytest.approx(chosen["gt_known_loc"])


def test_ddt_boxes_equal_the_ddt_of_the_runs_features(image_run, tmp_path):
    run, data = image_run
    config = _config(run, data, "train")
    out = app.label(run, config, "ddt", out=str(tmp_path / "ddt.jsonl"))
    read = pseudo_label_files.read_pseudo_labels(out)
    model, info = task_base.load_run(run)
    net = models.cam_model(model, features=True)
    _, data = batches.eval_batches(config, info, normalize=False)
    features, labels = [], []
    for batch in data:
        inputs = models.net_inputs(net, batch["image"])
        features.append(np.asarray(net(inputs, training=False)["features"]))
        labels.append(batch["label"].numpy())
    features, labels = np.concatenate(features), np.concatenate(labels)
    found = np.array([read.of(str(i))[0] for i in range(len(labels))])
    for c in np.unique(labels):
        expected = ddt.ddt_boxes(features[labels == c], side=28)
        np.testing.assert_allclose(found[labels == c], expected, atol=1e-12)
    assert read.provenance["rule"] == "ddt"


def test_ddt_reads_a_named_layer_max_pooled(image_run, tmp_path):
    """PSOL's DDT reads a pretrained VGG16's pool5: a layer's output,
    max-pooled 2 x 2 (floor), as PyTorch's MaxPool2d(2, 2)."""
    run, data = image_run
    config = _config(run, data, "train")
    out = app.label(
        run,
        config,
        "ddt",
        out=str(tmp_path / "ddt.jsonl"),
        ddt_layer="conv3_relu",
        ddt_pool=2,
    )
    read = pseudo_label_files.read_pseudo_labels(out)
    assert read.provenance["ddt_layer"] == "conv3_relu"
    model, info = task_base.load_run(run)
    net = keras.Model(model.inputs, model.get_layer("conv3_relu").output)
    _, data = batches.eval_batches(config, info, normalize=False)
    features, labels = [], []
    for batch in data:
        maps = np.asarray(net(batch["image"], training=False))  # 7 x 7
        pooled = maps[:, :6, :6].reshape(len(maps), 3, 2, 3, 2, -1)
        features.append(pooled.max(axis=(2, 4)))
        labels.append(batch["label"].numpy())
    features, labels = np.concatenate(features), np.concatenate(labels)
    found = np.array([read.of(str(i))[0] for i in range(len(labels))])
    for c in np.unique(labels):
        expected = ddt.ddt_boxes(features[labels == c], side=28)
        np.testing.assert_allclose(found[labels == c], expected, atol=1e-12)
    with pytest.raises(ValueError, match="--ddt_layer: .*no layer 'conv9'"):
        app.label(
            run, config, "ddt", out=str(tmp_path / "x"), ddt_layer="conv9"
        )
    with pytest.raises(ValueError, match="--ddt_layer, --ddt_pool"):
        app.label(run, config, out=str(tmp_path / "y"), ddt_pool=2)


def test_a_killed_job_resumes_to_the_same_file(
    image_run, tmp_path, monkeypatch
):
    run, data = image_run
    config = _config(run, data, "train")
    whole = app.label(run, config, out=str(tmp_path / "a.jsonl"))
    out = str(tmp_path / "b.jsonl")
    written = []
    real = run_files.write_atomically

    def dies_on_the_second_shard(path, text):
        if path.endswith(".jsonl") and ".partial" in path:
            written.append(path)
            if len(written) == 2:
                raise KeyboardInterrupt  # A kill between two shards.
        return real(path, text)

    monkeypatch.setattr(
        app._files, "write_atomically", dies_on_the_second_shard
    )
    with pytest.raises(KeyboardInterrupt):
        app.label(run, config, out=out, shard_size=5)
    monkeypatch.undo()
    assert not os.path.exists(out)
    assert sorted(os.listdir(out + ".partial")) == [
        "000000.jsonl",
        "state.json",
    ]
    app.label(run, config, out=out, shard_size=5)
    assert open(out).read() == open(whole).read()
    assert not os.path.exists(out + ".partial")


def test_progress_of_another_job_is_not_reused(image_run, tmp_path):
    run, data = image_run
    out = str(tmp_path / "p.jsonl")
    other = _config(run, data, "train", cam_threshold=0.9)
    os.makedirs(out + ".partial")
    # Another job's shard: its boxes must not reach this job's file.
    state = app._State(
        out + ".partial", app._job(run, other, "threshold", None)
    )
    run_files.write_json_atomically(state.path, state.values)
    record = {"image_id": "0", "label": 1, "boxes": [[0, 0, 1, 1]]}
    with open(os.path.join(out + ".partial", "000000.jsonl"), "w") as f:
        f.write(pseudo_label_files.record_line(record))
    config = _config(run, data, "train", cam_threshold=0.2)
    app.label(run, config, out=out)
    fresh = app.label(run, config, out=str(tmp_path / "q.jsonl"))
    assert open(out).read() == open(fresh).read()


def test_refusals_name_the_flag(image_run, tmp_path):
    run, data = image_run
    config = _config(run, data, "train")
    with pytest.raises(ValueError, match="--selection_split"):
        app.label(run, config, "best_threshold")
    with pytest.raises(ValueError, match="--eval_crop"):
        app.label(run, dataclasses.replace(config, eval_crop="center_crop"))
    with pytest.raises(ValueError, match="--localization_map"):
        app.label(
            run, dataclasses.replace(config, localization_map="pc1"), "ddt"
        )
    with pytest.raises(ValueError, match="--dataset: .*'synthetic_parts/tiny'"):
        app.label(run, dataclasses.replace(config, dataset="synthetic_parts"))


@pytest.mark.slow
def test_the_app_takes_the_runs_dataset_and_refuses_another(
    image_run, run_app, tmp_path
):
    run, data = image_run
    out = str(tmp_path / "app.jsonl")
    done = run_app(
        "has_tf.pseudo_labels",
        f"--model_dir={run}",
        f"--data_dir={data}",
        f"--pseudo_labels_out={out}",
        "--eval_batch_size=4",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"12 pseudo-labels of split train in {out}" in done.stdout
    assert pseudo_label_files.read_pseudo_labels(out).provenance["split"] == (
        "train"
    )
    done = run_app(
        "has_tf.pseudo_labels",
        f"--model_dir={run}",
        f"--data_dir={data}",
        "--dataset=synthetic_parts",
    )
    assert done.returncode == 1
    assert "holds a model of dataset 'synthetic_parts/tiny'" in done.stderr


@pytest.mark.slow
def test_video_runs_give_the_segments_of_their_true_classes(tmp_path):
    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    tiny = dict(
        dataset="synthetic_actions/tiny",
        num_steps=32,
        segment_size=4,
        units=16,
        batch_size=4,
        learning_rate=0.05,
        patch_sizes=(),
        tensorboard_images=0,
    )
    train.train(
        train.TrainConfig(
            model_dir=run, data_dir=data, epochs=1, steps_per_epoch=3, **tiny
        )
    )
    config = config_lib.EvalConfig(
        model_dir=run,
        dataset=tiny["dataset"],
        data_dir=data,
        eval_split="train",
    )
    out = app.label(run, config, out=str(tmp_path / "v.jsonl"))
    read = pseudo_label_files.read_pseudo_labels(out, "segments")
    examples, builder = datasets.load(tiny["dataset"], "train", data)
    videos = list(examples)
    assert len(read.items) == len(videos)
    found = 0
    for example in videos:
        video = example["video"].numpy().decode()
        classes = set(example["segments"]["label"].numpy().tolist())
        segments = read.of(video)
        assert {c for _, _, c, _ in segments} <= classes
        found += len(segments)
    assert found > 0
    assert read.provenance["postprocess"] == "has_paper"
    with pytest.raises(ValueError, match="--pseudo_rule: .*Received: 'ddt'"):
        app.label(run, config, "ddt", out=str(tmp_path / "w.jsonl"))


def test_evaluation_against_a_runs_own_boxes_finds_them(image_run, tmp_path):
    """--boxes_from puts the file's boxes in place of the ground truth: a
    run scored against its own boxes at the same threshold finds every
    one (against the true boxes it does not)."""
    run, data = image_run
    out = app.label(
        run,
        _config(run, data, "test", cam_threshold=0.2),
        out=str(tmp_path / "own.jsonl"),
    )
    own = evaluate.evaluate(
        run, TINY["dataset"], split="test", data_dir=data, boxes_from=out
    )
    true = evaluate.evaluate(run, TINY["dataset"], split="test", data_dir=data)
    assert own["gt_known_loc"] == 1.0 and true["gt_known_loc"] < 1.0
    assert own["count"] == true["count"] == 6
    with pytest.raises(ValueError, match="--boxes_from: .*'test'"):
        evaluate.evaluate(
            run, TINY["dataset"], split="train", data_dir=data, boxes_from=out
        )
