"""SAT, the spatial-aware token (Wu et al., ICCV 2023), as wpy1999/SAT
runs it: the method's record.

On a DeiT (`--model=deit_tiny|deit_small|deit_base`): a spatial token
joins the tokens; its query masks the attention of the last three blocks
key by key, and the mean of those masks over the patches is the
localization map, the same for every class (`has_tf.models.sat`). The
class comes from TS-CAM's head. Training minimises the cross-entropy plus
the batch area `|mean map - --sat_area|` and the normalisation loss of
the smoothed map. Hide-and-Seek composes with it as with TS-CAM
(`--patch_sizes` in whole tokens, `--token_patch_sizes`).
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.base import Option
from has_tf.methods.images import has
from has_tf.methods.images import tscam

__all__ = ["METHOD"]


def _model(config) -> dict:
    # Imported when a model is built (see has_tf.methods.images.tscam).
    from has_tf.models.sat import built_in

    return {"method": built_in(config.sat_area), **has.hiding_model(config)}


METHOD = registry.register(
    Method(
        name="sat",
        task="images",
        summary=(
            "SAT: a spatial-aware token whose query masks the last "
            "blocks' attention and gives the map"
        ),
        built_in=("the token network", "the head"),
        hiding=True,
        input_places=("host", "device", "tokens"),
        losses=("cross_entropy", "batch_area", "normalization"),
        cam=(
            "the spatial token's masks over the patches (the sigmoid of "
            "its mean attention logits), averaged over the last three "
            "blocks: one map for every class"
        ),
        options=(
            Option(
                "sat_area",
                0.25,
                "SAT: the share of the image the map should cover on "
                "average over a batch (its --area_thr: 0.25 on CUB, 0.35 "
                "on ILSVRC).",
                lower=0.0,
                upper=1.0,
                lower_open=True,
                upper_open=True,
            ),
        ),
        box_rule="sat_evaluator",
        reads=tscam.hiding_reads,
        search={"sat_area": {"uniform": [0.1, 0.6]}},
        backbones=tscam.BACKBONES,
        reference="Wu et al., ICCV 2023; wpy1999/SAT (702290d)",
        check=tscam.check,
        pipeline=has.hiding_pipeline,
        model=_model,
    )
)
