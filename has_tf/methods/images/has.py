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

__all__ = ["METHOD", "hides", "hides_nothing"]


def hides(config) -> bool:
    """Whether `config` hides patches of the image or of conv1."""
    return bool(config.patch_sizes) or bool(config.conv1_patch_sizes)


def hides_nothing(config) -> None:
    """The check of an image method that hides no patches: `--patch_sizes`
    left at its default (then emptied) or empty, no conv1 hiding.

    Raises:
      ValueError: naming `--method` and the hiding flags.
    """
    default = type(config).__dataclass_fields__["patch_sizes"].default
    if config.conv1_patch_sizes or (
        config.patch_sizes and tuple(config.patch_sizes) != tuple(default)
    ):
        raise ValueError(
            f"--method: {config.method} hides no patches; drop "
            "--patch_sizes / --conv1_patch_sizes (or use --method=has). "
            f"Received: {config.method!r}"
        )
    config.patch_sizes = ()


def _check(config) -> None:
    if not hides(config):
        raise ValueError(
            "--method: has hides patches: set --patch_sizes (or "
            f"--conv1_patch_sizes). Received: {config.method!r}"
        )
    if any(s > config.image_size for s in config.patch_sizes):
        raise ValueError(
            "--patch_sizes: a patch is larger than the crop "
            f"(--image_size={config.image_size}). Received: "
            f"{tuple(config.patch_sizes)!r}"
        )


def _pipeline(config) -> dict:
    on_host = config.hide_on == "host" and config.patch_sizes
    return {
        "patch_sizes": tuple(config.patch_sizes) if on_host else None,
        "hide_prob": config.hide_prob,
    }


def _model(config) -> dict:
    """The model's own hiding (`--hide_on=device`, `--conv1_patch_sizes`)
    as a `ModelInput` without normalisation (the task adds it)."""
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
        input_places=("host", "device", "conv1"),
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
        pipeline=_pipeline,
        model=_model,
    )
)
