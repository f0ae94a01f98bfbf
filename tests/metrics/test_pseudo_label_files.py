"""The pseudo-label file format: written lines read back, bad lines named."""

import json

import pytest

from has_tf.metrics import pseudo_label_files as files


def _write(path, kind, records, provenance=None):
    text = files.header_line(kind, provenance or {"rule": "threshold"})
    text += "".join(files.record_line(r) for r in records)
    path.write_text(text)
    return str(path)


def test_boxes_round_trip(tmp_path):
    path = _write(
        tmp_path / "p.jsonl",
        "boxes",
        [
            {"image_id": "a.jpg", "label": 3, "boxes": [[0.1, 0.2, 0.5, 0.9]]},
            {"image_id": "b.jpg", "label": 0, "boxes": [[0, 0, 1, 1]]},
        ],
        {"rule": "ddt", "threshold": None},
    )
    read = files.read_pseudo_labels(path, "boxes", num_classes=4)
    assert read.kind == "boxes" and read.provenance["rule"] == "ddt"
    assert read.of("a.jpg") == [[0.1, 0.2, 0.5, 0.9]]
    assert read.labels == {"a.jpg": 3, "b.jpg": 0}
    assert list(read.items) == ["a.jpg", "b.jpg"]
    with pytest.raises(ValueError, match="no line for image_id 'c.jpg'"):
        read.of("c.jpg")


def test_segments_round_trip(tmp_path):
    path = _write(
        tmp_path / "p.jsonl",
        "segments",
        [
            {"video": "v1", "segments": [[1.0, 2.5, 1, 0.7]]},
            {"video": "v2", "segments": []},
        ],
    )
    read = files.read_pseudo_labels(path, num_classes=2)
    assert read.of("v1") == [(1.0, 2.5, 1, 0.7)] and read.of("v2") == []
    with pytest.raises(ValueError, match="line 1: expected boxes"):
        files.read_pseudo_labels(path, "boxes")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"image_id": "a", "label": 0, "boxes": [[0.5, 0, 0.2, 1]]}', "min"),
        ('{"image_id": "a", "label": 0, "boxes": [[0, 0, 1]]}', "4 numbers"),
        ('{"image_id": "a", "label": 0, "boxes": []}', "non-empty"),
        ('{"image_id": "a", "label": 9, "boxes": [[0, 0, 1, 1]]}', "class 9"),
        ('{"label": 0, "boxes": [[0, 0, 1, 1]]}', "'image_id'"),
        ("{not json", "not JSON"),
    ],
)
def test_a_bad_line_is_named(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    good = '{"image_id": "z", "label": 1, "boxes": [[0, 0, 1, 1]]}'
    path.write_text(files.header_line("boxes", {}) + good + "\n" + line + "\n")
    with pytest.raises(ValueError, match=f"line 3: .*{message}"):
        files.read_pseudo_labels(str(path), num_classes=4)


def test_an_image_twice_and_a_file_without_header(tmp_path):
    record = {"image_id": "a", "label": 0, "boxes": [[0, 0, 1, 1]]}
    path = _write(tmp_path / "p.jsonl", "boxes", [record, record])
    with pytest.raises(ValueError, match="line 3: image_id 'a' appears twice"):
        files.read_pseudo_labels(path)
    other = tmp_path / "q.jsonl"
    other.write_text(json.dumps(record) + "\n")
    with pytest.raises(ValueError, match="line 1: expected the header"):
        files.read_pseudo_labels(str(other))
