"""Progress: the ETA counts only what this process computed (hand numbers), plain lines in a pipe
(no carriage returns), a tqdm bar on a terminal, segments that start over, and a bad argument
refused before any work."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.execution.progress import Progress, callback, eta_s, for_cli


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_eta_counts_only_chunks_computed_here():
    # 20 of 100 chunks were stored by an interrupted run; this process did 10 more in 50 s:
    # 5 s a chunk, 70 left -> 350 s. Counting the resumed 20 as speed would say 50/30*70 = 116.7 s.
    assert eta_s(30, 100, 20, 50.0) == pytest.approx(350.0)
    assert eta_s(30, 100, 0, 50.0) == pytest.approx(50.0 / 30.0 * 70.0)
    assert eta_s(20, 100, 20, 50.0) is None  # nothing computed here yet
    assert eta_s(5, None, 0, 10.0) is None  # unknown total
    assert eta_s(100, 100, 20, 80.0) == 0.0


@given(st.integers(0, 500), st.integers(1, 500), st.integers(1, 500), st.floats(0.01, 1e5))
def test_eta_is_time_per_chunk_here_times_chunks_left(start, ran, left, elapsed):
    done, total = start + ran, start + ran + left
    assert eta_s(done, total, start, elapsed) == pytest.approx(elapsed / ran * left)


def test_plain_lines_in_a_pipe_every_interval_with_the_resumed_chunks_apart():
    out, clock = io.StringIO(), Clock()
    p = Progress("montecarlo", "chunks", file=out, tty=False, every_s=10.0, resumable=True, clock=clock)
    p(20, 100)  # 20 already stored
    clock.t += 4.0
    p(21, 100)  # under 10 s since the last line: nothing
    clock.t += 46.0
    p(30, 100)
    clock.t += 5.0
    p(31, 100)
    clock.t += 345.0
    p(100, 100)  # the end is always said
    p.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines == [
        "montecarlo: 20/100 chunks stored by an earlier run; computing the rest",
        "montecarlo: 30/100 chunks (30%), 0:50 elapsed, about 5:50 left",  # 10 chunks in 50 s, 70 left
        "montecarlo: 100/100 chunks (100%), 6:40 elapsed",
    ]  # the lines docs/montecarlo.md shows


def test_a_line_every_ten_seconds_by_default():
    out, clock = io.StringIO(), Clock()
    p = Progress("x", "chunks", file=out, tty=False, clock=clock)
    p(0, 10)
    clock.t += 9.9
    p(1, 10)
    assert out.getvalue() == ""
    clock.t += 0.1
    p(2, 10)
    assert out.getvalue() == "x: 2/10 chunks (20%), 0:10 elapsed, about 0:40 left\n"


def test_a_finished_or_lower_report_starts_a_new_segment():
    out, clock = io.StringIO(), Clock()
    p = Progress("  chunks", "chunks", file=out, tty=False, every_s=10.0, resumable=True, clock=clock)
    p(0, 4)
    clock.t += 8.0
    p(4, 4)
    p(2, 6)  # the next combination, 2 chunks of it stored
    clock.t += 12.0
    p(4, 6)
    p.close()
    assert out.getvalue().splitlines() == [
        "  chunks: 4/4 chunks (100%), 0:08 elapsed",
        "  chunks: 2/6 chunks stored by an earlier run; computing the rest",
        "  chunks: 4/6 chunks (67%), 0:12 elapsed, about 0:12 left",
    ]


def test_without_resume_the_first_report_is_work_done_since_the_start():
    out, clock = io.StringIO(), Clock()
    p = Progress("compare", "runs", file=out, tty=False, every_s=10.0, clock=clock)
    clock.t += 30.0
    p(1, 4)  # the first run took 30 s: 3 more take 90 s
    assert out.getvalue().splitlines() == ["compare: 1/4 runs (25%), 0:30 elapsed, about 1:30 left"]


def test_unknown_total_and_fractions():
    out, clock = io.StringIO(), Clock()
    p = Progress("calibrate", "candidates", file=out, tty=False, every_s=1.0, clock=clock)
    p(1, None)
    clock.t += 2.0
    p(2.5, None)
    assert out.getvalue().splitlines() == ["calibrate: 2.5 candidates, 0:02 elapsed"]


def test_a_terminal_gets_a_tqdm_bar_that_starts_at_the_resumed_count():
    out = io.StringIO()
    with Progress("montecarlo", "chunks", file=out, tty=True, resumable=True) as p:
        p(50, 100)
        p(60, 100)
    text = out.getvalue()
    assert "montecarlo" in text and "60/100" in text and "\r" in text


def test_quiet_and_the_environment_turn_it_off(monkeypatch):
    monkeypatch.delenv("LIQCASCADE_QUIET", raising=False)
    assert isinstance(for_cli("x", "chunks"), Progress)
    assert for_cli("x", "chunks", quiet=True) is None
    monkeypatch.setenv("LIQCASCADE_QUIET", "1")
    assert for_cli("x", "chunks") is None
    monkeypatch.setenv("LIQCASCADE_QUIET", "0")
    assert isinstance(for_cli("x", "chunks"), Progress)


def test_library_progress_argument():
    f = lambda d, t: None  # noqa: E731
    assert callback(f, "x", "u") == (f, None)
    assert callback(None, "x", "u") == (None, None) == callback(False, "x", "u")
    bar, owned = callback(True, "x", "u")
    assert bar is owned and isinstance(bar, Progress)
    with pytest.raises(ConfigError, match="progress"):
        callback("yes", "x", "u")
