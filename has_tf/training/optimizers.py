"""SGD as PyTorch runs it, with learning-rate groups: the field's recipe.

wsolevaluation (and the Torch7 code of the paper) train with
`torch.optim.SGD(momentum=0.9, nesterov=True, weight_decay=wd)` over two
parameter groups, the new layers at 10x the learning rate. PyTorch's SGD
differs from `keras.optimizers.SGD` in two ways:

- weight decay is L2: `wd * w` is added to the gradient before momentum
  (Keras's `weight_decay` is decoupled: `w -= lr * wd * w` beside the
  update);
- the momentum buffer holds gradients, `b = mu * b + g`, and the step is
  `lr * b` (Nesterov: `lr * (g + mu * b)`); Keras folds the learning rate
  into its buffer, which only differs after the rate changes (a step
  schedule's boundary).

`timm_adamw` is the AdamW the transformer methods train with;
`torch_adam` PyTorch's Adam with its L2 weight decay, which the action
methods (CoLA, AICL, DELU) train with.

`GroupSGD` does PyTorch's update with either kind of decay and a factor
on the learning rate of the variables whose layer name starts with one of
the given prefixes. `has_tf.train.build_optimizer` uses it when a run asks
for L2 decay or a learning-rate multiplier, and Keras's SGD otherwise (so
runs recorded before it resume as they were).
"""

from __future__ import annotations

import keras
from keras import ops

from has_tf import vocabulary

__all__ = [
    "GroupSGD",
    "NO_DECAY",
    "TimmAdamW",
    "TorchAdam",
    "WEIGHT_DECAY_TYPES",
    "timm_adamw",
    "torch_adam",
]

WEIGHT_DECAY_TYPES = vocabulary.WEIGHT_DECAY_TYPES
# What timm's `create_optimizer` trains without weight decay besides every
# parameter of one dimension (biases, the normalisations' scales and
# shifts, SCM's scalars): a ViT's `no_weight_decay()`, by variable name
# (SAT's adds its spatial token and its position embedding).
NO_DECAY = ("cls_token", "pos_embed", "loc_token", "loc_embed")


@keras.saving.register_keras_serializable(package="has_tf")
class TimmAdamW(keras.optimizers.AdamW):
    """Keras's AdamW with timm's decay groups: no decay on variables of
    rank <= 1 nor on those named in `NO_DECAY` (set when the optimizer is
    built from the model's variables)."""

    def build(self, var_list):
        if not self.built:
            self.exclude_from_weight_decay(
                var_list=[v for v in var_list if len(v.shape) <= 1],
                var_names=list(NO_DECAY),
            )
        super().build(var_list)


def timm_adamw(learning_rate, weight_decay: float):
    """AdamW as timm's `create_optimizer(opt="adamw")` makes it for the
    transformer methods (TS-CAM, SCM, SAT): betas 0.9 / 0.999, epsilon
    1e-8, decoupled weight decay (`w -= lr * wd * w`) except on
    one-dimensional variables and `NO_DECAY`'s (`TimmAdamW`).

    Keras's Adam adds epsilon to `sqrt(v)` before the bias correction of
    `v` and PyTorch's after it: the two differ by `eps / sqrt(1 - beta2^t)`
    in the denominator, below 1e-6 of it after the first steps.

    Args:
      learning_rate: float or a `keras.optimizers.schedules` schedule.
      weight_decay: the decoupled decay, >= 0 (timm's 0.05).
    """
    if weight_decay < 0:
        raise ValueError(
            "Expected `weight_decay` >= 0. Received: "
            f"weight_decay={weight_decay}"
        )
    return TimmAdamW(
        learning_rate,
        weight_decay=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
    )


@keras.saving.register_keras_serializable(package="has_tf")
class TorchAdam(keras.optimizers.Adam):
    """`torch.optim.Adam(weight_decay=l2)`'s update: `l2 * w` added to each
    gradient before the moments (not AdamW's decoupled decay), and epsilon
    added after the bias correction of `sqrt(v)`, as PyTorch adds it
    (Keras's Adam adds it before)."""

    def __init__(self, *args, l2: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        rate = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        if self.l2:
            gradient = gradient + ops.cast(self.l2, dtype) * variable
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, (gradient - m) * (1 - beta_1))
        self.assign_add(v, (ops.square(gradient) - v) * (1 - beta_2))
        denominator = ops.sqrt(v) / ops.sqrt(
            1 - ops.power(beta_2, step)
        ) + ops.cast(self.epsilon, dtype)
        self.assign_sub(
            variable, rate / (1 - ops.power(beta_1, step)) * m / denominator
        )

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


def torch_adam(learning_rate, weight_decay: float, weight_decay_type: str):
    """Adam as `torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=wd)` runs it (CoLA's `main_cola.py`, AICL's and DELU's
    `main.py`): with `weight_decay_type="l2"` PyTorch's decay on every
    variable (`TorchAdam`); "decoupled" Keras's (`w -= lr * wd * w`, that
    is AdamW, whose epsilon is Keras's, as in `timm_adamw`).

    Args:
      learning_rate: float or a `keras.optimizers.schedules` schedule.
      weight_decay: >= 0.
      weight_decay_type: one of `WEIGHT_DECAY_TYPES`.
    """
    if weight_decay < 0:
        raise ValueError(
            "Expected `weight_decay` >= 0. Received: "
            f"weight_decay={weight_decay}"
        )
    options = dict(beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    if weight_decay_type == "l2":
        return TorchAdam(learning_rate, l2=weight_decay, **options)
    return keras.optimizers.Adam(
        learning_rate, weight_decay=weight_decay or None, **options
    )


def _layer_name(variable) -> str:
    return variable.path.split("/")[0]


@keras.saving.register_keras_serializable(package="has_tf")
class GroupSGD(keras.optimizers.Optimizer):
    """PyTorch's SGD with momentum, L2 or decoupled decay, rate groups.

    Args:
      learning_rate: float or a `keras.optimizers.schedules` schedule.
      momentum: PyTorch's `momentum` (no dampening), in [0, 1).
      nesterov: Nesterov momentum.
      weight_decay: the decay factor, >= 0.
      weight_decay_type: "l2" (added to the gradient, PyTorch's) or
        "decoupled" (Keras's: `w -= lr * wd * w`).
      lr_multipliers: `[(layer name prefix, factor), ...]`: a variable of a
        layer whose name starts with a prefix trains at `factor` times the
        rate (the first matching prefix wins), e.g.
        `[("cam_conv", 10.0), ("logits", 10.0)]`.
      name: the optimizer's name.
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.9,
        nesterov=False,
        weight_decay=0.0,
        weight_decay_type="l2",
        lr_multipliers=(),
        name="group_sgd",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(
                f"Expected `momentum` in [0, 1). Received: momentum={momentum}"
            )
        if weight_decay_type not in WEIGHT_DECAY_TYPES:
            raise ValueError(
                f"Expected `weight_decay_type` in {WEIGHT_DECAY_TYPES}. "
                f"Received: weight_decay_type={weight_decay_type!r}"
            )
        if weight_decay < 0:
            raise ValueError(
                "Expected `weight_decay` >= 0. Received: "
                f"weight_decay={weight_decay}"
            )
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.decay = float(weight_decay)
        self.weight_decay_type = weight_decay_type
        self.lr_multipliers = [(str(p), float(f)) for p, f in lr_multipliers]

    def factor_of(self, variable) -> float:
        """The learning-rate factor of a variable (1 outside every group)."""
        name = _layer_name(variable)
        for prefix, factor in self.lr_multipliers:
            if name.startswith(prefix):
                return factor
        return 1.0

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._factors = [self.factor_of(v) for v in variables]
        self.momentums = [
            self.add_variable_from_reference(v, "momentum") for v in variables
        ]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        rate = ops.cast(learning_rate, variable.dtype) * self._factors[index]
        gradient = ops.cast(gradient, variable.dtype)
        decay = ops.cast(self.decay, variable.dtype)
        if self.decay and self.weight_decay_type == "l2":
            gradient = gradient + decay * variable
        elif self.decay:
            self.assign_sub(variable, rate * decay * variable)
        if self.momentum:
            buffer = self.momentums[index]
            momentum = ops.cast(self.momentum, variable.dtype)
            new_buffer = momentum * buffer + gradient
            self.assign(buffer, new_buffer)
            step = (
                gradient + momentum * new_buffer
                if self.nesterov
                else new_buffer
            )
        else:
            step = gradient
        self.assign_sub(variable, rate * step)

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.decay,
            "weight_decay_type": self.weight_decay_type,
            "lr_multipliers": [list(pair) for pair in self.lr_multipliers],
        }
