"""What the video methods with a network of their own (CoLA, ...) share:
the options of the task's network they make moot, refused when set, and
Hide-and-Seek's segment hiding composed with them.

Plain Python: no TensorFlow on import.
"""

from __future__ import annotations

__all__ = ["TEMPORAL_NET_OPTIONS", "check", "check_picks", "pipeline"]

# `models.temporal_net`'s options (and its loss): a method's own network
# has its own pooling, heads and objective (--units, the width of the
# temporal convs, each method reads as its own embedding's).
TEMPORAL_NET_OPTIONS = (
    "temporal_pooling",
    "temporal_loss",
    "temporal_kernel_size",
    "temporal_attention",
    "temporal_background",
    "attention_l1",
    "dropout_rate",
)


def _default(config, name):
    return type(config).__dataclass_fields__[name].default


def check(config) -> None:
    """Refuses the task network's options (set to other than their
    defaults) and settles hiding: `--segment_size` left at its default
    hides nothing (it becomes 0); set, Hide-and-Seek hides segments of
    that size as `--method=has` does, beside the method's own objective.

    Raises:
      ValueError: naming the first such flag and its value.
    """
    for name in TEMPORAL_NET_OPTIONS:
        value = getattr(config, name)
        if value != _default(config, name):
            raise ValueError(
                f"--{name}: an option of the paper's network "
                f"(models.temporal_net); --method={config.method} trains "
                "its own network and objective. Received: "
                f"{value!r}"
            )
    if config.segment_size == _default(config, "segment_size"):
        config.segment_size = 0


def check_picks(config, names, what: str) -> None:
    """Each option of `names` is a divisor r of `--num_steps` whose
    `num_steps // r` steps the method picks; refuses one that picks none.

    Raises:
      ValueError: naming the option, its value and `--num_steps`.
    """
    for name in names:
        if config.num_steps // getattr(config, name) < 1:
            raise ValueError(
                f"--{name}: --num_steps={config.num_steps} gives no "
                f"{what} (k = num_steps // {name} = 0). "
                f"Received: {getattr(config, name)!r}"
            )


def pipeline(config) -> dict:
    """Segment hiding when `check` left `--segment_size` above 0."""
    return {"segment_size": config.segment_size, "hide_prob": config.hide_prob}
