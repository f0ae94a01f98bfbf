"""Scoring CAMs on every core: chunks of images to worker processes.

`ParallelScoring` takes items one at a time (a CAM file to load, or a CAM
with its boxes) and hands them in chunks to a pool of processes, each
scoring its chunk into a fresh `CamEvaluator`; the parent merges them. The
metrics keep integer counts (hits per threshold, pixel histograms), so the
figures are those of one process, whatever the chunking or the order in
which chunks finish (tested).

Workers are started with "spawn" (fresh interpreters: safe beside
TensorFlow's threads in the parent; each imports the parent's main module,
so under `python -m has_tf.evaluate` a worker takes a few seconds to start)
on the first full chunk past `start_after` items: a set that fits one chunk,
or the first `start_after` items, are scored in the calling process with no
start-up cost. Given the job's size (`total`) and the workers' start-up
(`startup_s`), the calling process times its first items and starts the
workers only when the rest would take longer on one core than the workers
need to start and share it (with a margin of 2; the median time of the
items scored so far, so the first item's kernel loading does not count):
a small job never pays a start-up it cannot win back. NumPy only.
"""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable

from has_tf.metrics.cam_evaluation import CamEvaluator

__all__ = [
    "ParallelScoring",
    "available_cores",
    "check_workers",
    "score_call",
]

# The CamEvaluator methods `score_call` may call.
_CALLS = ("add_boxes", "add_frame_boxes", "add_mask")


def available_cores() -> int:
    """The cores this process may run on (its affinity, else the count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_workers(workers) -> int:
    """`workers` as a count of processes: None or 0 means every core."""
    if workers is None or (
        isinstance(workers, int)
        and not isinstance(workers, bool)
        and workers == 0
    ):
        return available_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(
            "Expected `workers` to be an int >= 1, or 0 / None for every "
            f"core. Received: workers={workers!r}"
        )
    return workers


def score_call(evaluator: CamEvaluator, item) -> None:
    """Scores `item = (method, args, kwargs)`: `evaluator.method(*args,
    **kwargs)`, method one of `add_boxes`, `add_frame_boxes`, `add_mask`
    (CAMs already in memory, as the image task has them)."""
    method, args, kwargs = item
    if method not in _CALLS:
        raise ValueError(f"Expected a method in {_CALLS}. Received: {method!r}")
    getattr(evaluator, method)(*args, **kwargs)


def _score_chunk(score, evaluator_options, items) -> CamEvaluator:
    evaluator = CamEvaluator(**evaluator_options)
    for item in items:
        score(evaluator, item)
    return evaluator


class ParallelScoring:
    """A `CamEvaluator` fed through `score(evaluator, item)` on `workers`.

    Args:
      score: a module-level function (it is sent to the workers by name)
        adding one item to an evaluator, e.g.
        `cam_files.score_listed_image`.
      evaluator_options: `CamEvaluator`'s keyword arguments.
      workers: processes; 1 scores in the calling process, 0 or None uses
        every core.
      chunk_size: items per task (>= 1): large enough that sending a chunk
        costs little beside scoring it.
      progress: called as `progress(done)` after every scored chunk.
      start_after: items scored in the calling process before the workers
        start (their start-up is then paid only by large sets).
      total: the items the job will add, if known.
      startup_s: seconds the workers take to start (> 0, with `total`):
        they start only once the first items' timing shows the rest
        worth it: `rest x per-item x (1 - 1/workers) > 2 x startup_s`.

    Use as a context manager (the pool is shut down on leaving), `add`
    each item, then `finish()` (the merged `CamEvaluator`). A worker's
    exception is raised again by `add` or `finish`.
    """

    def __init__(
        self,
        score: Callable,
        evaluator_options: dict | None = None,
        workers: int | None = 0,
        chunk_size: int = 64,
        progress: Callable[[int], None] | None = None,
        start_after: int = 0,
        total: int | None = None,
        startup_s: float = 0.0,
    ):
        self.workers = check_workers(workers)
        self._start_after = start_after
        self._total = total
        self._startup_s = float(startup_s)
        self._timed: list = []  # Seconds per item scored here.
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
            raise ValueError(
                f"Expected an int chunk_size. Received: {chunk_size!r}"
            )
        if chunk_size < 1:
            raise ValueError(
                f"Expected chunk_size >= 1. Received: {chunk_size}"
            )
        self._score = score
        self._options = dict(evaluator_options or {})
        self._chunk_size = chunk_size
        self._progress = progress
        self.evaluator = CamEvaluator(**self._options)  # checks the options
        self._buffer: list = []
        self._pending: collections.deque = collections.deque()
        self._pool = None
        self._done = 0
        self.started = False  # whether worker processes were started

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self) -> None:
        """Stops the workers (pending chunks are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def add(self, item) -> None:
        """Queues one item; a full chunk goes to the workers."""
        if self._here():
            start = time.perf_counter()
            self._score(self.evaluator, item)
            self._timed.append(time.perf_counter() - start)
            self._count(1)
            return
        self._buffer.append(item)
        if len(self._buffer) >= self._chunk_size:
            self._submit()

    # Items timed here before the size rule decides (their median: the
    # first item also loads the compiled kernels).
    _TIMED = 8

    def _here(self) -> bool:
        """Whether the next item is scored in this process."""
        if self.workers == 1 or self._done < self._start_after:
            return True
        if self._pool is not None or self._buffer or self._pending:
            return False
        if self._total is None or self._startup_s <= 0:
            return False
        if self._done < self._TIMED:
            return True
        per_item = statistics.median(self._timed[-32:])
        rest = (self._total - self._done) * per_item
        return rest * (1 - 1 / self.workers) <= 2 * self._startup_s

    def _count(self, items: int) -> None:
        self._done += items
        if self._progress is not None:
            self._progress(self._done)

    def _submit(self) -> None:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
            self.started = True
        chunk, self._buffer = self._buffer, []
        future = self._pool.submit(
            _score_chunk, self._score, self._options, chunk
        )
        self._pending.append((future, len(chunk)))
        # Two chunks in flight per worker: busy workers, bounded memory.
        while len(self._pending) > 2 * self.workers:
            self._collect()

    def _collect(self) -> None:
        future, items = self._pending.popleft()
        self.evaluator.merge(future.result())
        self._count(items)

    def finish(self) -> CamEvaluator:
        """Waits for every chunk; returns the evaluator of all the items."""
        if self._pool is None:
            # Fewer items than one chunk: no process is worth starting.
            for item in self._buffer:
                self._score(self.evaluator, item)
            self._count(len(self._buffer))
        elif self._buffer:
            self._submit()
        self._buffer = []
        while self._pending:
            self._collect()
        self.close()
        return self.evaluator
