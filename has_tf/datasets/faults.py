"""Bad rows, files and boxes of a manual download: named and counted."""

from __future__ import annotations

import collections

from absl import logging

__all__ = ["Faults"]


class Faults:
    """Bad rows, files and boxes: named, counted and skipped, or fatal.

    With `strict` (config "strict") the first fault stops the build with
    its file (and line) named; otherwise it is logged, counted and skipped,
    and `summary` logs the counts at the end of the split.
    """

    def __init__(self, dataset: str, split: str, strict: bool):
        self.dataset = dataset
        self.split = split
        self.strict = strict
        self.counts = collections.Counter()

    def skip(self, kind: str, where: str, reason: str) -> None:
        if self.strict:
            raise ValueError(f"{self.dataset} {self.split}: {where}: {reason}")
        logging.warning(
            "%s %s: skipping %s: %s",
            self.dataset,
            self.split,
            where,
            reason,
        )
        self.counts[kind] += 1

    def count(self, kind: str) -> None:
        self.counts[kind] += 1

    def summary(self, built: int) -> None:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        logging.info(
            "%s %s: %d examples built; %s.",
            self.dataset,
            self.split,
            built,
            f"skipped or dropped: {skipped}" if skipped else "nothing skipped",
        )
