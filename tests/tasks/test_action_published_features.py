"""Training and scoring on a published feature layout, with the heads
and post-processing of later methods."""

import json

import pytest

from has_tf import evaluate
from has_tf import train
from has_tf.datasets.thumos14_features import make_layout_fixtures as fx
from has_tf.postprocess import presets


def _train(tmp_path, dataset, **options):
    """A tiny run on the manual dir under `tmp_path`; returns (run, data)."""
    run, data = str(tmp_path / "run"), str(tmp_path / "data")
    settings = dict(
        train_split="validation",
        num_steps=24,
        segment_size=4,
        units=8,
        batch_size=2,
        epochs=1,
        steps_per_epoch=2,
        patch_sizes=(),
        tensorboard_images=0,
    )
    settings.update(options)
    train.train(
        train.TrainConfig(
            model_dir=run,
            dataset=dataset,
            data_dir=data,
            manual_dir=str(tmp_path / "manual"),
            allow_pickle=True,  # W-TALC's bundles are pickled.
            **settings,
        )
    )
    return run, data


def test_train_on_actionformer_features_and_score_every_preset(tmp_path):
    # ActionFormer's layout: per-video rates (fps / 4) and offsets.
    fx.write("actionformer", tmp_path / "manual", official=True)
    run, data = _train(
        tmp_path,
        "thumos14_features/i3d",
        temporal_kernel_size=3,
        temporal_attention=True,
        attention_l1=1e-4,
        video_sampling="random_perturb",
        temporal_pooling="topk",
    )
    found = {}
    for preset in presets.PRESETS:
        result = evaluate.evaluate(
            run,
            "thumos14_features/i3d",
            data_dir=data,
            num_plots=0,
            test_list="thumos14-test-213-v1",
            postprocess=preset,
        )
        assert result["options"]["postprocess"] == preset
        assert result["count"] == 2
        detections = json.loads(
            (
                tmp_path / "run" / "eval" / "detections_activitynet.json"
            ).read_text()
        )["results"]
        found[preset] = sum(len(rows) for rows in detections.values())
        for video, rows in detections.items():
            duration = fx.VIDEOS[video][1]
            for row in rows:
                start, end = row["segment"]
                assert 0.0 <= start <= end <= duration + 1e-6
    # The presets that fall back to the top class find something even for
    # this barely trained net (STPN's and BaS-Net's class thresholds, 0.1
    # and 0.25 over 20 classes, may leave none).
    assert all(found[p] > 0 for p in ("has_paper", "cola", "co2")), found


def test_a_bad_kernel_size_is_named():
    with pytest.raises(ValueError, match="temporal_kernel_size"):
        train.TrainConfig(model_dir="x", temporal_kernel_size=2)


def test_a_101_class_model_trains_on_wtalc_full_and_scores_20_classes(
    tmp_path,
):
    fx.write("wtalc_full", tmp_path / "manual", official=True)
    run, data = _train(
        tmp_path,
        "thumos14_features/wtalc_full",
        num_steps=16,
        batch_size=3,
        steps_per_epoch=1,
        video_cache="memory_float16",
    )
    result = evaluate.evaluate(
        run,
        "thumos14_features/wtalc_full",
        data_dir=data,
        num_plots=0,
        test_list="thumos14-test-213-v1",
    )
    # AP over the classes with ground truth: the test videos' two.
    assert sorted(result["classes"]) == ["Billiards", "PoleVault"]
    lines = (tmp_path / "run" / "eval" / "detections_thumos14.txt").read_text()
    ids = {int(line.split()[3]) for line in lines.splitlines()}
    assert ids and ids <= set(range(1, 102))  # UCF101 ids, 1-based.


def test_activitynet_trains_and_scores_its_grid(tmp_path):
    from has_tf.datasets.activitynet_features import make_fixtures as anet

    anet.write("acmnet", tmp_path / "manual", official=True)
    run, data = _train(
        tmp_path,
        "activitynet_features/acmnet_v1_3",
        train_split="train",
        num_steps=16,
        steps_per_epoch=1,
    )
    grid = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
    result = evaluate.evaluate(
        run,
        "activitynet_features/acmnet_v1_3",
        split="validation",
        data_dir=data,
        num_plots=0,
        iou_thresholds=grid,
        postprocess="cola",
    )
    assert result["count"] == 2
    assert list(result["map"]["activitynet"]) == [f"{t:g}" for t in grid]
    assert "0.5:0.95" in result["averages"]["activitynet"]
    assert "test_list" not in result  # THUMOS14's rules only.


def test_basnets_background_head_trains_saves_and_feeds_its_preset(tmp_path):
    fx.write("basnet", tmp_path / "manual", official=True)
    run, data = _train(
        tmp_path,
        "thumos14_features/basnet",
        temporal_kernel_size=3,
        temporal_attention=True,
        temporal_background=True,
        attention_l1=0.075,
        temporal_pooling="topk",
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert "accuracy" in json.dumps(history)
    for preset in ("co2", "basnet"):
        result = evaluate.evaluate(
            run,
            "thumos14_features/basnet",
            data_dir=data,
            num_plots=0,
            test_list="thumos14-test-213-v1",
            postprocess=preset,
        )
        assert result["count"] == 2


def test_background_needs_the_attention_branch():
    with pytest.raises(ValueError, match="temporal_attention"):
        train.TrainConfig(model_dir="x", temporal_background=True)
