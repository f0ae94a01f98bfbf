"""Hide-and-Seek on images (Singh & Lee, ICCV 2017): the method's record.

Training images are cut into a grid of `--patch_sizes` cells (one size
drawn per image) and each cell is hidden with probability `--hide_prob`
(the dataset's mean as fill): on the host in the tf.data pipeline, or on
the device as the model's first op (`--hide_on`), and optionally on
conv1's feature maps (`--conv1_patch_sizes`, the paper's ablation).
Evaluation sees whole images. `--method=auto` picks it when anything is
hidden.
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method

__all__ = [
    "METHOD",
    "hides",
    "hides_nothing",
    "hiding_model",
    "hiding_pipeline",
    "optional_hiding",
]


def hides(config) -> bool:
    """Whether `config` hides patches of the image, of conv1 or of a
    transformer's tokens."""
    return (
        bool(config.patch_sizes)
        or bool(config.conv1_patch_sizes)
        or bool(config.token_patch_sizes)
    )


def _default_patch_sizes(config) -> tuple:
    """`--patch_sizes`' default, which a method that hides nothing (or
    hides only when asked) reads as "not given"."""
    return tuple(type(config).__dataclass_fields__["patch_sizes"].default)


def hides_nothing(config) -> None:
    """The check of an image method that hides no patches: `--patch_sizes`
    left at its default (then emptied) or empty, no conv1 hiding.

    Raises:
      ValueError: naming `--method` and the hiding flags.
    """
    if (
        config.conv1_patch_sizes
        or config.token_patch_sizes
        or (
            config.patch_sizes
            and tuple(config.patch_sizes) != _default_patch_sizes(config)
        )
    ):
        raise ValueError(
            f"--method: {config.method} hides no patches; drop "
            "--patch_sizes / --conv1_patch_sizes / --token_patch_sizes (or "
            f"use --method=has). Received: {config.method!r}"
        )
    config.patch_sizes = ()


def optional_hiding(config, multiple: int = 1) -> None:
    """The check of a method Hide-and-Seek composes with (`Method.hiding`):
    `--patch_sizes` left at its default hides nothing (it is emptied);
    set, it is checked as `--method=has` checks it, and each size must be
    a multiple of `multiple` (a transformer's token side, so that every
    cell hides whole tokens).

    Raises:
      ValueError: naming the flag and the value.
    """
    if tuple(config.patch_sizes) == _default_patch_sizes(config):
        config.patch_sizes = ()
    if not hides(config):
        return
    _check(config)
    off = [s for s in config.patch_sizes if s % multiple]
    if off:
        raise ValueError(
            f"--patch_sizes: --method={config.method} hides whole "
            f"{multiple}-pixel tokens, so each size must be a multiple of "
            f"{multiple} (0 hides nothing). Received: "
            f"{tuple(config.patch_sizes)!r}"
        )


def _check(config) -> None:
    if not hides(config):
        raise ValueError(
            "--method: has hides patches: set --patch_sizes (or "
            "--conv1_patch_sizes, --token_patch_sizes). Received: "
            f"{config.method!r}"
        )
    if any(s > config.image_size for s in config.patch_sizes):
        raise ValueError(
            "--patch_sizes: a patch is larger than the crop "
            f"(--image_size={config.image_size}). Received: "
            f"{tuple(config.patch_sizes)!r}"
        )


def hiding_pipeline(config) -> dict:
    """`Method.pipeline` of Hide-and-Seek: the host's hiding, if any."""
    on_host = config.hide_on == "host" and config.patch_sizes
    return {
        "patch_sizes": tuple(config.patch_sizes) if on_host else None,
        "hide_prob": config.hide_prob,
    }


def hiding_model(config) -> dict:
    """The model's own hiding (`--hide_on=device`, `--conv1_patch_sizes`,
    `--token_patch_sizes`) as a `ModelInput` without normalisation (the
    task adds it)."""
    hiding = {}
    if config.hide_on == "device" and config.patch_sizes:
        hiding.update(
            hide_patch_sizes=tuple(config.patch_sizes),
            hide_prob=config.hide_prob,
        )
    if config.conv1_patch_sizes:
        hiding.update(
            conv1_hide_patch_sizes=tuple(config.conv1_patch_sizes),
            conv1_hide_prob=config.conv1_hide_prob,
        )
    if config.token_patch_sizes:
        hiding.update(
            token_hide_patch_sizes=tuple(config.token_patch_sizes),
            token_hide_prob=config.token_hide_prob,
        )
    if not hiding:
        return {}
    # Imported when a model is built, so that the config (which reads this
    # record) does not load TensorFlow.
    from has_tf import models

    return {"model_input": models.ModelInput(**hiding)}


METHOD = registry.register(
    Method(
        name="has",
        task="images",
        summary="Hide-and-Seek: hide random patches of training images",
        changes_input="hide",
        input_places=("host", "device", "conv1", "tokens"),
        reads=("patch_sizes", "hide_prob", "hide_on"),
        search={
            "patch_sizes": {
                "choice": [[14], [28], [56], [112], [0, 16, 32, 44, 56]]
            },
            "hide_prob": {"uniform": [0.25, 0.75]},
        },
        reference="Singh & Lee, ICCV 2017 (krsingh/hide-and-seek)",
        chosen_by_auto=hides,
        check=_check,
        pipeline=hiding_pipeline,
        model=hiding_model,
    )
)
