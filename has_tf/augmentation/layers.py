"""Keras 3 layers for Hide-and-Seek: images/feature maps and sequences.

Both layers follow the split of Keras's random preprocessing layers:
`get_random_transformation` draws what is random (here: a stateless seed
from the layer's `keras.random.SeedGenerator`), `transform_images` /
`transform_sequences` applies it with the pure ops of `augmentation.hiding`.
The training argument follows Keras's random preprocessing layers: called
on data outside any model (eagerly, or in `dataset.map(layer)`) without
`training`, they augment; inside a model the model's flag rules (`fit`
trains, `predict`, `evaluate` and a bare `model(x)` do not), so a model
holding them evaluates on full images. `training=False` is the identity
everywhere.

Every Keras 3 backend: under TensorFlow they apply the TensorFlow ops of
`augmentation.hiding` (tf.data, XLA, stateless seeds); under JAX or PyTorch,
inside a model, the `keras.ops` version of the same rules
(`augmentation.hiding_ops`, drawn with the layer's `SeedGenerator`); and
inside a `tf.data` pipeline under any backend they switch to the TensorFlow
ops, as Keras's own preprocessing layers do. The masks follow one distribution
everywhere; each backend has its own random stream.

Under JAX or PyTorch this module loads no TensorFlow: the TensorFlow ops are
imported when a TensorFlow tensor first reaches a layer (nothing else makes
one), so registering the layers for `.keras` files stays light
(`has_tf.registration`). What the layers share is in `_layer_basics`;
`CutMix` is in `cutmix_layer`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from has_tf import _checks
from has_tf.augmentation import _layer_basics as _basics
from has_tf.augmentation import hiding_ops

__all__ = ["HideAndSeekLayer", "HideSegments", "PixelNormalization"]


class _HidingLayer(keras.layers.Layer):
    """Shared plumbing: seed generator, training switch, dict inputs."""

    _data_key = "images"

    def __init__(self, hide_prob, fill_value, seed, **kwargs):
        super().__init__(**kwargs)
        self.hide_prob = _checks.probability(hide_prob, "hide_prob")
        self.fill_value = _basics.check_fill(fill_value)
        self.seed = _checks.optional_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_jit = True

    def _foreign_graph(self, data) -> bool:
        return _basics.foreign_graph(data)

    def _tensorflow_ops(self, data) -> bool:
        return keras.backend.backend() == "tensorflow" or _basics.foreign_graph(
            data
        )

    def __call__(self, inputs, training=None, **kwargs):
        data = inputs[self._data_key] if isinstance(inputs, dict) else inputs
        training = _basics.training_flag(data, training)
        if self._foreign_graph(data):
            # Keras would convert the graph tensors to the backend's arrays;
            # the layer has no weights, so its call runs as it is.
            return self.call(inputs, training=training)
        return super().__call__(inputs, training=training, **kwargs)

    def get_random_transformation(self, data, training=True, seed=None):
        """Draws the randomness of one call, or None when not training.

        Args:
          data: the input batch (its static shape sizes the draws).
          training: no transformation unless True.
          seed: instead of the layer's seed generator: under TensorFlow an
            int64 tensor of shape [2] (a stateless seed); under the other
            backends a `keras.random.SeedGenerator` or an int.

        Returns:
          Under the TensorFlow ops: `{"seed": int64 [2]}`. Under `keras.ops`:
          the drawn numbers (`has_tf.augmentation.hiding_ops.draw_patches` /
          `draw_segments`).
        """
        if not training:
            return None
        if self._tensorflow_ops(data):
            return {"seed": _basics.stateless_seed(self, data, seed)}
        self._check_input(data)
        return self._draw(
            keras.ops.shape(self._batched(data)),
            self.seed_generator if seed is None else seed,
        )

    def _batched(self, data):
        return data[None] if len(data.shape) == self._unbatched_rank else data

    def _check_input(self, data) -> None:
        """The checks the TensorFlow ops make, for the `keras.ops` path
        (JAX, PyTorch): the rank and the fill's length, named."""
        name, layouts = self._data_name, self._layouts
        ranks = (self._unbatched_rank, self._unbatched_rank + 1)
        shape = tuple(data.shape)
        if len(shape) not in ranks:
            raise ValueError(
                f"Expected `{name}` of rank {ranks[0]} {layouts[0]} or rank "
                f"{ranks[1]} {layouts[1]}. Received: {name}.shape={shape}"
            )
        fill = np.asarray(self.fill_value)
        channels = shape[-1]
        if (
            fill.ndim == 1
            and channels is not None
            and len(fill)
            not in (
                1,
                channels,
            )
        ):
            raise ValueError(
                "Expected `fill_value` to be a scalar or to hold one value "
                f"per channel ({channels}). Received: fill_value of shape "
                f"{fill.shape} ({self.fill_value!r})"
            )

    def call(self, inputs, training=None):
        data = inputs[self._data_key] if isinstance(inputs, dict) else inputs
        transformation = self.get_random_transformation(data, training)
        if transformation is None:
            return inputs
        out = self._transform(data, transformation)
        if isinstance(inputs, dict):
            return {**inputs, self._data_key: out}
        return out

    def _transform(self, data, transformation):
        if transformation is None:
            return data
        if "seed" in transformation:
            return self._tensorflow_transform(data, transformation["seed"])
        batched = self._batched(data)
        out = hiding_ops.hide_with(
            batched, self._mask_from(transformation), self.fill_value
        )
        return out[0] if batched is not data else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            hide_prob=self.hide_prob,
            fill_value=self.fill_value,
            seed=_basics.plain(self.seed),
        )
        return config


@keras.saving.register_keras_serializable(package="has_tf")
class HideAndSeekLayer(_HidingLayer):
    """Hides random grid cells of images or conv feature maps in training.

    Per image, a patch size S is drawn uniformly from `patch_sizes`, an
    S x S grid anchored at the top-left corner is laid over it (edge cells
    cut short) and each cell is hidden with probability `hide_prob`, all
    channels at once, by setting it to `fill_value` (`has_tf.hide_patches`).

    Use it on raw images before normalisation with the dataset-mean pixel as
    fill, after normalisation with fill 0, or on conv1 feature maps (the
    paper's ablation: cells of 5 or 11 on 55x55 maps). In a tf.data pipeline
    (`dataset.map(layer)`) it hides unless called with `training=False`;
    inside a model, when the model trains. A dict input hides
    `inputs["images"]` and passes the other entries (labels, boxes) through
    unchanged.

    Args:
      patch_sizes: Python ints >= 0 to draw S from; 0 hides nothing. The
        paper's "mixed" setting is `(0, 16, 32, 44, 56)`.
      hide_prob: probability in [0, 1] that a cell is hidden.
      fill_value: a number, or one per channel, in the units of the input.
      seed: None or an int, for the layer's `keras.random.SeedGenerator`.
      **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape:
      `[B, H, W, C]` (or `[H, W, C]` unbatched in tf.data), channels last,
      any real dtype; or a dict with such a tensor under "images".

    Output shape:
      Same as the input, same dtype (under a mixed-precision policy a float
      input is first cast to the compute dtype, as Keras casts every
      layer's float inputs).

    References:
      Singh & Lee, "Hide-and-Seek: Forcing a Network to be Meticulous for
      Weakly-supervised Object and Action Localization", ICCV 2017.
    """

    _data_name = "images"
    _layouts = ("[H, W, C]", "[B, H, W, C]")

    def __init__(
        self,
        patch_sizes: Sequence[int] | int = (32,),
        hide_prob: float = 0.5,
        fill_value=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(hide_prob, fill_value, seed, **kwargs)
        self.patch_sizes = _checks.patch_sizes(patch_sizes)

    _unbatched_rank = 3

    def transform_images(self, images, transformation):
        """Applies a drawn transformation (see `get_random_transformation`)."""
        return self._transform(images, transformation)

    def _tensorflow_transform(self, images, seed):
        return _basics.tf_module("has_tf.augmentation.hiding").hide_patches(
            images, self.patch_sizes, self.hide_prob, self.fill_value, seed=seed
        )

    def _draw(self, shape, seed):
        return hiding_ops.draw_patches(shape, len(self.patch_sizes), seed)

    def _mask_from(self, draws):
        return hiding_ops.patch_mask_from(
            draws, self.patch_sizes, self.hide_prob
        )

    def get_config(self):
        return {**super().get_config(), "patch_sizes": list(self.patch_sizes)}


@keras.saving.register_keras_serializable(package="has_tf")
class HideSegments(_HidingLayer):
    """Hides random contiguous segments of feature sequences in training.

    The time axis is cut into segments of `segment_size` steps (the last one
    cut short) and each is hidden with probability `hide_prob` by setting
    its steps to `fill_value` (`has_tf.hide_segments`); the paper hides
    segments of 100 of 2000 C3D features, filled with the dataset-mean
    feature.

    Args:
      segment_size: steps per segment, an int >= 1.
      hide_prob: probability in [0, 1] that a segment is hidden.
      fill_value: a number or one per feature (`[D]`).
      seed: None or an int, for the layer's `keras.random.SeedGenerator`.
      **kwargs: base `keras.layers.Layer` arguments.

    Input shape:
      `[B, T, D]` (or `[T, D]` unbatched in tf.data), any real dtype; or a
      dict with such a tensor under "sequences".

    Output shape:
      Same as the input, same dtype (under a mixed-precision policy a float
      input is first cast to the compute dtype, as Keras casts every
      layer's float inputs).

    References:
      Singh & Lee, ICCV 2017, Section 3.3 (action localization).
    """

    _data_key = "sequences"
    _data_name = "sequences"
    _layouts = ("[T, D]", "[B, T, D]")

    def __init__(
        self,
        segment_size: int,
        hide_prob: float = 0.5,
        fill_value=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(hide_prob, fill_value, seed, **kwargs)
        self.segment_size = _checks.positive_int(segment_size, "segment_size")

    _unbatched_rank = 2

    def transform_sequences(self, sequences, transformation):
        """Applies a drawn transformation (see `get_random_transformation`)."""
        return self._transform(sequences, transformation)

    def _tensorflow_transform(self, sequences, seed):
        return _basics.tf_module("has_tf.augmentation.hiding").hide_segments(
            sequences,
            self.segment_size,
            self.hide_prob,
            self.fill_value,
            seed=seed,
        )

    def _draw(self, shape, seed):
        return hiding_ops.draw_segments(shape, seed)

    def _mask_from(self, draws):
        return hiding_ops.segment_mask_from(
            draws, self.segment_size, self.hide_prob
        )

    def get_config(self):
        return {**super().get_config(), "segment_size": self.segment_size}


def _check_moments(values, name, positive=False):
    """mean/std: one finite number, or one per channel; std > 0."""
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        numbers = None
    if (
        numbers is None
        or np.asarray(values).dtype == bool
        or numbers.ndim > 1
        or numbers.size == 0
        or not np.isfinite(numbers).all()
        or (positive and (numbers <= 0).any())
    ):
        need = "positive " if positive else ""
        raise ValueError(
            f"Expected `{name}` to be a finite {need}number or one per "
            f"channel. Received: {name}={values!r}"
        )
    return numbers.tolist()


@keras.saving.register_keras_serializable(package="has_tf")
class PixelNormalization(keras.layers.Layer):
    """A model's first op on raw pixels: normalise, and hide in training.

    `(float32(x) - mean) / std` per channel, then, with `patch_sizes` and
    only when training (the module's convention), Hide-and-Seek on the
    normalised images with fill 0 (the mean pixel after normalisation), drawn as
    `HideAndSeekLayer` draws it. It is the first layer of every has_tf
    image model built with `input_normalization`, so a model takes uint8
    pixels in training, evaluation and serving alike (a quarter of a float
    batch's host-to-device traffic) and `--hide_on=device` hides in the
    same op; XLA fuses both into what follows.

    Same arithmetic as `has_tf.input_pipeline.images` normalising on the
    host: under TensorFlow the same float32 values, bit for bit; XLA
    (`--jit_compile`, and JAX) may divide as a multiplication by the
    reciprocal, within one ulp. Without `patch_sizes` it
    draws no random numbers (it holds no seed generator), so adding it
    leaves a model's seeded initial weights as they were.

    Args:
      mean: per-channel mean in pixel units (a number or one per channel).
      std: per-channel std in pixel units, > 0.
      patch_sizes: Hide-and-Seek patch sizes (see `HideAndSeekLayer`); None
        hides nothing.
      hide_prob: probability that a cell is hidden.
      seed: None or an int, for the hiding's `keras.random.SeedGenerator`.
      **kwargs: base `keras.layers.Layer` arguments.

    Input shape:
      `[B, H, W, C]` pixels in [0, 255], uint8 (or any real dtype).

    Output shape:
      Same shape, the layer's compute dtype (float32 by default; float16
      or bfloat16 under a mixed-precision policy, computed in float32 and
      then cast).
    """

    def __init__(
        self,
        mean,
        std,
        patch_sizes: Sequence[int] | None = None,
        hide_prob: float = 0.5,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.mean = _check_moments(mean, "mean")
        self.std = _check_moments(std, "std", positive=True)
        self.hide_prob = _checks.probability(hide_prob, "hide_prob")
        self.seed = _checks.optional_seed(seed)
        self.patch_sizes = None
        self.hiding = None
        if patch_sizes is not None:
            self.hiding = HideAndSeekLayer(
                patch_sizes,
                hide_prob,
                0.0,
                seed=seed,
                dtype=self.dtype_policy,
                # A fixed name: checkpoints key seed states by layer name.
                name=f"{self.name}_hide",
            )
            self.patch_sizes = self.hiding.patch_sizes
        self.supports_jit = True

    def build(self, input_shape):
        if self.hiding is not None:
            self.hiding.build(input_shape)
        self.built = True

    def __call__(self, inputs, training=None, **kwargs):
        training = _basics.training_flag(inputs, training)
        if _basics.foreign_graph(inputs):
            # In tf.data under another backend: TensorFlow's ops, as Keras's
            # own Normalization runs there.
            return self._tf_data_call(inputs, training)
        return super().__call__(inputs, training=training, **kwargs)

    def _tf_data_call(self, inputs, training):
        tf = _basics.tf_module()
        pixels = tf.cast(inputs, tf.float32)
        quotient = tf.math.divide_no_nan(pixels - self.mean, self.std)
        normalized = tf.cast(quotient, self.compute_dtype)
        if self.hiding is None:
            return normalized
        return self.hiding(normalized, training=training)

    def call(self, inputs, training=None):
        ops = keras.ops
        pixels = ops.cast(inputs, "float32")
        mean = ops.convert_to_tensor(self.mean, "float32")
        std = ops.convert_to_tensor(self.std, "float32")
        if keras.backend.backend() == "tensorflow":
            # Grappler rewrites a division by a constant in a tf.function
            # into a multiplication by its reciprocal (an ulp off the
            # host's tf.data division); DivNoNan it leaves alone, and with
            # std > 0 it is the division.
            quotient = _basics.tf_module().math.divide_no_nan(
                pixels - mean, std
            )
        else:
            quotient = (pixels - mean) / std
        normalized = ops.cast(quotient, self.compute_dtype)
        if self.hiding is None:
            return normalized
        return self.hiding(normalized, training=training)

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "mean": self.mean,
            "std": self.std,
            "patch_sizes": (
                None if self.patch_sizes is None else list(self.patch_sizes)
            ),
            "hide_prob": self.hide_prob,
            "seed": _basics.plain(self.seed),
        }
