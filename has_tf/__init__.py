"""has_tf: Hide-and-Seek (Singh & Lee, ICCV 2017) in TensorFlow 2 / Keras 3.

The public names below load lazily, so `import has_tf.postprocess` or
`import has_tf.metrics` never pulls in TensorFlow. Once Keras is imported
too (before or after), every has_tf object a `.keras` file can name is
registered with it: `keras.saving.load_model` after `import has_tf` loads
any model has_tf saved (`has_tf.registration`).

Apps (`python -m has_tf.<app>`): `train`, `evaluate`, `evaluate_cams`,
`evaluate_detections`, `search`, `seeds`, `table`, `data_service`,
`demo`, `bench`, `datasets`. Packages: `methods` (one module per method),
`config`, `augmentation`, `input_pipeline`, `models`, `tasks`, `training`,
`runs`, `datasets`, `postprocess`, `metrics`, `bench`. Modules:
`vocabulary` (every choice list), `visualize` (pictures), `registration`
(has_tf's Keras objects for `load_model`), `_checks`, `_cli`.
WORKSPACE.md describes the layout.
"""

from __future__ import annotations

import importlib

__version__ = "0.4.0.dev0"

# Public name -> module that defines it.
_EXPORTS = {
    "hide_patches": "has_tf.augmentation.hiding",
    "patch_mask": "has_tf.augmentation.hiding",
    "hide_segments": "has_tf.augmentation.hiding",
    "segment_mask": "has_tf.augmentation.hiding",
    "sample_uniform": "has_tf.augmentation.hiding",
    "ADL": "has_tf.models.adl",
    "AcolHeads": "has_tf.models.acol",
    "CutMix": "has_tf.augmentation.cutmix_layer",
    "HideAndSeekLayer": "has_tf.augmentation.layers",
    "HideSegments": "has_tf.augmentation.layers",
    "PixelNormalization": "has_tf.augmentation.layers",
    "cam_classifier": "has_tf.models",
    "cam_model": "has_tf.models",
    "ModelInput": "has_tf.models",
    "channel_moments": "has_tf.input_pipeline.dataset_stats",
    "Moments": "has_tf.input_pipeline.dataset_stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'has_tf' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)


def _register_with_keras() -> None:
    from has_tf import registration

    registration.install()


_register_with_keras()
