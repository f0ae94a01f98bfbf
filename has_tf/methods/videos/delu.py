"""DELU, dual evidential learning with uncertainty modelling (Chen et
al., ECCV 2022; `MengyuanChen21/ECCV2022-DELU`): the method's record.

Its own network and objective (`has_tf.models.delu`): CO2-Net's
two-stream attention network (the attentions' hidden width `--units`,
DELU's 512: its recipes set it), the evidential loss of the attended
top steps (`--delu_edl`: log on THUMOS14, mse on ActivityNet), the
uncertainty-guided loss on a progressive curve over the run's
iterations, both MIL losses, the co-activity contrast of the batch's
`--delu_similar_pairs` pairs of videos sharing a class (the pipeline
opens each batch with them), mutual, norm and guide terms; on
ActivityNet its maps averaged over `--delu_smoothing` steps. The model
takes the labels as a second input in training. Evaluation hands its
CAS, attention and background to `--postprocess=delu`. Hide-and-Seek
composes with it: `--segment_size` set hides frame segments as
`--method=has` does (own_network.check).
"""

from __future__ import annotations

from has_tf import vocabulary
from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.base import Option
from has_tf.methods.videos import own_network

__all__ = ["METHOD"]

# Option -> DeluObjective's argument.
_OBJECTIVE = {
    "delu_edl": "edl",
    "delu_alpha_edl": "alpha_edl",
    "delu_alpha_uct": "alpha_uct",
    "delu_amplitude": "amplitude",
    "delu_alpha_norm": "alpha1",
    "delu_alpha_guide": "alpha2",
    "delu_alpha_contrast": "alpha3",
    "delu_alpha_mutual": "alpha4",
    "delu_rat_atn": "rat_atn",
    "delu_k": "k",
    "delu_similar_pairs": "pairs",
}


def _network(config, num_classes: int, feature_dim: int):
    # Keras is imported when the network is built, not with the record.
    from has_tf.models import delu

    def build_model():
        return delu.delu_net(
            num_classes,
            feature_dim,
            config.num_steps,
            config.epochs * config.steps_per_epoch,
            units=config.units,
            smoothing=config.delu_smoothing,
            seed=config.seed,
            **{arg: getattr(config, name) for name, arg in _OBJECTIVE.items()},
        )

    # The network adds its whole objective (`DeluObjective`).
    return build_model, None


def _check(config) -> None:
    own_network.check(config)
    if not config.steps_per_epoch:
        raise ValueError(
            "--steps_per_epoch: DELU's progressive curve runs over the "
            "run's iterations (--epochs x --steps_per_epoch); set it. "
            f"Received: {config.steps_per_epoch!r}"
        )
    own_network.check_picks(config, ("delu_rat_atn", "delu_k"), "step to pick")
    if config.batch_size < 2 * config.delu_similar_pairs:
        raise ValueError(
            "--batch_size: expected at least 2 x --delu_similar_pairs = "
            f"{2 * config.delu_similar_pairs} videos. Received: "
            f"{config.batch_size!r}"
        )
    if config.delu_smoothing and config.delu_smoothing % 2 == 0:
        raise ValueError(
            "--delu_smoothing: expected 0 or an odd window (DELU_ACT's "
            f"(max_seqlen // t) // 2 x 2 + 1). Received: "
            f"{config.delu_smoothing!r}"
        )


def _pipeline(config) -> dict:
    # The labels are an input (its objective); batches open with pairs.
    return {
        **own_network.pipeline(config),
        "labels_as_input": True,
        "similar_pairs": config.delu_similar_pairs,
    }


def _weight(name, default, what):
    return Option(name, default, f"DELU: {what}", lower=0.0)


METHOD = registry.register(
    Method(
        name="delu",
        task="videos",
        summary="DELU: evidential learning with an uncertainty-guided "
        "progressive curve, on CO2-Net's two-stream attention",
        hiding=True,
        losses=(
            "edl",
            "uct_guide",
            "mil_orig",
            "mil_supp",
            "co_activity",
            "mutual",
            "norm",
            "guide",
        ),
        cam="the CAS of the N classes; attention and background beside it",
        options=(
            Option(
                "delu_edl",
                "log",
                "DELU: the evidential loss, log (exp evidence; THUMOS14) or "
                "mse (ReLU evidence; ActivityNet's DELU_ACT).",
                choices=vocabulary.DELU_EDL_LOSSES,
            ),
            _weight("delu_alpha_edl", 1.3, "the evidential loss's weight."),
            _weight("delu_alpha_uct", 0.4, "the uncertainty guide's weight."),
            _weight("delu_amplitude", 0.7, "the progress curve's amplitude."),
            _weight("delu_alpha_norm", 0.8, "alpha1, the attention norms'."),
            _weight("delu_alpha_guide", 0.4, "alpha2, the guide losses'."),
            _weight("delu_alpha_contrast", 1.0, "alpha3, the co-activity's."),
            _weight("delu_alpha_mutual", 1.0, "alpha4, the mutual loss's."),
            Option(
                "delu_rat_atn",
                9,
                "DELU: the evidential loss's num_steps // rat_atn top "
                "steps by attention (9; ActivityNet 5).",
                lower=1,
            ),
            Option(
                "delu_k",
                7,
                "DELU: the MIL losses' num_steps // k top steps (7; "
                "ActivityNet 5).",
                lower=1,
            ),
            Option(
                "delu_similar_pairs",
                3,
                "DELU: each batch opens with this many pairs of videos "
                "sharing a class, the co-activity's (3).",
                lower=1,
            ),
            Option(
                "delu_smoothing",
                0,
                "DELU: 0, or ActivityNet's window (odd) averaging the CAS "
                "and attentions (DELU_ACT; its recipe: 13).",
                lower=0,
            ),
        ),
        reads=(
            "num_steps",
            "units",
            "epochs",
            "steps_per_epoch",
            "batch_size",
            "segment_size",
            "hide_prob",
        ),
        search={"delu_alpha_uct": {"uniform": [0.0, 1.0]}},
        reference="Chen et al., ECCV 2022 "
        "(MengyuanChen21/ECCV2022-DELU a60e46d)",
        check=_check,
        pipeline=_pipeline,
        network=_network,
    )
)
