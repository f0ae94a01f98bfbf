"""Files of per-image classes (`has_tf.metrics.class_files`)."""

import pytest

from has_tf.metrics import class_files


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_and_jsonl_read_alike(tmp_path):
    written = str(tmp_path / "p.csv")
    class_files.write_classes(written, ["a.jpg", "b.jpg"], [[3, 1], [0, 2]])
    csv = class_files.read_classes(written, 4)
    jsonl = class_files.read_classes(
        _write(
            tmp_path,
            "p.jsonl",
            '{"image_id": "a.jpg", "classes": [3, 1]}\n\n'
            '{"image_id": "b.jpg", "classes": [0, 2]}\n',
        ),
        4,
    )
    assert csv.classes == jsonl.classes == {"a.jpg": (3, 1), "b.jpg": (0, 2)}
    assert csv.lines == {"a.jpg": 2, "b.jpg": 3}
    assert jsonl.lines == {"a.jpg": 1, "b.jpg": 3}
    assert csv.of("b.jpg") == (0, 2)


@pytest.mark.parametrize(
    "text, message",
    [
        ("image_id,top1\na,7\n", "line 2: class 7 is not one of the dataset"),
        ("a,1\nb,x\n", r"line 2: expected integer class indices"),
        ("a,1\na,2\n", "line 2: image 'a' again \\(first on line 1\\)"),
        ("a,1,2\nb,1\n", "line 2: 1 classes; the first line gives 2"),
        ("a\n", "line 1: expected 1 to 5 classes"),
        ("image_id,top1\n", "holds no image's classes"),
    ],
)
def test_a_bad_line_is_named(tmp_path, text, message):
    with pytest.raises(ValueError, match=f"--classes_from: .*{message}"):
        class_files.read_classes(_write(tmp_path, "p.csv", text), 5)


def test_unknown_and_missing_images_are_named(tmp_path):
    classes = class_files.read_classes(
        _write(tmp_path, "p.csv", "a,1\nb,2\nc,0\n"), 3
    )
    with pytest.raises(ValueError, match="line 2: image 'b' is not in"):
        classes.unknown(["a", "c"])
    classes.unknown(["a", "b", "c", "d"])  # More images than lines: fine.
    with pytest.raises(ValueError, match="no line for image 'd'"):
        classes.of("d")
    with pytest.raises(ValueError, match="expected a .csv or .jsonl"):
        class_files.read_classes(_write(tmp_path, "p.txt", "a,1\n"), 3)
    with pytest.raises(ValueError, match="line 1: expected"):
        class_files.read_classes(_write(tmp_path, "p.jsonl", "[1, 2]\n"), 3)
