"""Progress of the apps' long jobs, on one line (standard library only).

`Progress(total, unit, label)` counts what is done and shows it on stderr
the way Keras's `Progbar` and TFDS do: in a terminal one line redrawn in
place (`\\r`, at most every `redraw_s`), in a log file or pipe a plain
line every `log_s` seconds and one at the end, so a log holds a readable
history instead of carriage returns:

    evaluate: 1,200/50,000 images (2.4%), 85.3 images/s, 9:31 left
    search: 3/30 trials (10.0%), 0.0041 trials/s, 1:49:02 left; best: ...

The rate is over what this process did (a resumed job's earlier items,
`done`, are counted but not timed); the time left is the rest at that rate
(none before the first item, or without a total). `note` adds a word
about the last item (the best trial so far, the last run's figures).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

__all__ = ["Progress", "duration"]


def duration(seconds: float) -> str:
    """`h:mm:ss`, or `m:ss` under an hour (seconds rounded)."""
    seconds = int(round(max(seconds, 0.0)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def _rate(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


class Progress:
    """Counts a job's items and reports them on one line.

    Args:
      total: items in the job (an int >= 0), or None when unknown (no
        percentage or time left).
      unit: what an item is, plural ("images", "videos", "trials").
      label: the line's prefix (the app's name).
      stream: where to write (default `sys.stderr`); a terminal when its
        `isatty()` says so.
      log_s: seconds between plain lines when not a terminal.
      redraw_s: seconds between redraws in a terminal.
      clock: seconds, monotonic (tests pass their own).
      done: items already done before this process (a resumed job).
    """

    def __init__(
        self,
        total: int | None,
        unit: str,
        label: str,
        stream=None,
        log_s: float = 30.0,
        redraw_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        done: int = 0,
    ):
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or total < 0
        ):
            raise ValueError(
                "Expected `total` to be an int >= 0 or None. "
                f"Received: total={total!r}"
            )
        self.total, self.unit, self.label = total, unit, label
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = bool(isatty and isatty())
        self._every = redraw_s if self.terminal else log_s
        self._clock = clock
        self._start = clock()
        self._shown_at = None
        self._width = 0
        self.done = self._resumed = done
        self.note = ""
        self.closed = False

    def advance(self, items: int = 1, note: str | None = None) -> None:
        """`items` more are done (and `note` replaces the line's note)."""
        self.update(self.done + items, note)

    def update(self, done: int, note: str | None = None) -> None:
        """`done` items are done in all."""
        self.done = done
        if note is not None:
            self.note = note
        now = self._clock()
        if self._shown_at is None or now - self._shown_at >= self._every:
            self._show(now)

    def line(self, now: float | None = None) -> str:
        """The progress line as it stands."""
        now = self._clock() if now is None else now
        elapsed = now - self._start
        done = f"{self.done:,}"
        if self.total is not None:
            done += f"/{self.total:,}"
        parts = [f"{self.label}: {done} {self.unit}"]
        if self.total:
            parts[0] += f" ({100.0 * self.done / self.total:.1f}%)"
        if self.closed:
            parts.append(f"in {duration(elapsed)}")
        if self.done > self._resumed and elapsed > 0:
            rate = (self.done - self._resumed) / elapsed
            parts.append(f"{_rate(rate)} {self.unit}/s")
            if self.total is not None and not self.closed:
                left = max(self.total - self.done, 0) / rate
                parts.append(f"{duration(left)} left")
        text = ", ".join(parts)
        return f"{text}; {self.note}" if self.note else text

    def _show(self, now: float) -> None:
        self._shown_at = now
        text = self.line(now)
        if self.terminal:
            pad = max(self._width - len(text), 0)
            self._width = len(text)
            self.stream.write(f"\r{text}{' ' * pad}")
            if self.closed:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self, note: str | None = None) -> None:
        """The job ended: the last line, once."""
        if self.closed:
            return
        if note is not None:
            self.note = note
        self.closed = True
        self._show(self._clock())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
