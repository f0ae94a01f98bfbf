"""ACoL, adversarial complementary learning (Zhang et al., CVPR 2018), as
wsolevaluation runs it: the method's record.

Two classifier heads in place of the CAM head (`has_tf.models.acol`): the
second sees the features erased where the first head's map of the class is
at least `--acol_threshold`; both heads' cross-entropies are trained. The
model takes `[images, labels]` (the true class in training; at evaluation
each class whose map is asked for). Its CAM is the maximum of the two
heads' min-max normalised maps.
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.base import Option
from has_tf.methods.images import has

__all__ = ["METHOD"]


def _model(config) -> dict:
    # Imported when a model is built (see has_tf.methods.images.adl).
    from has_tf.models import acol

    return {"method": acol.built_in(config.acol_threshold)}


METHOD = registry.register(
    Method(
        name="acol",
        task="images",
        summary="ACoL: a second head on the features the first one erases",
        built_in=("the head",),
        labels_in=True,
        losses=("cross_entropy", "second_head_cross_entropy"),
        cam="the maximum of the two heads' min-max normalised maps",
        options=(
            Option(
                "acol_threshold",
                0.7,
                "ACoL: erase the features where the first head's "
                "normalised map of the class is >= this (wsolevaluation's "
                "0.7).",
                lower=0.0,
                upper=1.0,
            ),
        ),
        search={"acol_threshold": {"uniform": [0.0, 1.0]}},
        reference=(
            "Zhang et al., CVPR 2018; wsolevaluation's wsol/method/acol.py"
        ),
        check=has.hides_nothing,
        model=_model,
    )
)
