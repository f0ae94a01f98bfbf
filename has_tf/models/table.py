"""The table of image models: one row per classifier, written by the
classifier's own module.

A row (`ImageModel`) says what the apps ask of a model: its builder, the
input side it is usually run at, the pretrained weight formats
`--init_from` takes for it, the layers trained at the head's learning rate
(`--lr_multiplier`), whether methods can build layers into it (the method
places of `has_tf.models.BuiltIn`), whether it hides conv1's maps
(`--conv1_patch_sizes`) and whether it has a large feature map option.
`register` adds a row (each builder module calls it; a user's module, named
with `--plugins`, can too); `get` finds one. `has_tf.models.IMAGE_MODELS`,
`INPUT_SIDES` and `NEW_LAYERS` are read-only views of the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping

__all__ = [
    "ImageModel",
    "WeightsReader",
    "get",
    "names",
    "register",
    "rows",
    "view",
]

_MODELS: dict = {}  # name -> ImageModel, in registration order.


@dataclasses.dataclass(frozen=True)
class WeightsReader:
    """How a model reads pretrained files of its own (timm's DeiT), where
    `models.pretrained` has no rule for it.

    Attributes:
      normalizations: format (`pretrained.FORMATS`) -> `(mean, std)`, the
        inputs the files expect in pixel units, RGB.
      load: `(model, tensors, path) -> (loaded, fresh, dropped)`: sets the
        model's weights from the file's tensors by name; returns the layer
        names set, those left as initialised and the tensors unused on
        purpose; raises `pretrained.WeightsError` naming what does not fit.
    """

    normalizations: Mapping
    load: Callable


@dataclasses.dataclass(frozen=True)
class ImageModel:
    """One image classifier of the table.

    Attributes:
      name: what `--model` names it by.
      build: the builder, `(num_classes, input_shape=..., pooling=...,
        dropout_rate=..., dropout_at_test=..., model_input=...,
        **options) -> keras.Model` from images to float32 logits
        (`common.cam_head`'s layer names, so `cam_model` works on it;
        `model_input` a `common.ModelInput`).
      input_side: the crop side it is usually run at (the benchmark's).
      pretrained: the weight formats (`models.pretrained.FORMATS`) a
        `--init_from` file may be in; () takes none.
      new_layers: name prefixes of the layers it adds to its backbone
        (`--lr_multiplier`'s group).
      method_places: its builder takes `method=` a `BuiltIn` (ADL, ACoL,
        a plugin's layers).
      conv1_hiding: its builder takes a `ModelInput` with
        `conv1_hide_patch_sizes`.
      large_feature_map: its builder takes `large_feature_map`.
      drop_path: its builder takes `drop_path_rate` (a transformer's
        stochastic depth).
      token_hiding: its builder takes a `ModelInput` with
        `token_hide_patch_sizes` (a transformer's patch tokens hidden).
      weights_reader: a `WeightsReader` for a model that reads its own
        pretrained files (None: `models.pretrained`'s rules).
      timm_name: timm's name of the same backbone, which `python -m
        has_tf.bench models` times beside it where PyTorch and timm are
        installed; None: none.
    """

    name: str
    build: Callable
    input_side: int
    pretrained: tuple = ()
    new_layers: tuple = ("cam_conv", "logits")
    method_places: bool = False
    conv1_hiding: bool = False
    large_feature_map: bool = False
    drop_path: bool = False
    token_hiding: bool = False
    weights_reader: WeightsReader | None = None
    timm_name: str | None = None


def register(model: ImageModel) -> ImageModel:
    """Adds `model` to the table; returns it. The same row again is a
    no-op.

    Raises:
      ValueError: not an `ImageModel`, or another row has its name.
    """
    if not isinstance(model, ImageModel):
        raise ValueError(
            f"Expected a has_tf.models.ImageModel. Received: model={model!r}"
        )
    if model.name in _MODELS and _MODELS[model.name] != model:
        raise ValueError(
            f"An image model named {model.name!r} is in the table already; "
            f"give yours another name. Received: model={model!r}"
        )
    _MODELS[model.name] = model
    return model


def names(**having) -> tuple:
    """The models' names, in order; with `having` (e.g.
    `method_places=True`, `pretrained=True`) those whose fields are so (a
    bool asks whether the field is set at all)."""

    def matches(row, key, value):
        field = getattr(row, key)
        return (
            bool(field) == value if isinstance(value, bool) else field == value
        )

    return tuple(
        name
        for name, row in _MODELS.items()
        if all(matches(row, key, value) for key, value in having.items())
    )


def rows() -> list:
    """Every row, in order."""
    return list(_MODELS.values())


def get(name: str) -> ImageModel:
    """The row of `name`.

    Raises:
      ValueError: naming `--model`, the value and the known names.
    """
    if name not in _MODELS:
        raise ValueError(
            f"--model: expected one of {names()} (a model of your own: "
            "--plugins) or a path to a .keras file (has_tf.cam_classifier). "
            f"Received: {name!r}"
        )
    return _MODELS[name]


def view(field: str) -> Mapping:
    """A read-only mapping name -> the rows' `field` that follows the
    table (a model registered later is in it)."""
    return _FieldView(field)


class _FieldView(Mapping):
    """name -> one field of every row, read-only and always current."""

    def __init__(self, field):
        self._field = field

    def __getitem__(self, name):
        if name not in _MODELS:
            raise KeyError(name)
        return getattr(_MODELS[name], self._field)

    def __iter__(self):
        return iter(list(_MODELS))

    def __len__(self):
        return len(_MODELS)

    def __repr__(self):
        return repr(dict(self.items()))
