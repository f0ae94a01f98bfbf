"""The image task's model assembly: the run's method and model checked
(`resolve`), the classifier built and initialised (`build_model`), its
normalisation; its losses are `training.losses`'."""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
from absl import logging

from has_tf import methods
from has_tf import models
from has_tf.augmentation.layers import PixelNormalization
from has_tf.input_pipeline import dataset_stats
from has_tf.input_pipeline import images as image_pipeline
from has_tf.models import pretrained
from has_tf.tasks.base import fingerprint
from has_tf.tasks.base import load_run
from has_tf.tasks.base import read_run_info
from has_tf.tasks.base import trained_model


def initial_weights(config) -> dict:
    """What `--init_from` names, for `run_info.json` ({} without one).

    A weights file: its path, file name, SHA-256, format and the input
    normalisation it expects (`models.pretrained.describe`); a has_tf run
    directory: its `model.keras`'s SHA-256 and the run's mean and std.

    Raises:
      FileNotFoundError: a run directory without a trained model.
      models.pretrained.WeightsError: a missing or unreadable weights file,
        or one this backbone cannot take.
    """
    path = config.init_from
    if not path:
        return {}
    if os.path.isdir(path):
        model_path = trained_model(path)
        info = read_run_info(path)
        return {
            "run": os.path.abspath(path),
            "file": os.path.basename(model_path),
            "sha256": fingerprint(model_path),
            "format": "has_tf",
            "mean": info["mean"],
            "std": info["std"],
        }
    record = pretrained.describe(path, config.model).record()
    return {"path": os.path.abspath(path), **record}


def normalization(config, builder, init=None) -> dict:
    """Mean and std in pixel units: the dataset's (cached), ImageNet's, or
    those of `--init_from`'s weights (`init`, from `initial_weights`)."""
    if config.normalization == "imagenet":
        return {
            "mean": list(image_pipeline.IMAGENET_MEAN_RGB),
            "std": list(image_pipeline.IMAGENET_STD_RGB),
        }
    if config.normalization == "weights":
        init = init if init is not None else initial_weights(config)
        return {"mean": list(init["mean"]), "std": list(init["std"])}
    moments = dataset_stats.cached_channel_moments(builder, config.train_split)
    return {"mean": moments.mean.tolist(), "std": moments.std.tolist()}


def takes_pixels(model: keras.Model) -> bool:
    """Whether `model` takes uint8 pixels (and normalises them itself, as
    every model the apps build since 0.3), rather than float images
    normalised on the host (has_tf 0.2's runs, float-input model files)."""
    return str(model.inputs[0].dtype) == "uint8"


def _fail(flag: str, message: str, value) -> None:
    raise ValueError(f"--{flag}: {message} Received: {value!r}")


def resolve(config) -> methods.Method:
    """The method of an image run (`methods.resolve`), checked with the
    model against the table of models (`models.table`): a model the table
    names or a `.keras` file, and what the options ask of it (conv1
    hiding, a large feature map, a pretrained weights file, the method's
    places).

    Raises:
      ValueError: naming the flag and the value.
    """
    method = methods.resolve(config, "images")
    row = None
    if config.model in models.IMAGE_MODELS:
        row = models.table.get(config.model)
    elif not config.model.endswith(".keras"):
        models.table.get(config.model)  # Raises, naming the known ones.
    elif not os.path.isfile(config.model):
        _fail("model", "no such model file.", config.model)
    elif config.hide_on == "device" and config.patch_sizes:
        _fail(
            "hide_on",
            "a model file keeps its own layers: build it with "
            "cam_classifier(..., model_input=ModelInput(hide_patch_sizes="
            "...)) and train with "
            "--patch_sizes= (or hide on the host).",
            config.hide_on,
        )

    def takes(field, flag, value, message):
        """Refuses `value` when the model's row lacks `field`; `message`
        names the models that have it ({having}) and --model ({model})."""
        if value and not (row and getattr(row, field)):
            having = ", ".join(models.table.names(**{field: True}))
            _fail(
                flag, message.format(having=having, model=config.model), value
            )

    takes(
        "conv1_hiding",
        "conv1_patch_sizes",
        config.conv1_patch_sizes,
        "conv1 hiding is built into {having} only (--model={model}).",
    )
    takes(
        "token_hiding",
        "token_patch_sizes",
        config.token_patch_sizes,
        "token hiding is built into {having} only (--model={model}).",
    )
    takes(
        "large_feature_map",
        "large_feature_map",
        config.large_feature_map,
        "only {having} have one (--model={model}).",
    )
    takes(
        "drop_path",
        "drop_path_rate",
        config.drop_path_rate,
        "stochastic depth drops the residual blocks of {having} only "
        "(--model={model}).",
    )
    takes(
        "pretrained",
        "init_from",
        config.init_from if not os.path.isdir(config.init_from) else "",
        "a weights file initialises {having} only (a has_tf run directory "
        "any model; --model={model}).",
    )
    if method.backbones is not None and config.model not in method.backbones:
        _fail(
            "method",
            f"{method.name} goes with {', '.join(method.backbones)} "
            f"(--model={config.model}).",
            method.name,
        )
    takes(
        "method_places",
        "method",
        method.name if method.built_in else "",
        f"{method.name} is built into {{having}} only (--model={{model}}).",
    )
    return method


def build_model(
    config, num_classes: int, run_info: dict, method=None
) -> keras.Model:
    """The classifier `config.model` names, for `num_classes` classes,
    initialised from `config.init_from` when given.

    A has_tf builder's model takes uint8 pixels and normalises them with
    `run_info`'s mean and std in its first op (`input_pixels`, which with
    `--hide_on=device` also hides); a `--model=<file>.keras` takes what
    it was built to take (`takes_pixels`). `method`: the run's
    `has_tf.methods.Method` if resolved already, else `resolve(config)`.
    """
    side = config.image_size
    method = method or resolve(config)
    if config.model not in models.IMAGE_MODELS:
        model = model_file(config.model, num_classes, side)
        _log_own_normalization(model, run_info)
        if config.init_from:
            _initialise(model, config.init_from, config.model)
        return model
    options = method.model(config)
    options["model_input"] = dataclasses.replace(
        options.get("model_input") or models.ModelInput(),
        normalization=(run_info["mean"], run_info["std"]),
    )
    row = models.table.get(config.model)
    if row.large_feature_map:
        options.update(large_feature_map=config.large_feature_map)
    if row.drop_path:
        options.update(drop_path_rate=config.drop_path_rate)
    model = models.IMAGE_MODELS[config.model](
        num_classes,
        input_shape=(side, side, 3),
        pooling=config.pooling,
        dropout_rate=config.dropout_rate,
        dropout_at_test=config.dropout_at_test,
        **options,
    )
    if config.init_from:
        _initialise(model, config.init_from, config.model)
    return model


def model_file(path: str, num_classes: int, side: int) -> keras.Model:
    """The CAM classifier saved at `path` (`--model=<file>.keras`), checked:
    `cam_model` takes it, its classifier has `num_classes` units and its
    input takes `side` x `side` RGB crops."""
    model = keras.saving.load_model(path, compile=False)
    try:
        models.cam_model(model)
    except ValueError as error:
        raise ValueError(
            f"--model={path}: not a CAM classifier ({error}); build it with "
            "has_tf.cam_classifier."
        ) from None
    units = model.get_layer("logits").units
    if units != num_classes:
        raise ValueError(
            f"--model={path}: its classifier has {units} classes, the "
            f"dataset {num_classes}; build it with num_classes={num_classes}."
        )
    shape = tuple(model.inputs[0].shape[1:])
    if (
        len(shape) != 3
        or shape[2] != 3
        or any(d not in (None, side) for d in shape[:2])
    ):
        raise ValueError(
            f"--model={path}: its input is {shape}, the crops are "
            f"({side}, {side}, 3) (--image_size={side})."
        )
    logging.info(
        "--model=%s: %s, %d layers.", path, model.name, len(model.layers)
    )
    return model


def _log_own_normalization(model, run_info):
    """Says so when a model file normalises with other moments than the
    run's (the run's only fill hidden pixels on the host then)."""
    first = [
        layer for layer in model.layers if isinstance(layer, PixelNormalization)
    ]
    if first and (
        not np.allclose(first[0].mean, run_info["mean"])
        or not np.allclose(first[0].std, run_info["std"])
    ):
        logging.warning(
            "The model normalises its pixels with mean %s, std %s; the run "
            "records mean %s, std %s (--normalization), used only as the "
            "fill of pixels hidden on the host.",
            first[0].mean,
            first[0].std,
            run_info["mean"],
            run_info["std"],
        )


def _initialise(model, path, model_name):
    if os.path.isdir(path):
        source, _ = load_run(path)
        loaded, fresh = copy_layers(model, source, path)
    else:
        info = pretrained.load(model, path, model_name)
        loaded, fresh = info.loaded, info.fresh
    logging.info(
        "--init_from=%s: %d layers loaded, %d left as initialised (%s).",
        path,
        len(loaded),
        len(fresh),
        ", ".join(fresh[:6]) + (" ..." if len(fresh) > 6 else ""),
    )


def copy_layers(model, source, source_name: str) -> tuple:
    """Copies every layer of `source` with `model`'s name and shapes.

    What starts a run from another run (`--init_from=<run directory>`):
    e.g. a CUB run from an ILSVRC one, whose classifier (1000 classes)
    does not fit and stays fresh.

    Args:
      model: the model to initialise.
      source: a trained `keras.Model` (a has_tf run's `model.keras`).
      source_name: what to call it in errors.

    Returns:
      `(loaded, fresh)`: the layer names copied and those left as
      initialised.

    Raises:
      pretrained.WeightsError: no layer fits (another architecture).
    """
    theirs = {layer.name: layer for layer in source.layers if layer.weights}
    loaded, fresh = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        other = theirs.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if other is None or [tuple(w.shape) for w in other.weights] != shapes:
            fresh.append(layer.name)
            continue
        layer.set_weights(other.get_weights())
        loaded.append(layer.name)
    if not loaded:
        raise pretrained.WeightsError(
            f"No layer of {source_name} ({source.name}) has the name and "
            f"shapes of a layer of {model.name}: is it another architecture?"
        )
    return tuple(loaded), tuple(fresh)
