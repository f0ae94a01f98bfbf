"""Tests for has_tf.training.optimizers: PyTorch's SGD, by hand."""

import keras
import numpy as np
import pytest

from has_tf.training import optimizers
from has_tf.training.optimizers import NO_DECAY
from has_tf.training.optimizers import GroupSGD
from has_tf.training.optimizers import timm_adamw


def _model():
    inputs = keras.Input((2,))
    x = keras.layers.Dense(2, name="backbone_fc", use_bias=False)(inputs)
    out = keras.layers.Dense(1, name="logits", use_bias=False)(x)
    model = keras.Model(inputs, out)
    model.get_layer("backbone_fc").set_weights([np.eye(2, dtype="f4")])
    model.get_layer("logits").set_weights([np.ones((2, 1), "f4")])
    return model


def _torch_sgd(w, grads, lr, momentum, wd, nesterov, l2=True):
    """torch.optim.SGD's documented update, written out."""
    buf = None
    for g in grads:
        if l2:
            g = g + wd * w
        else:
            w = w - lr * wd * w
        buf = g if buf is None else momentum * buf + g
        step = g + momentum * buf if nesterov else buf
        w = w - lr * step
    return w


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("decay_type", ["l2", "decoupled"])
def test_update_is_pytorchs_with_the_new_layers_faster(nesterov, decay_type):
    model = _model()
    opt = GroupSGD(
        0.1,
        momentum=0.9,
        nesterov=nesterov,
        weight_decay=0.01,
        weight_decay_type=decay_type,
        lr_multipliers=[("logits", 10.0)],
    )
    variables = model.trainable_variables
    opt.build(variables)
    rng = np.random.default_rng(0)
    grads = [
        [rng.normal(size=v.shape).astype("f4") for v in variables]
        for _ in range(3)
    ]
    starts = [v.numpy().copy() for v in variables]
    for step in grads:
        opt.apply_gradients(zip(step, variables))
    for index, (v, w0) in enumerate(zip(variables, starts)):
        lr = 0.1 * (10.0 if v.path.startswith("logits") else 1.0)
        expected = _torch_sgd(
            w0,
            [g[index] for g in grads],
            lr,
            0.9,
            0.01,
            nesterov,
            l2=decay_type == "l2",
        )
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert [opt.factor_of(v) for v in variables] == [1.0, 10.0]


def test_round_trips_through_a_saved_model(tmp_path):
    model = _model()
    model.compile(
        GroupSGD(
            0.1,
            nesterov=True,
            weight_decay=1e-4,
            lr_multipliers=[("logits", 10.0)],
        ),
        "mse",
    )
    model.fit(np.ones((4, 2)), np.zeros((4, 1)), verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    config = again.optimizer.get_config()
    assert config["lr_multipliers"] == [["logits", 10.0]]
    assert config["nesterov"] and config["weight_decay_type"] == "l2"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(momentum=1.0), "momentum=1.0"),
        (dict(weight_decay_type="adamw"), "weight_decay_type='adamw'"),
        (dict(weight_decay=-1.0), "weight_decay=-1.0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupSGD(0.1, **kwargs)


def _torch_adamw(
    w, grads, lr, wd, decay, b1=0.9, b2=0.999, eps=1e-8, keras_eps=False
):
    """torch.optim.AdamW's documented update, written out; `keras_eps`:
    epsilon added before `v`'s bias correction, as Keras adds it
    (`eps / sqrt(1 - b2^t)` after it)."""
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        if decay:
            w = w * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        eps_t = eps / np.sqrt(1 - b2**t) if keras_eps else eps
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps_t)
    return w


def test_timm_adamw_is_torchs_adamw_without_decay_where_timm_has_none():
    """Three steps of `timm_adamw` on a DeiT-like set of variables equal
    torch's AdamW with timm's groups (decay on kernels, none on biases,
    LayerNorm scales and shifts, the class token, the position
    embedding), but for where epsilon is added (the docstring's
    difference)."""
    from has_tf.models import deit

    model = deit.vision_transformer((8, 1, 2), (32, 32, 3), num_classes=3)
    opt = timm_adamw(0.01, 0.05)
    opt.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    start = [v.numpy() for v in model.trainable_variables]
    grads = [
        [rng.normal(size=v.shape).astype("f4") for v in start] for _ in range(3)
    ]
    for step in grads:
        opt.apply(step, model.trainable_variables)
    decayed = {}
    for index, variable in enumerate(model.trainable_variables):
        decay = len(variable.shape) > 1 and variable.name not in NO_DECAY
        decayed[variable.name] = decay
        expected = _torch_adamw(
            start[index],
            [g[index] for g in grads],
            0.01,
            0.05,
            decay,
            keras_eps=True,
        )
        np.testing.assert_allclose(
            variable.numpy(), expected, rtol=1e-5, atol=1e-6
        )
    assert decayed == {
        "kernel": True,
        "bias": False,
        "gamma": False,
        "beta": False,
        "cls_token": False,
        "pos_embed": False,
    }


def test_adamw_refuses_what_it_does_not_have():
    from has_tf import config as config_lib

    base = dict(model_dir="/tmp/unused", optimizer="adamw")
    for options, match in (
        (dict(weight_decay_type="l2"), "weight_decay_type.*decoupled"),
        (dict(nesterov=True), "nesterov"),
        (dict(lr_multiplier=10.0), "lr_multiplier"),
    ):
        with pytest.raises(ValueError, match=match):
            config_lib.TrainConfig(**base, **options)
    with pytest.raises(ValueError, match="weight_decay"):
        timm_adamw(0.01, -1.0)


def test_no_boundaries_is_a_constant_rate():
    from has_tf import config as config_lib
    from has_tf import train

    for optimizer in ("sgd", "adamw"):
        config = config_lib.TrainConfig(
            model_dir="/tmp/unused",
            optimizer=optimizer,
            lr_boundaries=(),
            learning_rate=0.003,
        )
        built = train.build_optimizer(config, 100)
        assert float(built.learning_rate) == pytest.approx(0.003)
        built.iterations.assign(99)
        assert float(built.learning_rate) == pytest.approx(0.003)


def test_torch_adam_steps_equal_pytorchs():
    """`torch_adam(..., "l2")` against torch.optim.Adam's own steps
    (tests/fixtures/torch_adam, made under PyTorch)."""
    import pathlib

    golden = np.load(
        pathlib.Path(__file__).parents[1]
        / "fixtures"
        / "torch_adam"
        / "golden.npz"
    )
    variable = keras.Variable(golden["w0"])
    optimizer = optimizers.torch_adam(0.05, 0.1, "l2")
    for grad, expected in zip(golden["grads"], golden["w"]):
        optimizer.apply_gradients(
            [(keras.ops.convert_to_tensor(grad), variable)]
        )
        np.testing.assert_allclose(np.asarray(variable), expected, atol=2e-7)
    decoupled = optimizers.torch_adam(0.05, 0.1, "decoupled")
    assert not isinstance(decoupled, optimizers.TorchAdam)
    assert decoupled.weight_decay == 0.1
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.torch_adam(0.05, -1.0, "l2")
