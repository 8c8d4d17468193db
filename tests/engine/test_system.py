"""The static cascade of a system of markets: hand cases, the one-market identity,
composition invariance and conservation."""

import numpy as np
import pandas as pd
import pytest

from liqcascade.engine.run import run_static
from liqcascade.engine.static import CascadeSettings, MarketModel
from liqcascade.engine.system import SystemCascade, SystemModel
from liqcascade.engine.system_run import run_system
from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from .conftest import PARAMS, PRICES, book

POOL = ConstantProductPool.from_price_depth("WETH", 2000.0, 36_000.0, 0.0)  # 18 WETH / 36,000 USD, no fee


def market(rows, version=V3_0):
    return MarketModel(book(rows), AaveV3Rules(PARAMS, version), PRICES, {})


def system(markets, venues=None):
    return SystemModel(PARAMS.symbols, PRICES, markets, {"WETH": POOL} if venues is None else venues)


def test_contagion_through_the_shared_pool_by_hand(one_numba_thread):
    # WETH -10 % -> 1800. A: 10 WETH / 16,000 USDC: HF = 15,300/16,000 = 0.95625 -> 50 % close:
    # repay 8,000, seize 8,000*1.05/1800 = 4.6667 WETH, fee 10 % of the bonus 0.4444*0.1... = 0.022222,
    # sold 4.644444 WETH. B: 10 WETH / 13,000 USDC: HF = 15,300/13,000 = 1.1769, liquidatable below
    # 13,000/8.5 = 1529.41. The pool after arbitrage to 1800: k = 648,000, x = sqrt(360) = 18.97367;
    # after A's sale x' = 23.61811, price k/x'^2 = 1161.66 < 1529.41: B falls with A.
    a = market([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 16_000.0)])
    b = market([("b", "WETH", 10.0, 0), ("b", "USDC", 0, 13_000.0)])
    solver = SystemCascade(system({"A": a, "B": b}))
    alone_b = solver.alone("B", {"WETH": 0.1})
    assert alone_b.tallies.acct_calls.sum() == 0
    out = solver.run({"WETH": 0.1})
    assert out.markets["B"].tallies.acct_calls.sum() >= 1
    rounds_a = pd.DataFrame(out.markets["A"].round_rows)
    first = rounds_a[(rounds_a["round"] == 1) & (rounds_a["asset"] == "WETH")].iloc[0]
    sold = 8000.0 * 1.05 / 1800.0 - (8000.0 * 0.05 / 1800.0) * 0.1
    assert first["collateral_sold"] == pytest.approx(sold, rel=1e-12)
    x1 = np.sqrt(648_000.0 / 1800.0) + sold
    assert first["price_after"] == pytest.approx(648_000.0 / x1**2, rel=1e-12)
    assert first["price_after"] < 13_000.0 / 8.5


def test_contagion_columns_are_together_minus_alone(one_numba_thread):
    a = market([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 16_000.0)])
    b = market([("b", "WETH", 10.0, 0), ("b", "USDC", 0, 13_000.0)])
    res = run_system(system({"A": a, "B": b}), {"WETH": 0.1})
    m = res["markets"].set_index("market")
    assert m.loc["B", "alone_accounts_liquidated"] == 0
    assert m.loc["B", "accounts_liquidated"] == 1
    assert m.loc["B", "contagion_accounts_liquidated"] == 1
    for key in ("collateral_seized_usd", "bad_debt_usd", "debt_repaid_usd"):
        assert np.allclose(m[f"contagion_{key}"], m[key] - m[f"alone_{key}"], rtol=0, atol=0)
    s = res.summary
    assert s["collateral_seized_usd"] == pytest.approx(m["collateral_seized_usd"].sum(), rel=1e-15)
    assert s["contagion_accounts_liquidated"] == 1


def _random_rows(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        coll = float(rng.uniform(0.5, 20.0))
        hf = float(rng.uniform(1.0, 1.6))
        debt = coll * 2000.0 * 0.85 / hf
        rows += [(f"u{k}", "WETH", coll, 0.0), (f"u{k}", "USDC" if k % 3 else "DAI", 0.0, debt)]
    return rows


@pytest.mark.parametrize("version", [V3_0, V3_3])
@pytest.mark.parametrize("shock", [0.05, 0.15, 0.3])
def test_composition_invariance(one_numba_thread, version, shock):
    # one book split across two markets with the same rules and the shared pool ends at the
    # same prices and totals as the whole book in one market
    rows = _random_rows(300, seed=7)
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 2e6, 0.003)
    whole = run_static(MarketModel(book(rows), AaveV3Rules(PARAMS, version), PRICES, {"WETH": pool}), {"WETH": shock})
    half = len(rows) // 2  # an even count of rows: accounts stay whole
    parts = {"one": market(rows[:half], version), "two": market(rows[half:], version)}
    res = run_system(system(parts, {"WETH": pool}), {"WETH": shock})
    w, s = whole.summary, res.summary
    fw = whole["assets"].set_index("asset")["price_final"]
    fs = res["assets"].set_index("asset")["price_final"]
    assert np.allclose(fs[fw.index], fw, rtol=1e-9, atol=0)
    for key in ("accounts_liquidated", "liquidation_calls"):
        assert s[key] == w[key]
    for key in ("collateral_seized_usd", "debt_repaid_usd", "bad_debt_usd", "liquidator_proceeds_usd"):
        assert s[key] == pytest.approx(w[key], rel=1e-9, abs=1e-6)
    assert s["rounds"] == w["rounds"]


def test_one_market_system_is_the_single_market_engine(one_numba_thread):
    rows = _random_rows(200, seed=3)
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 1e6, 0.003)
    m = MarketModel(book(rows), AaveV3Rules(PARAMS, V3_3), PRICES, {"WETH": pool})
    single = run_static(m, {"WETH": 0.25})
    res = run_system(system({"only": m}, {"WETH": pool}), {"WETH": 0.25})
    pd.testing.assert_frame_equal(res["assets"], single["assets"], check_exact=True)
    pd.testing.assert_frame_equal(res["rounds"].drop(columns="market"), single["rounds"], check_exact=True)
    pd.testing.assert_frame_equal(res["trades"].drop(columns="market"), single["trades"], check_exact=True)
    for key in ("collateral_seized_usd", "debt_repaid_usd", "bad_debt_usd", "amplification", "rounds"):
        assert res.summary[key] == single.summary[key]
    # alone is the same run: no contagion
    assert res["markets"]["contagion_collateral_seized_usd"].iloc[0] == 0.0


def test_conservation_per_market_and_system(one_numba_thread):
    rows = _random_rows(240, seed=11)
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 5e5, 0.003)
    parts = {"x": market(rows[:160]), "y": market(rows[160:], V3_3)}
    sysm = system(parts, {"WETH": pool})
    res = run_system(sysm, {"WETH": 0.2}, CascadeSettings(sell_fraction=0.7))
    ma = res["market_assets"]
    assets = res["assets"].set_index("asset")
    # seized = sold + held + fee, per asset of the system
    assert np.allclose(assets["seized"], assets["sold"] + assets["held"] + assets["fee"], rtol=1e-12)
    # what the markets sold is what went through the venue, and its proceeds are shared out whole
    weth = ma[ma["asset"] == "WETH"]
    assert weth["collateral_sold"].sum() == pytest.approx(assets.loc["WETH", "sold"], rel=1e-12)
    assert weth["proceeds_usd"].sum() == pytest.approx(assets.loc["WETH", "proceeds"], rel=1e-12)
    rounds = res["rounds"]
    sold_rounds = rounds[rounds["asset"] == "WETH"].groupby("market")["collateral_sold"].sum()
    assert np.allclose(sold_rounds.sort_index(), weth.set_index("market")["collateral_sold"].sort_index(), rtol=1e-12)
    # no negative balance anywhere
    out = SystemCascade(sysm, CascadeSettings(sell_fraction=0.7)).run({"WETH": 0.2})
    for o in out.markets.values():
        assert (o.arrays.coll >= 0).all() and (o.arrays.debt >= -1e-9).all()


def test_a_market_price_that_disagrees_is_refused():
    other = MarketModel(book([("a", "WETH", 1.0, 0)]), AaveV3Rules(PARAMS, V3_0), PRICES * [1.01, 1, 1], {})
    with pytest.raises(ConfigError, match="one price per asset"):
        system({"a": market([("a", "WETH", 1.0, 0)]), "b": other})


def test_unknown_venue_asset_and_empty_system_are_refused():
    with pytest.raises(ConfigError, match="at least one market"):
        system({})
    with pytest.raises(ConfigError, match="venues.WBTC"):
        SystemModel(PARAMS.symbols, PRICES, {"a": market([("a", "WETH", 1.0, 0)])},
                    {"WBTC": ConstantProductPool.from_price_depth("WBTC", 30_000.0, 1e6)})


def test_subset_of_markets_is_the_subsystem(one_numba_thread):
    a = market([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 16_000.0)])
    b = market([("b", "WETH", 10.0, 0), ("b", "USDC", 0, 13_000.0)])
    c = market([("c", "WETH", 5.0, 0), ("c", "DAI", 0, 7_000.0)])
    full = SystemCascade(system({"A": a, "B": b, "C": c}))
    sub = SystemCascade(system({"A": a, "C": c}))
    x = full.run({"WETH": 0.12}, only=["A", "C"])
    y = sub.run({"WETH": 0.12})
    assert np.array_equal(x.trace.prices_final, y.trace.prices_final)
