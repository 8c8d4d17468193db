"""Collects benchmark medians, prints the ratios against the naive baselines, and judges
the stated targets (``judge.py``: met, missed on an idle machine -> the test fails, or
missed on a loaded one -> NOT JUDGED)."""

import os

import pytest
from judge import (
    CLOCKS,
    CPUS,
    RESULTS,
    TARGET_SCALE_ENV,
    VERDICTS,
    Clock,
    Judge,
    load_fraction,
    speedup,
    summary_lines,
    target_scale,
)


def pytest_sessionstart(session):
    # printed even under -q: whoever reads a `make bench` log sees what the machine was doing
    l1, l5, l15 = os.getloadavg()
    scale = target_scale()  # a bad knob stops the session before anything runs
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    line = (f"liqcascade bench: {CPUS} CPUs, load average {l1:.2f} / {l5:.2f} / {l15:.2f} (1 / 5 / 15 min); "
            f"a missed target fails only if other processes kept at most {load_fraction():g} x {CPUS} CPUs busy")
    if scale != 1.0:
        line += f"; targets scaled by {scale:g} ({TARGET_SCALE_ENV})"
    if tr is not None:
        tr.write_line(line)


@pytest.fixture
def _bench_clock():
    return Clock()


@pytest.fixture
def record(_bench_clock):
    """record(name, benchmark, units): keep the median seconds and how many units it covered."""

    def _record(name, benchmark, units):
        RESULTS[name] = (benchmark.stats.stats.median, units)
        CLOCKS[name] = _bench_clock
        _bench_clock.stop()

    return _record


@pytest.fixture
def target(request, _bench_clock):
    """A :class:`judge.Judge` for this test (its clock started before the test body)."""
    return Judge(request.node.name, [_bench_clock])


def pytest_terminal_summary(terminalreporter):
    if not RESULTS and not VERDICTS:
        return
    tr = terminalreporter
    tr.section("liqcascade benchmark summary (median)")
    for name, (sec, units) in sorted(RESULTS.items()):
        tr.write_line(f"{name:<44} {sec * 1e3:10.2f} ms  {sec / units * 1e9:10.2f} ns/unit  ({units:,} units)")
    pairs = [
        ("hf_pass_jit_1M", "hf_pass_naive_python"),
        ("hf_pass_numpy_bincount_1M", "hf_pass_naive_python"),
        ("static_cascade_same_book", "static_cascade_naive_python"),
        ("simulate_100k_x_7200", "simulate_naive_python"),
    ]
    for fast, slow in pairs:
        r = speedup(fast, slow)
        if r is not None:
            tr.write_line(f"speed-up per unit {fast} vs {slow}: {r:,.0f}x")
    if VERDICTS:
        tr.section("liqcascade speed targets")
        for line in summary_lines():
            tr.write_line(line)
