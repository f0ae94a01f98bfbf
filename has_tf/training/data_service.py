"""tf.data service: run the input pipeline on other machines' CPUs.

When one host's cores cannot feed its accelerators (README, "Input
pipeline speed"), TensorFlow's tf.data service moves the pipeline to a
cluster: a dispatcher hands the pipeline's graph to workers, each worker
runs it and streams batches to the trainer. Start the cluster with

  python -m has_tf.data_service --role=dispatcher --port=5050
  python -m has_tf.data_service --role=worker \\
      --dispatcher=grpc://HOST:5050 --port=5051   # one per worker machine

and train with `--data_service=grpc://HOST:5050`. Workers read the
dataset themselves: `--data_dir` must name the same files on every worker
(a shared filesystem or bucket).

Sharding and what it means (the policy is `ShardingPolicy.DYNAMIC`): the
dispatcher hands the split's files to the workers one at a time as they
ask, so in each pass over the data every example goes to exactly one
worker; each worker shuffles, crops, hides and batches what it gets, and
the trainer takes batches from whichever worker has one ready.
- An epoch is still a count of steps (`num_examples / batch_size`), and
  over a pass of the data each example is used once, as locally; but the
  order, and which examples share a batch, depend on the workers' timing.
- has_tf's local pipelines draw every crop and mask from `--seed` and the
  position in the stream; tf.data service splits only the examples, so
  that stream would repeat on every worker. Under the service the
  pipelines draw them instead from a per-example seed made of the clock
  (microseconds) and the position (`TrainConfig.pipeline_seed` is None).
- So a run is not repeatable, and a resumed run restores the model, the
  optimizer and the step exactly but continues with fresh input streams
  (`start_batch` does not apply). Runs that must repeat bit for bit use
  the local pipeline (`--deterministic` alone).
- Image datasets only: the video pipeline caches its resampled features,
  which dynamic sharding cannot split.

`--data_service` is checked before training: it must read
`grpc://host:port`, and a dispatcher must accept a connection there within
`DISPATCHER_TIMEOUT_S` seconds. During training, `StallWatch` ends the
process (exit status 1, naming the address and whether the dispatcher
still answers) when no batch has come for `STALL_TIMEOUT_S` seconds
(`HAS_TF_DATA_SERVICE_TIMEOUT_S`, default 300): tf.data service itself
waits without end for a dispatcher or a worker that died. The run keeps
its last checkpoint; the same command resumes it once the cluster is up.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import keras
import tensorflow as tf

from has_tf import _checks

__all__ = [
    "DISPATCHER_TIMEOUT_S",
    "PROBE_TIMEOUT_S",
    "ROLES",
    "STALL_TIMEOUT_S",
    "StallWatch",
    "distribute",
    "parse_address",
    "probe",
    "serve",
    "wait_for_dispatcher",
]

DISPATCHER_TIMEOUT_S = 20.0


def parse_address(address: str, name: str = "data_service"):
    """`(host, port)` of a `grpc://host:port` address (`_checks.grpc_address`).

    Raises:
      ValueError: naming `--name` and the value received.
    """
    return _checks.grpc_address(address, name)


def wait_for_dispatcher(
    address: str, timeout_s: float = DISPATCHER_TIMEOUT_S
) -> None:
    """Returns once a server accepts TCP connections at `address`.

    tf.data service itself retries an absent dispatcher without end; this
    check turns a typo or a cluster that is not up into an error.

    Raises:
      ValueError: a malformed address (see `parse_address`).
      ConnectionError: nothing accepted a connection within `timeout_s`
        seconds; the message names the address and the last error.
    """
    host, port = parse_address(address)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=2.0):
                return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise ConnectionError(
                    f"No tf.data service dispatcher answers at "
                    f"--data_service={address} after {timeout_s:g} s "
                    f"({error}). Start one with `python -m "
                    "has_tf.data_service --role=dispatcher --port="
                    f"{port}` on {host}, or fix the address."
                ) from error
            time.sleep(0.5)


PROBE_TIMEOUT_S = 90.0

# Run in a child process: a tf.data service client waits for workers (and
# retries a server that is no dispatcher) without end, so only a process
# can be given a deadline.
_PROBE = """
import sys
import tensorflow as tf
service = tf.data.experimental.service
data = tf.data.Dataset.range(1).apply(
    service.distribute("parallel_epochs", sys.argv[1])
)
print("PROBE", int(next(iter(data))), flush=True)
"""


def probe(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Returns once the tf.data service at `address` delivers an element.

    `wait_for_dispatcher` only sees that something accepts connections;
    this asks the service itself for one element of a one-element
    dataset, from a child process given `timeout_s` seconds.

    Raises:
      ValueError: a malformed address.
      ConnectionError: no element within `timeout_s`: nothing that speaks
        tf.data service listens there, or its dispatcher has no worker
        (the message names the address and how to start a worker).
    """
    host, port = parse_address(address)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, address],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise ConnectionError(
            f"The tf.data service at --data_service={address} delivered "
            f"no element within {timeout_s:g} s: either what listens at "
            f"{host}:{port} is no tf.data service dispatcher, or the "
            "dispatcher has no worker. Start workers with `python -m "
            "has_tf.data_service --role=worker "
            f"--dispatcher={address}` (each on a machine that sees "
            "--data_dir)."
        ) from None
    if done.returncode != 0 or "PROBE 0" not in done.stdout:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConnectionError(
            f"The tf.data service at --data_service={address} failed a "
            f"one-element probe: {last[:300]}"
        )


STALL_TIMEOUT_S = 300.0


def _stall_timeout() -> float:
    value = os.environ.get(
        "HAS_TF_DATA_SERVICE_TIMEOUT_S", f"{STALL_TIMEOUT_S:g}"
    )
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(
            "Expected HAS_TF_DATA_SERVICE_TIMEOUT_S to be a number of "
            f"seconds > 0. Received: {value!r}"
        )
    return seconds


def stall_message(address: str, seconds: float) -> str:
    """Why training stopped: the dispatcher is gone, or no worker delivers."""
    host, port = parse_address(address)
    try:
        with socket.create_connection((host, port), timeout=5.0):
            answers = True
    except OSError:
        answers = False
    cause = (
        f"its dispatcher at {host}:{port} still answers, so no worker "
        "delivers (a worker died or hangs; start one with `python -m "
        f"has_tf.data_service --role=worker --dispatcher={address}`)"
        if answers
        else f"its dispatcher at {host}:{port} no longer answers (start it "
        "again with the same --port, and the workers)"
    )
    return (
        f"No batch from the tf.data service at --data_service={address} for "
        f"{seconds:g} s: {cause}. Training stopped; its last checkpoint is "
        "kept, and the same command resumes the run "
        "(HAS_TF_DATA_SERVICE_TIMEOUT_S sets the wait)."
    )


class StallWatch(keras.callbacks.Callback):
    """Ends a training process whose tf.data service stopped delivering.

    After the first batch, a thread checks that batches keep coming; when
    none has for `timeout_s` seconds it writes `stall_message` to stderr
    and ends the process with status 1 (`exit`, default `os._exit`: the
    main thread is blocked inside TensorFlow, waiting for the service).
    Checkpoints are atomic, so nothing written is lost.

    Args:
      address: the `--data_service` address.
      timeout_s: seconds without a batch; None: `HAS_TF_DATA_SERVICE_TIMEOUT_S`
        (default 300).
      exit: called with 1 to end the process (tests pass their own).
    """

    def __init__(self, address: str, timeout_s=None, exit=os._exit):
        super().__init__()
        parse_address(address)
        self.address = address
        self.timeout_s = _stall_timeout() if timeout_s is None else timeout_s
        self._exit = exit
        self._last = None
        self._stop = threading.Event()
        self._thread = None

    def on_train_batch_end(self, batch, logs=None):
        self._last = time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._watch,
                name="has_tf-data-service-watch",
                daemon=True,
            )
            self._thread.start()

    def _watch(self):
        period = min(5.0, self.timeout_s / 4)
        while not self._stop.wait(period):
            waited = time.monotonic() - self._last
            if waited > self.timeout_s:
                message = stall_message(self.address, self.timeout_s)
                print(f"has_tf.train: error: {message}", file=sys.stderr)
                sys.stderr.flush()
                self._exit(1)
                return

    def on_train_end(self, logs=None):
        self._stop.set()


def distribute(dataset: tf.data.Dataset, address: str) -> tf.data.Dataset:
    """`dataset` computed by the tf.data service at `address`.

    Args:
      dataset: the whole input pipeline (reading included), built with
        `seed=None` (module docstring).
      address: `grpc://host:port` of the dispatcher.

    Returns:
      A dataset with `dataset`'s element spec whose elements the service's
      workers produce (dynamic sharding: module docstring).
    """
    parse_address(address)
    return dataset.apply(
        tf.data.experimental.service.distribute(
            processing_mode=(
                tf.data.experimental.service.ShardingPolicy.DYNAMIC
            ),
            service=address,
        )
    )


ROLES = ("dispatcher", "worker")


def serve(
    role: str,
    port: int = 0,
    dispatcher=None,
    worker_address=None,
    work_dir=None,
):
    """Starts one tf.data service server and returns it (running).

    Args:
      role: "dispatcher" or "worker".
      port: port to listen on (0: any free one; see `server.target`).
      dispatcher: (worker) the dispatcher's `grpc://host:port`.
      worker_address: (worker) how others reach it (`host:port`).
      work_dir: (dispatcher) its journal directory (fault tolerance).

    Raises:
      ValueError: an unknown role, or a worker without a valid dispatcher.
    """
    service = tf.data.experimental.service
    if role == "dispatcher":
        config = service.DispatcherConfig(
            port=port,
            work_dir=work_dir,
            fault_tolerant_mode=work_dir is not None,
        )
        return service.DispatchServer(config)
    if role == "worker":
        host, dispatcher_port = parse_address(dispatcher, "dispatcher")
        config = service.WorkerConfig(
            dispatcher_address=f"{host}:{dispatcher_port}",
            worker_address=worker_address,
            port=port,
        )
        return service.WorkerServer(config)
    raise ValueError(f"Expected `role` in {ROLES}. Received: role={role!r}")
