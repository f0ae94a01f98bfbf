"""The box regressor as a task: PSOL's evaluation frame (golden, from
PSOL's code), a two-stage run through train, pseudo_labels and evaluate,
and the refusals."""

import dataclasses
import importlib
import json
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from has_tf import config as config_lib
from has_tf import evaluate
from has_tf import train
from has_tf.input_pipeline import images as image_pipeline
from has_tf.metrics import class_files
from has_tf.models import box_regressor
from has_tf.tasks import base as task_base

pseudo_app = importlib.import_module("has_tf.pseudo_labels.__main__")

GOLDEN = np.load(
    pathlib.Path(__file__).parent.parent / "fixtures" / "psol" / "golden.npz"
)

TINY = dict(
    dataset="synthetic_parts/tiny",
    image_size=28,
    resize_size=32,
    batch_size=4,
    learning_rate=0.02,
)


def test_the_evaluation_frame_equals_psols():
    """PSOL_inference.py's ground truth: ResizedBBoxCrop((256, 256)), then
    CenterBBoxCrop(224), times 224; has_tf's center_crop frame. A box
    outside the crop PSOL leaves reversed, has_tf clipped to the edge: no
    area in either IoU."""
    for (height, width), gt, expected in zip(
        GOLDEN["eval_size"], GOLDEN["eval_gt"], GOLDEN["eval_boxes"]
    ):
        x1, y1, x2, y2 = gt
        data = tf.data.Dataset.from_tensors(
            {
                "image": np.zeros((height, width, 3), np.uint8),
                "label": np.int64(0),
                "objects": {
                    "bbox": np.array(
                        [[y1 / height, x1 / width, y2 / height, x2 / width]],
                        np.float32,
                    )
                },
            }
        )
        batch = next(iter(image_pipeline.eval_pipeline(data, 1, "center_crop")))
        ymin, xmin, ymax, xmax = batch["boxes"].numpy()[0, 0] * 224
        np.testing.assert_allclose(
            [xmin, ymin, xmax, ymax], np.clip(expected, 0, 224), atol=2e-4
        )


@pytest.fixture(scope="module")
def two_stage(tmp_path_factory):
    """A CAM run, its pseudo-boxes of train, a regressor trained on them."""
    root = tmp_path_factory.mktemp("two_stage")
    data = str(root / "data")
    cam = str(root / "cam")
    train.train(
        train.TrainConfig(
            model_dir=cam,
            data_dir=data,
            epochs=1,
            steps_per_epoch=3,
            patch_sizes=(0, 8),
            **TINY,
        )
    )
    evaluate.evaluate(cam, TINY["dataset"], data_dir=data)  # predictions.csv
    labels = pseudo_app.label(
        cam,
        config_lib.EvalConfig(
            model_dir=cam,
            dataset=TINY["dataset"],
            data_dir=data,
            eval_split="train",
        ),
        out=str(root / "train_boxes.jsonl"),
    )
    regressor = str(root / "regressor")
    options = dict(
        model_dir=regressor,
        data_dir=data,
        epochs=2,
        steps_per_epoch=3,
        patch_sizes=(),
        model="small_gap",
        pseudo_labels=labels,
        # PSOL's vgggap way: an earlier map, max-pooled, then the head.
        box_features="conv3_relu",
        box_features_pool=2,
        lr_multiplier=2.0,
        **TINY,
    )
    record = train.train(train.TrainConfig(**options))
    return dict(
        root=root,
        data=data,
        cam=cam,
        labels=labels,
        regressor=regressor,
        record=record,
        options=options,
    )


def test_a_regressor_trains_on_pseudo_boxes_and_is_scored(two_stage):
    record = two_stage["record"]
    assert record["task"] == "box_regression" and record["steps_done"] == 6
    assert np.all(np.isfinite(record["loss"]))
    info = json.load(
        open(os.path.join(two_stage["regressor"], "run_info.json"))
    )
    assert info["task"] == "box_regression"
    assert info["pseudo_labels"]["provenance"]["rule"] == "threshold"
    assert info["box_features"] == {"layer": "conv3_relu", "pool": 2}
    model = keras.saving.load_model(
        os.path.join(two_stage["regressor"], "model.keras"), compile=False
    )
    assert model.get_layer("box_pool").input.shape[1:] == (3, 3, 128)
    data = two_stage["data"]
    alone = evaluate.evaluate(
        two_stage["regressor"], TINY["dataset"], data_dir=data
    )
    assert set(alone) & {"top1_loc", "top1_cls"} == set()
    assert 0.0 <= alone["gt_known_loc"] <= 1.0 and alone["count"] == 6
    with_classes = evaluate.evaluate(
        two_stage["regressor"],
        TINY["dataset"],
        data_dir=data,
        classes_from=two_stage["cam"],
    )
    cam = task_base.read_metrics(two_stage["cam"])
    assert with_classes["top1_cls"] == cam["top1_cls"]
    assert with_classes["gt_known_loc"] == alone["gt_known_loc"]
    assert with_classes["top1_loc"] <= with_classes["gt_known_loc"]
    # Always-right classes: Top-1 Loc is GT-known Loc.
    right = two_stage["root"] / "right.csv"
    truth = _test_labels(data)
    class_files.write_classes(
        str(right), [str(i) for i in range(len(truth))], [[c] for c in truth]
    )
    perfect = evaluate.evaluate(
        two_stage["regressor"],
        TINY["dataset"],
        data_dir=data,
        classes_from=str(right),
    )
    assert (
        perfect["top1_loc"] == perfect["gt_known_loc"] == alone["gt_known_loc"]
    )
    assert perfect["top1_cls"] == 1.0


def _test_labels(data):
    from has_tf import datasets

    examples, _ = datasets.load(TINY["dataset"], "test", data)
    return [int(e["label"]) for e in examples]


def test_serving_gives_the_models_corners(two_stage):
    run = two_stage["regressor"]
    served = tf.saved_model.load(os.path.join(run, "saved_model"))
    pixels = np.random.default_rng(0).integers(0, 255, (3, 28, 28, 3), np.uint8)
    model, _ = task_base.load_run(run)
    expected = box_regressor.to_corners(model(pixels, training=False))
    np.testing.assert_allclose(
        served.serve(pixels)["boxes"], expected, rtol=0, atol=1e-6
    )


def test_refusals_name_the_flag(two_stage, tmp_path):
    options = dict(two_stage["options"], model_dir=str(tmp_path / "r"))
    with pytest.raises(ValueError, match="--method: .*'has'"):
        train.train(train.TrainConfig(**dict(options, patch_sizes=(0, 8))))
    with pytest.raises(ValueError, match="--box_features: .*'conv9'"):
        train.train(
            train.TrainConfig(
                **dict(
                    options,
                    box_features="conv9",
                    model_dir=str(tmp_path / "conv9"),
                )
            )
        )
    with pytest.raises(ValueError, match="--box_features_pool: .*8"):
        train.train(
            train.TrainConfig(
                **dict(
                    options,
                    box_features_pool=8,
                    model_dir=str(tmp_path / "pool8"),
                )
            )
        )
    plain = dict(TINY, model_dir=str(tmp_path / "p"), box_features="conv3")
    with pytest.raises(ValueError, match="--box_features: .*--pseudo_labels"):
        train.TrainConfig(**plain)
    other = tmp_path / "other.jsonl"
    text = open(two_stage["labels"]).read().splitlines()
    header = json.loads(text[0])
    header["provenance"]["split"] = "validation"
    other.write_text("\n".join([json.dumps(header), *text[1:]]) + "\n")
    with pytest.raises(ValueError, match="--pseudo_labels: .*'validation'"):
        train.train(
            train.TrainConfig(**dict(options, pseudo_labels=str(other)))
        )
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(text[:5]) + "\n")
    with pytest.raises(
        ValueError, match="--pseudo_labels: .*boxes of 4 images"
    ):
        train.train(
            train.TrainConfig(**dict(options, pseudo_labels=str(short)))
        )
    config = config_lib.EvalConfig(
        model_dir=two_stage["regressor"],
        dataset=TINY["dataset"],
        data_dir=two_stage["data"],
        eval_crop="ten_crop",
    )
    with pytest.raises(ValueError, match="--eval_crop"):
        evaluate.run_config(two_stage["regressor"], config)
    with pytest.raises(ValueError, match="holds a box regressor"):
        pseudo_app.label(
            two_stage["regressor"],
            dataclasses.replace(config, eval_crop="resize", eval_split="train"),
            out=str(tmp_path / "x.jsonl"),
        )
