"""python -m has_tf.evaluate's library side: compare, and the errors for
runs that cannot be evaluated."""

import json
import os

import pytest

from has_tf import evaluate
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


def test_a_run_of_version_0_1_still_evaluates(tmp_path, one_step_run):
    # has_tf 0.1 named the run record normalization.json.
    run = one_step_run(tensorboard_images=0)
    record = json.loads(open(os.path.join(run, "run_info.json")).read())
    assert record["image_size"] == 28 and record["model"] == "small_gap"
    os.rename(
        os.path.join(run, "run_info.json"),
        os.path.join(run, "normalization.json"),
    )
    result = evaluate.evaluate(
        run, "synthetic_parts/tiny", "test", str(tmp_path), num_pictures=0
    )
    assert result["count"] == 6


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
