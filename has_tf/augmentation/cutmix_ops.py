"""CutMix (Yun et al., ICCV 2019) as wsolevaluation runs it, any backend.

wsolevaluation's `wsol/method/cutmix.py` (from CutMix-PyTorch) mixes a
whole batch at once, when `cutmix_prob > U(0, 1)`:

1. one `lam ~ Beta(beta, beta)` and one permutation `perm` of the batch;
2. one box: with `r = sqrt(1 - lam)`, `cut_h = int(H * r)`,
   `cut_w = int(W * r)` (truncated), a centre `(cy, cx)` uniform over the
   pixel grid, rows `[clip(cy - cut_h // 2), clip(cy + cut_h // 2))` and
   columns `[clip(cx - cut_w // 2), clip(cx + cut_w // 2))`, clipped to the
   image (so a box may be cut short or empty);
3. every image takes the box's pixels from image `perm[i]`;
4. `lam` becomes the share of each image left as it was,
   `1 - box_area / (H * W)`, and the loss is
   `lam * CE(label) + (1 - lam) * CE(label[perm])`: the cross-entropy of the
   soft label `lam * onehot(label) + (1 - lam) * onehot(label[perm])`,
   which is what these functions return (equal by linearity).

(The tool's code names the image height `w` and the width `h`; the box
above is the one it cuts, in NHWC terms: its first coordinate runs along
the rows.)

The draws (`draw_cutmix`) are split from the rule (`cutmix_box`,
`apply_cutmix`), so a golden test can give the rule the reference's own
draws. This module draws with `keras.random` (a layer's `SeedGenerator`);
`augmentation.cutmix` draws the same distribution statelessly in TensorFlow, for
tf.data, and applies with the same `apply_cutmix`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["apply_cutmix", "cutmix_box", "draw_cutmix", "one_hot"]


def check_beta(beta) -> float:
    """Beta's parameter as a positive finite float (clear error if not)."""
    try:
        value = float(beta)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(beta, bool) or not value > 0 or value == float("inf"):
        raise ValueError(
            "Expected `cutmix_beta` to be a positive number (the tool mixes "
            f"nothing for beta <= 0). Received: cutmix_beta={beta!r}"
        )
    return value


def static_sizes(images) -> tuple:
    """`(batch, height, width)` of `[B, H, W, C]` images: ints, the batch
    None when unknown until run time.

    Raises:
      ValueError: a rank other than 4, or no static height and width
        (the box is cut on a fixed grid).
    """
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise ValueError(
            "CutMix: expected images [B, H, W, C] of a static height and "
            f"width. Received: images of shape {shape}"
        )
    batch = None if shape[0] is None else int(shape[0])
    return batch, int(shape[1]), int(shape[2])


def _wide(xp):
    """float64 for the box arithmetic, as NumPy does it; float32 under JAX
    (whose default config has no float64)."""
    if xp is ops and keras.backend.backend() == "jax":
        return "float32"
    return "float64"


def cutmix_box(lam, centre, height: int, width: int, xp=ops):
    """The box wsolevaluation's `rand_bbox` cuts for `lam` and a centre.

    Args:
      lam: the drawn lambda, a scalar in [0, 1]; the box is computed in
        float64 (float32 under JAX), `int(H * sqrt(1 - lam))` truncated,
        as the tool's NumPy does.
      centre: int `[2]`, `(row, column)`, row in [0, H), column in [0, W).
      height, width: the images' static size.
      xp: the ops namespace (`keras.ops`, or `augmentation.cutmix`'s TensorFlow
        one).

    Returns:
      int32 `[4]`: `(row0, col0, row1, col1)`, the box rows `[row0, row1)`
      and columns `[col0, col1)`, clipped to the image.
    """
    wide = _wide(xp)
    ratio = xp.sqrt(1.0 - xp.cast(lam, wide))
    cut = xp.cast(ratio * xp.convert_to_tensor([height, width], wide), "int32")
    half = cut // 2
    centre = xp.cast(centre, "int32")
    limit = xp.convert_to_tensor([height, width], "int32")
    low = xp.clip(centre - half, 0, limit)
    high = xp.clip(centre + half, 0, limit)
    return xp.concatenate([low, high], axis=0)


def check_labels(labels, num_classes: int) -> None:
    """Refuses int labels `[B]` outside [0, num_classes) when their values
    are known (arrays, eager tensors); traced values pass unchecked (the
    TensorFlow path asserts them in its graph: `cutmix.one_hot`).

    Raises:
      ValueError: naming the range and the labels outside it.
    """
    if len(labels.shape) != 1:
        return
    try:
        values = np.asarray(ops.convert_to_numpy(labels))
    except Exception:  # A traced value (jit, tf.function): no values yet.
        return
    bad = values[(values < 0) | (values >= num_classes)]
    if bad.size:
        raise ValueError(
            f"Expected `labels` in [0, {num_classes}) (num_classes="
            f"{num_classes}), one class per image. Received: "
            f"{bad[:5].tolist()}"
        )


def one_hot(labels, num_classes: int, xp=ops):
    """Int labels `[B]` -> float32 one-hot `[B, num_classes]`; float
    labels `[B, num_classes]` (already soft) pass as they are (values
    outside [0, num_classes) give a row of zeros: `check_labels`)."""
    if len(labels.shape) == 2:
        return xp.cast(labels, "float32")
    return xp.one_hot(xp.cast(labels, "int32"), num_classes)


def apply_cutmix(images, labels, box, permutation, applied=True, xp=ops):
    """Mixes a batch: box pixels from `images[permutation]`, soft labels.

    Args:
      images: `[B, H, W, C]`, any dtype (uint8 pixels or floats: the
        pixels are copied, not blended).
      labels: float32 `[B, N]` (one-hot or already soft).
      box: int32 `[4]` from `cutmix_box`.
      permutation: int `[B]`, a permutation of the batch.
      applied: a bool scalar; False returns the batch unchanged (the
        tool's `cutmix_prob` coin).
      xp: the ops namespace.

    Returns:
      `(images, labels, lam)`: the mixed images (input dtype), the soft
      labels float32 `[B, N]` and `lam`, float32, the share of each image
      left as it was (1 when not applied).
    """
    height, width = images.shape[1], images.shape[2]
    rows = xp.arange(height, dtype="int32")
    cols = xp.arange(width, dtype="int32")
    inside_rows = xp.logical_and(rows >= box[0], rows < box[2])
    inside_cols = xp.logical_and(cols >= box[1], cols < box[3])
    inside = xp.logical_and(inside_rows[:, None], inside_cols[None, :])
    inside = xp.logical_and(inside, applied)
    mixed = xp.where(
        inside[None, :, :, None], xp.take(images, permutation, axis=0), images
    )
    wide = _wide(xp)
    area = xp.cast((box[2] - box[0]) * (box[3] - box[1]), wide)
    lam = 1.0 - area / float(height * width)
    lam = xp.cast(xp.where(applied, lam, xp.cast(1.0, wide)), "float32")
    labels = xp.cast(labels, "float32")
    soft = lam * labels + (1.0 - lam) * xp.take(labels, permutation, axis=0)
    return mixed, soft, lam


def draw_cutmix(batch_size: int, height: int, width: int, beta, prob, seed):
    """The randomness of one CutMix batch, drawn with `keras.random`.

    Args:
      batch_size, height, width: static sizes.
      beta: Beta's two parameters (> 0).
      prob: probability of mixing this batch.
      seed: a `keras.random.SeedGenerator` or an int.

    Returns:
      `{"lam": float32 scalar, "centre": int32 [2], "permutation": int32
      [B], "applied": bool scalar}`.
    """
    lam = keras.random.beta((), beta, beta, seed=seed)
    row = keras.random.randint((1,), 0, height, seed=seed)
    col = keras.random.randint((1,), 0, width, seed=seed)
    permutation = keras.random.shuffle(
        ops.arange(batch_size, dtype="int32"), seed=seed
    )
    applied = keras.random.uniform((), seed=seed) < prob
    return {
        "lam": lam,
        "centre": ops.cast(ops.concatenate([row, col]), "int32"),
        "permutation": permutation,
        "applied": applied,
    }
