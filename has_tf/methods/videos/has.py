"""Hide-and-Seek on videos (Singh & Lee, ICCV 2017): the method's record.

Each training video, resampled to `--num_steps` steps, is cut into
segments of `--segment_size` steps and each segment is hidden with
probability `--hide_prob` (the training features' mean as fill), per
epoch in the tf.data pipeline. `--method=auto` picks it when
`--segment_size` is above 0.
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method

__all__ = ["METHOD", "hides"]


def hides(config) -> bool:
    """Whether `config` hides frame segments."""
    return config.segment_size > 0


def _check(config) -> None:
    if not hides(config):
        raise ValueError(
            "--method: has hides frame segments: set --segment_size above "
            f"0. Received: {config.method!r}"
        )


def _pipeline(config) -> dict:
    return {"segment_size": config.segment_size, "hide_prob": config.hide_prob}


METHOD = registry.register(
    Method(
        name="has",
        task="videos",
        summary="Hide-and-Seek: hide random segments of training videos",
        changes_input="hide",
        input_places=("host",),
        reads=("segment_size", "hide_prob"),
        reference="Singh & Lee, ICCV 2017 (krsingh/hide-and-seek)",
        chosen_by_auto=hides,
        check=_check,
        pipeline=_pipeline,
    )
)
