"""The README's main command writes its picture."""

import matplotlib.image
import numpy as np
import pytest

from has_tf import demo


def test_demo_writes_png(tmp_path, capsys):
    assert demo.main(["--out_dir", str(tmp_path), "--size", "64"]) == 0
    path = tmp_path / "hide_and_seek_demo.png"
    assert str(path) in capsys.readouterr().out

    picture = matplotlib.image.imread(path)
    assert picture.shape[:2] == (640, 900)  # figsize (9, 6.4) at 100 dpi.
    assert picture[..., :3].std() > 0.05  # Not a blank canvas.


def test_sample_image_is_deterministic_uint8():
    a, b = demo.sample_image(32, seed=1), demo.sample_image(32, seed=1)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    np.testing.assert_array_equal(a, b)


def test_bad_size():
    with pytest.raises(SystemExit):
        demo.main(["--size", "4"])
