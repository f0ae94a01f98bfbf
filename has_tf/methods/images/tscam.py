"""TS-CAM, token semantic coupled attention maps (Gao et al., ICCV 2021),
as vasgaowei/TS-CAM runs it: the method's record.

On a DeiT (`--model=deit_tiny|deit_small|deit_base`): a 3x3 conv on the
patch-token grid gives one semantic map per class, whose means are the
logits (one cross-entropy); the CAM of a class is its semantic map times
the class token's attention to the patches, averaged over the heads and
summed over the blocks (`has_tf.models.tscam`). Hide-and-Seek composes
with it: `--patch_sizes` (multiples of the 16-pixel tokens) hides grid
cells of whole tokens in training, on the host or the device (left at
its default, nothing is hidden), and `--token_patch_sizes` hides cells of
patch tokens behind a learned mask token.
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.images import has

__all__ = ["BACKBONES", "METHOD", "TOKEN_SIDE", "check", "hiding_reads"]

# The table's DeiTs (`has_tf.models.deit`), the backbones TS-CAM is
# published on, and their token's side in pixels (`deit.PATCH`): hiding
# cells are multiples of it, so each hides whole tokens.
BACKBONES = ("deit_tiny", "deit_small", "deit_base")
TOKEN_SIDE = 16


# The hiding options a method on TS-CAM's head records with it.
hiding_reads = (
    "patch_sizes",
    "hide_prob",
    "hide_on",
    "token_patch_sizes",
    "token_hide_prob",
)


def check(config) -> None:
    """The check of a method on TS-CAM's head (TS-CAM, SCM): average
    pooling, no dropout, Hide-and-Seek's cells of whole tokens if any.

    Raises:
      ValueError: naming the flag and the value.
    """
    if config.pooling != "avg":
        raise ValueError(
            f"--pooling: {config.method}'s logits are its semantic maps' "
            f"means; it has no max pooling. Received: {config.pooling!r}"
        )
    if config.dropout_rate:
        raise ValueError(
            f"--dropout_rate: {config.method}'s head has no dropout (set "
            f"0). Received: {config.dropout_rate!r}"
        )
    has.optional_hiding(config, TOKEN_SIDE)


def _model(config) -> dict:
    # Imported when a model is built, so that the config (which reads this
    # record) does not load TensorFlow.
    from has_tf.models.tscam import built_in

    return {"method": built_in(), **has.hiding_model(config)}


METHOD = registry.register(
    Method(
        name="tscam",
        task="images",
        summary=(
            "TS-CAM: class maps on a DeiT's patch tokens, weighted by the "
            "class token's attention"
        ),
        built_in=("the head",),
        hiding=True,
        input_places=("host", "device", "tokens"),
        cam=(
            "each class's semantic map times the class token's attention "
            "to the patches (mean over heads, sum over blocks)"
        ),
        box_rule="cams_deit",
        reads=hiding_reads,
        backbones=BACKBONES,
        reference="Gao et al., ICCV 2021; vasgaowei/TS-CAM (25aece4)",
        check=check,
        pipeline=has.hiding_pipeline,
        model=_model,
    )
)
