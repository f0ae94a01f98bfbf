"""Starts a tf.data service server: `python -m has_tf.data_service`.

    python -m has_tf.data_service --role=dispatcher --port=5050
    python -m has_tf.data_service --role=worker \\
        --dispatcher=grpc://HOST:5050 --port=5051   # one per worker machine

then train with `--data_service=grpc://HOST:5050`. The library side (what
the trainer does with the address, sharding, what is and is not
repeatable) is `has_tf.training.data_service`.
"""

from __future__ import annotations

from absl import flags
from absl import logging

from has_tf import _cli
from has_tf.training import data_service


def define_flags() -> None:
    """The program's flags (defined only when it runs)."""
    flags.DEFINE_enum(
        "role", None, data_service.ROLES, "Which server: dispatcher or worker."
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


def main(argv) -> int:
    options = flags.FLAGS
    _cli.no_arguments(argv)
    if options.role is None:
        raise _cli.UsageError(
            "--role: expected dispatcher or worker. Received: none"
        )
    if options.role == "worker":
        if options.dispatcher is None:
            raise _cli.UsageError(
                "--dispatcher: --role=worker needs the dispatcher's "
                "grpc://host:port. Received: none"
            )
        try:  # Checks the address too.
            data_service.wait_for_dispatcher(options.dispatcher)
        except (ValueError, ConnectionError) as error:
            raise _cli.UsageError(str(error)) from None
    server = data_service.serve(
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
    define_flags()
    _cli.run(main)
