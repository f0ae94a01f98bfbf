"""Hide-and-Seek on a sample image: `python -m has_tf.demo`.

Draws a synthetic scene (an object with a distinctive head on a textured
body, over a cluttered background), hides its patches with the paper's
patch sizes and the mixed setting, and writes one PNG grid. Needs no data
and no network.

Usage:
  python -m has_tf.demo [--out_dir=demo_out] [--size=224] [--seed=0]
"""

from __future__ import annotations

import os

import numpy as np
from absl import flags
from matplotlib.figure import Figure

from has_tf import _cli
from has_tf import visualize
from has_tf.augmentation import hiding
from has_tf.input_pipeline.images import IMAGENET_MEAN_RGB

# The fill of the uint8 image: the ImageNet mean, rounded to pixel values.
_FILL = tuple(int(v) for v in np.round(IMAGENET_MEAN_RGB))
_SETTINGS = (
    ("full image (test time)", None),
    ("S=16", (16,)),
    ("S=32", (32,)),
    ("S=56", (56,)),
    ("mixed", (0, 16, 32, 44, 56)),
    ("mixed, other seed", (0, 16, 32, 44, 56)),
)


def sample_image(size: int = 224, seed: int = 0) -> np.ndarray:
    """A synthetic RGB scene: uint8 `[size, size, 3]`, values in [0, 255].

    An elliptical striped body with a small, brightly coloured head sits on
    a noisy background with a few grey distractor blobs.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    image = np.empty([size, size, 3])
    image[..., 0] = 90 + 60 * yy
    image[..., 1] = 120 + 50 * xx
    image[..., 2] = 80 + 40 * (1 - yy)
    image += rng.normal(0, 12, image.shape)
    for _ in range(4):  # Distractors: grey blobs with no class meaning.
        cy, cx, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), 0.06
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = rng.uniform(60, 200)
    body = ((yy - 0.58) / 0.2) ** 2 + ((xx - 0.45) / 0.3) ** 2 < 1
    stripes = np.sin(xx * 60) > 0
    image[body] = np.where(stripes[body, None], [150, 80, 30], [90, 50, 20])
    head = ((yy - 0.36) / 0.08) ** 2 + ((xx - 0.72) / 0.08) ** 2 < 1
    image[head] = [230, 30, 40]
    return np.clip(image, 0, 255).astype(np.uint8)


def render(out_dir: str, size: int = 224, seed: int = 0) -> str:
    """Writes the demo grid to `out_dir/hide_and_seek_demo.png`.

    Returns:
      The path of the PNG.
    """
    image = sample_image(size, seed)
    fig = Figure(figsize=(9, 6.4))
    axes = fig.subplots(2, 3)
    for index, (ax, (title, sizes)) in enumerate(zip(axes.flat, _SETTINGS)):
        shown = image
        if sizes is not None:
            shown = hiding.hide_patches(
                image, sizes, 0.5, _FILL, seed=(seed, index)
            ).numpy()
        ax.imshow(shown)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle("Hide-and-Seek: hidden patches take the dataset-mean RGB")
    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    return visualize.save(fig, os.path.join(out_dir, "hide_and_seek_demo.png"))


def define_flags() -> None:
    """The program's flags (defined when it runs, not on import)."""
    flags.DEFINE_string("out_dir", "demo_out", "Where the PNG goes.")
    flags.DEFINE_integer(
        "size", 224, "Side of the sample image.", lower_bound=16
    )
    flags.DEFINE_integer("seed", 0, "Seed of the scene and the masks.")


def main(argv) -> int:
    _cli.no_arguments(argv)
    options = flags.FLAGS
    path = render(options.out_dir, options.size, options.seed)
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    define_flags()
    _cli.run(main)
