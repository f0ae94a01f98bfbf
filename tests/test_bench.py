"""The benchmark runs and writes well-formed JSON (no timing asserted)."""

import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest

from has_tf import bench


def test_hiding_benchmark_json_shape():
    out = io.StringIO()
    with redirect_stdout(out):
        assert bench.main(["hiding", "--batch", "2", "--size", "24",
                           "--repeats", "1"]) == 0
    result = json.loads(out.getvalue())
    assert result["batch_shape"] == [2, 24, 24, 3]
    for dtype in ("float32", "uint8"):
        entry = result["results"][dtype]
        assert entry["floor_ms"] > 0
        assert set(entry["patch_sizes"]) == {"16", "32", "44", "56", "mixed"}
        for timings in entry["patch_sizes"].values():
            assert timings["hide_patches_tf_function_ms"] > 0
            assert timings["hide_patches_xla_ms"] > 0
            ratio = (timings["hide_patches_tf_function_ms"]
                     / entry["floor_ms"])
            assert timings["hide_patches_tf_function_over_floor"] == ratio


def test_numpy_loop_reference_hides_whole_cells():
    import random

    images = np.ones([3, 10, 10, 2], np.float32)
    out = bench.numpy_loop_hide(images, [4], 1.0, [0.0, 0.0],
                                random.Random(0))
    assert (out == 0).all()
    images = np.ones([3, 10, 10, 2], np.float32)
    out = bench.numpy_loop_hide(images, [0], 1.0, [0.0, 0.0],
                                random.Random(0))
    assert (out == 1).all()


def test_bad_arguments_exit():
    with pytest.raises(SystemExit):
        bench.main(["hiding", "--batch", "0"])
    with pytest.raises(SystemExit):
        bench.main(["unknown"])
