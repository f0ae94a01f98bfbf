"""Tests for python -m has_tf.search: the space, the draws, the plan, and a
search killed and resumed."""

import json
import os
import signal
import time

import pytest

from has_tf import config as config_lib
from has_tf import search
from tests import app_server


def _space(tmp_path, space, name="space.json"):
    path = tmp_path / name
    path.write_text(json.dumps(space))
    return str(path)


def _flagfile(tmp_path, **extra):
    options = {
        "dataset": "synthetic_parts/tiny",
        "data_dir": str(tmp_path / "data"),
        "model_dir": str(tmp_path / "unused"),
        "image_size": 28,
        "resize_size": 32,
        "batch_size": 4,
        "epochs": 1,
        "steps_per_epoch": 2,
        "tensorboard_images": 0,
        "threshold_step": 0.1,
        "num_pictures": 0,
        "patch_sizes": "0,8",
        **extra,
    }
    path = tmp_path / "exp.cfg"
    path.write_text("".join(f"--{k}={v}\n" for k, v in options.items()))
    return str(path)


SPACE = {
    "learning_rate": {"log_uniform": [1e-3, 1e-1]},
    "hide_prob": {"uniform": [0.25, 0.75]},
    "patch_sizes": {"choice": [[0, 8], [7], [14]]},
    "units": {"int_uniform": [2, 4]},
}


def test_draws_are_in_their_ranges_and_depend_only_on_the_seed(tmp_path):
    space = search.read_space(_space(tmp_path, SPACE))
    trials = search.draw_trials(space, 200, seed=3)
    assert trials == search.draw_trials(space, 200, seed=3)
    assert trials != search.draw_trials(space, 200, seed=4)
    rates = [t["learning_rate"] for t in trials]
    assert 1e-3 <= min(rates) and max(rates) <= 1e-1
    # Log-uniform: about half the draws below the geometric midpoint 1e-2.
    assert 0.4 < sum(r < 1e-2 for r in rates) / len(rates) < 0.6
    assert all(0.25 <= t["hide_prob"] <= 0.75 for t in trials)
    assert {tuple(t["patch_sizes"]) for t in trials} == {(0, 8), (7,), (14,)}
    assert {t["units"] for t in trials} == {2, 3, 4}
    # Trial k is the same however many trials are drawn.
    assert search.draw_trials(space, 5, seed=3) == trials[:5]


@pytest.mark.parametrize(
    "space, match",
    [
        ({"no_such_flag": {"choice": [1]}}, "no_such_flag: not a training"),
        (
            {"learning_rate": {"normal": [0, 1]}},
            "unknown distribution 'normal'",
        ),
        ({"learning_rate": {"log_uniform": [0, 1]}}, "low > 0"),
        ({"learning_rate": {"uniform": [1, 1]}}, "low < high"),
        ({"hide_prob": {"choice": []}}, "non-empty list"),
        ({"units": {"int_uniform": [1.5, 3]}}, "integers"),
        ([], "expected a JSON object"),
    ],
)
def test_a_bad_space_is_named(tmp_path, space, match):
    with pytest.raises(ValueError, match=match):
        search.read_space(_space(tmp_path, space))


def test_every_trial_is_checked_before_the_first_trains(tmp_path):
    space = _space(tmp_path, {"patch_sizes": {"choice": [[7], [40]]}})
    with pytest.raises(ValueError, match=r"trial \d .*--patch_sizes") as info:
        search.plan(
            _flagfile(tmp_path), space, 6, 0, str(tmp_path / "s"), "validation"
        )
    assert not (tmp_path / "s").exists()
    assert "a patch is larger than the crop" in str(info.value)


@pytest.mark.slow
def test_a_diverged_trial_is_recorded_and_the_search_goes_on(tmp_path):
    space_path = _space(tmp_path, {"learning_rate": {"choice": [1e12, 0.01]}})
    draws = search.draw_trials(search.read_space(space_path), 3, seed=1)
    rates = [d["learning_rate"] for d in draws]
    assert 1e12 in rates and 0.01 in rates  # Seed 1 draws both.
    report = search.run(
        _flagfile(tmp_path), space_path, 3, 1, str(tmp_path / "s")
    )
    statuses = {r["trial"]: r["status"] for r in report["results"]}
    for index, rate in enumerate(rates):
        assert statuses[index] == ("diverged" if rate == 1e12 else "done")
    diverged = [r for r in report["results"] if r["status"] == "diverged"]
    assert "NaN" in diverged[0]["error"]
    assert report["chosen"]["values"]["learning_rate"] == 0.01
    assert report["test"]["split"] == "test"
    assert "max_box_acc_v2" in report["test"]["figures"]
    chosen_dir = report["chosen"]["model_dir"]
    assert os.path.exists(os.path.join(chosen_dir, "eval_test", "metrics.json"))
    # Only the chosen trial has a serving export.
    exported = sorted(
        name
        for name in os.listdir(tmp_path / "s")
        if os.path.exists(tmp_path / "s" / name / "saved_model")
    )
    assert exported == [os.path.basename(chosen_dir)]
    # Another search in the same directory is refused.
    other = _space(tmp_path, {"learning_rate": {"choice": [0.02]}}, "b.json")
    with pytest.raises(ValueError, match="holds another search.*space"):
        search.run(_flagfile(tmp_path), other, 3, 1, str(tmp_path / "s"))


def _search_command(tmp_path, flagfile, space):
    return [
        "-m",
        "has_tf.search",
        f"--flagfile={flagfile}",
        f"--space={space}",
        "--trials=3",
        "--seed=0",
        f"--search_dir={tmp_path / 's'}",
    ]


@pytest.mark.slow
def test_a_killed_search_resumes_with_its_finished_trials(tmp_path):
    flagfile = _flagfile(tmp_path, steps_per_epoch=6, checkpoint_steps=2)
    space = _space(
        tmp_path, {k: SPACE[k] for k in ("learning_rate", "patch_sizes")}
    )
    record = tmp_path / "s" / "search.json"
    process = app_server.start(
        _search_command(tmp_path, flagfile, space), new_session=True
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        if record.exists() and json.loads(record.read_text())["results"]:
            break
        assert process.poll() is None, process.stderr[-2000:]
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = json.loads(record.read_text())["results"]
    assert [r["trial"] for r in first] == [0]
    trained = os.path.getmtime(tmp_path / "s" / "trial_000" / "model.keras")
    done = app_server.run(_search_command(tmp_path, flagfile, space))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(record.read_text())
    assert [r["trial"] for r in report["results"]] == [0, 1, 2]
    assert report["results"][0] == first[0]  # Kept, not retrained.
    assert (
        os.path.getmtime(tmp_path / "s" / "trial_000" / "model.keras")
        == trained
    )
    assert report["chosen"]["trial"] in (0, 1, 2)
    assert "Chosen: trial" in done.stdout
    # Resumed at 1 of 3; the end line names the best trial.
    assert "search: 1/3 trials (33.3%)" in done.stderr
    assert "search: 3/3 trials (100.0%), in " in done.stderr
    assert "; best: trial " in done.stderr


@pytest.mark.slow
def test_training_flags_on_the_command_line_are_refused(tmp_path, run_app):
    result = run_app(
        "has_tf.search",
        f"--flagfile={_flagfile(tmp_path)}",
        f"--space={_space(tmp_path, SPACE)}",
        "--epochs=5",
        f"--search_dir={tmp_path / 's'}",
    )
    assert result.returncode == 1
    assert "--epochs=5: the trials are the flagfile's options" in result.stderr


def test_a_failed_trial_stops_the_choice_and_is_retried(tmp_path, monkeypatch):
    """A fault that is not the trial's values (here an OSError, as a full
    disk gives) leaves the search without a choice, and the same search
    run again retries that trial, keeping the others."""
    space_path = _space(tmp_path, {"learning_rate": {"choice": [0.01, 0.02]}})
    real_train = search.train.train
    calls = []

    def flaky(config, **options):
        calls.append(config.model_dir)
        if (
            config.model_dir.endswith("trial_001")
            and calls.count(config.model_dir) == 1
        ):
            raise OSError(28, "No space left on device")
        return real_train(config, **options)

    monkeypatch.setattr(search.train, "train", flaky)
    with pytest.raises(search.TrialsFailed, match="trial 1: OSError") as caught:
        search.run(_flagfile(tmp_path), space_path, 2, 0, str(tmp_path / "s"))
    assert caught.value.report["chosen"] is None
    record = json.loads((tmp_path / "s" / "search.json").read_text())
    assert [r["status"] for r in record["results"]] == ["done", "failed"]
    assert record["chosen"] is None and record["test"] is None
    report = search.run(
        _flagfile(tmp_path), space_path, 2, 0, str(tmp_path / "s")
    )
    assert [r["status"] for r in report["results"]] == ["done", "done"]
    assert [os.path.basename(c) for c in calls] == [
        "trial_000",
        "trial_001",
        "trial_001",
    ]
    assert report["chosen"] is not None and report["test"] is not None


@pytest.mark.parametrize(
    "record",
    [[1], {"results": {}}, {"results": ["x"]}, {"results": [{"trial": 0}]}],
    ids=["a_list", "results_an_object", "result_a_string", "no_status"],
)
def test_a_malformed_search_json_is_named_on_resume(tmp_path, record):
    space = _space(tmp_path, {"learning_rate": {"choice": [0.01]}})
    (tmp_path / "s").mkdir()
    path = tmp_path / "s" / "search.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="expected a search.json") as e:
        search.run(_flagfile(tmp_path), space, 1, 0, str(tmp_path / "s"))
    assert str(e.value).startswith(str(path))


def test_selection_on_pseudo_boxes_records_both_choices(tmp_path):
    """WACV 2025's protocol: trials chosen on a run's pseudo-boxes of the
    train split; each also scored on the validation boxes, and the report
    says which trial ground truth would have chosen."""
    import importlib

    from has_tf import train

    labels_app = importlib.import_module("has_tf.pseudo_labels.__main__")
    first = str(tmp_path / "first")
    options = dict(
        dataset="synthetic_parts/tiny",
        data_dir=str(tmp_path / "data"),
        image_size=28,
        resize_size=32,
        batch_size=4,
        patch_sizes=(0, 8),
    )
    train.train(
        train.TrainConfig(
            model_dir=first, epochs=1, steps_per_epoch=3, **options
        )
    )
    boxes = labels_app.label(
        first,
        config_lib.EvalConfig(
            model_dir=first,
            dataset=options["dataset"],
            data_dir=options["data_dir"],
            eval_split="train",
        ),
        out=str(tmp_path / "train_boxes.jsonl"),
    )
    space = _space(tmp_path, {"learning_rate": {"log_uniform": [1e-3, 1e-1]}})
    report = search.run(
        _flagfile(tmp_path),
        space,
        3,
        0,
        str(tmp_path / "s"),
        select_on=f"pseudo_boxes:{boxes}",
    )
    done = report["results"]
    assert len(done) == 3 and all(r["status"] == "done" for r in done)
    best = max(done, key=lambda r: (r["figure"], -r["trial"]))
    truth = max(done, key=lambda r: (r["figure_ground_truth"], -r["trial"]))
    assert report["chosen"]["trial"] == best["trial"]
    assert report["ground_truth_choice"]["trial"] == truth["trial"]
    assert report["same_choice"] == (best["trial"] == truth["trial"])
    for row in done:
        scored = json.load(
            open(os.path.join(row["model_dir"], "eval_select", "metrics.json"))
        )["scored"]
        assert scored["split"] == "train"
        assert scored["options"]["boxes_from"] == boxes
        val = json.load(
            open(os.path.join(row["model_dir"], "eval_val", "metrics.json"))
        )
        assert val["max_box_acc_v2"] == row["figure_ground_truth"]
        assert row["figures_selected_on"]["max_box_acc_v2"] == row["figure"]
    with pytest.raises(ValueError, match="--select_on: expected"):
        search.run(
            _flagfile(tmp_path), space, 3, 0, str(tmp_path / "t"), select_on="x"
        )
