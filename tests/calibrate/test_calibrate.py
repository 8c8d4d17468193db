"""Calibration: the known threshold of the hand-computed book (conftest), common random numbers
across candidates, the monotone explored curve, the search's direction, the liquidity cap rule
and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from liqcascade.execution import calibrate as cal
from liqcascade.errors import ConfigError

from .conftest import BONUS, C, DROP, P, bad_debt, best_lt


def test_static_search_finds_the_hand_computed_threshold(one, tmp_path):
    budget = 5000.0
    res = cal.calibrate(one, "liquidation_threshold", "WETH", budget, kind="static", grid=5, tol=1e-3,
                        store=tmp_path / "store")
    s, c = res.summary, res.table("candidates")
    want = best_lt(budget)  # 0.8645833...
    assert s["status"] == "found"
    assert want - 1e-3 <= s["chosen"] <= want  # the feasible side of a bracket narrower than tol
    for v, est in zip(c["value"], c["estimate"]):  # every point on the explored curve, by hand
        assert est == pytest.approx(bad_debt(v), rel=1e-9, abs=1e-6)
    assert (c["within_budget"] == (c["estimate"] <= budget)).all()
    assert s["monotone"] and np.all(np.diff(c.sort_values("value")["estimate"]) >= 0)
    assert set(c["stage"]) == {"grid", "bisect"} and (c["stage"] == "grid").sum() == 5
    # stored under its run id, with what the report's calibration view reads
    again = cal.calibrate(one, "liquidation_threshold", "WETH", budget, kind="static", grid=5, tol=1e-3,
                          store=tmp_path / "store")
    assert again.run_id == res.run_id and again.summary["chosen"] == s["chosen"]
    assert {"value", "estimate", "lo", "hi", "within_budget"} <= set(again.table("candidates").columns)


def test_montecarlo_on_a_degenerate_path_distribution_finds_the_same_threshold(one):
    res = cal.calibrate(one, "liquidation_threshold", "WETH", 5000.0, paths=3, executor="serial", grid=4, tol=2e-3,
                        store=None)
    want = best_lt(5000.0)
    assert want - 2e-3 <= res.summary["chosen"] <= want
    c = res.table("candidates")
    for v, est, lo, hi in zip(c["value"], c["estimate"], c["lo"], c["hi"]):
        assert est == pytest.approx(bad_debt(v), rel=1e-9, abs=1e-6)
        # every path the same: the interval starts at the estimate (3 paths cannot bound a 99 % VaR above)
        assert lo == pytest.approx(est, abs=1e-6) and hi >= est
    p = res.table("candidate_paths")
    assert np.allclose(p["exo_return_ETH"], -DROP)


def test_common_random_numbers_every_candidate_sees_the_same_paths(tmp_path):
    from tests.montecarlo.conftest import write_scenario

    tiny = write_scenario(tmp_path)
    res = cal.calibrate(tiny, "supply_cap", "WETH", 1e12, paths=4, executor="serial", chunk_size=2, grid=3,
                        store=None)
    p = res.table("candidate_paths")
    values = sorted(p["value"].unique())
    assert len(values) == 3  # the whole range is within this budget: the grid only
    exo = [c for c in p.columns if c.startswith("exo_")]
    first = p[p["value"] == values[0]].sort_values("path")[["path", "seed"] + exo].reset_index(drop=True)
    assert first["exo_return_ETH"].nunique() == 4  # the paths differ from one another ...
    for v in values[1:]:  # ... and are the same for every candidate
        pd.testing.assert_frame_equal(p[p["value"] == v].sort_values("path")[["path", "seed"] + exo]
                                      .reset_index(drop=True), first)
    assert res.summary["status"].startswith("the whole range")


def test_supply_cap_scales_the_book_and_is_found_by_hand(one):
    one.write_text(one.read_text().replace("[shock]\nWETH = 0.3", "[shock]\nWETH = 0.4"))
    # the account scaled to a cap of k WETH: bad debt (k/100) * (128000 - 100 * 1200 / 1.05)
    per_weth = (128000.0 - C * P * 0.6 / (1 + BONUS)) / C
    res = cal.calibrate(one, "supply_cap", "WETH", 5000.0, kind="static", value_range=(0.0, 200.0), grid=5,
                        tol=0.05, store=None)
    want = 5000.0 / per_weth  # 36.458 WETH
    assert want - 0.05 <= res.summary["chosen"] <= want
    c = res.table("candidates")
    assert np.allclose(c["estimate"], c["value"] * per_weth, rtol=1e-9, atol=1e-6)
    assert res.summary["current"] == pytest.approx(100.0)


def test_fixed_book_keeps_amounts_so_the_threshold_does_not_move_bad_debt(one):
    # debt stays 128000: after -30 % the collateral (140000) covers debt x 1.05 = 134400 at any threshold
    res = cal.calibrate(one, "liquidation_threshold", "WETH", 1.0, kind="static", book="fixed", grid=3, store=None)
    assert (res.table("candidates")["estimate"] == 0).all()
    assert res.summary["chosen"] == pytest.approx(1 / 1.05) and "whole range" in res.summary["status"]


def test_apply_candidate_keeps_health_factors():
    from liqcascade.api import default_scenario_path
    from liqcascade.io import config as cfgmod

    data = cfgmod.load_scenario(default_scenario_path())[0].model_dump(mode="json")
    data["positions"]["n_accounts"] = 2000
    from liqcascade.io.scenario import build

    sc = build(cfgmod.parse_scenario(data), ".")
    new = cal.apply_candidate(sc, cal.Candidate("liquidation_threshold", "WETH", 0.86))
    p = np.asarray(sc.model.prices)
    hf0 = sc.model.rules.health(sc.model.rules.prepare(sc.model.book), p).hf
    hf1 = new.model.rules.health(new.model.rules.prepare(new.model.book), p).hf
    assert np.allclose(hf0, hf1, rtol=1e-9)
    i = sc.model.assets.index("WETH")
    assert new.model.rules.params.liquidation_threshold[i] == 0.86
    assert (new.model.book.debt >= sc.model.book.debt - 1e-9).all()  # a higher threshold: more borrowing
    assert (new.model.book.debt > sc.model.book.debt * (1 + 1e-6)).any()


class _Fake:
    """An evaluator with a known decreasing metric (the bonus: higher is safer)."""

    def __init__(self, s):
        self.s, self.seen = s, []

    def batch(self, values, stage):
        self.seen.append((stage, list(values)))
        return [max(0.0, 0.1 - v) * 1e6 for v in values]


def test_search_walks_from_the_safe_end_for_a_decreasing_metric():
    s = cal._Setup(None, "liquidation_bonus", "WETH", 20000.0, 0.99, "var", "bad_debt_usd", "static", "health",
                   0.0, 0.2, 5, 1e-4, 0.95, 1, 0, 1)
    ev = _Fake(s)
    chosen, status = cal._search(ev)
    # 1e6 (0.1 - b) <= 20000  <=>  b >= 0.08: the lowest bonus within budget
    assert status == "found" and 0.08 <= chosen <= 0.08 + 1e-4
    assert ev.seen[0][0] == "grid" and ev.seen[0][1] == pytest.approx([0.2, 0.15, 0.1, 0.05, 0.0])
    s.budget = 1.0  # below the metric everywhere but b >= 0.1 ... where it is 0: still found
    assert cal._search(_Fake(s))[0] == pytest.approx(0.1, abs=1e-4)
    s.budget, s.lo = 1.0, 0.0
    s.hi = 0.05  # nowhere within budget
    chosen, status = cal._search(_Fake(s))
    assert math.isnan(chosen) and status.startswith("no value")


def test_liquidity_cap_rule_by_hand(one):
    text = one.read_text() + '\n[[venues]]\nkind = "cpmm"\nasset = "WETH"\nreserve_usd = 1e6\nfee = 0.003\n'
    one.write_text(text)
    res = cal.liquidity_cap(one, "WETH", blocks=4, share=0.5, store=None)
    # constant product with mid price p (fee included): slippage(q) = g q / (x + g q), x = y g / p, so
    # slippage = s at q = (y / p) s / (1 - s): cap = blocks / share * (y / p) * s / (1 - s)
    s = BONUS * (1 - 0.0)
    want = 4 / 0.5 * (1e6 / P) * s / (1 - s)  # 210.53 WETH
    assert res.summary["chosen"] == pytest.approx(want, rel=1e-6)
    c = res.table("candidates")
    assert (c["within_budget"] == (c["value"] <= want * (1 + 1e-9))).all()
    assert np.all(np.diff(c["estimate"]) > 0)


@pytest.mark.parametrize("kw, key", [
    ({"budget": 0.0}, "budget"), ({"budget": -1.0}, "budget"), ({"budget": math.nan}, "budget"),
    ({"budget": math.inf}, "budget"), ({"confidence": 0.0}, "confidence"), ({"confidence": 1.0}, "confidence"),
    ({"confidence": 1.5}, "confidence"), ({"param": "ltv_max"}, "param"), ({"asset": "DOGE"}, "asset"),
    ({"metric": "median"}, "metric"), ({"value_range": (0.9, 0.8)}, "range"), ({"book": "grown"}, "book"),
    ({"kind": "replay"}, "kind"), ({"paths": 0}, "paths"),
])
def test_bad_input_is_refused_before_any_work(one, tmp_path, kw, key):
    args = {"param": "liquidation_threshold", "asset": "WETH", "budget": 1e6, **kw}
    with pytest.raises(ConfigError) as e:
        cal.calibrate(one, store=tmp_path / "store", executor="serial", **args)
    assert e.value.key == key
    assert not (tmp_path / "store").exists()


def test_a_range_the_market_refuses_is_named(one, tmp_path):
    # LT x (1 + 5 %) must stay <= 1
    with pytest.raises(ConfigError, match="liquidation_threshold"):
        cal.calibrate(one, "liquidation_threshold", "WETH", 1e6, value_range=(0.8, 0.99), kind="static",
                      store=tmp_path / "s")
    assert not (tmp_path / "s").exists()
