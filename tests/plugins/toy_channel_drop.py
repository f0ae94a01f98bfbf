"""A toy method defined outside has_tf: what a researcher's own module is.

"channel_drop" zeroes each channel of the CAM conv's output with
probability `--channel_drop_rate` in training (the identity at
inference), built into small_gap at its third method place. Registered
when imported: `--plugins=toy_channel_drop` (tests/test_plugins.py).
"""

import keras

from has_tf import methods
from has_tf import models
from has_tf.methods.images import has


@keras.saving.register_keras_serializable(package="toy_channel_drop")
class ChannelDrop(keras.layers.Layer):
    """Zeroes whole channels at `rate` in training: `[B, h, w, C]`."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = rate, seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        keep = keras.random.uniform(
            (keras.ops.shape(x)[0], 1, 1, keras.ops.shape(x)[-1]),
            seed=self.generator,
        )
        return x * keras.ops.cast(keep >= self.rate, x.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _model(config) -> dict:
    def stage(x, index):
        if index != 3:
            return x
        return ChannelDrop(config.channel_drop_rate, name="channel_drop")(x)

    return {"method": models.BuiltIn(stage=stage)}


METHOD = methods.register(
    methods.Method(
        name="channel_drop",
        task="images",
        summary="toy: drop whole channels of the CAM conv in training",
        built_in=("after the CAM conv",),
        options=(
            methods.Option(
                "channel_drop_rate",
                0.25,
                "Toy: the share of channels dropped.",
                lower=0.0,
                upper=1.0,
                upper_open=True,
            ),
        ),
        search={"channel_drop_rate": {"uniform": [0.0, 0.5]}},
        backbones=("small_gap",),
        check=has.hides_nothing,
        model=_model,
    )
)
