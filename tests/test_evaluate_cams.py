"""python -m has_tf.evaluate_cams on metadata folders the tests write."""

import json

import numpy as np
import pytest
from PIL import Image

from has_tf import evaluate_cams
from has_tf.metrics import boxes as box_metrics
from has_tf.metrics import cam_evaluation


def _write(folder, name, lines):
    (folder / name).write_text("".join(f"{line}\n" for line in lines))


def _box_split(tmp_path):
    """Two images, 40 x 20 (w x h) and 60 x 60, with a CAM each."""
    meta, cams = tmp_path / "meta", tmp_path / "cams" / "val"
    meta.mkdir()
    cams.mkdir(parents=True)
    _write(meta, "image_ids.txt", ["val/a.jpg", "val/b.jpg"])
    _write(meta, "class_labels.txt", ["val/a.jpg,3", "val/b.jpg,1"])
    _write(meta, "image_sizes.txt", ["val/a.jpg,40,20", "val/b.jpg,60,60"])
    # a: one box, columns 8-31 and rows 4-13 of the 40 x 20 image.
    # b: two boxes.
    _write(
        meta,
        "localization.txt",
        ["val/a.jpg,8,4,31,13", "val/b.jpg,0,0,29,29", "val/b.jpg,30,30,59,59"],
    )
    a = np.zeros((20, 40), np.float32)
    a[4:14, 8:32] = 1.0  # The CAM covers a's box exactly.
    b = np.zeros((30, 30), np.float32)
    b[15:30, 15:30] = 1.0  # b's second box, at half resolution.
    np.save(cams / "a.jpg.npy", a)
    np.save(cams / "b.jpg.npy", b)
    return meta, tmp_path / "cams"


def test_boxes_under_both_protocols(tmp_path):
    meta, cams = _box_split(tmp_path)
    out = tmp_path / "out"
    own = evaluate_cams.evaluate_cams(str(cams), str(meta), str(out))
    # has_tf: each CAM's blob is a ground-truth box in the CAM's frame.
    assert own["max_box_acc"] == 1.0 and own["max_box_acc_v2"] == 1.0
    assert own["max_box_acc_v2_per_iou"] == {"0.3": 1.0, "0.5": 1.0, "0.7": 1.0}
    assert own["count"] == 2 and own["protocol"] == "has_tf"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["max_box_acc_v2"] == own["max_box_acc_v2"]
    assert (out / "box_acc.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(out.glob("*.tmp"))
    official = evaluate_cams.evaluate_cams(
        str(cams), str(meta), str(tmp_path / "out2"), "wsolevaluation"
    )
    assert official["protocol"] == "wsolevaluation"
    assert official["num_thresholds"] == 1000  # Its default step, 0.001.
    # The same figures through the metric itself: resize to 224, boxes
    # scaled and truncated as the tool does.
    direct = box_metrics.ThresholdFreeLocalization(
        box_metrics.default_thresholds(0.001), protocol="wsolevaluation"
    )
    evaluator = cam_evaluation.CamEvaluator("wsolevaluation")
    for name, boxes, size in (
        ("a", [(8, 4, 31, 13)], (40, 20)),
        ("b", [(0, 0, 29, 29), (30, 30, 59, 59)], (60, 60)),
    ):
        cam = evaluator.frame(np.load(cams / "val" / f"{name}.jpg.npy"))
        gt = [
            cam_evaluation.scale_box(b, size, (224, 224), "wsolevaluation")
            for b in boxes
        ]
        direct.update(cam, gt)
    assert official["max_box_acc"] == direct.result()["max_box_acc"]
    assert official["max_box_acc_v2"] == direct.result()["max_box_acc_v2"]


def test_official_box_scaling():
    # resize_bbox: scale to 224 and truncate each corner.
    box = cam_evaluation.scale_box(
        (8, 4, 31, 13), (40, 20), (224, 224), "wsolevaluation"
    )
    assert box.tolist() == [44, 44, 145, 173]  # (y0, x0, y1, x1).
    box = cam_evaluation.scale_box((8, 4, 31, 13), (40, 20), (40, 20), "has_tf")
    assert box.tolist() == [4.0, 8.0, 14.0, 32.0]


def test_masks_with_an_ignore_region(tmp_path):
    meta, cams = tmp_path / "meta", tmp_path / "cams"
    meta.mkdir()
    cams.mkdir()
    _write(meta, "image_ids.txt", ["x"])
    _write(meta, "class_labels.txt", ["x,0"])
    _write(meta, "localization.txt", ["x,m/x_0.png,m/x_ignore.png"])
    (meta / "m").mkdir()
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 255
    ignore = np.zeros((8, 8), np.uint8)
    ignore[:, 6:] = 255  # A false positive there is ignored.
    Image.fromarray(mask).save(meta / "m" / "x_0.png")
    Image.fromarray(ignore).save(meta / "m" / "x_ignore.png")
    cam = np.zeros((8, 8))
    cam[2:6, 2:6] = 1.0
    cam[:, 7] = 1.0  # Inside the ignore region.
    np.save(cams / "x.npy", cam)
    result = evaluate_cams.evaluate_cams(
        str(cams), str(meta), str(tmp_path / "out")
    )
    assert result["pxap"] == 1.0 and "max_box_acc" not in result
    # Without the ignore mask the right column costs precision.
    _write(meta, "localization.txt", ["x,m/x_0.png"])
    result = evaluate_cams.evaluate_cams(
        str(cams), str(meta), str(tmp_path / "out")
    )
    assert result["pxap"] < 1.0


def test_missing_cam_and_malformed_lines_are_named(tmp_path):
    meta, cams = _box_split(tmp_path)
    out = tmp_path / "out"
    (cams / "val" / "b.jpg.npy").unlink()
    with pytest.raises(FileNotFoundError, match="b.jpg.npy"):
        evaluate_cams.evaluate_cams(str(cams), str(meta), str(out))
    assert not out.exists()  # Nothing written half-way.
    np.save(cams / "val" / "b.jpg.npy", np.zeros(3))
    with pytest.raises(ValueError, match="2-D real CAM.*b.jpg.npy"):
        evaluate_cams.evaluate_cams(str(cams), str(meta), str(out))
    assert not out.exists()
    _write(
        meta, "localization.txt", ["val/a.jpg,8,4,31,13", "val/b.jpg,0,x,9,9"]
    )
    with pytest.raises(
        cam_evaluation.MetadataError, match="localization.txt:2"
    ):
        evaluate_cams.evaluate_cams(str(cams), str(meta), str(out))
    _write(meta, "localization.txt", ["val/a.jpg,8,4,31,13"])
    with pytest.raises(cam_evaluation.MetadataError, match="'val/b.jpg'"):
        evaluate_cams.evaluate_cams(str(cams), str(meta), str(out))
    _write(meta, "class_labels.txt", ["val/a.jpg"])
    with pytest.raises(
        cam_evaluation.MetadataError, match="class_labels.txt:1"
    ):
        evaluate_cams.evaluate_cams(str(cams), str(meta), str(out))


@pytest.mark.slow
def test_command_line(tmp_path, run_app):
    meta, cams = _box_split(tmp_path)
    out = tmp_path / "out"
    done = run_app(
        "has_tf.evaluate_cams",
        f"--cams_dir={cams}",
        f"--metadata_dir={meta}",
        f"--output_dir={out}",
        "--threshold_step=0.1",
    )
    assert done.returncode == 0, done.stderr
    assert "2 images (has_tf protocol): max_box_acc 1.0000" in done.stdout
    assert "evaluate_cams: 2/2 images (100.0%), in " in done.stderr
    assert (
        json.loads((out / "metrics.json").read_text())["num_thresholds"] == 10
    )
    done = run_app(
        "has_tf.evaluate_cams",
        f"--cams_dir={cams}",
        f"--metadata_dir={meta}",
        f"--output_dir={out}",
        "--box_protocol",
        "wsolevaluation",
    )
    assert done.returncode == 0, done.stderr
    assert "(wsolevaluation protocol)" in done.stdout
    done = run_app("has_tf.evaluate_cams", f"--cams_dir={cams}")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("has_tf.evaluate_cams: error: --metadata_dir")
    assert "Traceback" not in done.stderr


def _save_bytes(path, data):
    path.write_bytes(data)


@pytest.mark.parametrize(
    "fault, match",
    [
        ("empty_file", r"Unreadable CAM .*a\.jpg\.npy \(0 bytes\)"),
        ("npz", r"an \.npz archive.*a\.jpg\.npy|a\.jpg\.npy.*an \.npz"),
        ("nan", r"finite CAM in .*a\.jpg\.npy"),
        ("complex", r"real CAM in .*a\.jpg\.npy"),
        ("empty_array", r"non-empty 2-D real CAM in .*a\.jpg\.npy"),
        ("transposed", r"a\.jpg\.npy is 40x20.*looks transposed"),
    ],
)
def test_a_bad_cam_is_named(tmp_path, fault, match):
    meta, cams = _box_split(tmp_path)
    path = cams / "val" / "a.jpg.npy"
    good = np.load(path)
    if fault == "empty_file":
        _save_bytes(path, b"")
    elif fault == "npz":
        with open(path, "wb") as f:
            np.savez(f, cam=good)
    elif fault == "nan":
        good[0, 0] = np.nan
        np.save(path, good)
    elif fault == "complex":
        np.save(path, good.astype(np.complex64))
    elif fault == "empty_array":
        np.save(path, np.zeros((0, 40)))
    elif fault == "transposed":
        np.save(path, good.T)
    with pytest.raises(ValueError, match=match):
        evaluate_cams.evaluate_cams(str(cams), str(meta), str(tmp_path / "o"))


@pytest.mark.parametrize(
    "fault, match",
    [
        ("swapped_size", r"image_sizes\.txt.*|localization\.txt:1: the box"),
        ("box_outside", r"localization\.txt:2: the box \(0, 0, 29, 60\)"),
        ("duplicate_id", r"image_ids\.txt:2: image 'val/a\.jpg' is listed"),
        ("duplicate_label", r"class_labels\.txt:2: image 'val/a\.jpg'"),
        ("zero_width", r"image_sizes\.txt:1: expected a positive width"),
    ],
)
def test_metadata_the_tool_would_refuse_is_refused(tmp_path, fault, match):
    meta, cams = _box_split(tmp_path)
    if fault == "swapped_size":
        _write(meta, "image_sizes.txt", ["val/a.jpg,20,40", "val/b.jpg,60,60"])
    elif fault == "box_outside":
        _write(
            meta,
            "localization.txt",
            ["val/a.jpg,8,4,31,13", "val/b.jpg,0,0,29,60"],
        )
    elif fault == "duplicate_id":
        _write(meta, "image_ids.txt", ["val/a.jpg", "val/a.jpg", "val/b.jpg"])
    elif fault == "duplicate_label":
        _write(
            meta,
            "class_labels.txt",
            ["val/a.jpg,3", "val/a.jpg,4", "val/b.jpg,1"],
        )
    elif fault == "zero_width":
        _write(meta, "image_sizes.txt", ["val/a.jpg,0,20", "val/b.jpg,60,60"])
    with pytest.raises(cam_evaluation.MetadataError, match=match):
        evaluate_cams.evaluate_cams(str(cams), str(meta), str(tmp_path / "o"))


def test_a_bad_mask_is_named(tmp_path):
    meta, cams = tmp_path / "meta", tmp_path / "cams"
    meta.mkdir()
    (cams / "val").mkdir(parents=True)
    _write(meta, "image_ids.txt", ["val/a.jpg"])
    _write(meta, "class_labels.txt", ["val/a.jpg,0"])
    _write(meta, "localization.txt", ["val/a.jpg,val/a_m.png,"])
    (meta / "val").mkdir()
    (meta / "val" / "a_m.png").write_bytes(b"not a png")
    np.save(cams / "val" / "a.jpg.npy", np.ones((8, 8)))
    with pytest.raises(ValueError, match=r"Unreadable mask .*a_m\.png"):
        evaluate_cams.evaluate_cams(str(cams), str(meta), str(tmp_path / "o"))
