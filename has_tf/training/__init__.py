"""What a training run is made of, beyond the model and its data.

- `checkpoints`: atomic Keras checkpoints per interval (`AtomicBackup`),
  resumption, the final `model.keras`, the non-finite check.
- `multi_worker`: the MultiWorkerMirroredStrategy loop and its resumption.
- `optimizers`: `GroupSGD` (PyTorch's SGD, L2 decay, per-layer rates).
- `losses`: the image task's cross-entropies (sparse and soft labels).
- `serving`: the `saved_model/` export (logits and CAMs or T-CAMs).
- `data_service`: tf.data service (dispatcher, workers, probes).

A run directory's files (atomic writes, the lock, the options check) are
`has_tf.runs`'s: the apps that do not train use them too.
"""
