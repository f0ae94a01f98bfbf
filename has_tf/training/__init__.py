"""What keeps a training run safe and what it is made of: checkpoints,
the run directory, multi-worker resumption, serving, tf.data service,
atomic files, the optimizer."""
