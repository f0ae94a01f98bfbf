"""timm's ViT weights for has_tf's DeiT (`models.deit`): its state dict's
names set on the Keras layers (the fused `qkv` kept, `[out, in]` linear
weights transposed, the patch embedding's OIHW kernel to HWIO), every
tensor checked, and the position embedding resampled to the model's grid
as timm's `resample_abs_pos_embed` does (bicubic with antialiasing,
PyTorch's kernel), in NumPy.
"""

from __future__ import annotations

import numpy as np

from has_tf.models.pretrained import WeightsError

__all__ = ["load_timm", "resample_position_embedding"]


# --- timm's position embedding resampling, in NumPy --------------------------


def _cubic(x, a=-0.5):
    x = np.abs(x)
    return np.where(
        x < 1,
        ((a + 2) * x - (a + 3)) * x * x + 1,
        np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0),
    )


def _aa_weights(in_size, out_size):
    """`[out_size, in_size]` interpolation weights of PyTorch's bicubic
    with `antialias=True` (align_corners False): PIL's kernel (a = -0.5),
    widened by the scale when shrinking, each row normalised."""
    scale = in_size / out_size
    support = 2.0 * max(scale, 1.0)
    invscale = 1.0 / scale if scale > 1.0 else 1.0
    weights = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = scale * (i + 0.5)
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        j = np.arange(xmin, xmax)
        w = _cubic((j - center + 0.5) * invscale)
        total = w.sum()
        weights[i, xmin:xmax] = w / total if total != 0 else w
    return weights


def resample_position_embedding(pos_embed, old_grid, new_grid, prefix=1):
    """timm's `resample_abs_pos_embed`: the grid part of a position
    embedding resized bicubically (with antialiasing) to `new_grid`, the
    `prefix` tokens (the class token's) kept.

    Args:
      pos_embed: float `[1, prefix + old_grid[0] * old_grid[1], D]`.
      old_grid, new_grid: `(rows, cols)`.

    Returns:
      float32 `[1, prefix + new_grid[0] * new_grid[1], D]`.
    """
    pos_embed = np.asarray(pos_embed, np.float64)
    old_grid, new_grid = tuple(old_grid), tuple(new_grid)
    expected = prefix + old_grid[0] * old_grid[1]
    if pos_embed.ndim != 3 or pos_embed.shape[1] != expected:
        raise ValueError(
            f"Expected `pos_embed` of shape [1, {expected}, D] for a "
            f"{old_grid} grid. Received: shape={pos_embed.shape}"
        )
    if old_grid == new_grid:
        return pos_embed.astype(np.float32)
    grid = pos_embed[0, prefix:].reshape(*old_grid, -1)
    rows = _aa_weights(old_grid[0], new_grid[0])
    cols = _aa_weights(old_grid[1], new_grid[1])
    resized = np.einsum("ri,cj,ijd->rcd", rows, cols, grid)
    out = np.concatenate(
        [pos_embed[0, :prefix], resized.reshape(-1, grid.shape[-1])]
    )
    return out[np.newaxis].astype(np.float32)


# --- timm's weights ---------------------------------------------------------


def _timm_layers(depth) -> dict:
    """Keras layer -> [(timm tensor, Keras weight index, transform)]."""
    linear = lambda w: w.T  # noqa: E731 - [out, in] -> [in, out]
    same = lambda w: w  # noqa: E731
    rows = {
        "patch_embed_proj": [
            ("patch_embed.proj.weight", 0, lambda w: w.transpose(2, 3, 1, 0)),
            ("patch_embed.proj.bias", 1, same),
        ],
        "norm": [("norm.weight", 0, same), ("norm.bias", 1, same)],
        "head": [("head.weight", 0, linear), ("head.bias", 1, same)],
    }
    for i in range(depth):
        for keras_name, timm_name in (
            ("norm1", "norm1"),
            ("attn_qkv", "attn.qkv"),
            ("attn_proj", "attn.proj"),
            ("norm2", "norm2"),
            ("mlp_fc1", "mlp.fc1"),
            ("mlp_fc2", "mlp.fc2"),
        ):
            dense = not keras_name.startswith("norm")
            rows[f"blocks_{i}_{keras_name}"] = [
                (
                    f"blocks.{i}.{timm_name}.weight",
                    0,
                    linear if dense else same,
                ),
                (f"blocks.{i}.{timm_name}.bias", 1, same),
            ]
    return rows


def load_timm(model, tensors: dict, source: str = "the weights") -> tuple:
    """Sets a `vision_transformer` model's weights from timm's state dict.

    Args:
      model: built by `vision_transformer` (any input size: the position
        embedding is resampled from the file's square grid as timm does).
      tensors: timm's `VisionTransformer` tensors by name (float arrays,
        e.g. a `model.safetensors` read by `pretrained.read_tensors`).
      source: the file, for messages.

    Returns:
      The file's tensors left unused on purpose: the classifier (`head.*`)
      when the model has none.

    Raises:
      WeightsError: naming any missing, unexpected or mis-shaped tensor.
    """
    depth = sum(1 for layer in model.layers if layer.name.endswith("_attn"))
    rows = _timm_layers(depth)
    has_head = any(layer.name == "head" for layer in model.layers)
    wanted = {name for pairs in rows.values() for name, _, _ in pairs}
    wanted |= {"cls_token", "pos_embed"}
    if not has_head:
        wanted -= {"head.weight", "head.bias"}
    dropped = tuple(
        sorted(k for k in tensors if k.startswith("head.") and not has_head)
    )
    missing = sorted(wanted - set(tensors))
    unexpected = sorted(set(tensors) - wanted - set(dropped))
    if missing or unexpected:
        raise WeightsError(
            f"{source}: not timm's VisionTransformer of this size: missing "
            f"{missing[:5]}, unexpected {unexpected[:5]}"
        )
    for layer_name, pairs in rows.items():
        if layer_name == "head" and not has_head:
            continue
        layer = model.get_layer(layer_name)
        values = [np.asarray(w) for w in layer.get_weights()]
        for name, index, transform in pairs:
            values[index] = _checked(
                transform(np.asarray(tensors[name])),
                values[index],
                name,
                source,
            )
        layer.set_weights(values)
    tokens = model.get_layer("tokens")
    old = np.asarray(tensors["pos_embed"])
    side = int(round((old.shape[1] - 1) ** 0.5))
    if side * side != old.shape[1] - 1:
        raise WeightsError(
            f"{source}: pos_embed {old.shape} is no square grid with a class "
            "token"
        )
    pos = resample_position_embedding(old, (side, side), tokens.grid)
    cls = np.asarray(tensors["cls_token"])
    current = tokens.get_weights()
    tokens.set_weights(
        [
            _checked(cls, current[0], "cls_token", source),
            _checked(pos, current[1], "pos_embed", source),
        ]
    )
    return dropped


def _checked(value, current, name, source):
    if value.shape != current.shape:
        raise WeightsError(
            f"{source}: tensor {name!r} has shape {value.shape}; this model "
            f"takes {current.shape}"
        )
    return value.astype(current.dtype)
