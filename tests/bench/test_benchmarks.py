"""The benchmark runs and writes well-formed JSON (no timing asserted)."""

import json
import random

import numpy as np
import pytest

from has_tf.bench import boxes as bench_boxes
from has_tf.bench import data as bench_data
from has_tf.bench import hiding as bench_hiding
from has_tf.bench import models as bench_models


@pytest.mark.slow
def test_hiding_benchmark_json_shape():
    result = bench_hiding.run(batch=2, size=24, repeats=1)
    assert result["batch_shape"] == [2, 24, 24, 3]
    for dtype in ("float32", "uint8"):
        entry = result["results"][dtype]
        assert entry["floor_ms"] > 0
        assert set(entry["patch_sizes"]) == {"16", "32", "44", "56", "mixed"}
        for timings in entry["patch_sizes"].values():
            assert timings["hide_patches_tf_function_ms"] > 0
            assert timings["hide_patches_xla_ms"] > 0
            ratio = timings["hide_patches_tf_function_ms"] / timings["floor_ms"]
            assert timings["hide_patches_tf_function_over_floor"] == ratio


def test_numpy_loop_reference_hides_whole_cells():

    images = np.ones([3, 10, 10, 2], np.float32)
    out = bench_hiding.numpy_loop_hide(
        images, [4], 1.0, [0.0, 0.0], random.Random(0)
    )
    assert (out == 0).all()
    images = np.ones([3, 10, 10, 2], np.float32)
    out = bench_hiding.numpy_loop_hide(
        images, [0], 1.0, [0.0, 0.0], random.Random(0)
    )
    assert (out == 1).all()


@pytest.mark.slow
def test_command_line_runs_one_and_names_bad_arguments(run_app):
    done = run_app(
        "has_tf.bench",
        "boxes",
        "--images=1",
        "--size=16",
        "--repeats=1",
        "--end_to_end_images=1",  # one size: 4 evaluate_cams runs, not 8
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["cams"] == [1, 16, 16]
    cores = out["cores"]
    # One image makes no meaningful slope; the rows are there and finite.
    for protocol in ("has_tf_100", "wsolevaluation_1000"):
        prefix = f"evaluate_cams_{protocol}"
        for row in (
            "workers_1_ms_per_image",
            "workers_1_fixed_s",
            f"workers_{cores}_50k_images_s",
            f"speedup_{cores}_workers",
        ):
            assert np.isfinite(out["results"][f"{prefix}_{row}"]), row
    done = run_app("has_tf.bench", "hiding", "--batch", "0")
    assert done.returncode == 1 and "--batch" in done.stderr
    done = run_app("has_tf.bench", "unknown")
    assert done.returncode == 1
    assert "has_tf.bench: error:" in done.stderr
    assert "Received: 'unknown'" in done.stderr
    done = run_app("has_tf.bench", "hiding", "--images=2")
    assert done.returncode == 1 and "--images=2" in done.stderr


@pytest.mark.slow
def test_models_benchmark_json_shape(monkeypatch):
    # Small inputs keep the smoke test quick; the real run uses 224.
    monkeypatch.setattr(
        bench_models.models,
        "INPUT_SIDES",
        {"alexnet_gap": 64, "small_gap": 32, "vgg16_cam": 32},
    )
    result = bench_models.run(
        batch=2, repeats=1, num_classes=5, models_list="small_gap,vgg16_cam"
    )
    assert set(result["results"]) == {"small_gap", "vgg16_cam"}
    for entry in result["results"].values():
        assert entry["forward_images_per_s"] > 0
        assert entry["forward_backward_images_per_s"] > 0
        assert entry["xla_forward_backward_images_per_s"] > 0
        assert entry["forward_images_per_s"] == pytest.approx(
            2 / entry["forward_ms"] * 1e3
        )
        assert entry["xla_speedup_forward"] == pytest.approx(
            entry["forward_ms"] / entry["xla_forward_ms"]
        )
    with pytest.raises(ValueError, match="vgg19"):
        bench_models.run(batch=1, repeats=1, models_list="vgg19")


def test_boxes_benchmark_json_shape():
    result = bench_boxes.run(images=2, size=32, repeats=1, end_to_end_images=0)[
        "results"
    ]
    for key in (
        "cam_to_box_one_threshold_ms",
        "sweep_100_largest_ms",
        "sweep_100_both_ms",
        "sweep_1000_both_ms",
        "cam_to_box_per_threshold_100_ms",
        "max_box_acc_update_100_ms",
        "max_box_acc_update_1000_ms",
    ):
        assert result[key] > 0
    assert result["sweep_1000_over_sweep_100"] == pytest.approx(
        result["sweep_1000_both_ms"] / result["sweep_100_both_ms"]
    )
    assert result["max_box_acc_update_1000_50k_images_s"] == pytest.approx(
        result["max_box_acc_update_1000_ms"] * 50
    )


def test_smooth_cams_are_in_range():
    cams = bench_data.smooth_cams(3, 48)
    assert cams.shape == (3, 48, 48)
    assert cams.min() >= 0 and cams.max() <= 1


def test_video_memory_rows_and_generated_lengths():
    from has_tf.bench import video_memory

    steps = video_memory.lengths(20000)
    assert steps.min() >= 1
    mean_s = steps.mean() / video_memory.RATE
    assert abs(mean_s - video_memory.MEAN_DURATION_S) < 0.02 * mean_s
    for mode in ("memory", "old"):
        row = video_memory.measure(mode, videos=8, dim=4, batch=4)
        assert row["mode"] == mode and row["batches"] == 4
        assert row["peak_gib"] >= row["growth_gib"] >= 0
