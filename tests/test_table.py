"""python -m has_tf.table: methods side by side from seeds and searches."""

import json

import pytest

from has_tf import table


def _run_dir(tmp_path, name, method, model="vgg16_cam"):
    directory = tmp_path / name
    directory.mkdir()
    info = {"model": model, "method": {"name": method}}
    (directory / "run_info.json").write_text(json.dumps(info))
    return str(directory)


def _flagfile(tmp_path, name, header):
    path = tmp_path / name
    path.write_text(f"# {header}\n--model_dir=runs/x\n")
    return str(path)


def test_seeds_and_searches_in_one_table(tmp_path, run_app):
    cam = _flagfile(
        tmp_path,
        "cam.cfg",
        "Paper: Choe et al. (CVPR 2020), main table, test split: "
        "MaxBoxAccV2 63.7 (CAM row)",
    )
    cutmix = _flagfile(tmp_path, "cutmix.cfg", "synthetic, no paper row")
    seeds = {
        cam: {
            "runs": [
                {
                    "seed": s,
                    "model_dir": _run_dir(tmp_path, f"cam_{s}", "cam"),
                    "train_seconds": 1.0,
                    "gt_known_loc": v,
                    "max_box_acc_v2": v / 2,
                }
                for s, v in ((0, 0.5), (1, 0.7))
            ]
            + [{"seed": 2, "model_dir": "x", "error": "boom"}],
            "mean": {},
            "failed": 1,
        }
    }
    seeds_path = tmp_path / "seeds.json"
    seeds_path.write_text(json.dumps(seeds))
    search = tmp_path / "search"
    search.mkdir()
    (search / "search.json").write_text(
        json.dumps(
            {
                "flagfile": cutmix,
                "results": [{}, {}, {}],
                "chosen": {
                    "model_dir": _run_dir(tmp_path, "cutmix_t1", "cutmix")
                },
                "test": {"figures": {"gt_known_loc": 0.8, "pxap": 0.25}},
            }
        )
    )
    rows = table.seeds_rows(str(seeds_path)) + table.search_rows(str(search))
    text = table.markdown(rows, ["gt_known_loc", "max_box_acc_v2", "pxap"])
    lines = text.splitlines()
    assert lines[0] == (
        "| experiment | method | model | runs | gt_known_loc | "
        "max_box_acc_v2 | pxap | reported |"
    )
    assert lines[2] == (
        f"| `{cam}` | cam | vgg16_cam | 2 seeds | 60.0 ± 10.0 (50.0–70.0) | "
        "30.0 ± 5.0 (25.0–35.0) |  | MaxBoxAccV2 63.7 |"
    )
    # The best seed has a row of its own, never the result's.
    assert lines[3] == (
        f"| `{cam}` | cam | vgg16_cam | best of 2 seeds (seed 1 by "
        "gt_known_loc): not the result | 70.0 | 35.0 |  |  |"
    )
    assert lines[4] == (
        f"| `{cutmix}` | cutmix | vgg16_cam | best of 3 trials | 80.0 |  | "
        "25.0 |  |"
    )
    out = tmp_path / "table.md"
    done = run_app(
        "has_tf.table",
        f"--from_seeds={seeds_path}",
        f"--from_searches={search}",
        f"--markdown_out={out}",
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == done.stdout
    assert "cutmix" in done.stdout


def test_bad_inputs_are_one_line(tmp_path, run_app):
    nothing = run_app("has_tf.table")
    assert nothing.returncode == 1 and "--from_seeds" in nothing.stderr
    unfinished = tmp_path / "s"
    unfinished.mkdir()
    (unfinished / "search.json").write_text(json.dumps({"test": None}))
    with pytest.raises(ValueError, match="no test figures"):
        table.search_rows(str(unfinished))
    missing = run_app("has_tf.table", f"--from_searches={tmp_path / 'nope'}")
    assert missing.returncode == 1 and "nope" in missing.stderr


# Structurally wrong records: each a ValueError naming the file (they were
# KeyError, AttributeError, TypeError, or for 'runs' as an object a row of
# no seeds).
_BAD_SEEDS = {
    "a_list": [1],
    "entry_a_string": {"a.cfg": "x"},
    "no_runs": {"a.cfg": {}},
    "runs_an_object": {"a.cfg": {"runs": {}}},
    "run_a_string": {"a.cfg": {"runs": ["x"]}},
    "figure_a_word": {
        "a.cfg": {"runs": [{"seed": 0, "model_dir": "m", "top1_loc": "x"}]}
    },
}
_BAD_SEARCHES = {
    "a_list": [1],
    "test_without_figures": {
        "test": {"x": 1},
        "chosen": {"model_dir": "m"},
        "flagfile": "f",
        "results": [],
    },
    "nothing_chosen": {"test": {"figures": {}}, "chosen": None},
    "figure_a_word": {
        "test": {"figures": {"a": "x"}},
        "chosen": {"model_dir": "m"},
        "flagfile": "f",
        "results": [],
    },
}


@pytest.mark.parametrize("case", sorted(_BAD_SEEDS))
def test_a_malformed_seeds_json_is_named(tmp_path, case):
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps(_BAD_SEEDS[case]))
    with pytest.raises(ValueError, match="expected the JSON python -m") as e:
        table.seeds_rows(str(path))
    assert str(e.value).startswith(str(path))


@pytest.mark.parametrize("case", sorted(_BAD_SEARCHES))
def test_a_malformed_search_json_is_named(tmp_path, case):
    (tmp_path / "search.json").write_text(json.dumps(_BAD_SEARCHES[case]))
    with pytest.raises(ValueError, match="expected the search.json") as e:
        table.search_rows(str(tmp_path))
    assert str(e.value).startswith(str(tmp_path / "search.json"))
