"""AICL, action-background contrast of consistent and inconsistent
snippets (Li et al., AAAI 2023; `lizhilin-ustc/AAAI2023-AICL`): the
method's record.

Its own network and objective (`has_tf.models.aicl`): an embedding of
`--units` units (AICL: 512; its recipes set it) and a class head on all
features, an embedding and an actionness head on each of the RGB and
flow halves, the video's logits from the CAS at each class's top `T /
--aicl_top_divisor` steps of the combined CAS; the base cross-entropy,
the streams' GCE (q `--aicl_q`) on a pseudo target of the labelled
classes' top steps, the streams' and the two actionness' consistency,
and the contrast of snippets mined where the two actionness agree and
disagree (`T / --aicl_r_mine` of each). The model takes the labels as a
second input in training (the pseudo target needs them). Evaluation
hands its combined CAS to `--postprocess=aicl`. Hide-and-Seek composes
with it: `--segment_size` set hides frame segments as `--method=has`
does (own_network.check).
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.base import Option
from has_tf.methods.videos import own_network

__all__ = ["METHOD"]


def _network(config, num_classes: int, feature_dim: int):
    # Keras is imported when the network is built, not with the record.
    from has_tf.models import aicl

    def build_model():
        return aicl.aicl_net(
            num_classes,
            feature_dim,
            config.num_steps,
            units=config.units,
            q=config.aicl_q,
            top_divisor=config.aicl_top_divisor,
            r_mine=config.aicl_r_mine,
        )

    return build_model, aicl.base_loss


def _check(config) -> None:
    own_network.check(config)
    own_network.check_picks(
        config, ("aicl_top_divisor", "aicl_r_mine"), "step to pick"
    )


def _pipeline(config) -> dict:
    # The labels are the network's second input (its pseudo target).
    return {**own_network.pipeline(config), "labels_as_input": True}


METHOD = registry.register(
    Method(
        name="aicl",
        task="videos",
        summary="AICL: contrast of consistent and inconsistent snippets "
        "of two actionness, two streams' GCE on a pseudo target",
        hiding=True,
        losses=(
            "base_ce",
            "stream_gce",
            "modality_mse",
            "contrast",
            "actionness_mse",
        ),
        cam="the combined CAS: softmax(CAS) and both streams' actionness",
        options=(
            Option(
                "aicl_q",
                0.7,
                "AICL: q of the streams' generalized cross-entropy "
                "(--q_val 0.7).",
                lower=0.0,
                lower_open=True,
                upper=1.0,
            ),
            Option(
                "aicl_top_divisor",
                8,
                "AICL: the video scores and the pseudo target take each "
                "class's num_steps // top_divisor top steps (8).",
                lower=1,
            ),
            Option(
                "aicl_r_mine",
                20,
                "AICL: consistent and inconsistent snippets are "
                "num_steps // r_mine steps each (r_C = r_I = 20).",
                lower=1,
            ),
        ),
        reads=("num_steps", "units", "segment_size", "hide_prob"),
        search={"aicl_q": {"uniform": [0.3, 1.0]}},
        reference="Li et al., AAAI 2023 (lizhilin-ustc/AAAI2023-AICL 2d0ec13)",
        check=_check,
        pipeline=_pipeline,
        network=_network,
    )
)
