"""The 0.2 names and module paths still work in 0.3, and each warns once.

The old names are used here and nowhere else in the tests (the suite
turns has_tf's FutureWarnings into errors everywhere else), in a fresh
process, so the once-per-process warnings are seen.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from has_tf import _deprecation

# 0.2 module path -> the module it now is.
MODULES = {
    "has_tf.checkpoints": "has_tf.training.checkpoints",
    "has_tf.run_dir": "has_tf.training.run_dir",
    "has_tf.multi_worker": "has_tf.training.multi_worker",
    "has_tf.serving": "has_tf.training.serving",
    "has_tf.metrics.localization": "has_tf.metrics.boxes",
    "has_tf.metrics.temporal": "has_tf.metrics.segments",
}
# 0.2 "package.name" -> "module.name" it now is.
NAMES = {
    "has_tf.input_pipeline.train_pipeline": (
        "has_tf.input_pipeline.images.train_pipeline"
    ),
    "has_tf.input_pipeline.PROTOCOLS": "has_tf.vocabulary.EVAL_CROPS",
    "has_tf.input_pipeline.CROPS": "has_tf.vocabulary.TRAIN_CROPS",
    "has_tf.postprocess.cam_to_box": "has_tf.postprocess.boxes.cam_to_box",
    "has_tf.postprocess.NORMALIZATIONS": (
        "has_tf.postprocess.boxes.CAM_NORMALIZATIONS"
    ),
    "has_tf.postprocess.wsolevaluation_boxes": (
        "has_tf.postprocess.wsolevaluation.wsolevaluation_boxes"
    ),
    "has_tf.postprocess.merge_ten_crop_cams": (
        "has_tf.postprocess.ten_crop.merge_ten_crop_cams"
    ),
    "has_tf.metrics.box_iou": "has_tf.metrics.boxes.box_iou",
    "has_tf.metrics.PaperLocalization": (
        "has_tf.metrics.boxes.PaperLocalization"
    ),
    "has_tf.metrics.temporal_map": "has_tf.metrics.segments.temporal_map",
    "has_tf.bench.bench_hiding": "has_tf.bench.hiding.run",
    "has_tf.evaluate.HEADLINE": "has_tf.tasks.image_localization.HEADLINE",
    "has_tf.bench.smooth_cams": "has_tf.bench.data.smooth_cams",
    "has_tf.data_service.parse_address": (
        "has_tf.training.data_service.parse_address"
    ),
}

SCRIPT = """
import importlib, json, sys, warnings
modules, names = json.loads(sys.argv[1])
out = {"modules": {}, "names": {}}

def resolve(path):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)

for old, new in modules.items():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        same = importlib.import_module(old) is importlib.import_module(new)
        importlib.import_module(old)  # A second use: no second warning.
    out["modules"][old] = [same, [str(w.message) for w in seen
                                  if w.category is FutureWarning]]
for old, new in names.items():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        same = resolve(old) is resolve(new)
        resolve(old)
    out["names"][old] = [same, [str(w.message) for w in seen
                                if w.category is FutureWarning]]
print("RESULT", json.dumps(out))
"""


@pytest.fixture(scope="module")
def old_names():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps([MODULES, NAMES])],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split("RESULT", 1)[1])


@pytest.mark.parametrize("old", sorted(MODULES))
def test_an_old_module_path_is_the_new_module_and_warns_once(old_names, old):
    same, messages = old_names["modules"][old]
    assert same
    assert len(messages) == 1
    assert (
        MODULES[old] in messages[0] and "removed in has_tf 0.4" in (messages[0])
    )


@pytest.mark.parametrize("old", sorted(NAMES))
def test_an_old_name_is_the_new_object_and_warns_once(old_names, old):
    same, messages = old_names["names"][old]
    assert same
    assert len(messages) == 1
    assert NAMES[old] in messages[0] and "0.4" in messages[0]


def test_an_unknown_name_is_still_an_attribute_error():
    from has_tf import metrics

    with pytest.raises(AttributeError, match="no_such_name"):
        metrics.no_such_name  # noqa: B018


@pytest.fixture
def fresh_warnings(monkeypatch):
    """Forget which old names warned, so this test sees its warnings."""
    monkeypatch.setattr(_deprecation, "_warned", set())


def test_renamed_keywords_warn_and_mean_the_new_one(fresh_warnings):
    from has_tf.postprocess import boxes

    cam = np.zeros([20, 20])
    cam[5:10, 2:12] = 1.0
    new = boxes.cam_to_box(cam, 0.5, cam_normalization="minmax")
    with pytest.warns(FutureWarning, match="cam_normalization"):
        old = boxes.cam_to_box(cam, 0.5, normalization="minmax")
    np.testing.assert_array_equal(old, new)
    with pytest.raises(TypeError, match="normalization"):
        boxes.cam_to_box(
            cam, 0.5, normalization="max", cam_normalization="minmax"
        )


def test_the_old_eval_config_keyword(fresh_warnings):
    from has_tf import config

    with pytest.warns(FutureWarning, match="eval_crop"):
        old = config.EvalConfig(model_dir="m", protocol="ten_crop")
    assert old.eval_crop == "ten_crop"


def test_an_old_flagfile_line_still_parses(tmp_path):
    """`--protocol=ten_crop` (0.2's flag) is read as `--eval_crop`."""
    from has_tf import config

    flagfile = tmp_path / "old.cfg"
    flagfile.write_text("--protocol=ten_crop\n--model_dir=nowhere\n")
    values = config.read_flagfile(str(flagfile))
    assert config.eval_config(values).eval_crop == "ten_crop"
