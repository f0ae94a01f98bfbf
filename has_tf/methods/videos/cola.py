"""CoLA, snippet contrastive learning (Zhang et al., CVPR 2021;
`zhang-can/CoLA`): the method's record.

Its own network and objective (`has_tf.models.cola`): a width-3 embedding
of `--units` units (CoLA: 2048; its recipes set it), a ReLU'd class
activation sequence, the video's scores from
each class's top `T / 5` steps, the action loss plus `--cola_snico_weight`
x SniCo on snippets mined from the actionness (easy: top `T /
--cola_r_easy`; hard: the bands between erosions / dilations by
`--cola_small_window` and `--cola_large_window` steps, top `T /
--cola_r_hard`). Evaluation hands its CAS and actionness to
`--postprocess=cola`. Hide-and-Seek composes with it: `--segment_size`
set hides frame segments as `--method=has` does (own_network.check).
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.base import Option
from has_tf.methods.videos import own_network

__all__ = ["METHOD"]


def _network(config, num_classes: int, feature_dim: int):
    # Keras is imported when the network is built, not with the record.
    from has_tf.models import cola

    def build_model():
        return cola.cola_net(
            num_classes,
            feature_dim,
            config.num_steps,
            units=config.units,
            snico_weight=config.cola_snico_weight,
            r_easy=config.cola_r_easy,
            r_hard=config.cola_r_hard,
            small=config.cola_small_window,
            large=config.cola_large_window,
            seed=config.seed,
        )

    return build_model, cola.action_loss


def _check(config) -> None:
    own_network.check(config)
    own_network.check_picks(
        config, ("cola_r_easy", "cola_r_hard"), "snippet to mine"
    )
    if config.cola_small_window >= config.cola_large_window:
        raise ValueError(
            "--cola_small_window: expected below --cola_large_window="
            f"{config.cola_large_window} (the bands between them are the "
            f"hard snippets). Received: {config.cola_small_window!r}"
        )


METHOD = registry.register(
    Method(
        name="cola",
        task="videos",
        summary="CoLA: snippet contrast on mined easy and hard snippets",
        hiding=True,
        losses=("action_bce", "snico"),
        cam="the CAS: ReLU'd class activations of the embeddings",
        options=(
            Option(
                "cola_snico_weight",
                0.01,
                "CoLA: weight of the SniCo loss (core/loss.py: 0.01).",
                lower=0.0,
            ),
            Option(
                "cola_r_easy",
                5,
                "CoLA: easy snippets and the video score's top-k are "
                "num_steps // r_easy steps (R_EASY 5).",
                lower=1,
            ),
            Option(
                "cola_r_hard",
                20,
                "CoLA: hard snippets are num_steps // r_hard steps "
                "(R_HARD 20).",
                lower=1,
            ),
            Option(
                "cola_small_window",
                3,
                "CoLA: m, the smaller erosion / dilation window in steps (3).",
                lower=1,
            ),
            Option(
                "cola_large_window",
                6,
                "CoLA: M, the larger erosion / dilation window in steps (6).",
                lower=1,
            ),
        ),
        reads=("num_steps", "units", "segment_size", "hide_prob"),
        search={"cola_snico_weight": {"log_uniform": [0.001, 0.1]}},
        reference="Zhang et al., CVPR 2021 (zhang-can/CoLA d21f1b5)",
        check=_check,
        pipeline=own_network.pipeline,
        network=_network,
    )
)
