"""THUMOS14 text and ActivityNet JSON round trips; the class mapping."""

import pytest

from has_tf.datasets.thumos14_features import annotations
from has_tf.metrics import detection_files as tf_


def test_class_mapping():
    assert len(tf_.THUMOS14_CLASSES) == len(tf_.THUMOS14_IDS) == 20
    assert tf_.class_index_of_id(7) == 0  # BaseballPitch
    assert tf_.class_index_of_id(97) == 19  # VolleyballSpiking
    assert tf_.id_of_class_index(tf_.class_index_of_id(68)) == 68
    assert tf_.THUMOS14_CLASSES[tf_.class_index_of_id(68)] == "PoleVault"
    with pytest.raises(ValueError, match="class_id=8"):
        tf_.class_index_of_id(8)
    with pytest.raises(ValueError, match="index=20"):
        tf_.id_of_class_index(20)


def test_thumos_text_and_activitynet_json_round_trip(tmp_path):
    rows = [
        ("video_test_0000004", 1.5, 3.25, 0, 0.9),
        ("video_test_0000004", 10.0, 12.0, 19, 0.25),
        ("video_test_0000006", 0.0, 4.0, 14, 0.5),
    ]
    text = tf_.write_thumos_detections(str(tmp_path / "d.txt"), rows)
    assert open(text).read().splitlines()[1] == (
        "video_test_0000004 10.00 12.00 97 0.250000"
    )
    assert tf_.read_thumos_detections(text) == rows
    js = tf_.write_activitynet_json(
        str(tmp_path / "d.json"), tf_.read_thumos_detections(text)
    )
    assert tf_.read_activitynet_json(js) == rows


def test_annotations(tmp_path):
    for name in tf_.THUMOS14_CLASSES:
        (tmp_path / f"{name}_test.txt").write_text("")
    (tmp_path / "HighJump_test.txt").write_text(
        "video_test_0000001  3.2  5.0\nvideo_test_0000002 1 2\n"
    )
    (tmp_path / "Ambiguous_test.txt").write_text("video_test_0000001 9 10\n")
    gt, ambiguous = annotations.read_annotations(str(tmp_path), "test")
    assert gt == [
        ("video_test_0000001", 3.2, 5.0, 11),
        ("video_test_0000002", 1.0, 2.0, 11),
    ]
    assert ambiguous == [("video_test_0000001", 9.0, 10.0)]
    (tmp_path / "Diving_test.txt").unlink()
    with pytest.raises(FileNotFoundError, match="Diving_test.txt"):
        annotations.read_annotations(str(tmp_path), "test")
    (tmp_path / "bad.txt").write_text("v 1 2 7\n")
    with pytest.raises(ValueError, match="bad.txt:1"):
        tf_.read_thumos_detections(str(tmp_path / "bad.txt"))
