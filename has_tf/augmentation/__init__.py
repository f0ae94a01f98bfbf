"""Augmentation: what a method does to the training input, as ops and
Keras layers.

- `hiding`: Hide-and-Seek's masks as pure TensorFlow ops (image patches,
  feature-map cells, frame segments; tf.data and XLA);
- `hiding_ops`: the same masks in `keras.ops` (the layers' path under JAX
  and PyTorch);
- `cutmix`: CutMix as wsolevaluation runs it, a stateless TensorFlow
  batch op (tf.data);
- `cutmix_ops`: its rule in `keras.ops` (any backend);
- `layers`: `HideAndSeekLayer`, `HideSegments`, `PixelNormalization` (a
  model's first op on uint8 pixels), `CutMix`.

The package exports its modules, not their names (`has_tf` exports the
layers and ops themselves).
"""
