"""--strategy=multi_worker: two worker processes on loopback train the
same synchronous steps, write chief and worker dirs, and resume."""

import json
import os
import socket

import keras
import numpy as np
import pytest

import has_tf.datasets
from tests import app_server

MULTI_WORKER = """
import json, sys
from has_tf import train
record = train.train(train.TrainConfig(
    model_dir=sys.argv[1], data_dir=sys.argv[2], strategy="multi_worker",
    epochs=int(sys.argv[3]), steps_per_epoch=2, dataset="synthetic_parts/tiny",
    image_size=28, resize_size=32, patch_sizes=(0, 8), batch_size=4,
    tensorboard_images=2))
print("RECORD", json.dumps(record))
"""


def _free_ports(count):

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_strategy_with_two_processes(tmp_path):

    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    has_tf.datasets.load("synthetic_parts/tiny", "train", data)  # Build once.
    records = _run_two_workers(run, data, epochs=2)
    for record in records:
        assert record["steps_done"] == 4 and len(record["loss"]) == 2
        assert all(np.isfinite(record["loss"]))
    # Both workers took the same synchronous steps: identical losses and
    # weights. The chief writes into the model dir, worker 1 beside it.
    assert records[0]["loss"] == records[1]["loss"]

    chief = keras.models.load_model(os.path.join(run, "model.keras"))
    other = keras.models.load_model(
        os.path.join(run, "worker_1", "model.keras")
    )
    for a, b in zip(chief.trainable_weights, other.trainable_weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert os.listdir(os.path.join(run, "tensorboard", "cams"))
    assert os.listdir(os.path.join(run, "backup_mw"))
    # Started again, the workers resume from their checkpoints (at the
    # end: no step left) and keep the recorded history.
    for record in _run_two_workers(run, data, epochs=2):
        assert record["steps_done"] == 4 and record["steps_this_run"] == 0
        assert len(record["loss"]) == 2


def _run_two_workers(run, data, epochs):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    procs = []
    for index in range(2):
        tf_config = {
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }
        env = {
            "PYTHONPATH": os.getcwd(),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TF_CONFIG": json.dumps(tf_config),
        }
        procs.append(
            app_server.start(
                ["-c", MULTI_WORKER, run, data, str(epochs)], env=env
            )
        )
    for p in procs:
        p.wait(600)
    for p in procs:
        assert p.returncode == 0, p.stderr[-3000:]
    return [json.loads(p.stdout.split("RECORD", 1)[1]) for p in procs]
