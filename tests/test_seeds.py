"""The seed sweep runs each flagfile per seed and averages."""

import pytest

from has_tf import seeds


@pytest.mark.slow
def test_sweep_over_two_seeds(tmp_path):
    cfg = tmp_path / "tiny.cfg"
    cfg.write_text(
        "--dataset=synthetic_actions/tiny\n"
        f"--data_dir={tmp_path / 'data'}\n"
        f"--model_dir={tmp_path / 'run'}\n"
        "--num_steps=32\n--segment_size=4\n--units=8\n--batch_size=4\n"
        "--epochs=1\n--steps_per_epoch=2\n--patch_sizes=\n"
        "--tensorboard_images=0\n--num_plots=0\n"
    )
    report = seeds.run([str(cfg)], [0, 1])
    runs = report[str(cfg)]["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    assert runs[1]["model_dir"].endswith("run_s1")
    assert (tmp_path / "run_s1" / "eval" / "metrics.json").exists()
    mean = report[str(cfg)]["mean"]["thumos14_map@0.5"]
    assert mean == pytest.approx(
        (runs[0]["thumos14_map@0.5"] + runs[1]["thumos14_map@0.5"]) / 2
    )
