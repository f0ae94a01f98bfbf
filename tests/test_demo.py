"""The README's main command writes its picture."""

import matplotlib.image
import numpy as np
import pytest

from has_tf import demo


def test_demo_writes_png(tmp_path):
    path = tmp_path / "hide_and_seek_demo.png"
    assert demo.render(str(tmp_path), 64) == str(path)

    picture = matplotlib.image.imread(path)
    assert picture.shape[:2] == (640, 900)  # figsize (9, 6.4) at 100 dpi.
    assert picture[..., :3].std() > 0.05  # Not a blank canvas.


def test_sample_image_is_deterministic_uint8():
    a, b = demo.sample_image(32, seed=1), demo.sample_image(32, seed=1)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_command_line_and_a_bad_size(tmp_path, run_app):
    done = run_app("has_tf.demo", f"--out_dir={tmp_path}", "--size=64")
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "hide_and_seek_demo.png") in done.stdout
    done = run_app("has_tf.demo", "--size=4")
    assert done.returncode == 1
    assert "--size=4" in done.stderr
