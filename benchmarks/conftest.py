"""Collects benchmark medians and prints the ratios against the naive baselines."""

import pytest

RESULTS: dict[str, tuple[float, int]] = {}


@pytest.fixture
def record():
    """record(name, benchmark, units): keep the median seconds and how many units it covered."""

    def _record(name, benchmark, units):
        RESULTS[name] = (benchmark.stats.stats.median, units)

    return _record


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
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
        if fast in RESULTS and slow in RESULTS:
            f = RESULTS[fast][0] / RESULTS[fast][1]
            s = RESULTS[slow][0] / RESULTS[slow][1]
            tr.write_line(f"speed-up per unit {fast} vs {slow}: {s / f:,.0f}x")
