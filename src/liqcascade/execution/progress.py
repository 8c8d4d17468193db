"""Progress of long runs, shown to a person.

The library never prints progress by itself: long calls take a ``progress(done, total)``
callback (``total`` may be None when unknown, ``done`` may be fractional). :class:`Progress` is
such a callback that draws on stderr:

- on a terminal (or in a notebook: :mod:`tqdm.auto` picks the widget) a tqdm bar, redrawn at
  most every :data:`BAR_EVERY_S`;
- elsewhere (a pipe, a log file, CI) one plain line every :data:`LINE_EVERY_S` seconds and
  one at the end, never carriage returns.

With ``resumable=True`` the first report of a segment gives what was there before this process
started (a resumed Monte Carlo's stored chunks, reported before any work): the rate and the time
left count only what this process computed (:func:`eta_s`). Otherwise the first report is work
done since the segment began (the bar's creation, or the end of the previous segment). A report
below the previous one, or after the total was reached, starts a new segment (a sweep's next
combination).

``--quiet`` / ``-q`` on a command, or the environment variable :data:`QUIET_ENV` set to anything
but ``""`` or ``0``, turns the drawing off (:func:`for_cli` returns None).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

QUIET_ENV = "LIQCASCADE_QUIET"
"""Set to 1 to turn progress off for every command (as ``--quiet`` does)."""

LINE_EVERY_S = 10.0
"""Seconds between plain progress lines when stderr is not a terminal."""

BAR_EVERY_S = 0.5
"""Least seconds between two redraws of a terminal bar."""

ProgressFn = Callable[[float, "float | None"], None]
"""``progress(done, total)``: what long library calls report to."""


def eta_s(done: float, total: float | None, done_at_start: float, elapsed_s: float) -> float | None:
    """Seconds left at this process's own rate: ``elapsed / (done - done_at_start) * (total - done)``.

    ``done_at_start`` is what was there before this process started (resumed chunks): it is
    neither speed nor time spent here. None while nothing was computed here or the total is
    unknown."""
    ran = done - done_at_start
    if total is None or ran <= 0 or elapsed_s <= 0:
        return None
    return elapsed_s / ran * max(0.0, total - done)


def quiet_from_env() -> bool:
    """Whether :data:`QUIET_ENV` asks for no progress."""
    return os.environ.get(QUIET_ENV, "").strip() not in ("", "0")


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _count(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


class Progress:
    """A ``progress(done, total)`` callback drawing on ``file`` (default stderr); see the module
    docstring. ``tty`` forces the bar (True) or the plain lines (False); by default it follows
    ``file.isatty()``. Use as a context manager, or call :meth:`close`."""

    def __init__(self, label: str, unit: str, file: IO[str] | None = None, tty: bool | None = None,
                 every_s: float = LINE_EVERY_S, position: int = 0, resumable: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self.label, self.unit, self.every_s, self.position, self.clock = label, unit, every_s, position, clock
        self.resumable = resumable
        self._since = clock()
        self.file = file if file is not None else sys.stderr
        self.tty = bool(getattr(self.file, "isatty", lambda: False)()) if tty is None else tty
        self._bar: Any = None
        self._segment: dict[str, Any] | None = None

    # -- one segment: from its first report to its total
    def _open(self, done: float, total: float | None) -> None:
        start, t0 = (done, self.clock()) if self.resumable else (0.0, self._since)
        self._segment = {"start": start, "t0": t0, "last": start, "total": total, "said": None}
        if self.tty:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=start, desc=self.label, unit=f" {self.unit}",
                             file=self.file, mininterval=BAR_EVERY_S, position=self.position,
                             leave=self.position == 0, dynamic_ncols=True)
        elif start:
            of = f"/{_count(total)}" if total is not None else ""
            self._line(done, total,
                       f"{_count(done)}{of} {self.unit} stored by an earlier run; computing the rest")
            self._segment["said"] = self.clock()

    def __call__(self, done: float, total: float | None = None) -> None:
        seg = self._segment
        ended = seg is not None and seg["total"] is not None and seg["last"] >= seg["total"]
        if seg is not None and (done < seg["last"] or ended):
            self._end()
            seg = None
        if seg is None:
            self._open(done, total)
            seg = self._segment
        if total != seg["total"]:
            seg["total"] = total
            if self._bar is not None:
                self._bar.total = total
        if self._bar is not None:
            self._bar.update(done - seg["last"])
        seg["last"] = done
        if not self.tty:
            now, finished = self.clock(), total is not None and done >= total
            if finished or now - (seg["said"] if seg["said"] is not None else seg["t0"]) >= self.every_s:
                self._line(done, total)
                seg["said"] = now

    def _line(self, done: float, total: float | None, note: str | None = None) -> None:
        seg = self._segment
        elapsed = self.clock() - seg["t0"]
        if note is None:
            count = f"{_count(done)}/{_count(total)} {self.unit} ({done / total:.0%})" if total else \
                f"{_count(done)} {self.unit}"
            note = f"{count}, {_clock(elapsed)} elapsed"
            if total is not None and done < total:
                note += f", about {_clock(eta_s(done, total, seg['start'], elapsed))} left"
        print(f"{self.label}: {note}", file=self.file, flush=True)

    def _end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._segment = None
        self._since = self.clock()

    def close(self) -> None:
        """End the bar (a plain line for an unfinished segment's last state is not repeated)."""
        self._end()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def for_cli(label: str, unit: str, quiet: bool = False, position: int = 0,
            resumable: bool = False) -> Progress | None:
    """The progress a command draws on stderr, or None with ``--quiet`` or :data:`QUIET_ENV`."""
    if quiet or quiet_from_env():
        return None
    return Progress(label, unit, position=position, resumable=resumable)


def callback(progress: ProgressFn | bool | None, label: str, unit: str,
             resumable: bool = False) -> tuple[ProgressFn | None, Progress | None]:
    """``(callback, owned)`` for a library call's ``progress`` argument: a callable is used as it
    is; ``True`` draws a :class:`Progress` (a tqdm widget in a notebook), which the call closes
    (``owned``); ``None`` or ``False``: nothing."""
    if progress is True:
        bar = Progress(label, unit, resumable=resumable)
        return bar, bar
    if progress is None or progress is False:
        return None, None
    if not callable(progress):
        from liqcascade.errors import ConfigError

        raise ConfigError("progress", "progress", "a callable progress(done, total), True or None", progress)
    return progress, None
