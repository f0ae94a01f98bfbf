"""python -m has_tf.evaluate_detections: detections from any code, both
formats and both ground truths, scored as the official tools do."""

import json
import os

import numpy as np
import pytest

from has_tf import evaluate_detections
from has_tf.metrics import detection_files
from has_tf.metrics import segments

_FIXTURE = os.path.join(
    os.path.dirname(__file__), "fixtures", "activitynet", "cases.json"
)


def _ground_truth_json(path, rows, names, subset="validation"):
    database = {}
    for video, start, end, index in rows:
        entry = database.setdefault(
            video, {"subset": subset, "annotations": []}
        )
        entry["annotations"].append(
            {"segment": [start, end], "label": names[index]}
        )
    database["other"] = {
        "subset": "training",
        "annotations": [{"segment": [0, 1], "label": names[0]}],
    }
    path.write_text(json.dumps({"database": database}))
    return str(path)


def test_activitynet_files_score_as_the_rows_they_hold(tmp_path):
    # The fixture's case (tests/metrics/test_activitynet_official.py checks
    # temporal_map against the official evaluator on it) through files:
    # the results JSON is read in the order the official evaluator reads
    # it (video by video), which decides the order of tied scores.
    case = json.load(open(_FIXTURE))["cases"][1]
    names = [f"class_{c}" for c in range(len(case["ap"]))]
    gt_rows = [tuple(r) for r in case["ground_truth"]]
    gt = _ground_truth_json(tmp_path / "gt.json", gt_rows, names)
    dets = detection_files.write_activitynet_json(
        str(tmp_path / "results.json"),
        [tuple(d) for d in case["detections"]],
        class_names=names,
    )
    result = evaluate_detections.score(
        dets, gt, "activitynet", case["thresholds"]
    )
    rows, read_names = detection_files.read_activitynet_ground_truth(gt)
    read = detection_files.read_activitynet_json(dets, read_names)
    expected = segments.temporal_map(
        read, rows, case["thresholds"], protocol="activitynet"
    )
    for k, c in enumerate(expected["classes"]):
        for t in case["thresholds"]:
            assert (
                result["ap_per_class"][read_names[c]][f"{t:g}"]
                == (expected["ap"][t][k])
            )
    assert result["videos"] == len({r[0] for r in gt_rows})  # Not "other".
    assert "0.5:0.95" in result["averages"]


def _thumos_folder(tmp_path, rows, ambiguous):
    folder = tmp_path / "annotation"
    folder.mkdir()
    for index, name in enumerate(detection_files.THUMOS14_CLASSES):
        lines = [f"{v} {s} {e}" for v, s, e, c in rows if c == index]
        (folder / f"{name}_test.txt").write_text("\n".join(lines) + "\n")
    (folder / "Ambiguous_test.txt").write_text(
        "\n".join(f"{v} {s} {e}" for v, s, e in ambiguous) + "\n"
    )
    return str(folder)


def test_kit_text_on_the_official_folder_under_both_rules(tmp_path, run_app):
    rng = np.random.default_rng(0)
    gt = [
        (f"video_test_{v:07d}", float(s), float(s + 5), int(c))
        for v, s, c in zip(range(6), rng.integers(0, 50, 6), [0, 0, 3, 3, 7, 7])
    ]
    ambiguous = [("video_test_0000001", 80.0, 90.0)]
    dets = [
        (
            v,
            s + rng.integers(-2, 3),
            e + rng.integers(-2, 3),
            c,
            round(float(rng.random()), 1),
        )
        for v, s, e, c in gt
    ]
    dets += [
        ("video_test_0000001", 82.0, 88.0, 0, 0.9),
        ("video_test_0000002", 1.0, 3.0, 3, 0.4),
    ]
    folder = _thumos_folder(tmp_path, gt, ambiguous)
    text = detection_files.write_thumos_detections(
        str(tmp_path / "d.txt"), dets
    )
    for protocol in ("thumos14", "activitynet"):
        out = tmp_path / protocol
        done = run_app(
            "has_tf.evaluate_detections",
            f"--detections={text}",
            f"--ground_truth={folder}",
            f"--protocol={protocol}",
            "--iou_thresholds=0.1,0.3,0.5,0.7",
            f"--output_dir={out}",
        )
        assert done.returncode == 0, done.stderr[-2000:]
        saved = json.load(open(out / "metrics.json"))
        # The kit's text keeps two decimals, as the reread rows do.
        reread = detection_files.read_thumos_detections(text)
        expected = segments.temporal_map(
            reread,
            gt,
            (0.1, 0.3, 0.5, 0.7),
            protocol=protocol,
            ambiguous=ambiguous if protocol == "thumos14" else None,
        )
        for t in (0.1, 0.3, 0.5, 0.7):
            assert saved["map"][f"{t:g}"] == pytest.approx(expected["map"][t])
        assert "mAP (%) at IoU 0.1" in done.stdout
        # AP per class of the ground truth (as the official tools).
        assert set(saved["ap_per_class"]) == {
            detection_files.THUMOS14_CLASSES[c] for c in (0, 3, 7)
        }


def test_averages_follow_the_grid(tmp_path):
    gt = [("a", 0.0, 10.0, 0)]
    folder = _thumos_folder(tmp_path, gt, [])
    text = detection_files.write_thumos_detections(
        str(tmp_path / "d.txt"), [("a", 0.0, 8.0, 0, 0.9)]
    )
    full = evaluate_detections.score(text, folder, "thumos14")
    assert set(full["averages"]) == {"0.1:0.5", "0.3:0.7", "0.1:0.7"}
    # IoU 0.8: a hit at every threshold up to 0.7; the mean is over the
    # classes with ground truth, as the official tools take it.
    assert full["averages"]["0.1:0.7"] == 1.0
    assert full["averages"]["0.1:0.5"] == 1.0
    part = evaluate_detections.score(text, folder, "thumos14", [0.5])
    assert part["averages"] == {} and list(part["map"]) == ["0.5"]


@pytest.mark.parametrize(
    "content, match",
    [
        ("video_test_1 1 2 7\n", r"d\.txt:1: expected 'video start end"),
        ("a 1 2 7.5 0.9\n", r"d\.txt:1: expected a whole class id.*'7\.5'"),
        (
            '{"results": {"v": [{"segment": [0, 1], "label": "Nope", '
            '"score": 1}]}}',
            "unknown label 'Nope'",
        ),
    ],
)
def test_bad_detection_files_are_named(tmp_path, content, match):
    folder = _thumos_folder(tmp_path, [("a", 0.0, 1.0, 0)], [])
    path = tmp_path / "d.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        evaluate_detections.score(str(path), folder, "thumos14")


def test_an_activitynet_ground_truth_without_the_subset_says_so(tmp_path):
    gt = _ground_truth_json(tmp_path / "gt.json", [("v", 0, 1, 0)], ["x"])
    with pytest.raises(
        ValueError, match="no annotated video of subset 'testing'"
    ):
        evaluate_detections.read_ground_truth(gt, "testing")


def test_detections_of_videos_the_ground_truth_lacks_are_counted_or_refused(
    tmp_path,
):
    """ACM-Net's gt.json keeps ActivityNet's "v_", has_tf's builder strips
    it: scored together, every detection missed its video and the result
    was mAP 0, exit 0, without a word. None matching is an error naming
    both sides; some not matching is counted."""
    names = ["x", "y"]
    gt = _ground_truth_json(
        tmp_path / "gt.json", [("v_abc", 0, 10, 0), ("v_def", 0, 10, 1)], names
    )

    def detections(videos):
        rows = [(v, 0.0, 9.0, 0, 0.9) for v in videos]
        return detection_files.write_activitynet_json(
            str(tmp_path / "results.json"), rows, class_names=names
        )

    with pytest.raises(ValueError, match=r"none of its 2 videos.*\"v_\""):
        evaluate_detections.score(detections(["abc", "def"]), gt, "activitynet")
    result = evaluate_detections.score(
        detections(["v_abc", "ghi"]), gt, "activitynet"
    )
    assert result["videos_without_ground_truth"] == 1
    assert result["map"]["0.5"] > 0


# Malformed inputs, each refused naming its file (and line, video or
# detection): before 0.4 all 20 raised KeyError, AttributeError, TypeError
# or a ValueError that did not start with the file's name.
_DETECTIONS = "{'label': name, 'score': number, 'segment': [start, end]}"
_BAD_JSON = {
    "no_results": ({"version": 1}, "expected ActivityNet results"),
    "results_list": ({"results": []}, "expected ActivityNet results"),
    "item_without_segment": (
        {"results": {"v1": [{"label": "A", "score": 1}]}},
        "video 'v1' detection 0: expected",
    ),
    "segment_of_3": (
        {"results": {"v1": [{"label": "A", "score": 1, "segment": [1, 2, 3]}]}},
        r"with a \[start, end\] segment",
    ),
    "score_a_word": (
        {"results": {"v1": [{"label": "A", "score": "x", "segment": [1, 2]}]}},
        r"\(finite numbers\)",
    ),
    "items_not_a_list": (
        {"results": {"v1": {"label": "A"}}},
        "video 'v1': expected a list of detections",
    ),
    "segment_a_string": (
        {"results": {"v1": [{"label": "A", "score": 1, "segment": "1-2"}]}},
        r"with a \[start, end\] segment",
    ),
    "nan_score": (
        {
            "results": {
                "v1": [{"label": "A", "score": "NaN", "segment": [1, 2]}]
            }
        },
        r"\(finite numbers\)",
    ),
    "reversed": (
        {"results": {"v1": [{"label": "A", "score": 1, "segment": [3, 1]}]}},
        "detection 0: expected start <= end",
    ),
}
_BAD_KIT_LINES = {
    "start_a_word": ("video_test_0000004 abc 2 7 0.5", ":1: expected"),
    "score_a_word": ("video_test_0000004 1 2 7 high", ":1: expected"),
    "class_102": ("video_test_0000004 1 2 102 0.5", ":1: Expected a THUMOS14"),
    "class_1": ("video_test_0000004 1 2 1 0.5", ":1: Expected a THUMOS14"),
    "nan_start": ("video_test_0000004 nan 2 7 0.5", ":1: expected"),
    "reversed": ("video_test_0000004 3 2 7 0.5", ":1: expected start <= end"),
}
_BAD_GROUND_TRUTH = {
    "database_a_list": ({"database": []}, "'database' to map videos"),
    "entry_a_string": ({"database": {"v1": "x"}}, "video 'v1': expected"),
    "annotations_not_a_list": (
        {"database": {"v1": {"subset": "validation", "annotations": {}}}},
        "video 'v1': expected",
    ),
    "reversed": (
        {
            "database": {
                "v1": {
                    "subset": "validation",
                    "annotations": [{"segment": [3, 1], "label": "A"}],
                }
            }
        },
        "annotation 0: expected start <= end",
    ),
    "nan": (
        {
            "database": {
                "v1": {
                    "subset": "validation",
                    "annotations": [{"segment": ["nan", 1], "label": "A"}],
                }
            }
        },
        r"annotation 0: .*\(finite numbers\)",
    ),
}


@pytest.mark.parametrize("case", sorted(_BAD_JSON))
def test_malformed_results_json_is_named(tmp_path, case):
    content, reason = _BAD_JSON[case]
    gt = _ground_truth_json(tmp_path / "gt.json", [("v1", 1, 2, 0)], ["A"])
    path = tmp_path / "results.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=reason) as error:
        evaluate_detections.score(str(path), gt, "activitynet")
    assert str(error.value).startswith(str(path))


@pytest.mark.parametrize("case", sorted(_BAD_KIT_LINES))
def test_malformed_kit_lines_are_named_with_their_line(tmp_path, case):
    line, reason = _BAD_KIT_LINES[case]
    path = tmp_path / "detections.txt"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=reason) as error:
        detection_files.read_thumos_detections(str(path))
    assert str(error.value).startswith(f"{path}:1:")


@pytest.mark.parametrize("case", sorted(_BAD_GROUND_TRUTH))
def test_malformed_ground_truth_json_is_named(tmp_path, case):
    content, reason = _BAD_GROUND_TRUTH[case]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=reason) as error:
        detection_files.read_activitynet_ground_truth(str(path))
    assert str(error.value).startswith(str(path))
