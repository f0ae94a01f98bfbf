"""Figure functions write non-empty pictures of the expected size."""

import matplotlib.image
import numpy as np
import pytest

from has_tf import visualize


def test_blend_cam_colours_the_peak_and_keeps_the_shape():
    image = np.full((8, 10, 3), 100, np.uint8)
    cam = np.zeros((8, 10))
    cam[2, 3] = 5.0
    out = visualize.blend_cam(image, cam)
    assert out.shape == (8, 10, 3) and out.dtype == np.uint8
    # jet: the peak is red, the floor is blue.
    assert out[2, 3, 0] > out[2, 3, 2]
    assert out[0, 0, 2] > out[0, 0, 0]
    np.testing.assert_array_equal(visualize.blend_cam(image, cam, 0.0), image)
    with pytest.raises(ValueError, match=r"cam \(8, 9\)"):
        visualize.blend_cam(image, np.zeros((8, 9)))
    with pytest.raises(ValueError, match="alpha=2"):
        visualize.blend_cam(image, cam, alpha=2)


def _png_shape(path):

    assert path.stat().st_size > 1000
    return matplotlib.image.imread(str(path)).shape


def test_figures_write_pngs_of_the_expected_size(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 32, 32, 3)).astype(np.uint8)
    grid = visualize.save(
        visualize.hidden_patch_grid(
            images, (8, 16), fill_value=(120, 110, 100)
        ),
        tmp_path / "g.png",
    )
    # 3 columns x (2 sizes + mixed) rows at 1.6 x 1.7 inches, 100 dpi.
    assert _png_shape(tmp_path / "g.png")[:2] == (510, 480)
    cams = {"baseline": rng.random((3, 32, 32)), "HaS": rng.random((3, 32, 32))}
    boxes = {"HaS": [[2, 2, 20, 20]] * 3}
    visualize.save(
        visualize.cam_grid(images, cams, boxes, [[[0, 0, 16, 16]]] * 3),
        tmp_path / "c.png",
    )
    assert _png_shape(tmp_path / "c.png")[:2] == (660, 660)
    curve = np.linspace(0, 1, 11)
    visualize.save(
        visualize.threshold_curves(
            {"a": (curve, curve), "b": (curve, 1 - curve)}
        ),
        tmp_path / "t.png",
    )
    assert _png_shape(tmp_path / "t.png")[:2] == (320, 450)
    visualize.save_tcam_plot(
        str(tmp_path / "p.png"),
        np.sin(np.arange(50)),
        25.0,
        [(2, 8)],
        [(3, 7, 0.5)],
        threshold=0.5,
        title="video",
    )
    assert _png_shape(tmp_path / "p.png")[:2] == (260, 800)
    assert grid == tmp_path / "g.png"
