"""The plain T-CAM action network: the method's record.

Nothing hidden: the baseline, and `--method=auto`'s choice with
`--segment_size=0`. `--method=cam` with `--segment_size` at its default
turns segment hiding off.
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method

__all__ = ["METHOD"]


def _check(config) -> None:
    default = type(config).__dataclass_fields__["segment_size"].default
    if config.segment_size not in (0, default):
        raise ValueError(
            "--method: cam hides no frame segments; drop --segment_size "
            f"(or use --method=has). Received: {config.method!r}"
        )
    config.segment_size = 0


def _pipeline(config) -> dict:
    return {"segment_size": 0, "hide_prob": config.hide_prob}


METHOD = registry.register(
    Method(
        name="cam",
        task="videos",
        summary="the plain T-CAM network: nothing hidden",
        reference="Nguyen et al. (STPN), CVPR 2018: the T-CAM",
        check=_check,
        pipeline=_pipeline,
    )
)
