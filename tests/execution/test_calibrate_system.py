"""Calibration on a system: the parameter of one market moves, the budget is on the system's
total or on one market's loss.

The hand case (conftest ``HAND``): market ``a`` is the calibration tests' one-account book,
whose bad debt under threshold L with health kept is max(0, 160000 L - 140000 / 1.05); market
``b`` never liquidates and no venue links them, so the system's bad debt is ``a``'s and the
threshold that keeps it within budget B is L* = (B + 140000 / 1.05) / 160000."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.execution import calibrate as cal
from tests.calibrate.conftest import bad_debt, best_lt


def test_static_search_on_the_system_hits_its_budget(hand, tmp_path):
    budget = 5000.0
    res = cal.calibrate(hand, "liquidation_threshold", "WETH", budget, kind="static", grid=5, tol=1e-3, market="a",
                        store=tmp_path / "store")
    s, c = res.summary, res.table("candidates")
    want = best_lt(budget)
    assert s["status"] == "found" and s["market"] == "a" and s["budget_on"] == "system"
    assert want - 1e-3 <= s["chosen"] <= want
    for v, est in zip(c["value"], c["estimate"]):
        assert est == pytest.approx(bad_debt(v), rel=1e-9, abs=1e-6)
    assert s["current"] == 0.8  # a's own threshold, not b's or the system's
    # the value just above the answer (the bracket's other end) is over budget
    over = c[c["value"] > s["chosen"]]
    assert (over["estimate"] > budget).all() and over["value"].min() - s["chosen"] <= 1e-3


def test_the_budget_on_a_market_that_never_liquidates_is_never_binding(hand):
    res = cal.calibrate(hand, "liquidation_threshold", "WETH", 1.0, kind="static", grid=3, market="a",
                        budget_market="b", store=None)
    assert res.summary["budget_on"] == "b"
    assert (res.table("candidates")["estimate"] == 0).all()
    assert res.summary["status"].startswith("the whole range")


def test_montecarlo_on_the_system_finds_the_same_threshold(hand):
    res = cal.calibrate(hand, "liquidation_threshold", "WETH", 5000.0, paths=2, executor="serial", grid=4, tol=2e-3,
                        market="a", budget_market="a", store=None)
    want = best_lt(5000.0)
    assert want - 2e-3 <= res.summary["chosen"] <= want
    c = res.table("candidates")
    for v, est in zip(c["value"], c["estimate"]):
        assert est == pytest.approx(bad_debt(v), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("kw, flag", [
    ({}, "--market"),
    ({"market": "c"}, "--market"),
    ({"market": "a", "budget_market": "c"}, "--budget-market"),
])
def test_bad_markets_are_named(hand, kw, flag):
    with pytest.raises(ConfigError) as e:
        cal.calibrate(hand, "liquidation_threshold", "WETH", 1.0, kind="static", store=None, **kw)
    assert e.value.file == flag
    assert "['a', 'b']" in e.value.expected


def test_a_single_market_scenario_refuses_a_market(tmp_path):
    from tests.calibrate.conftest import write_one

    one = write_one(tmp_path)
    with pytest.raises(ConfigError, match="single-market") as e:
        cal.calibrate(one, "liquidation_threshold", "WETH", 1.0, kind="static", market="a", store=None)
    assert e.value.file == "--market"


def test_cli_says_which_market_moved(hand, tmp_path):
    r = CliRunner().invoke(main, ["calibrate", str(hand), "--param", "liquidation_threshold", "--asset", "WETH",
                                  "--market", "a", "--budget", "5000", "--kind", "static", "--grid", "3",
                                  "--out", str(tmp_path / "res"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "in market a, budget on system" in r.output
    r = CliRunner().invoke(main, ["calibrate", str(hand), "--param", "supply_cap", "--asset", "WETH",
                                  "--method", "liquidity", "--out", str(tmp_path / "res")])
    assert r.exit_code == 2 and "system scenario" in r.output
