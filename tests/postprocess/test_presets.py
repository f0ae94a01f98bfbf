"""Each post-processing preset equals its reference code (golden cases)."""

import json
import pathlib

import numpy as np
import pytest

from has_tf.postprocess import presets
from has_tf.postprocess import temporal_blocks as blocks

CASES = json.loads(
    (
        pathlib.Path(__file__).parents[1]
        / "fixtures"
        / "wtal_presets"
        / "cases.json"
    ).read_text()
)


def _ids(case):
    return f"{case['preset']}-{CASES['cases'].index(case)}"


@pytest.mark.parametrize("case", CASES["cases"], ids=_ids)
def test_preset_equals_its_reference(case):
    got = presets.detect(
        case["preset"],
        np.array(case["cas"]),
        np.array(case["video_scores"]),
        case["span_s"],
        attention=np.array(case["attention"]),
        background=np.array(case["background"]),
        actionness=np.array(case["actionness"]),
        ambiguous=[tuple(a) for a in case["ambiguous"]],
    )
    expected = case["expected"]
    assert len(got) == len(expected)
    for row, want in zip(got, expected):
        assert row[2] == want[2]
        np.testing.assert_allclose(
            [row[0], row[1], row[3]], [want[0], want[1], want[3]], atol=1e-9
        )


def test_every_preset_has_cases_with_and_without_detections():
    by_preset = {}
    for case in CASES["cases"]:
        by_preset.setdefault(case["preset"], []).append(len(case["expected"]))
    assert set(by_preset) == set(presets.PRESETS) - {"has_paper"}
    assert all(max(counts) > 0 for counts in by_preset.values())
    # The `pred.any()` quirk: class 0 alone gives nothing in STPN, BaS-Net.
    assert by_preset["stpn"][3] == 0 and by_preset["basnet"][3] == 0


def test_has_paper_is_tcam_to_segments():
    cas = np.zeros((10, 2))
    cas[2:5, 1] = 1.0
    rows = presets.detect("has_paper", cas, [0.2, 0.8], 5.0)
    assert rows == [(1.0, 2.5, 1, 1.0)]


def test_detect_names_bad_input():
    with pytest.raises(ValueError, match="preset='paper'"):
        presets.detect("paper", np.zeros((4, 2)), [0.5, 0.5], 1.0)
    with pytest.raises(ValueError, match=r"attention \[4\]"):
        presets.detect(
            "co2", np.zeros((4, 2)), [0.5, 0.5], 1.0, attention=np.ones(3)
        )
    with pytest.raises(ValueError, match="span_s > 0"):
        presets.detect("cola", np.zeros((4, 2)), [0.5, 0.5], 0.0)


@pytest.mark.parametrize("preset", presets.PRESETS)
def test_detect_refuses_nan_and_empty_input(preset):
    """They were scored (NaN scores and attention gave detections or none,
    silently) or crashed with ZeroDivisionError (T = 0)."""
    cas, scores = (
        np.random.default_rng(0).uniform(size=(10, 3)),
        [0.5, 0.3, 0.2],
    )
    extra = dict(attention=np.ones(10), background=np.zeros(10))
    with pytest.raises(ValueError, match="finite video_scores"):
        presets.detect(preset, cas, [np.nan, 0.3, 0.2], 5.0, **extra)
    for name in ("attention", "background", "actionness"):
        bad = {**extra, name: np.full(10, np.inf)}
        with pytest.raises(ValueError, match=f"finite {name}"):
            presets.detect(preset, cas, scores, 5.0, **bad)
    with pytest.raises(ValueError, match=r"at least one step.*\(0, 3\)"):
        presets.detect(
            preset,
            np.zeros((0, 3)),
            scores,
            5.0,
            attention=np.ones(0),
            background=np.zeros(0),
        )


def test_blocks_by_hand():
    np.testing.assert_allclose(
        blocks.upsample_linear(np.array([0.0, 1.0, 3.0]), 2),
        [0.0, 0.5, 1.0, 2.0, 3.0, 4.0],  # The last step extrapolated.
    )
    np.testing.assert_allclose(
        blocks.minmax_normalize(np.array([[1.0, -2.0], [3.0, -1.0]])),
        [[0.0, -2.0], [1.0, -1.0]],  # A negative column stays as it is.
    )
    assert [r.tolist() for r in blocks.runs_of([0, 1, 1, 0, 1])] == [
        [1, 2],
        [4],
    ]
    assert blocks.runs_of([1, 0, 0], skip_lone_zero=True) == []
    values = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    assert blocks.outer_inner_score(values, np.arange(2, 6)) == 1.0
    # +1 NMS: [0, 0.5] and [1, 1.5] overlap 0.5 / 2.5 "seconds".
    rows = [[0, 0.9, 0.0, 0.5], [0, 0.8, 1.0, 1.5]]
    assert len(blocks.hard_nms_plus_one(rows, 0.2)) == 1
    assert len(blocks.hard_nms_plus_one(rows, 0.25)) == 2
    soft = blocks.soft_nms_gaussian(rows, 0.3)
    assert soft[1][1] == pytest.approx(0.8 * np.exp(-(0.2**2) / 0.3))
    assert blocks.overlaps_ambiguous(3, 5, [(2.0, 3.6)], 1.0)  # {2, 3}.
    assert not blocks.overlaps_ambiguous(3, 5, [(2.0, 3.3)], 1.0)  # {2}.
