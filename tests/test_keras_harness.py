"""Keras's own layer harness on every public has_tf layer.

`keras.src.testing.TestCase.run_layer_test` (serialization, build, symbolic
and eager calls, a compiled training step, the mixed-precision output
specs) plus the checks Keras's preprocessing-layer tests make: `tf.data`
with an unknown batch size, symbolic against eager output shapes, and the
training argument's convention. Under the suite's TensorFlow and again
under JAX (`tests/test_jax_backend.py`).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.testing import TestCase

from has_tf.augmentation.cutmix_layer import CutMix
from has_tf.augmentation.layers import HideAndSeekLayer
from has_tf.augmentation.layers import HideSegments
from has_tf.augmentation.layers import PixelNormalization
from has_tf.models.acol import AcolHeads
from has_tf.models.adl import ADL
from has_tf.models.aicl import AiclObjective
from has_tf.models.aicl import CombinedCas
from has_tf.models.aicl import TopStepsMean
from has_tf.models.cola import SnippetContrast
from has_tf.models.delu import BoxSmooth
from has_tf.models.delu import ClassTopMean
from has_tf.models.delu import DeluObjective

pytestmark = pytest.mark.any_backend
np_ = keras.ops.convert_to_numpy


class _Harness(TestCase):
    """Keras's TestCase, driven from pytest (its asserts, no test runner)."""

    def runTest(self):  # unittest wants one method to bind to
        pass


@pytest.fixture
def harness():
    case = _Harness()
    yield case
    keras.config.set_dtype_policy("float32")


def _same_shape(layer_cls, init_kwargs, shape, **expected):
    """A case whose output has the input's shape, called in training, with
    one seed generator unless `expected` says otherwise."""
    return dict(
        layer_cls=layer_cls,
        init_kwargs=init_kwargs,
        input_shape=shape,
        expected_output_shape=shape,
        call_kwargs={"training": True},
        **{"expected_num_seed_generators": 1, **expected},
    )


# One row per public layer (and per mode of a layer): the arguments it is
# built with, the input it takes and what comes back.
CASES = {
    "hide_and_seek": _same_shape(
        HideAndSeekLayer,
        {"patch_sizes": (2, 4), "hide_prob": 0.5, "seed": 1},
        (2, 8, 8, 3),
    ),
    "hide_segments": _same_shape(
        HideSegments,
        {"segment_size": 3, "fill_value": -1.0, "seed": 2},
        (2, 10, 4),
    ),
    "pixel_normalization": _same_shape(
        PixelNormalization,
        {"mean": [1.0, 2.0, 3.0], "std": [2.0, 2.0, 4.0]},
        (2, 8, 8, 3),
        expected_output_dtype="float32",
        expected_num_seed_generators=0,
    ),
    "pixel_normalization_hiding": _same_shape(
        PixelNormalization,
        {"mean": 100.0, "std": 50.0, "patch_sizes": (4,), "seed": 3},
        (2, 8, 8, 3),
    ),
    "cutmix": dict(
        layer_cls=CutMix,
        init_kwargs={"num_classes": 3, "seed": 4},
        input_data=(
            np.arange(4 * 8 * 8 * 3, dtype="float32").reshape(4, 8, 8, 3),
            np.array([0, 1, 2, 1], "int32"),
        ),
        expected_output_shape=((4, 8, 8, 3), (4, 3)),
        expected_num_seed_generators=1,
        call_kwargs={"training": True},
    ),
    "adl": _same_shape(
        ADL, {"drop_rate": 0.5, "threshold": 0.8, "seed": 5}, (2, 6, 6, 4)
    ),
    "acol_heads": dict(
        layer_cls=AcolHeads,
        init_kwargs={"num_classes": 3, "width": 4},
        input_shape={"features_shape": (2, 5, 5, 6), "labels_shape": (2,)},
        input_dtype={"features_shape": "float32", "labels_shape": "int32"},
        expected_output_shape=(2, 3),
        expected_output_dtype="float32",
        expected_num_trainable_weights=12,
        expected_num_losses=1,
        call_kwargs={"training": True},
    ),
    "cola_snippet_contrast": dict(
        layer_cls=SnippetContrast,
        init_kwargs={"seed": 6},
        input_shape={
            "logits_shape": (2, 3),
            "actionness_shape": (2, 40),
            "embeddings_shape": (2, 40, 8),
        },
        input_dtype={
            "logits_shape": "float32",
            "actionness_shape": "float32",
            "embeddings_shape": "float32",
        },
        expected_output_shape=(2, 3),
        expected_num_seed_generators=1,
        expected_num_losses=1,
        call_kwargs={"training": True},
    ),
    "aicl_objective": dict(
        layer_cls=AiclObjective,
        init_kwargs={"r_mine": 10},
        input_shape={
            "logits_shape": (2, 3),
            "labels_shape": (2, 3),
            "combined_shape": (2, 40, 3),
            **{
                f"{name}_shape": (2, 40)
                for name in ("flow", "rgb", "actionness1", "actionness2")
            },
            **{
                f"{name}_shape": (2, 40, 8)
                for name in ("embedding", "embedding_rgb", "embedding_flow")
            },
        },
        input_dtype=dict.fromkeys(
            ["logits_shape", "labels_shape", "combined_shape"]
            + [
                f"{name}_shape"
                for name in (
                    "flow",
                    "rgb",
                    "actionness1",
                    "actionness2",
                    "embedding",
                    "embedding_rgb",
                    "embedding_flow",
                )
            ],
            "float32",
        ),
        expected_output_shape=(2, 3),
        expected_num_losses=1,
        call_kwargs={"training": True},
    ),
    "aicl_combined_cas": dict(
        layer_cls=CombinedCas,
        init_kwargs={},
        input_shape={
            "cas_shape": (2, 40, 3),
            "flow_shape": (2, 40),
            "rgb_shape": (2, 40),
        },
        input_dtype=dict.fromkeys(
            ["cas_shape", "flow_shape", "rgb_shape"], "float32"
        ),
        expected_output_shape=(2, 40, 3),
        expected_output_dtype="float32",
    ),
    "delu_objective": dict(
        layer_cls=DeluObjective,
        init_kwargs={"total_iterations": 10, "pairs": 1},
        input_shape={
            "logits_shape": (2, 3),
            "labels_shape": (2, 3),
            "cas_shape": (2, 20, 4),
            "attention_shape": (2, 20),
            "rgb_attention_shape": (2, 20),
            "flow_attention_shape": (2, 20),
            "feat_shape": (2, 20, 6),
        },
        input_dtype=dict.fromkeys(
            [
                "logits_shape",
                "labels_shape",
                "cas_shape",
                "attention_shape",
                "rgb_attention_shape",
                "flow_attention_shape",
                "feat_shape",
            ],
            "float32",
        ),
        expected_output_shape=(2, 3),
        expected_num_non_trainable_weights=1,
        expected_num_losses=1,
        call_kwargs={"training": True},
    ),
    "delu_box_smooth": dict(
        layer_cls=BoxSmooth,
        init_kwargs={"kernel": 5},
        input_shape=(2, 20, 3),
        expected_output_shape=(2, 20, 3),
    ),
    "delu_class_top_mean": dict(
        layer_cls=ClassTopMean,
        init_kwargs={"classes": 3},
        input_shape=(2, 20, 4),
        expected_output_shape=(2, 3),
        expected_output_dtype="float32",
    ),
    "aicl_top_steps_mean": dict(
        layer_cls=TopStepsMean,
        init_kwargs={"divisor": 8},
        input_shape={"values_shape": (2, 40, 3), "ranking_shape": (2, 40, 3)},
        input_dtype={"values_shape": "float32", "ranking_shape": "float32"},
        expected_output_shape=(2, 3),
        expected_output_dtype="float32",
    ),
}


def _data(spec):
    """A case's input as NumPy (`input_data`, else ones of `input_shape`;
    int inputs zeros)."""
    if "input_data" in spec:
        return spec["input_data"]
    shape = spec["input_shape"]
    if isinstance(shape, dict):
        dtypes = spec["input_dtype"]
        return {
            key.removesuffix("_shape"): np.ones(value, dtypes[key])
            * (dtypes[key] == "float32")
            for key, value in shape.items()
        }
    return np.ones(shape, "float32")


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras_run_layer_test(case, harness):
    harness.run_layer_test(**CASES[case])


def _unknown_batch(array, batch):
    """`array` as a tf.data pipeline batched by `batch` (static batch None)."""
    return tf.data.Dataset.from_tensor_slices(array).batch(batch)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: HideAndSeekLayer((2, 4), 0.5, seed=1), (5, 8, 8, 3)),
        (lambda: HideSegments(3, 0.5, seed=2), (5, 10, 4)),
        (lambda: PixelNormalization(100.0, 50.0, (4,), seed=3), (5, 8, 8, 3)),
    ],
    ids=["hide_and_seek", "hide_segments", "pixel_normalization"],
)
def test_tf_data_with_an_unknown_batch_size(make, shape):
    layer = make()
    data = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
    pipeline = _unknown_batch(data, 2)
    assert pipeline.element_spec.shape[0] is None
    for training in (True, False):
        out = pipeline.map(lambda x, t=training: layer(x, training=t))
        batches = [b.numpy() for b in out]
        assert [len(b) for b in batches] == [2, 2, 1]
        joined = np.concatenate(batches)
        assert joined.shape == shape
        eager = np_(layer(data, training=False))
        if not training:
            np.testing.assert_allclose(joined, eager, rtol=1e-6)


def test_cutmix_in_tf_data_with_an_unknown_batch_size():
    images = np.arange(5 * 8 * 8 * 3, dtype="float32").reshape(5, 8, 8, 3)
    labels = np.array([0, 1, 2, 1, 0], "int32")
    layer = CutMix(3, seed=4)
    pipeline = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
    out = list(pipeline.map(lambda x, y: layer((x, y), training=True)))
    assert [tuple(y.shape) for _, y in out] == [(2, 3), (2, 3), (1, 3)]
    soft = np.concatenate([y.numpy() for _, y in out])
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)


def _call_and_spec(layer, data, symbolic_inputs, training):
    """The layer's eager output on `data` and its declared output spec for
    `symbolic_inputs` (a dict input goes in as keyword arguments)."""
    if isinstance(data, dict):
        return (
            layer(**data, training=training),
            layer.compute_output_spec(**symbolic_inputs),
        )
    return (
        layer(data, training=training),
        layer.compute_output_spec(symbolic_inputs),
    )


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("case", sorted(CASES))
def test_symbolic_and_eager_outputs_agree(case, training):
    spec = CASES[case]
    layer = spec["layer_cls"](**spec["init_kwargs"])
    data = _data(spec)
    symbolic_inputs = keras.tree.map_structure(
        lambda x: keras.KerasTensor(
            np.shape(x), dtype=str(np.asarray(x).dtype)
        ),
        data,
    )
    eager, symbolic = _call_and_spec(layer, data, symbolic_inputs, training)
    shapes = keras.tree.map_structure(lambda x: tuple(x.shape), eager)
    declared = keras.tree.map_structure(lambda x: tuple(x.shape), symbolic)
    assert keras.tree.flatten(shapes) == keras.tree.flatten(declared)
    dtypes = [
        keras.backend.standardize_dtype(x.dtype)
        for x in keras.tree.flatten(eager)
    ]
    declared_dtypes = [x.dtype for x in keras.tree.flatten(symbolic)]
    assert dtypes == declared_dtypes


@pytest.mark.parametrize("case", sorted(CASES))
def test_mixed_precision_outputs_match_their_specs(case):
    spec = CASES[case]
    layer = spec["layer_cls"](
        **{**spec["init_kwargs"], "dtype": "mixed_float16"}
    )
    data = _data(spec)

    def symbolic(x):
        dtype = str(np.asarray(x).dtype)
        if dtype.startswith("float") and layer.autocast:
            dtype = layer.compute_dtype
        return keras.KerasTensor(np.shape(x), dtype=dtype)

    symbolic_inputs = keras.tree.map_structure(symbolic, data)
    for training in (True, False):
        out, declared = _call_and_spec(layer, data, symbolic_inputs, training)
        got = [
            keras.backend.standardize_dtype(x.dtype)
            for x in keras.tree.flatten(out)
        ]
        want = [x.dtype for x in keras.tree.flatten(declared)]
        assert got == want, (training, got, want)


# The training argument as Keras's random preprocessing layers take it.
RANDOM_LAYERS = {
    "hide_and_seek": (lambda: HideAndSeekLayer((2,), 1.0, 0.0), (2, 4, 4, 3)),
    "hide_segments": (lambda: HideSegments(2, 1.0, 0.0), (2, 6, 3)),
    "pixel_normalization": (
        lambda: PixelNormalization(0.0, 1.0, (2,), 1.0),
        (2, 4, 4, 3),
    ),
}


@pytest.mark.parametrize("case", sorted(RANDOM_LAYERS))
def test_outside_a_model_a_call_without_training_augments(case):
    make, shape = RANDOM_LAYERS[case]
    layer, data = make(), np.ones(shape, "float32")
    assert (np_(layer(data)) == 0).all()  # hide_prob 1: everything hidden
    assert (np_(layer(data, training=False)) == 1).all()
    (mapped,) = list(tf.data.Dataset.from_tensors(data).map(layer))
    assert (mapped.numpy() == 0).all()


@pytest.mark.parametrize("case", sorted(RANDOM_LAYERS))
def test_inside_a_model_the_models_flag_rules(case):
    make, shape = RANDOM_LAYERS[case]
    inputs = keras.Input(shape[1:])
    model = keras.Model(inputs, make()(inputs))
    data = np.ones(shape, "float32")
    assert (np_(model(data)) == 1).all()
    assert (model.predict(data, verbose=0) == 1).all()
    assert (np_(model(data, training=True)) == 0).all()


def test_cutmix_outside_a_model_mixes_and_always_gives_soft_labels():
    images = np.stack([np.full((8, 8, 1), i, "float32") for i in range(4)])
    labels = np.array([0, 1, 2, 3], "int32")
    layer = CutMix(4, seed=3)
    mixed, soft = layer((images, labels))
    assert (np_(mixed) != images).any()
    np.testing.assert_allclose(np_(soft).sum(axis=1), 1.0, rtol=1e-6)
    same, one_hot = layer((images, labels), training=False)
    np.testing.assert_array_equal(np_(same), images)
    np.testing.assert_array_equal(np_(one_hot), np.eye(4, dtype="float32"))


# Bad input is named the same way under every backend (under JAX the
# keras.ops path raised broadcasting and index errors; CutMix gave rows of
# zeros for labels outside [0, num_classes)).
@pytest.mark.parametrize(
    "make, shape, match",
    [
        (lambda: HideAndSeekLayer((2,), 0.5), (4, 4), "`images` of rank 3"),
        (lambda: HideAndSeekLayer((2,), 0.5), (1, 2, 4, 4, 3), "of rank 3"),
        (
            lambda: HideAndSeekLayer((2,), 0.5, [1.0, 2.0]),
            (2, 4, 4, 3),
            r"one value per channel \(3\)",
        ),
        (lambda: HideSegments(2, 0.5), (4,), "`sequences` of rank 2"),
        (
            lambda: HideSegments(2, 0.5, [1.0, 2.0]),
            (2, 6, 3),
            r"one value per channel \(3\)",
        ),
    ],
    ids=[
        "rank_2",
        "rank_5",
        "fill_2_for_3",
        "segments_rank_1",
        "segments_fill",
    ],
)
def test_bad_input_is_named_under_every_backend(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.ones(shape, "float32"), training=True)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("labels", [[0, 5], [-1, 0]], ids=["above", "below"])
def test_cutmix_refuses_labels_outside_its_classes(labels, training):
    images = np.ones((2, 4, 4, 3), "float32")
    with pytest.raises(ValueError, match=r"`labels` in \[0, 3\)"):
        CutMix(3, seed=1)((images, np.array(labels)), training=training)
