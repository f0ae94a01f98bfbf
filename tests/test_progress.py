"""has_tf._progress: one line per long job, redrawn in a terminal, plain
lines in a log."""

import io

import pytest

from has_tf import _progress


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_plain_line_every_log_s_and_one_at_the_end():
    clock, log = _Clock(), io.StringIO()
    bar = _progress.Progress(
        100, "images", "evaluate", log, log_s=30, clock=clock
    )
    for _ in range(10):
        clock.now += 5
        bar.advance(5)
    bar.close()
    lines = log.getvalue().splitlines()
    # Shown at the first update (t=5), then at t=35 (7 updates later), end.
    assert lines == [
        "evaluate: 5/100 images (5.0%), 1 images/s, 1:35 left",
        "evaluate: 35/100 images (35.0%), 1 images/s, 1:05 left",
        "evaluate: 50/100 images (50.0%), in 0:50, 1 images/s",
    ]
    assert "\r" not in log.getvalue()


def test_a_terminal_line_is_redrawn_in_place():
    clock, tty = _Clock(), _Terminal()
    bar = _progress.Progress(4, "trials", "search", tty, clock=clock)
    clock.now += 60
    bar.advance(1, "best: trial 0, max_box_acc_v2 0.5000")
    clock.now += 60
    bar.advance(1)
    bar.close()
    out = tty.getvalue()
    assert out.count("\r") == 3 and out.endswith("\n")
    assert (
        "search: 1/4 trials (25.0%), 0.0167 trials/s, 3:00 left; best: trial 0"
        in out
    )
    assert "search: 2/4 trials (50.0%), in 2:00" in out


def test_an_unknown_total_gives_the_count_and_the_rate_only():
    clock, log = _Clock(), io.StringIO()
    bar = _progress.Progress(None, "videos", "evaluate", log, clock=clock)
    clock.now += 2
    bar.advance(4)
    assert log.getvalue() == "evaluate: 4 videos, 2 videos/s\n"


def test_a_resumed_job_times_only_what_this_process_does():
    clock, log = _Clock(), io.StringIO()
    bar = _progress.Progress(
        10, "trials", "search", log, log_s=0, clock=clock, done=4
    )
    bar.update(4)
    clock.now += 10
    bar.advance(2)
    assert log.getvalue().splitlines() == [
        "search: 4/10 trials (40.0%)",
        "search: 6/10 trials (60.0%), 0.2 trials/s, 0:20 left",
    ]


def test_durations_and_bad_totals():
    assert _progress.duration(59.6) == "1:00"
    assert _progress.duration(3725) == "1:02:05"
    with pytest.raises(ValueError, match="total=-1"):
        _progress.Progress(-1, "images", "x")
    with pytest.raises(ValueError, match="total=2.5"):
        _progress.Progress(2.5, "images", "x")
