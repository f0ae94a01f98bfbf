"""tf.data service: addresses, the command, training from its workers."""

import json
import socket
import time

import numpy as np
import pytest
import tensorflow as tf

from has_tf.config import TrainConfig
from has_tf.input_pipeline import images as image_pipeline
from has_tf.training import data_service
from tests import app_server

service = tf.data.experimental.service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """A dispatcher and two workers in this process, on loopback."""
    dispatcher = data_service.serve("dispatcher")
    workers = [
        data_service.serve("worker", dispatcher=dispatcher.target)
        for _ in range(2)
    ]
    yield dispatcher, workers
    for server in (*workers, dispatcher):
        server._stop()


@pytest.fixture(scope="module")
def command_cluster():
    """`python -m has_tf.data_service`: a dispatcher and a worker (the
    in-process `cluster` shows two workers sharing the elements)."""
    port = _free_port()
    address = f"grpc://localhost:{port}"
    command = ["-m", "has_tf.data_service"]
    servers = [
        app_server.start([*command, "--role=dispatcher", f"--port={port}"])
    ]
    try:
        data_service.wait_for_dispatcher(address, timeout_s=60)
        servers.append(
            app_server.start(
                [*command, "--role=worker", f"--dispatcher={address}"]
            )
        )
        yield address, servers
    finally:
        for server in servers:
            server.kill()
            server.wait()


@pytest.mark.parametrize(
    "address",
    ["localhost:5050", "grpc://localhost", "http://h:1", "grpc://h:99999", ""],
)
def test_malformed_addresses_are_named(address):
    with pytest.raises(ValueError, match="--data_service=") as error:
        data_service.parse_address(address)
    assert repr(address) in str(error.value)


def test_the_flag_is_checked_with_the_config(tmp_path):
    with pytest.raises(ValueError, match="grpc://host:port"):
        TrainConfig(model_dir=str(tmp_path), data_service="localhost:5050")


def test_no_dispatcher_is_an_error_naming_the_address():
    address = f"grpc://localhost:{_free_port()}"
    with pytest.raises(ConnectionError, match=address):
        data_service.wait_for_dispatcher(address, timeout_s=1.0)


def test_a_worker_needs_a_valid_dispatcher():
    with pytest.raises(ValueError, match="--dispatcher="):
        data_service.serve("worker", dispatcher="localhost:1")


def test_both_workers_serve_every_element_once(cluster):
    dispatcher, workers = cluster
    elements = data_service.distribute(
        tf.data.Dataset.range(40), dispatcher.target
    )
    assert sorted(int(x) for x in elements) == list(range(40))
    assert all(worker._num_tasks() > 0 for worker in workers)


def test_training_takes_its_batches_from_the_workers(command_cluster, tmp_path):
    # The trainer is a process of its own, as on a real cluster. With
    # --data_service it has no local pipeline: every batch comes from the
    # worker (the in-process cluster above shows two take part).
    address, servers = command_cluster
    run = tmp_path / "run"
    done = app_server.run(
        [
            "-m",
            "has_tf.train",
            "--dataset=synthetic_parts/tiny",
            f"--data_dir={tmp_path / 'data'}",
            f"--model_dir={run}",
            "--model=small_gap",
            "--image_size=24",
            "--resize_size=28",
            "--patch_sizes=0,8",
            "--batch_size=4",
            "--epochs=1",
            "--steps_per_epoch=3",
            "--tensorboard_images=0",
            f"--data_service={address}",
        ]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"]).all()
    assert all(server.poll() is None for server in servers)


def test_unseeded_pipelines_differ_between_runs():
    # Seeded, every run of the graph (each service worker) crops and hides
    # alike; unseeded (the service's), each run draws its own.
    pixels = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3))
    source = tf.data.Dataset.from_tensor_slices(
        {"image": pixels.astype(np.uint8), "label": np.zeros(8, np.int64)}
    )

    def two_runs(seed):
        pipeline = image_pipeline.train_pipeline(
            source,
            batch_size=4,
            augmentation=image_pipeline.ImageAugmentation(
                image_size=24,
                resize_size=32,
                patch_sizes=(4,),  # 36 cells: masks alike by chance: never.
            ),
            seed=seed,
            shuffle_buffer=0,
            repeat=False,
        )
        return [np.concatenate([x.numpy() for x, _ in pipeline]) for _ in "ab"]

    first, second = two_runs(seed=0)
    np.testing.assert_array_equal(first, second)
    first, second = two_runs(seed=None)
    assert all((a != b).any() for a, b in zip(first, second))


def test_the_command_starts_a_working_cluster(command_cluster):
    address, servers = command_cluster
    elements = data_service.distribute(
        tf.data.Dataset.range(30).map(lambda x: x * 2), address
    )
    assert sorted(int(x) for x in elements) == list(range(0, 60, 2))
    assert all(server.poll() is None for server in servers)


@pytest.mark.slow
def test_the_probe_gets_an_element_from_a_working_service(cluster):
    dispatcher, _ = cluster
    data_service.probe(dispatcher.target, timeout_s=120)


@pytest.mark.slow
# The probe's child imports TensorFlow (~6 s here) before it asks: a
# timeout much shorter than 10 s would fail whatever listens.
def test_a_dispatcher_without_workers_fails_the_probe_naming_it():
    lonely = data_service.serve("dispatcher")
    try:
        with pytest.raises(ConnectionError, match="no worker") as raised:
            data_service.probe(lonely.target, timeout_s=10)
        assert lonely.target in str(raised.value)
    finally:
        lonely._stop()


@pytest.mark.slow
def test_a_port_that_is_no_dispatcher_fails_the_probe():
    """Something else listens there (accepts, never answers gRPC)."""
    with socket.socket() as listener:
        listener.bind(("localhost", 0))
        listener.listen()
        address = f"grpc://localhost:{listener.getsockname()[1]}"
        data_service.wait_for_dispatcher(address, timeout_s=5)  # Passes.
        with pytest.raises(ConnectionError, match=address):
            data_service.probe(address, timeout_s=10)


def test_a_stall_ends_the_process_naming_what_died(capsys):
    """No batch for `timeout_s`: the watch says whether the dispatcher
    still answers and ends the process (here a recorded call)."""
    exits = []
    nobody = f"grpc://localhost:{_free_port()}"
    watch = data_service.StallWatch(nobody, timeout_s=0.3, exit=exits.append)
    watch.on_train_batch_end(0)
    watch._thread.join(timeout=10)
    assert exits == [1]
    err = capsys.readouterr().err
    assert (
        f"No batch from the tf.data service at --data_service={nobody}" in err
    )
    assert "no longer answers" in err and "resumes the run" in err
    with socket.socket() as listening:
        listening.bind(("localhost", 0))
        listening.listen()
        address = f"grpc://localhost:{listening.getsockname()[1]}"
        assert "still answers, so no worker delivers" in (
            data_service.stall_message(address, 5)
        )
    # Batches that keep coming keep it quiet; the end of training stops it.
    exits.clear()
    watch = data_service.StallWatch(nobody, timeout_s=0.5, exit=exits.append)
    for batch in range(8):
        watch.on_train_batch_end(batch)
        time.sleep(0.1)
    watch.on_train_end()
    watch._thread.join(timeout=10)
    assert exits == []


def test_a_bad_timeout_is_named(monkeypatch):
    monkeypatch.setenv("HAS_TF_DATA_SERVICE_TIMEOUT_S", "soon")
    with pytest.raises(
        ValueError, match="HAS_TF_DATA_SERVICE_TIMEOUT_S.*'soon'"
    ):
        data_service.StallWatch("grpc://localhost:5050")


@pytest.mark.slow
def test_training_stops_when_its_only_worker_dies(tmp_path):
    """The audit's hang: the trainer waited without a word for ever."""
    port = _free_port()
    address = f"grpc://localhost:{port}"
    command = ["-m", "has_tf.data_service"]
    dispatcher = app_server.start(
        [*command, "--role=dispatcher", f"--port={port}"]
    )
    servers = [dispatcher]
    try:
        data_service.wait_for_dispatcher(address, timeout_s=60)
        worker = app_server.start(
            [*command, "--role=worker", f"--dispatcher={address}"]
        )
        servers.append(worker)
        run = tmp_path / "run"
        trainer = app_server.start(
            [
                "-m",
                "has_tf.train",
                "--dataset=synthetic_parts/tiny",
                f"--data_dir={tmp_path / 'data'}",
                f"--model_dir={run}",
                "--image_size=24",
                "--resize_size=28",
                "--patch_sizes=",
                "--batch_size=2",
                "--epochs=1",
                "--steps_per_epoch=100000",
                "--checkpoint_steps=5",
                "--tensorboard_images=0",
                f"--data_service={address}",
            ],
            env={"HAS_TF_DATA_SERVICE_TIMEOUT_S": "3"},
        )
        servers.append(trainer)
        deadline = time.time() + 120
        while not list((run / "backup").glob("ckpt-*")):
            assert trainer.poll() is None, trainer.stderr[-2000:]
            assert time.time() < deadline
            time.sleep(0.2)
        worker.kill()
        worker.wait()
        assert trainer.wait(timeout=120) == 1
        assert "still answers, so no worker delivers" in trainer.stderr
        assert list((run / "backup").glob("ckpt-*"))  # Kept for a restart.
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
                server.wait()
