"""Moved in has_tf 0.3 to `has_tf.metrics.boxes` (this path warns once and is
removed in 0.4)."""

from has_tf import _deprecation

_deprecation.alias_module(__name__, "has_tf.metrics.boxes")
