"""Figure functions write non-empty pictures of the expected size."""

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
    np.testing.assert_array_equal(visualize.blend_cam(image, cam, 0.0),
                                  image)
    with pytest.raises(ValueError, match=r"cam \(8, 9\)"):
        visualize.blend_cam(image, np.zeros((8, 9)))
    with pytest.raises(ValueError, match="alpha=2"):
        visualize.blend_cam(image, cam, alpha=2)
