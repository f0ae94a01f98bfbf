"""The benchmark runs and writes well-formed JSON (no timing asserted)."""

import random

import numpy as np
import pytest

from has_tf.bench import boxes as bench_boxes
from has_tf.bench import data as bench_data
from has_tf.bench import hiding as bench_hiding


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


def test_command_line_names_bad_arguments(run_app):
    """Each benchmark's command runs in tests/test_doc_commands.py (the
    commands docs/benchmarks.md prints, its JSON checked by `json_checks`);
    here the errors."""
    done = run_app("has_tf.bench", "hiding", "--batch", "0")
    assert done.returncode == 1 and "--batch" in done.stderr
    done = run_app("has_tf.bench", "unknown")
    assert done.returncode == 1
    assert "has_tf.bench: error:" in done.stderr
    assert "Received: 'unknown'" in done.stderr
    done = run_app("has_tf.bench", "hiding", "--images=2")
    assert done.returncode == 1 and "--images=2" in done.stderr
    done = run_app("has_tf.bench", "models", "--models=vgg19")
    assert done.returncode == 1 and "vgg19" in done.stderr


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


def test_a_deit_row_is_timed_beside_timm_or_says_why_not(monkeypatch):
    from has_tf.bench import models as bench_models

    monkeypatch.setattr(bench_models, "torch_available", lambda: False)
    out = bench_models.run(batch=1, repeats=1, models_list="deit_tiny")
    row = out["results"]["deit_tiny"]
    assert row["timm"] == (
        "deit_tiny_patch16_224 not timed: PyTorch and timm are not installed"
    )
    ms = {
        "forward": 2.0,
        "forward_backward": 8.0,
        "xla_forward": 1.0,
        "xla_forward_backward": 4.0,
        "timm_forward": 1.0,
        "timm_forward_backward": 6.0,
    }
    figures = bench_models._timm_figures("deit_tiny_patch16_224", ms, 4)
    assert figures["ratio_forward_backward"] == 0.75
    assert figures["ratio_xla_forward_backward"] == 1.5
    assert figures["timm_forward_images_per_s"] == 4000.0
