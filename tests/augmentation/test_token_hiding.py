"""HideTokens: Hide-and-Seek's cells on a transformer's token grid, a
learned mask token in their place, in training only."""

import keras
import numpy as np
import pytest

from has_tf.augmentation import hiding_ops
from has_tf.augmentation.token_hiding import HideTokens


def _tokens(batch=64, rows=4, cols=6, width=5):
    rng = np.random.default_rng(0)
    return rng.normal(size=(batch, rows, cols, width)).astype("float32")


def test_hidden_cells_take_the_mask_token_and_follow_the_rule():
    tokens = _tokens()
    layer = HideTokens((0, 1, 2), 0.5, seed=3)
    out = np.asarray(layer(tokens, training=True))
    token = layer.mask_token.numpy()
    hidden = np.all(out == token, axis=-1)
    kept = np.all(out == tokens, axis=-1)
    assert np.all(hidden | kept) and hidden.any() and kept.any()
    rate = hidden.mean()
    # P(S=0) = 1/3, else each cell hidden with probability 1/2.
    assert abs(rate - (2 / 3) * 0.5) < 0.05
    np.testing.assert_array_equal(layer(tokens, training=False), tokens)


def test_the_mask_follows_hiding_ops_rule():
    """Equal draws give `hiding_ops.patch_mask_from`'s mask."""
    tokens = _tokens(batch=8)
    layer = HideTokens((2,), 0.5, seed=5)
    layer.build(tokens.shape)
    state = np.asarray(layer.seed_generator.state.numpy()).copy()
    out = np.asarray(layer(tokens, training=True))
    layer.seed_generator.state.assign(state)
    choice = keras.random.randint((8,), 0, 1, seed=layer.seed_generator)
    uniform = keras.random.uniform((8, 4, 6), seed=layer.seed_generator)
    mask = hiding_ops.patch_mask_from(
        {"choice": keras.ops.cast(choice, "int32"), "uniform": uniform},
        (2,),
        0.5,
    )
    hidden = np.all(out == layer.mask_token.numpy(), axis=-1)
    np.testing.assert_array_equal(hidden, np.asarray(mask))


def test_the_mask_token_learns_and_round_trips(tmp_path):
    inputs = keras.Input((2, 2, 3))
    x = HideTokens((1,), 1.0, name="token_hide")(inputs)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    model.compile("sgd", "mse")
    before = model.get_layer("token_hide").mask_token.numpy().copy()
    model.fit(np.ones((4, 2, 2, 3)), np.ones((4, 3)), verbose=0)
    after = model.get_layer("token_hide").mask_token.numpy()
    assert not np.allclose(before, after)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    layer = loaded.get_layer("token_hide")
    assert layer.patch_sizes == (1,) and layer.hide_prob == 1.0
    np.testing.assert_array_equal(layer.mask_token.numpy(), after)


@pytest.mark.parametrize(
    "kwargs, shape, match",
    [
        (dict(patch_sizes=(5,)), (2, 4, 6, 3), "at most the token"),
        (dict(hide_prob=1.5), None, "hide_prob"),
        (dict(patch_sizes=(-1,)), None, "patch_sizes"),
        (dict(), (2, 24, 3), r"\[B, rows, cols, D\]"),
    ],
)
def test_bad_arguments_are_named(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        layer = HideTokens(**kwargs)
        layer.build(shape)


def test_a_deit_hides_tokens_through_the_apps_options():
    from has_tf import config as config_lib
    from has_tf import tasks
    from has_tf.tasks.image_localization import model as model_lib

    base = dict(
        model_dir="/tmp/unused",
        dataset="synthetic_parts/tiny",
        image_size=32,
        resize_size=40,
    )
    config = config_lib.TrainConfig(
        **base, model="deit_tiny", token_patch_sizes=(1,), patch_sizes=()
    )
    tasks.resolve(config)
    assert config.method == "has"
    info = {"mean": [0.0] * 3, "std": [1.0] * 3}
    model = model_lib.build_model(config, 3, info)
    layer = model.get_layer("token_hide")
    assert layer.patch_sizes == (1,) and layer.hide_prob == 0.5
    with pytest.raises(ValueError, match="--token_patch_sizes.*deit_tiny"):
        tasks.resolve(
            config_lib.TrainConfig(
                **base,
                model="small_gap",
                token_patch_sizes=(1,),
                patch_sizes=(),
            )
        )
    with pytest.raises(ValueError, match="cutmix hides no patches"):
        tasks.resolve(
            config_lib.TrainConfig(
                **base,
                model="deit_tiny",
                method="cutmix",
                token_patch_sizes=(1,),
            )
        )
