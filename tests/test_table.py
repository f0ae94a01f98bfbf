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
        f"| `{cam}` | cam | vgg16_cam | 2 seeds | 60.0 ± 10.0 | 30.0 ± 5.0 "
        "|  | MaxBoxAccV2 63.7 |"
    )
    assert lines[3] == (
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
