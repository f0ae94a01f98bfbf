"""SCM's network (Bai et al., ECCV 2022; hbai98/SCM, `lib/models/deit.py`
class `SCM`, `lib/models/graphFusion.py` class `Fuse`) on has_tf's DeiT.

TS-CAM's network (`models.tscam`: a 3x3 conv on the patch grid to one
semantic map per class) with a spatial calibration in training: starting
from the class token's attention map (averaged over heads, summed over
blocks, min-max normalised), four encoders each diffuse the map over the
patch grid's graph, weighted by the semantic maps' cosine similarities,
and feed it back into the maps (`SpatialCalibration`). The training
logits are the calibrated maps' means. At inference the calibration is
dropped, as the reference drops it: the logits are the semantic maps'
means and the CAM of a class its semantic map times the min-max
normalised attention map (`SemanticMaps(normalize_attention=True)`, read
by `cam_model`).

The reference builds its graph for a 14 x 14 grid (224-pixel inputs);
here the grid is the input's. Tested against the reference's own `SCM`
on recorded random weights (`tests/fixtures/scm/`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers
from keras import ops

from has_tf.models import common
from has_tf.models import deit
from has_tf.models.pretrained import WeightsError
from has_tf.models.tscam import attention_map
from has_tf.models.tscam import load_tscam
from has_tf.models.tscam import logits_of
from has_tf.models.tscam import min_max
from has_tf.models.tscam import semantic_maps

__all__ = [
    "SpatialCalibration",
    "built_in",
    "grid_laplacian",
    "load_scm",
    "scm",
]

# Newton-Schulz iterations of each encoder's fusion: the first encoder's
# `Fuse` keeps its default 16, the three it shares its Laplacian with 4.
ITERATIONS = (16, 4, 4, 4)
# The first guess of the inverse: `alpha * X^T` (graphFusion.py).
SCHULZ_ALPHA = 0.002


def grid_laplacian(rows: int, cols: int) -> np.ndarray:
    """The Laplacian `D - A` of the 4-neighbour graph of a `rows x cols`
    grid (patches row by row), float32 `[N, N]`: `Fuse.getLap` with its
    defaults (4 connections, dilation 1)."""
    count = rows * cols
    adjacency = np.zeros((count, count), np.float32)
    for r in range(rows):
        for c in range(cols):
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                if 0 <= r + dr < rows and 0 <= c + dc < cols:
                    adjacency[r * cols + c, (r + dr) * cols + c + dc] = 1
    return np.diag(adjacency.sum(axis=0)) - adjacency


@keras.saving.register_keras_serializable(package="has_tf")
class SpatialCalibration(layers.Layer):
    """SCM's encoders: the semantic maps calibrated by the attention map
    diffused over the patch graph, in training; the identity at inference.

    Each encoder i, from the maps `x` `[B, N, K]` and the map `cam` `[B, N]`
    (first: the class token's attention map, min-max normalised):
    `S` the cosine similarities of the patches' K-vectors, `X = L * (r_i S
    - 1)` elementwise with the grid's Laplacian `L`, `F` the transpose of
    `X`'s inverse by Newton-Schulz iterations (the first guess
    `0.002 X^T` held constant), `c = tanhshrink(F cam / (t_i max(cam)))`
    min-max normalised, then `x += x * c`, `cam += c`. `r_i` (the
    reference's `fuse._loss_rate`, 1 at first) and `t_i` (`thred`, 0.5)
    are trained.

    Inputs `[maps, attention_1, ..., attention_L]`: maps float
    `[B, h, w, K]`, each attention `[B, heads, 1 + h * w, 1 + h * w]`.
    Output: the maps, `[B, h, w, K]` float32.

    Args:
      iterations: each encoder's Newton-Schulz iterations.
    """

    def __init__(self, iterations=ITERATIONS, **kwargs):
        super().__init__(**kwargs)
        iterations = tuple(int(i) for i in iterations)
        if not iterations or min(iterations) < 1:
            raise ValueError(
                "Expected `iterations` of at least one encoder, each >= 1. "
                f"Received: iterations={iterations!r}"
            )
        self.iterations = iterations

    def build(self, input_shapes):
        rows, cols = input_shapes[0][1], input_shapes[0][2]
        count = len(self.iterations)
        self.thresholds = self.add_weight(
            shape=(count,),
            initializer=keras.initializers.Constant(0.5),
            name="thresholds",
        )
        self.loss_rates = self.add_weight(
            shape=(count,),
            initializer=keras.initializers.Constant(1.0),
            name="loss_rates",
        )
        self._laplacian = grid_laplacian(rows, cols)

    def call(self, inputs, training=None):
        maps = ops.cast(inputs[0], "float32")
        if not training:
            return maps
        batch, rows, cols, classes = ops.shape(maps)
        x = ops.reshape(maps, (batch, rows * cols, classes))
        cam = min_max(ops.cast(attention_map(inputs[1:]), x.dtype))
        laplacian = ops.convert_to_tensor(self._laplacian, x.dtype)
        eye = ops.eye(rows * cols, dtype=x.dtype)
        for index, iterations in enumerate(self.iterations):
            norms = ops.sqrt(ops.sum(x * x, axis=-1))
            similarity = ops.einsum("bik,bjk->bij", x, x) / (
                norms[:, :, None] * norms[:, None, :]
            )
            matrix = laplacian * (self.loss_rates[index] * similarity - 1.0)
            inverse = ops.stop_gradient(
                SCHULZ_ALPHA * ops.swapaxes(matrix, -1, -2)
            )
            for _ in range(iterations):
                inverse = ops.matmul(
                    inverse, 2.0 * eye - ops.matmul(matrix, inverse)
                )
            fused = ops.swapaxes(inverse, -1, -2)
            out = ops.einsum("bij,bj->bi", fused, cam)
            scale = self.thresholds[index] * ops.max(cam, axis=1, keepdims=True)
            out = out / scale
            out = min_max(out - ops.tanh(out))  # Tanhshrink.
            x = x + x * out[:, :, None]
            cam = cam + out
        return ops.reshape(x, (batch, rows, cols, classes))

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "iterations": list(self.iterations)}


def _head(x, num_classes, attention):
    maps = semantic_maps(x, num_classes, normalize_attention=True)
    calibrated = SpatialCalibration(name="scm_calibration")([maps, *attention])
    return logits_of(calibrated)


def built_in() -> common.BuiltIn:
    """SCM's head in place of the CAM head of a table DeiT (`deit_tiny`,
    `deit_small`, `deit_base`; `method=` of their builders)."""

    def head(inputs, x, num_classes, width, kernel_initializer, attention):
        return inputs, _head(x, num_classes, attention)

    return common.BuiltIn(head=head, attention=True)


def scm(
    variant="deit_small",
    num_classes: int = 200,
    input_shape=(224, 224, 3),
    model_input: common.ModelInput | None = None,
    name: str = "scm",
    drop_path_rate: float = 0.0,
) -> keras.Model:
    """SCM's network on a DeiT.

    Args:
      variant: a `deit.VARIANTS` name or `(width, depth, heads)`.
      num_classes: semantic maps and logits, >= 1.
      input_shape: `(H, W, 3)`, sides multiples of 16.
      model_input: how the model takes its images (`ModelInput`); None:
        float images normalised as the weights expect.
      name: the model's name.
      drop_path_rate: the blocks' stochastic depth in training.

    Returns:
      A `keras.Model` from images `[B, H, W, 3]` to float32 logits
      `[B, num_classes]`: the calibrated maps' means in training, the
      semantic maps' at inference; layers `tscam_head`, `semantic_maps`,
      `scm_calibration` and the DeiT's. `cam_model` gives its logits and
      CAMs.
    """
    return deit.method_network(
        "scm",
        variant,
        num_classes,
        input_shape,
        model_input,
        built_in(),
        drop_path_rate,
        name,
    )


def load_scm(model: keras.Model, tensors: dict, source="the weights"):
    """Sets an `scm` model's weights from SCM's state dict: TS-CAM's
    (`tscam.load_tscam`) plus each encoder's `layers.{i}.thred` and
    `layers.{i}.fuse._loss_rate` (`[1]` each).

    Raises:
      WeightsError: naming a missing, unexpected or mis-shaped tensor.
    """
    layer = model.get_layer("scm_calibration")
    count = len(layer.iterations)
    names = [
        (f"layers.{i}.thred", f"layers.{i}.fuse._loss_rate")
        for i in range(count)
    ]
    wanted = {name for pair in names for name in pair}
    missing = sorted(wanted - set(tensors))
    if missing:
        raise WeightsError(f"{source}: no SCM encoders: missing {missing}")
    extra = sorted(
        k for k in tensors if k.startswith("layers.") and k not in wanted
    )
    if extra:
        raise WeightsError(
            f"{source}: {count} SCM encoders here; unexpected {extra[:5]}"
        )
    rest = {k: v for k, v in tensors.items() if k not in wanted}
    load_tscam(model, rest, source)
    values = []
    for column in (0, 1):
        scalars = []
        for pair in names:
            value = np.asarray(tensors[pair[column]], np.float32).ravel()
            if value.shape != (1,):
                raise WeightsError(
                    f"{source}: tensor {pair[column]!r} has shape "
                    f"{np.shape(tensors[pair[column]])}; expected [1]"
                )
            scalars.append(value[0])
        values.append(np.array(scalars, np.float32))
    layer.set_weights(values)
