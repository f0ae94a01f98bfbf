"""A training loop for `tf.distribute.MultiWorkerMirroredStrategy`.

Keras 3's `Model.fit` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585: it fails converting a `PerReplica` value), so
`has_tf.train` runs this loop for `--strategy=multi_worker`. It does what
`fit` does for the other strategies: SGD steps on the distributed
dataset (the compiled model's optimizer all-reduces the gradients), the
same loss and accuracy, one checkpoint per interval (a killed run resumes
from the last one, losing at most one interval), a stop with a clear
message on a NaN loss, and TensorBoard scalars. Every worker runs the
same calls (the collectives need all of them); the chief writes into the
model dir, the others into `<model_dir>/worker_<index>/`.
"""

from __future__ import annotations

import math
import os

import tensorflow as tf

from has_tf.training import checkpoints


def is_chief(strategy) -> bool:
    """Whether this worker writes the run's files (task 0 of "worker")."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def worker_dir(strategy, model_dir: str) -> str:
    """Where this worker writes: the model dir, or its own subfolder."""
    if is_chief(strategy):
        return model_dir
    resolver = strategy.cluster_resolver
    return os.path.join(model_dir, f"worker_{resolver.task_id}")


def resume_step(out_dir: str) -> int:
    """The step of this worker's latest checkpoint (`ckpt-<step>`), or 0."""
    latest = tf.train.latest_checkpoint(os.path.join(out_dir, "backup_mw"))
    if not latest:
        return 0
    return int(latest.rsplit("-", 1)[1])


def fit(
    strategy,
    model,
    train_data,
    global_batch_size: int,
    intervals: int,
    interval_steps: int,
    out_dir: str,
    loss_fn,
    callbacks=(),
) -> dict:
    """Trains `model` for `intervals * interval_steps` steps, resumably.

    Args:
      strategy: the MultiWorkerMirroredStrategy the model was built in.
      model: a compiled Keras model (its optimizer is used).
      train_data: a distributed dataset of `(images, labels)` batches.
      global_batch_size: images per step over all replicas.
      intervals, interval_steps: checkpoint after every `interval_steps`.
      out_dir: this worker's directory (`worker_dir`); checkpoints go to
        `out_dir/backup_mw`, scalars to `out_dir/tensorboard/train`.
      loss_fn: `(labels, logits) -> [B]` per-example losses. Accuracy
        compares the top logit with the label (the top label for
        multi-hot `[B, N]` labels).
      callbacks: Keras callbacks; `on_epoch_end` is called after each
        interval (as `fit` calls it), with `self.model` set.

    Returns:
      `{"loss": [...], "accuracy": [...]}`, one entry per interval this
      process ran, and "steps_this_run".

    Raises:
      checkpoints.Diverged: the loss became NaN or infinite (the last good
        checkpoint is kept).
    """
    optimizer = model.optimizer
    # Keras creates the optimizer's slots on first use; build them now so
    # a restored checkpoint finds them.
    with strategy.scope():
        optimizer.build(model.trainable_variables)
    # The hiding layers' seed generators too (`checkpoints.seed_states`).
    seeds = tf.train.Checkpoint(
        **{
            key.replace("/", "_"): v.value
            for key, v in checkpoints.seed_states(model).items()
        }
    )
    checkpoint = tf.train.Checkpoint(
        model=model, optimizer=optimizer, seeds=seeds
    )
    manager = tf.train.CheckpointManager(
        checkpoint, os.path.join(out_dir, "backup_mw"), max_to_keep=2
    )
    if manager.latest_checkpoint:
        checkpoint.restore(
            manager.latest_checkpoint
        ).assert_existing_objects_matched()

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(images, training=True), tf.float32)
            per_example = loss_fn(labels, logits)
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=global_batch_size
            )
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        truth = (
            tf.argmax(labels, -1)
            if labels.shape.rank == 2
            else tf.cast(labels, tf.int64)
        )
        hits = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(logits, -1), truth), tf.float32)
        )
        return loss, hits

    @tf.function
    def run_interval(iterator):
        total = tf.constant(0.0)
        hits = tf.constant(0.0)
        for _ in tf.range(interval_steps):
            images, labels = next(iterator)
            loss, hit = strategy.run(replica_step, args=(images, labels))
            total += strategy.reduce(tf.distribute.ReduceOp.SUM, loss, None)
            hits += strategy.reduce(tf.distribute.ReduceOp.SUM, hit, None)
        return total / interval_steps, hits / (
            interval_steps * global_batch_size
        )

    writer = tf.summary.create_file_writer(
        os.path.join(out_dir, "tensorboard", "train")
    )
    for callback in callbacks:
        callback.set_model(model)
    done = int(optimizer.iterations.numpy()) // interval_steps
    iterator = iter(train_data)
    history = {"loss": [], "accuracy": []}
    for interval in range(done, intervals):
        loss, accuracy = (float(v) for v in run_interval(iterator))
        bad = checkpoints.nonfinite_variables(model)
        if bad or not math.isfinite(loss):
            raise checkpoints.Diverged(
                "The loss or the weights became NaN or infinite "
                f"(non-finite: {bad[:3] or 'the loss'}); training stopped "
                "and this interval was not saved. The last finite "
                f"checkpoint is in {manager.directory}."
            )
        history["loss"].append(loss)
        history["accuracy"].append(accuracy)
        step = int(optimizer.iterations.numpy())
        print(
            f"Interval {interval + 1}/{intervals} (step {step}): "
            f"loss {loss:.4f}, accuracy {accuracy:.4f}",
            flush=True,
        )
        with writer.as_default():
            tf.summary.scalar("epoch_loss", loss, step=step)
            tf.summary.scalar("epoch_accuracy", accuracy, step=step)
        manager.save(checkpoint_number=step)
        for callback in callbacks:
            callback.on_epoch_end(
                interval, {"loss": loss, "accuracy": accuracy}
            )
    history["steps_this_run"] = (intervals - done) * interval_steps
    return history
