"""Judging the stated speed targets (docs/benchmarks.md) in ``make bench``.

A target is met or missed; a miss is only a verdict on the code when the machine was idle
enough to run the benchmark at full speed. Loaded means: other processes kept more than
``LOAD_FRACTION`` (0.5) of the CPUs busy while the benchmark ran (Linux: ``/proc/stat``
busy time less this process's own and its reaped children's), or, where that cannot be
measured, the 1-minute load average before the benchmark was above ``LOAD_FRACTION x CPUs``.
(The load average alone cannot tell the benchmarks' own threads from other work: after one
benchmark on 2 threads the next starts at a load near 2.) A miss on a loaded machine is
reported as ``NOT JUDGED: machine loaded (...)`` (a pytest skip); a miss on an idle one fails
the test, so ``make bench`` exits non-zero.

Knobs (environment): ``LIQCASCADE_BENCH_LOAD_FRACTION`` replaces 0.5;
``LIQCASCADE_BENCH_TARGET_SCALE`` multiplies every time limit and divides every speed-up
floor (``0.001`` makes every target a miss: a way to see the verdicts work).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import pytest

LOAD_FRACTION_ENV = "LIQCASCADE_BENCH_LOAD_FRACTION"
TARGET_SCALE_ENV = "LIQCASCADE_BENCH_TARGET_SCALE"
CPUS = os.cpu_count() or 1


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a positive number, got {raw!r}") from None
    if not value > 0:
        raise pytest.UsageError(f"{name}: expected a positive number, got {raw!r}")
    return value


def load_fraction() -> float:
    return _env_float(LOAD_FRACTION_ENV, 0.5)


def target_scale() -> float:
    return _env_float(TARGET_SCALE_ENV, 1.0)


def _busy_seconds() -> float | None:
    """CPU seconds all processes spent busy since boot (``/proc/stat``), None off Linux."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    ticks = [int(x) for x in parts[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class Conditions:
    """What the machine was doing while one benchmark ran."""

    load_before: float
    """1-minute load average when the benchmark started."""
    others_cpus: float | None
    """CPUs kept busy by other processes during the benchmark (None: not measurable)."""

    @property
    def threshold(self) -> float:
        return load_fraction() * CPUS

    @property
    def loaded(self) -> bool:
        if self.others_cpus is not None:
            return self.others_cpus > self.threshold
        return self.load_before > self.threshold

    def describe(self) -> str:
        others = "n/a" if self.others_cpus is None else f"{self.others_cpus:.2f}"
        return (f"load {self.load_before:.2f} before, other processes busy on {others} of {CPUS} CPUs "
                f"during the run; judged up to {self.threshold:.2f}")


class Clock:
    """Started before a benchmark; :meth:`stop` gives its :class:`Conditions`."""

    def __init__(self) -> None:
        self.load_before = os.getloadavg()[0]
        self._wall = time.perf_counter()
        self._busy = _busy_seconds()
        self._own = _own_seconds()
        self.conditions: Conditions | None = None

    def stop(self) -> Conditions:
        if self.conditions is None:
            wall = time.perf_counter() - self._wall
            busy = _busy_seconds()
            others = None
            if busy is not None and self._busy is not None and wall > 0:
                others = max(0.0, (busy - self._busy) - (_own_seconds() - self._own)) / wall
            self.conditions = Conditions(self.load_before, others)
        return self.conditions


@dataclass
class Verdict:
    name: str
    text: str
    status: str  # MET, MISSED, NOT JUDGED
    conditions: Conditions


VERDICTS: list[Verdict] = []
RESULTS: dict[str, tuple[float, int]] = {}
"""name -> (median seconds, units covered), filled by the ``record`` fixture."""
CLOCKS: dict[str, Clock] = {}
"""name -> the clock of the benchmark that produced it."""


@dataclass
class Judge:
    """Asserts targets for one benchmark test (the ``target`` fixture)."""

    name: str
    clocks: list[Clock] = field(default_factory=list)

    def conditions(self) -> Conditions:
        """The worst conditions over this test's clocks (its own, and for a ratio, the
        baseline's too)."""
        cs = [c.stop() for c in self.clocks]
        others = [c.others_cpus for c in cs]
        return Conditions(max(c.load_before for c in cs),
                          None if any(o is None for o in others) else max(others))  # type: ignore[type-var]

    def at_most(self, what: str, seconds: float, limit_s: float) -> None:
        """``seconds`` (a median) must not exceed the stated ``limit_s`` (x the scale knob)."""
        limit = limit_s * target_scale()
        self._verdict(f"{what}: {_fmt(seconds)} (target <= {_fmt(limit)})", seconds <= limit)

    def ratio_at_most(self, what: str, ratio: float, limit: float) -> None:
        """A ratio of two times measured in the same run must not exceed ``limit`` (x the scale
        knob, like a time limit)."""
        limit = limit * target_scale()
        self._verdict(f"{what}: ratio {ratio:.3f} (target <= {limit:.3g})", ratio <= limit)

    def speedup_at_least(self, what: str, speedup: float, floor: float, baseline: str = "the naive baseline") -> None:
        """A per-unit speed-up over ``baseline`` must reach ``floor`` (/ the scale knob)."""
        floor = floor / target_scale()
        self._verdict(f"{what}: {speedup:,.1f}x {baseline} (target >= {floor:,.1f}x)", speedup >= floor)

    def at_least(self, what: str, value: float, floor: float) -> None:
        """A dimensionless figure measured in the same run (an efficiency) must reach ``floor``
        (/ the scale knob, like a speed-up floor)."""
        floor = floor / target_scale()
        self._verdict(f"{what}: {value:.3f} (target >= {floor:.3g})", value >= floor)

    def _verdict(self, text: str, met: bool) -> None:
        cond = self.conditions()
        if met:
            VERDICTS.append(Verdict(self.name, text, "MET", cond))
            return
        if cond.loaded:
            VERDICTS.append(Verdict(self.name, text, "NOT JUDGED", cond))
            pytest.skip(f"NOT JUDGED: machine loaded ({cond.describe()}): missed {text}")
        VERDICTS.append(Verdict(self.name, text, "MISSED", cond))
        pytest.fail(f"TARGET MISSED on an idle machine ({cond.describe()}): {text}", pytrace=False)


def speedup(fast: str, slow: str) -> float | None:
    """Per-unit speed-up of ``fast`` over ``slow`` (None unless both ran in this session)."""
    if fast not in RESULTS or slow not in RESULTS:
        return None
    f = RESULTS[fast][0] / RESULTS[fast][1]
    s = RESULTS[slow][0] / RESULTS[slow][1]
    return s / f


def judge_speedup(target: Judge, what: str, fast: str, slow: str, floor: float) -> None:
    """The stated speed-up floor of ``fast`` over the naive ``slow``, judged under the worse
    of the two benchmarks' conditions; nothing when one of them did not run (``-k``)."""
    ratio = speedup(fast, slow)
    if ratio is None:
        return
    target.clocks = [CLOCKS[fast], CLOCKS[slow]]
    target.speedup_at_least(what, ratio, floor)


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.4g} ms" if seconds < 1 else f"{seconds:,.2f} s"


def summary_lines() -> list[str]:
    lines = []
    for v in VERDICTS:
        lines.append(f"{v.status:<10} {v.name}: {v.text} [{v.conditions.describe()}]")
    if VERDICTS:
        n = {s: sum(v.status == s for v in VERDICTS) for s in ("MET", "MISSED", "NOT JUDGED")}
        lines.append(f"targets: {n['MET']} met, {n['MISSED']} missed, {n['NOT JUDGED']} not judged (machine loaded)")
    return lines
