"""CutMix (Yun et al., ICCV 2019) as wsolevaluation runs it: the record.

Each training batch, with probability `--cutmix_prob`, gets a box of a
permuted copy of itself pasted in (lambda ~ Beta(`--cutmix_beta`,
`--cutmix_beta`)); the labels become the area-weighted soft pair, trained
with the soft cross-entropy (`augmentation.cutmix`, in the tf.data pipeline on
the host, after crops and flips).
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.base import Option
from has_tf.methods.images import has

__all__ = ["METHOD"]


def _pipeline(config) -> dict:
    return {
        "cutmix_beta": config.cutmix_beta,
        "cutmix_prob": config.cutmix_prob,
    }


METHOD = registry.register(
    Method(
        name="cutmix",
        task="images",
        summary="CutMix: paste a box of another training image",
        changes_input="mix",
        input_places=("host",),
        soft_labels=True,
        losses=("soft_cross_entropy",),
        options=(
            Option(
                "cutmix_beta",
                1.0,
                "CutMix: lambda ~ Beta(beta, beta) per batch "
                "(wsolevaluation's 1.0).",
                lower=0.0,
                lower_open=True,
            ),
            Option(
                "cutmix_prob",
                1.0,
                "CutMix: probability of mixing a batch (wsolevaluation's 1.0).",
                lower=0.0,
                upper=1.0,
            ),
        ),
        search={
            "cutmix_beta": {"log_uniform": [0.1, 10.0]},
            "cutmix_prob": {"uniform": [0.0, 1.0]},
        },
        reference=(
            "Yun et al., ICCV 2019; wsolevaluation's wsol/method/cutmix.py"
        ),
        check=has.hides_nothing,
        pipeline=_pipeline,
    )
)
