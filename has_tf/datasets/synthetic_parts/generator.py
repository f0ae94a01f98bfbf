"""Draws synthetic weakly-supervised localization images (NumPy only).

Each image holds one object on a cluttered background. The object has
three kinds of parts, all informative about its class:

- a head: a small disc in the class's hue (half-way between the class
  colour and the body's base colour): the most discriminative part, and
  small;
- a body: a large ellipse with a class-specific stripe texture (one of
  five orientations and two periods) over a base colour tinted towards
  the class colour, under noise, and with another class's pattern and
  tint on a fraction of images: informative, but noisier and slower to
  learn than the head;
- legs: two short bars under the body in the body's colours.

Distractor blobs and stripe patches are drawn independently of the label,
so they carry no class information. The ground-truth box covers the whole
object (head, body and legs), and the mask marks its pixels.

Why this reproduces the paper's failure mode: a classifier trained on the
label alone can reach high accuracy from the head only, so its CAM peaks
on the head and its box covers a fraction of the object; hiding the head
in some training images forces it to use the body's texture too, which
spreads the CAM over the whole object.
"""

from __future__ import annotations

import colorsys

import numpy as np

# Fraction of images whose body shows another class's texture.
BODY_CONFUSION = 0.1
# Stripe contrast and per-pixel noise of the body texture (pixel units).
BODY_CONTRAST = 55.0
BODY_NOISE = 15.0
# Strength of the body's tint towards the class colour (0: none).
BODY_TINT = 0.35
# Head radius range (fraction of the side) and per-pixel head noise.
HEAD_RADIUS = (0.05, 0.07)
HEAD_NOISE = 0.0
# Blend of the head colour towards the body's base colour (0: pure class
# colour).
HEAD_BLEND = 0.5


def class_colors(num_classes: int) -> np.ndarray:
    """Distinct saturated RGB colours in [0, 255], one per class."""
    hues = np.arange(num_classes) / num_classes
    return np.array([colorsys.hsv_to_rgb(h, 0.9, 0.95) for h in hues]) * 255.0


def class_textures(num_classes: int):
    """(angle in radians, stripe period as a fraction of the side) pairs."""
    angles = np.pi * (np.arange(num_classes) % 5) / 5
    periods = np.where((np.arange(num_classes) // 5) % 2 == 0, 0.11, 0.19)
    return angles, periods


def draw_example(
    label: int,
    num_classes: int,
    size: int,
    rng: np.random.Generator,
    head: bool = True,
):
    """One image with its box and mask.

    Args:
      label: the class, in [0, num_classes).
      num_classes: number of classes.
      size: image side in pixels (>= 16).
      rng: the random generator (the example's own, for determinism).
      head: draw the head; False leaves the background there (for
        probing what a classifier uses; the random draws are the same).

    Returns:
      `(image, bbox, mask)`: uint8 `[size, size, 3]` in [0, 255]; float32
      `[4]` normalised `(ymin, xmin, ymax, xmax)` tight around the object;
      uint8 `[size, size, 1]`, 1 on the object.
    """
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    image = _background(yy, xx, rng)
    for _ in range(rng.integers(2, 5)):
        _distractor(image, yy, xx, rng)

    colors = class_colors(num_classes)
    angles, periods = class_textures(num_classes)
    # Body: centre and half-axes.
    ry = rng.uniform(0.16, 0.22)
    rx = ry * rng.uniform(1.3, 1.6)
    cy = rng.uniform(0.3 + ry * 0.5, 0.75 - ry * 0.3)
    cx = rng.uniform(0.09 + rx, 0.91 - rx)
    body = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    legs = np.zeros_like(body)
    for side in (-0.5, 0.5):
        lx = cx + side * rx
        legs |= (np.abs(xx - lx) <= 0.025) & (yy >= cy) & (yy <= cy + ry + 0.1)
    pattern = (
        label if rng.random() >= BODY_CONFUSION else rng.integers(num_classes)
    )
    along = np.cos(angles[pattern]) * (xx - cx) + np.sin(angles[pattern]) * (
        yy - cy
    )
    stripes = (
        np.sin(2 * np.pi * along / periods[pattern] + rng.uniform(0, 2 * np.pi))
        > 0
    )
    base = np.array([150.0, 120.0, 90.0]) + rng.normal(0, 15, 3)
    base = base + BODY_TINT * (colors[pattern] - colors[pattern].mean())
    texture = np.where(
        stripes[..., None], base + BODY_CONTRAST, base - BODY_CONTRAST
    )
    texture = texture + rng.normal(0, BODY_NOISE, texture.shape)
    image[body | legs] = texture[body | legs]
    # Head: a small clean disc of the class colour at one end of the body.
    head_r = rng.uniform(*HEAD_RADIUS)
    end = rng.choice([-1.0, 1.0])
    hx = cx + end * (rx + head_r * 0.6)
    hy = cy - ry * rng.uniform(0.3, 0.8)
    head_mask = (yy - hy) ** 2 + (xx - hx) ** 2 <= head_r**2
    head_color = (
        (1 - HEAD_BLEND) * colors[label]
        + HEAD_BLEND * base
        + rng.normal(0, 6, 3)
    )
    if head:
        image[head_mask] = (
            head_color
            + rng.normal(0, 1, (int(head_mask.sum()), 3)) * HEAD_NOISE
        )

    mask = body | legs | head_mask
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    bbox = (
        np.array([rows[0], cols[0], rows[-1] + 1, cols[-1] + 1], np.float32)
        / size
    )
    image = np.clip(image, 0, 255).astype(np.uint8)
    return image, bbox, mask[..., None].astype(np.uint8)


def _background(yy, xx, rng):
    corners = rng.uniform(60, 200, (4, 3))
    top = corners[0] * (1 - xx[..., None]) + corners[1] * xx[..., None]
    bottom = corners[2] * (1 - xx[..., None]) + corners[3] * xx[..., None]
    image = top * (1 - yy[..., None]) + bottom * yy[..., None]
    return image + rng.normal(0, 12, image.shape)


def _distractor(image, yy, xx, rng):
    cy, cx = rng.uniform(0.05, 0.95, 2)
    ry, rx = rng.uniform(0.05, 0.12, 2)
    blob = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    if rng.random() < 0.5:  # A dull flat blob.
        grey = rng.uniform(70, 190)
        image[blob] = grey + rng.normal(0, 20, 3)
    else:  # A stripe patch of random orientation and frequency.
        angle = rng.uniform(0, np.pi)
        along = (np.cos(angle) * (xx - cx) + np.sin(angle) * (yy - cy)) / rx
        stripes = np.sin(2 * np.pi * rng.uniform(2, 6) * along) > 0
        base = rng.uniform(90, 170, 3)
        texture = np.where(stripes[..., None], base + 30, base - 30)
        image[blob] = texture[blob]
