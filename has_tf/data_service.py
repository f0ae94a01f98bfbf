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
`DISPATCHER_TIMEOUT_S` seconds.
"""

from __future__ import annotations

import re
import socket
import sys
import time

import tensorflow as tf
from absl import app
from absl import flags
from absl import logging

__all__ = [
    "DISPATCHER_TIMEOUT_S",
    "distribute",
    "parse_address",
    "wait_for_dispatcher",
]

DISPATCHER_TIMEOUT_S = 20.0
_ADDRESS = re.compile(
    r"^grpc://(?P<host>[A-Za-z0-9._\-]+|\[[0-9a-fA-F:.]+\])"
    r":(?P<port>[0-9]{1,5})$"
)


def parse_address(address: str, name: str = "data_service"):
    """`(host, port)` of a `grpc://host:port` address.

    Raises:
      ValueError: `address` is not of that form; the message names `name`
        and the value received.
    """
    match = _ADDRESS.match(address or "")
    port = int(match["port"]) if match else 0
    if not match or not 0 < port < 65536:
        raise ValueError(
            f"Expected --{name} of the form grpc://host:port (a tf.data "
            f"service dispatcher). Received: --{name}={address!r}"
        )
    return match["host"].strip("[]"), port


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


def _define_flags() -> None:
    """The command line's flags (only when run as a program)."""
    flags.DEFINE_enum(
        "role", None, ROLES, "Which server to run: dispatcher or worker."
    )
    flags.DEFINE_integer(
        "port", 0, "Port to listen on (0: any free port).", lower_bound=0
    )
    flags.DEFINE_string(
        "dispatcher", None, "Worker: the dispatcher's grpc://host:port."
    )
    flags.DEFINE_string(
        "worker_address",
        None,
        "Worker: host:port the trainers reach this worker at (default: "
        "localhost and --port).",
    )
    flags.DEFINE_string(
        "work_dir",
        None,
        "Dispatcher: a directory for its journal, so a restarted "
        "dispatcher recovers its state (fault-tolerant mode).",
    )
    flags.mark_flag_as_required("role")


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


def main(argv) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    options = flags.FLAGS
    if options.role == "worker":
        if options.dispatcher is None:
            raise app.UsageError("--role=worker needs --dispatcher.")
        wait_for_dispatcher(options.dispatcher)  # Checks the address too.
    server = serve(
        options.role,
        options.port,
        dispatcher=options.dispatcher,
        worker_address=options.worker_address,
        work_dir=options.work_dir,
    )
    if options.role == "dispatcher":
        logging.info("tf.data service dispatcher at %s", server.target)
        print(f"dispatcher: {server.target}", flush=True)
    else:
        logging.info("tf.data service worker of %s", options.dispatcher)
        print(f"worker of {options.dispatcher}", flush=True)
    server.join()
    return 0


if __name__ == "__main__":
    _define_flags()
    sys.exit(app.run(main))
