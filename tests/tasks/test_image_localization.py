"""The image task's evaluation on wsolevaluation's splits: the official
tool's rules through has_tf.evaluate equal `CamEvaluator` fed straight
from the metadata files (the path evaluate_cams takes, whose rules are
golden-tested against the tool in tests/metrics)."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from has_tf import datasets
from has_tf import evaluate
from has_tf import models
from has_tf import tasks
from has_tf import train
from has_tf.input_pipeline import images as image_pipeline
from has_tf.metrics import cam_evaluation
from has_tf.tasks import image_localization

_DATASETS = os.path.join(
    os.path.dirname(__file__), os.pardir, os.pardir, "has_tf", "datasets"
)


def _trained(tmp_path, dataset, image_size):
    manual = os.path.join(_DATASETS, dataset, "dummy_data")
    config = train.TrainConfig(
        model_dir=str(tmp_path / "run"),
        data_dir=str(tmp_path / "data"),
        manual_dir=manual,
        dataset=dataset,
        image_size=image_size,
        resize_size=image_size,
        batch_size=2,
        epochs=1,
        steps_per_epoch=1,
        patch_sizes=(0, 4),
        tensorboard_images=0,
        eval_split="validation",
    )
    train.train(config)
    return config.model_dir, manual


def _raw_cams(model_dir, dataset, data_dir, manual, image_size):
    """image id -> the true class's CAM at the model's size, computed
    outside the task (its own pipeline pass)."""
    model, info = tasks.load_run(model_dir)
    net = models.cam_model(model)
    data, _ = datasets.load(
        dataset, "test", data_dir, manual, decode_images=False
    )
    ids = [e["image_id"].decode() for e in tfds.as_numpy(data)]
    batches = image_pipeline.eval_pipeline(
        data,
        8,
        "resize",
        image_size=image_size,
        resize_size=image_size,
        mean=info["mean"],
        std=info["std"],
        normalize=not image_localization.takes_pixels(model),
    )
    cams = []
    for batch in batches:
        out = net(batch["image"], training=False)
        cams += list(models.class_cams(out["cams"], batch["label"]).numpy())
    return dict(zip(ids, cams))


@pytest.mark.slow
def test_tool_rules_on_boxes_equal_the_metadata_path(tmp_path):
    model_dir, manual = _trained(tmp_path, "wsol_cub", 32)
    data_dir = str(tmp_path / "data")
    result = evaluate.evaluate(
        model_dir,
        "wsol_cub",
        "test",
        data_dir,
        manual_dir=manual,
        eval_crop="resize",
        box_protocol="wsolevaluation",
        threshold_step=0.01,
        num_pictures=0,
    )
    metadata = cam_evaluation.read_metadata(
        os.path.join(manual, "metadata", "CUB", "test")
    )
    evaluator = cam_evaluation.CamEvaluator(
        "wsolevaluation", np.arange(100) / 100
    )
    for image_id, cam in _raw_cams(
        model_dir, "wsol_cub", data_dir, manual, 32
    ).items():
        evaluator.add_boxes(
            cam, metadata.boxes[image_id], metadata.sizes[image_id]
        )
    expected = evaluator.result()
    assert result["threshold_free"]["protocol"] == "wsolevaluation"
    assert result["max_box_acc_v2"] == pytest.approx(expected["max_box_acc_v2"])
    assert result["max_box_acc"] == pytest.approx(expected["max_box_acc"])


@pytest.mark.slow
def test_pxap_under_the_tools_rules_equals_the_metadata_path(tmp_path):
    model_dir, manual = _trained(tmp_path, "openimages30k", 224)
    data_dir = str(tmp_path / "data")
    result = evaluate.evaluate(
        model_dir,
        "openimages30k",
        "test",
        data_dir,
        manual_dir=manual,
        eval_crop="resize",
        box_protocol="wsolevaluation",
        threshold_step=0.01,
        num_pictures=0,
    )
    folder = os.path.join(manual, "metadata", "OpenImages", "test")
    metadata = cam_evaluation.read_metadata(folder)
    root = os.path.join(manual, "OpenImages")

    def read(name):
        return np.asarray(Image.open(os.path.join(root, name))) > 0

    evaluator = cam_evaluation.CamEvaluator(
        "wsolevaluation", np.arange(100) / 100
    )
    for image_id, cam in _raw_cams(
        model_dir, "openimages30k", data_dir, manual, 224
    ).items():
        mask = np.any([read(m) for m in metadata.masks[image_id]], axis=0)
        evaluator.add_mask(cam, mask, read(metadata.ignore[image_id]))
    assert result["pxap"] == pytest.approx(evaluator.result()["pxap"])
    assert result["threshold_free"]["scored_masks"] == 2
    # The figures a search picks by include it.
    assert "pxap" in tasks.for_dataset("openimages30k").figures(result)


@pytest.mark.slow
def test_samples_per_class_keeps_the_first_of_each_and_all_of_a_small_one(
    tmp_path,
):
    from has_tf.tasks.image_localization import first_per_class

    manual = os.path.join(_DATASETS, "wsol_cub", "dummy_data")
    data, _ = datasets.load(
        "wsol_cub", "validation", str(tmp_path), manual, decode_images=False
    )
    # CUBV2's class 059 has 3 images here (as in the real split): a sample
    # of 5 keeps the 3, a sample of 2 the first 2.
    ids = [e["image_id"] for e in tfds.as_numpy(data)]
    for count, expected in ((5, ids), (2, ids[:2])):
        kept = first_per_class(data, count, 200)
        assert [e["image_id"] for e in tfds.as_numpy(kept)] == expected
    result_model, _ = _trained(tmp_path / "m", "wsol_cub", 16)
    result = evaluate.evaluate(
        result_model,
        "wsol_cub",
        "validation",
        str(tmp_path / "m" / "data"),
        manual_dir=manual,
        samples_per_class=5,
        threshold_step=0.1,
        num_pictures=0,
    )
    assert result["count"] == 3
