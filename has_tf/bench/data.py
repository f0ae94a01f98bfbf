"""Inputs the benchmarks generate: smooth CAMs, photo-like JPEGs."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_cams(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Random smooth CAMs: float64 `[count, size, size]` in [0, 1]."""
    rng = np.random.default_rng(seed)
    cells = max(2, size // 16)
    cams = []
    for _ in range(count):
        small = rng.random((cells, cells))
        cam = ndimage.zoom(small, size / cells, order=1)[:size, :size]
        cams.append(cam)
    return np.stack(cams)


def photo_like(height: int, width: int, rng) -> np.ndarray:
    """A photo-like uint8 `[height, width, 3]` image (NumPy only).

    Natural photographs have an amplitude spectrum falling about as
    1/f^1.35 here, with correlated colour channels; so does this noise, so
    it compresses like a photograph (about 70 KB at 500x375, JPEG quality
    90, as ILSVRC's images) and its resizes alias like one's.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freq = np.hypot(fy, fx)
    freq[0, 0] = 1.0
    channels = [
        np.fft.irfft2(
            (rng.normal(size=freq.shape) + 1j * rng.normal(size=freq.shape))
            / freq**1.35,
            s=(height, width),
        )
        for _ in range(3)
    ]
    mix = np.array([[1.0, 0.8, 0.6], [0.0, 0.6, 0.5], [0.0, 0.0, 0.6]])
    image = np.stack(channels, -1) @ mix
    image = (image - image.mean()) / image.std() * 50.0 + 120.0
    return np.clip(image, 0, 255).astype(np.uint8)


# ILSVRC's commonest shapes, (height, width): most images are 500 pixels
# on the long side.
PHOTO_SHAPES = ((375, 500), (333, 500), (500, 375), (400, 500))


def photo_like_jpegs(count: int, quality: int = 90, seed: int = 0) -> list:
    """`count` encoded JPEGs (bytes) of `photo_like` images, ILSVRC-sized."""
    import tensorflow as tf  # The other inputs here need none.

    rng = np.random.default_rng(seed)
    return [
        tf.io.encode_jpeg(
            photo_like(*PHOTO_SHAPES[i % len(PHOTO_SHAPES)], rng),
            quality=quality,
        ).numpy()
        for i in range(count)
    ]
