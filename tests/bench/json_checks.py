"""What each benchmark's JSON must hold (no timing asserted): applied to
the output of the commands docs/benchmarks.md prints, which
tests/test_doc_commands.py runs at small sizes."""

import numpy as np
import pytest


def hiding(out):
    assert out["batch_shape"][0] >= 1
    for dtype in ("float32", "uint8"):
        entry = out["results"][dtype]
        assert entry["floor_ms"] > 0
        assert set(entry["patch_sizes"]) == {"16", "32", "44", "56", "mixed"}
        for timings in entry["patch_sizes"].values():
            assert timings["hide_patches_tf_function_ms"] > 0
            assert timings["hide_patches_xla_ms"] > 0
            ratio = timings["hide_patches_tf_function_ms"] / timings["floor_ms"]
            assert timings["hide_patches_tf_function_over_floor"] == ratio


def models(out):
    assert out["results"]
    for entry in out["results"].values():
        assert entry["parameters"] > 0
        assert entry["forward_images_per_s"] > 0
        assert entry["forward_backward_images_per_s"] > 0
        assert entry["xla_forward_backward_images_per_s"] > 0
        assert entry["forward_images_per_s"] == pytest.approx(
            out["batch"] / entry["forward_ms"] * 1e3
        )
        assert entry["xla_speedup_forward"] == pytest.approx(
            entry["forward_ms"] / entry["xla_forward_ms"]
        )
        if "timm_forward_ms" in entry:  # PyTorch and timm installed.
            assert entry["ratio_forward_backward"] == pytest.approx(
                entry["timm_forward_backward_ms"] / entry["forward_backward_ms"]
            )
        elif "timm" in entry:
            assert "not installed" in entry["timm"]


def boxes(out):
    results, cores = out["results"], out["cores"]
    for protocol in ("has_tf_100", "wsolevaluation_1000"):
        prefix = f"evaluate_cams_{protocol}"
        for row in (
            "workers_1_ms_per_image",
            "workers_1_fixed_s",
            f"workers_{cores}_50k_images_s",
            f"speedup_{cores}_workers",
        ):
            assert np.isfinite(results[f"{prefix}_{row}"]), row
        ratios = [k for k in results if k.startswith(f"{prefix}_default_over")]
        assert ratios and all(results[k] > 0 for k in ratios)


def pipeline(out):
    results = out["results"]
    assert results["decode_only_images_per_s"] > 0
    costs = [k for k in results if k.endswith("_naming_cost")]
    assert len(costs) == 4 and all(results[k] < 1 for k in costs)
    for goal in out["goals"].values():
        assert goal["met"] == (goal["value"] >= goal["aim"])


def video_memory(out):
    assert [row["mode"] for row in out["rows"]] == [
        "memory",
        "memory_float16",
        "none",
    ]
    for row in [*out["rows"], out["old_0_3"]]:
        assert row["peak_gib"] > 0 and row["growth_gib"] >= 0


def video_methods(out):
    rows = out["rows"]
    assert {"paper", "cola", "aicl", "delu"} <= set(rows)
    for row in rows.values():
        assert row["parameters"] > 0 and row["train_step_ms"] > 0
        assert row["units"] >= 1
        assert row["over_paper"] == pytest.approx(
            row["train_step_ms"] / rows["paper"]["train_step_ms"]
        )
        assert row["videos_per_s"] == pytest.approx(
            out["batch"] / row["train_step_ms"] * 1e3
        )


CHECKS = {
    "hiding": hiding,
    "models": models,
    "boxes": boxes,
    "pipeline": pipeline,
    "video_memory": video_memory,
    "video_methods": video_methods,
}
