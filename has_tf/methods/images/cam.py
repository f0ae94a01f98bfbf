"""The plain CAM classifier (Zhou et al., CVPR 2016): the method's record.

Nothing hidden or mixed, nothing built in: the baseline every WSOL table
starts from, and `--method=auto`'s choice when nothing is hidden.
"""

from __future__ import annotations

from has_tf.methods import registry
from has_tf.methods.base import Method
from has_tf.methods.images import has

__all__ = ["METHOD"]

METHOD = registry.register(
    Method(
        name="cam",
        task="images",
        summary="the plain CAM classifier: nothing hidden",
        reference="Zhou et al., CVPR 2016",
        check=has.hides_nothing,
    )
)
