"""has_tf.metrics.parallel: the figures of many processes are one's."""

import numpy as np
import pytest

from has_tf import evaluate_cams
from has_tf.metrics import cam_evaluation
from has_tf.metrics import parallel
from has_tf.postprocess import wsolevaluation


def _cams(count, side=24, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    cams = []
    for _ in range(count):
        cy, cx, r = rng.uniform(4, side - 4, 2).tolist() + [rng.uniform(3, 8)]
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        cams.append((blob + 0.3 * rng.random((side, side))).astype("f4"))
    return cams


def _items(count, protocol):
    rng = np.random.default_rng(1)
    items = []
    for i, cam in enumerate(_cams(count)):
        y0, x0 = rng.integers(0, 12, 2)
        box = np.array([[y0, x0, y0 + 10, x0 + 10]], float)
        label = i % 3
        if protocol == "wsolevaluation":  # corner boxes of a 48x24 image
            corner = np.array([[x0 * 2, y0, x0 * 2 + 19, y0 + 9]])
            items.append(
                ("add_boxes", (cam, corner, (48, 24)), {"label": label})
            )
        else:
            items.append(("add_frame_boxes", (cam, box), {"label": label}))
        mask = np.zeros(cam.shape, bool)
        mask[y0 : y0 + 10, x0 : x0 + 10] = True
        items.append(("add_mask", (cam, mask, None), {}))
    return items


def _score(items, protocol, **options):
    with parallel.ParallelScoring(
        parallel.score_call,
        dict(protocol=protocol, thresholds=np.arange(0, 1, 0.02)),
        **options,
    ) as scoring:
        for item in items:
            scoring.add(item)
        return scoring.finish().result(), scoring.started


@pytest.mark.parametrize("protocol", ["has_tf", "wsolevaluation"])
def test_two_workers_give_the_figures_of_one(protocol):
    items = _items(40, protocol)
    alone, started = _score(items, protocol, workers=1)
    assert not started
    shared, started = _score(items, protocol, workers=2, chunk_size=7)
    assert started
    assert shared == alone  # exact: integer counts
    assert shared["count"] == 40 and 0 < shared["max_box_acc_v2"] < 1
    if protocol == "has_tf":  # start_after: the first here, the rest there
        mixed, _ = _score(
            items, protocol, workers=2, chunk_size=9, start_after=30
        )
        assert mixed == alone


def test_small_sets_start_no_process():
    result, started = _score(_items(3, "has_tf"), "has_tf", workers=2)
    assert not started and result["count"] == 3


def test_workers_start_only_when_the_timed_rest_wins_back_their_start_up(
    monkeypatch,
):
    """The first items are timed here: with 40 items of ~10 ms each and a
    2-second start-up nothing starts; with a 1-ms start-up they do, and the
    figures are the same."""
    items = _items(20, "has_tf")  # 40 items (boxes and masks)
    clock = {"now": 0.0}

    def tick():
        clock["now"] += 0.005  # Two reads per item: 10 ms per item.
        return clock["now"]

    monkeypatch.setattr(parallel.time, "perf_counter", tick)
    alone, _ = _score(items, "has_tf", workers=1)
    small, started = _score(
        items, "has_tf", workers=2, chunk_size=4, total=40, startup_s=2.0
    )
    assert not started and small == alone
    # 32 items left x 10 ms x (1 - 1/2) = 0.16 s > 2 x 0.001 s: they start.
    large, started = _score(
        items, "has_tf", workers=2, chunk_size=4, total=40, startup_s=0.001
    )
    assert started and large == alone
    # Without a size the rule cannot judge: the workers start at once.
    _, started = _score(items, "has_tf", workers=2, chunk_size=4)
    assert started
    # A slow first item (kernels loading) does not make the rest look long.
    reads = {"count": 0}

    def warm_up_first():
        reads["count"] += 1
        clock["now"] += 10.0 if reads["count"] == 2 else 0.005
        return clock["now"]

    monkeypatch.setattr(parallel.time, "perf_counter", warm_up_first)
    _, started = _score(
        items, "has_tf", workers=2, chunk_size=4, total=40, startup_s=2.0
    )
    assert not started


def test_a_workers_error_reaches_the_caller():
    items = _items(10, "has_tf")
    bad = np.full((24, 24), np.nan, "f4")
    items.append(("add_frame_boxes", (bad, np.array([[0, 0, 4, 4.0]])), {}))
    with pytest.raises(ValueError, match="NaN"):
        _score(items, "has_tf", workers=2, chunk_size=4)
    with pytest.raises(ValueError, match="method in"):
        parallel.score_call(None, ("result", (), {}))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="workers=-1"):
        parallel.check_workers(-1)
    assert parallel.check_workers(0) == parallel.available_cores() >= 1
    assert parallel.check_workers(None) == parallel.available_cores()
    with pytest.raises(ValueError, match="chunk_size"):
        parallel.ParallelScoring(parallel.score_call, chunk_size=0)
    a = cam_evaluation.CamEvaluator("has_tf", thresholds=[0.1, 0.2])
    b = cam_evaluation.CamEvaluator("has_tf", thresholds=[0.1, 0.3])
    with pytest.raises(ValueError, match="same thresholds"):
        a.merge(b)


def test_threshold_groups_give_each_thresholds_boxes():
    grid = np.arange(0, 1, 0.001)
    for cam in _cams(3, side=32, seed=4):
        scoremap = wsolevaluation.wsolevaluation_normalize(cam)
        first, inverse = wsolevaluation.threshold_groups(scoremap, grid)
        assert len(first) <= 256 < len(grid)
        full = wsolevaluation.wsolevaluation_boxes(scoremap, grid)
        some = wsolevaluation.wsolevaluation_boxes(scoremap, grid[first])
        np.testing.assert_array_equal(full[0], some[0][inverse])  # largest
        np.testing.assert_array_equal(full[1], some[1][inverse])  # counts
        starts = np.concatenate([[0], np.cumsum(some[1])])
        expanded = np.concatenate(
            [some[2][starts[g] : starts[g + 1]] for g in inverse]
        )
        np.testing.assert_array_equal(full[2], expanded)


def test_evaluate_cams_with_workers(tmp_path):
    meta, cams = tmp_path / "meta", tmp_path / "cams"
    meta.mkdir()
    cams.mkdir()
    ids = [f"i{k}" for k in range(70)]
    rng = np.random.default_rng(2)
    boxes = []
    for k, cam in enumerate(_cams(70)):
        np.save(cams / f"{ids[k]}.npy", cam)
        x0, y0 = rng.integers(0, 20, 2)
        boxes.append(f"{ids[k]},{x0},{y0},{x0 + 20},{y0 + 15}")
    (meta / "image_ids.txt").write_text("\n".join(ids) + "\n")
    (meta / "class_labels.txt").write_text(
        "".join(f"{i},{k % 4}\n" for k, i in enumerate(ids))
    )
    (meta / "image_sizes.txt").write_text("".join(f"{i},48,48\n" for i in ids))
    (meta / "localization.txt").write_text("\n".join(boxes) + "\n")
    seen = []
    results = [
        evaluate_cams.evaluate_cams(
            str(cams),
            str(meta),
            str(tmp_path / f"out{workers}"),
            protocol="wsolevaluation",
            workers=workers,
            progress=lambda done, total: seen.append((done, total)),
        )
        for workers in (1, 2)
    ]
    assert results[0] == results[1] and results[0]["count"] == 70
    assert seen[-1] == (70, 70) and (64, 70) in seen
