"""ADL, attention-based dropout (Choe & Shim, CVPR 2019), as
wsolevaluation runs it: the method's record.

Parameter-free `ADL` layers at the backbone's three method places
(`has_tf.models.adl`, `has_tf.models.BuiltIn.stage`): in training each
pass drops the most attended pixels (probability `--adl_drop_rate`, at
`--adl_threshold` of the maximum) or weights the maps by their importance;
the identity at inference.
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.base import Option
from has_tf.methods.images import has

__all__ = ["METHOD"]


def _model(config) -> dict:
    # The layers load TensorFlow under its backend: imported when a model
    # is built, so that the config (which reads this record) does not.
    from has_tf.models import adl

    return {"method": adl.built_in(config.adl_drop_rate, config.adl_threshold)}


METHOD = registry.register(
    Method(
        name="adl",
        task="images",
        summary="ADL: drop the most attended features in training",
        built_in=("the backbone's three method places",),
        options=(
            Option(
                "adl_drop_rate",
                0.75,
                "ADL: probability of the drop mask per forward pass (else "
                "the importance map; wsolevaluation's 0.75).",
                lower=0.0,
                upper=1.0,
            ),
            Option(
                "adl_threshold",
                0.9,
                "ADL: gamma, the drop mask's share of the attention's "
                "maximum (wsolevaluation's 0.9).",
                lower=0.0,
                upper=1.0,
            ),
        ),
        search={
            "adl_drop_rate": {"uniform": [0.0, 1.0]},
            "adl_threshold": {"uniform": [0.0, 1.0]},
        },
        reference=(
            "Choe & Shim, CVPR 2019; wsolevaluation's wsol/method/adl.py"
        ),
        check=has.hides_nothing,
        model=_model,
    )
)
