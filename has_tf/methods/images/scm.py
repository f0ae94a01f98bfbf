"""SCM, the spatial calibration module (Bai et al., ECCV 2022), as
hbai98/SCM runs it: the method's record.

TS-CAM's network on a DeiT (`--model=deit_tiny|deit_small|deit_base`)
whose training logits come from the semantic maps calibrated by the
class token's attention map diffused over the patch grid
(`has_tf.models.scm.SpatialCalibration`: four encoders, each with two
trained scalars); one cross-entropy. At inference the calibration is
dropped: the logits are the semantic maps' means and the CAM of a class
its map times the min-max normalised attention map. Hide-and-Seek
composes with it as with TS-CAM (`--patch_sizes` in whole tokens,
`--token_patch_sizes`).
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.images import has
from has_tf.methods.images import tscam

__all__ = ["METHOD"]


def _model(config) -> dict:
    # Imported when a model is built (see has_tf.methods.images.tscam).
    from has_tf.models.scm import built_in

    return {"method": built_in(), **has.hiding_model(config)}


METHOD = registry.register(
    Method(
        name="scm",
        task="images",
        summary=(
            "SCM: TS-CAM with the attention map diffused over the patch "
            "grid calibrating its maps in training"
        ),
        built_in=("the head",),
        hiding=True,
        input_places=("host", "device", "tokens"),
        cam=(
            "each class's semantic map times the class token's attention "
            "to the patches (mean over heads, sum over blocks), min-max "
            "normalised"
        ),
        box_rule="cams_deit",
        reads=tscam.hiding_reads,
        backbones=tscam.BACKBONES,
        reference="Bai et al., ECCV 2022; hbai98/SCM (be5bdfa)",
        check=tscam.check,
        pipeline=has.hiding_pipeline,
        model=_model,
    )
)
