"""The seed sweep runs each flagfile per seed and averages."""

import json

import pytest

from has_tf import seeds
from has_tf.runs import run_dir


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
    values = [r["thumos14_map@0.5"] for r in runs]
    assert mean == pytest.approx(sum(values) / 2)
    figure = report[str(cfg)]["spread"]["thumos14_map@0.5"]
    assert figure["n"] == 2
    assert (figure["min"], figure["max"]) == (min(values), max(values))
    assert figure["std"] == pytest.approx(abs(values[0] - values[1]) / 2)
    best = report[str(cfg)]["best_of"]
    assert best["of"] == 2 and best["figure"] == "top1_cls"
    assert best["value"] == max(r["top1_cls"] for r in runs)


def _tiny_actions(tmp_path, name="tiny.cfg", segment_size=4):
    cfg = tmp_path / name
    cfg.write_text(
        "--dataset=synthetic_actions/tiny\n"
        f"--data_dir={tmp_path / 'data'}\n"
        f"--model_dir={tmp_path / 'run'}\n"
        f"--num_steps=32\n--segment_size={segment_size}\n--units=8\n"
        "--batch_size=4\n--epochs=1\n--steps_per_epoch=2\n--patch_sizes=\n"
        "--tensorboard_images=0\n--num_plots=0\n"
    )
    return str(cfg)


def test_the_whole_sweep_is_checked_before_any_run(tmp_path):
    good = _tiny_actions(tmp_path)
    no_dir = tmp_path / "no_dir.cfg"
    no_dir.write_text("--dataset=synthetic_parts/tiny\n")
    unknown = tmp_path / "unknown.cfg"
    unknown.write_text("--model_dir=x\n--no_such_flag=1\n")
    late = _tiny_actions(tmp_path, "late.cfg", segment_size=40)
    with pytest.raises(ValueError) as raised:
        seeds.run([good, str(no_dir), str(unknown), late], [0, 0, 1])
    message = str(raised.value)
    assert "--seeds: each seed once" in message
    assert f"{no_dir}: no --model_dir" in message
    assert f"{unknown}:" in message and "no_such_flag" in message
    assert f"{late} (seed 1): " in message and "--segment_size" in message
    assert not list(tmp_path.glob("run_s*"))  # Nothing ran.
    with pytest.raises(ValueError, match="at least one seed"):
        seeds.run([good], [])


@pytest.mark.slow
def test_a_failed_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    cfg = _tiny_actions(tmp_path)
    out = tmp_path / "out" / "sweep.json"
    out.parent.mkdir()
    with run_dir.RunLock(str(tmp_path / "run_s0")):  # Seed 0 is busy.
        report = seeds.run([cfg], [0, 1], out=str(out))
    entry = report[cfg]
    assert "RunLockedError" in entry["runs"][0]["error"]
    assert "error" not in entry["runs"][1]
    assert entry["failed"] == 1
    assert entry["mean"]["thumos14_map@0.5"] == pytest.approx(
        entry["runs"][1]["thumos14_map@0.5"]
    )
    assert json.loads(out.read_text()) == report


@pytest.mark.slow
def test_the_command_exits_1_after_a_failed_run(tmp_path, run_app):
    cfg = _tiny_actions(tmp_path)
    out = tmp_path / "new_folder" / "sweep.json"
    with run_dir.RunLock(str(tmp_path / "run_s1")):
        done = run_app(
            "has_tf.seeds", f"--flagfiles={cfg}", "--seeds=0,1", f"--out={out}"
        )
    assert done.returncode == 1
    assert "1 run(s) failed" in done.stderr.strip().splitlines()[-1]
    assert "seeds: 2/2 runs (100.0%), in " in done.stderr
    assert json.loads(out.read_text())[cfg]["failed"] == 1
