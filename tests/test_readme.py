"""The README's Keras snippet runs as written (read from the README)."""

import pathlib
import re

README = pathlib.Path(__file__).parent.parent / "README.md"


def snippet(heading):
    text = README.read_text()
    section = text.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_hiding_snippet_runs():
    namespace = {}
    exec(
        compile(snippet("## Hiding in your own code"), "README", "exec"),
        namespace,
    )
    hidden, images = namespace["hidden"], namespace["images"]
    assert hidden.shape == images.shape
    assert namespace["model"].output_shape == (None, 10)
    batch = next(iter(namespace["dataset"]))
    assert batch.shape == (224, 224, 3)
    assert namespace["moments"].mean.shape == (3,)


def test_models_snippet_runs():
    namespace = {}
    exec("import tensorflow as tf\n" + snippet("CAM classifiers:"), namespace)
    assert namespace["outputs"]["cams"].shape == (2, 11, 11, 1000)
    assert namespace["heat"].shape == (2, 224, 224)


def test_boxes_snippet_runs(capsys):
    exec(snippet("From CAMs to boxes"), {})
    assert capsys.readouterr().out.strip() == "1.0 1.0"


def test_datasets_snippet_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(snippet("Datasets and input pipelines"), namespace)
    assert namespace["images"].shape == (4, 28, 28, 3)
