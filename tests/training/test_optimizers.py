"""Tests for has_tf.training.optimizers: PyTorch's SGD, by hand."""

import keras
import numpy as np
import pytest

from has_tf.training.optimizers import GroupSGD


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
