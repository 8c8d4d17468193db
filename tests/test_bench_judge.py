"""The verdicts of ``make bench`` (``benchmarks/judge.py``): a met target passes, a miss
fails on an idle machine and is NOT JUDGED (a skip naming the load) on a loaded one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "judge.py"
_spec = importlib.util.spec_from_file_location("liqcascade_bench_judge", _PATH)
judge = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = judge  # dataclasses look their module up while the class is made
_spec.loader.exec_module(judge)


def clock(load_before: float, others: float | None):
    c = judge.Clock()
    c.conditions = judge.Conditions(load_before, others)
    return c


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv(judge.LOAD_FRACTION_ENV, raising=False)
    monkeypatch.delenv(judge.TARGET_SCALE_ENV, raising=False)
    judge.VERDICTS.clear()
    yield
    judge.VERDICTS.clear()


def test_loaded_is_other_processes_over_half_the_cpus():
    half = 0.5 * judge.CPUS
    assert not judge.Conditions(100.0, half).loaded  # our own threads raise the load, not this
    assert judge.Conditions(0.0, half + 0.01).loaded
    # where /proc/stat is not there, the 1-minute load average before the benchmark decides
    assert judge.Conditions(half + 0.01, None).loaded and not judge.Conditions(half, None).loaded


def test_met_passes_and_is_listed():
    judge.Judge("t", [clock(0.0, 0.0)]).at_most("pass", 0.019, 0.020)
    judge.Judge("u", [clock(50.0, 1.9 * judge.CPUS)]).speedup_at_least("ratio", 12.0, 10.0)
    assert [v.status for v in judge.VERDICTS] == ["MET", "MET"]
    assert judge.summary_lines()[-1] == "targets: 2 met, 0 missed, 0 not judged (machine loaded)"


def test_a_miss_on_an_idle_machine_fails():
    with pytest.raises(pytest.fail.Exception, match=r"TARGET MISSED on an idle machine .*21 ms \(target <= 20 ms\)"):
        judge.Judge("t", [clock(0.1, 0.0)]).at_most("pass", 0.021, 0.020)
    assert judge.VERDICTS[-1].status == "MISSED"


def test_a_miss_on_a_loaded_machine_is_not_judged():
    with pytest.raises(pytest.skip.Exception, match=r"NOT JUDGED: machine loaded \(load 3.00 before"):
        judge.Judge("t", [clock(3.0, 0.9 * judge.CPUS)]).at_most("pass", 0.021, 0.020)
    assert judge.VERDICTS[-1].status == "NOT JUDGED"


def test_a_ratio_is_judged_under_the_worse_of_its_two_runs():
    both = [clock(0.0, 0.0), clock(9.0, 0.9 * judge.CPUS)]
    with pytest.raises(pytest.skip.Exception, match="NOT JUDGED"):
        judge.Judge("t", both).speedup_at_least("ratio", 4.0, 5.0)


def test_knobs(monkeypatch):
    monkeypatch.setenv(judge.TARGET_SCALE_ENV, "0.001")
    monkeypatch.setenv(judge.LOAD_FRACTION_ENV, "1000")
    with pytest.raises(pytest.fail.Exception, match="TARGET MISSED"):
        judge.Judge("t", [clock(5.0, 1.5)]).at_most("pass", 0.001, 0.020)
    monkeypatch.setenv(judge.TARGET_SCALE_ENV, "-1")
    with pytest.raises(pytest.UsageError, match="LIQCASCADE_BENCH_TARGET_SCALE: expected a positive number"):
        judge.target_scale()


def test_a_ratio_of_two_times_is_a_limit():
    judge.Judge("t", [clock(0.0, 0.0)]).ratio_at_most("2 threads / 1", 1.05, 1.1)
    assert judge.VERDICTS[-1].status == "MET"
    with pytest.raises(pytest.fail.Exception, match=r"2 threads / 1: ratio 1.200 \(target <= 1.1\)"):
        judge.Judge("t", [clock(0.0, 0.0)]).ratio_at_most("2 threads / 1", 1.2, 1.1)


def test_a_speed_up_names_its_baseline():
    j = judge.Judge("t", [clock(0.1, 0.0)])
    j.speedup_at_least("per step", 150.0, 100.0, "defi-abm")
    j.speedup_at_least("per step", 150.0, 100.0)
    assert [v.text for v in judge.VERDICTS] == ["per step: 150.0x defi-abm (target >= 100.0x)",
                                                "per step: 150.0x the naive baseline (target >= 100.0x)"]


def test_a_size_is_judged_whatever_the_load():
    """Memory does not depend on what else runs: a miss fails on a loaded machine too."""
    judge.Judge("t", [clock(9.0, 0.9 * judge.CPUS)]).size_at_most("peak RSS", 1.5e9, 2e9)
    assert judge.VERDICTS[-1].status == "MET"
    with pytest.raises(pytest.fail.Exception, match=r"TARGET MISSED: peak RSS: 2.5 GB \(target <= 2 GB\)"):
        judge.Judge("t", [clock(9.0, 0.9 * judge.CPUS)]).size_at_most("peak RSS", 2.5e9, 2e9)
    assert judge.VERDICTS[-1].status == "MISSED"
