"""Liquidators with capital and capacity in the static system cascade: hand cases, recycling,
the unbounded limit, monotonicity in capital and conservation of the ledgers."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.static import MarketModel
from liqcascade.engine.system import SystemCascade, SystemModel
from liqcascade.engine.system_liquidators import StaticLiquidators
from liqcascade.engine.system_run import run_system
from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.model import PositionBook
from liqcascade.model.synthetic import synthetic_book
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from .conftest import PARAMS, PRICES, book

# At WETH -10 % (1,800) an account of W WETH owing 1,600·W USDC has HF 0.95625: one call of the
# 50 % close factor repays 800·W, seizes 800·W·1.05/1,800 WETH, the protocol keeps 10 % of the bonus,
# so the liquidator receives (840·W − 4·W)/1,800 WETH = 836·W USD at 1,800: a profit of 36·W USD.
# After the call HF = (W − 0.46667·W)·1,800·0.85 / 800·W = 1.02: one call a round.
A_ROWS = [("a", "WETH", 10.0, 0), ("a", "USDC", 0, 16_000.0)]  # repays 8,000, profit 360
B_ROWS = [("b", "WETH", 20.0, 0), ("b", "USDC", 0, 32_000.0)]  # repays 16,000, profit 720


def market(rows, version=V3_0):
    return MarketModel(book(rows), AaveV3Rules(PARAMS, version), PRICES, {})


def two(*pops, venues=None, a=A_ROWS, b=B_ROWS):
    return SystemModel(PARAMS.symbols, PRICES, {"A": market(a), "B": market(b)}, venues or {}, liquidators=pops)


def rounds_of(out, name):
    return sorted({r["round"] for r in out.markets[name].round_rows})


def test_capital_for_one_call_serves_the_more_profitable_first_then_recycles(one_numba_thread):
    # capital 16,000 fits B (720) or A (360), not both: B goes in round 1 though A is listed first;
    # B's WETH sells for 16,720 (no venue: at 1,800), the balance is 16,720 >= 8,000 and A goes in round 2
    out = SystemCascade(two(StaticLiquidators(capital_usd=16_000.0))).run({"WETH": 0.1})
    assert rounds_of(out, "B") == [1] and rounds_of(out, "A") == [2]
    led = out.liquidators["shared"]
    assert led.calls == 2 and led.debt_repaid_usd == pytest.approx(24_000.0, rel=1e-12)
    assert led.proceeds_usd == pytest.approx(16_720.0 + 8_360.0, rel=1e-12)
    assert led.balance_usd == pytest.approx(16_000.0 + 720.0 + 360.0, rel=1e-12)
    assert led.peak_round_usd == pytest.approx(16_000.0, rel=1e-12)
    assert led.rounds_bound == 1 and led.calls_left_undone == 1 and led.accounts_left == 0
    assert out.trace.converged and not out.trace.stuck


def test_an_account_that_does_not_fit_is_skipped_and_left_eligible(one_numba_thread):
    # 10,000: B (16,000) never fits, A (8,000) does: A in round 1, then the balance 10,360 still
    # cannot take B and the cascade stops with B left (stuck)
    res = run_system(two(StaticLiquidators(capital_usd=10_000.0)), {"WETH": 0.1})
    out = SystemCascade(two(StaticLiquidators(capital_usd=10_000.0))).run({"WETH": 0.1})
    assert rounds_of(out, "A") == [1] and rounds_of(out, "B") == []
    assert out.trace.stuck
    row = res["liquidators"].iloc[0]
    assert (row["liquidator"], row["market"]) == ("shared", "*")
    assert row["accounts_left_eligible"] == 1
    assert row["debt_left_eligible_usd"] == pytest.approx(32_000.0, rel=1e-12)
    assert row["shortfall_left_usd"] == 0.0  # 20 WETH at 1,800 = 36,000 > 32,000: not under water
    assert row["balance_end_usd"] == pytest.approx(10_360.0, rel=1e-12)
    acc = res["accounts"].set_index("account_id")
    assert acc.loc["b", "liquidation_calls"] == 0 and acc.loc["b", "hf_after"] < 1.0  # listed, left eligible
    assert res["summary"].iloc[0]["stuck"]
    # alone, each market has the population to itself: A is liquidated, B still does not fit
    m = res["markets"].set_index("market")
    assert (m.loc["A", "alone_accounts_liquidated"], m.loc["B", "alone_accounts_liquidated"]) == (1, 0)


def test_calls_per_round_take_the_more_profitable_first_ties_by_market_order(one_numba_thread):
    out = SystemCascade(two(StaticLiquidators(calls_per_round=1))).run({"WETH": 0.1})
    assert rounds_of(out, "B") == [1] and rounds_of(out, "A") == [2]
    # the same account in both markets: the same profit, market A goes first
    out = SystemCascade(two(StaticLiquidators(calls_per_round=1), b=A_ROWS)).run({"WETH": 0.1})
    assert rounds_of(out, "A") == [1] and rounds_of(out, "B") == [2]


def test_a_dedicated_population_goes_first_and_the_shared_takes_the_rest(one_numba_thread):
    pops = (StaticLiquidators(calls_per_round=1), StaticLiquidators("A", capital_usd=8_000.0))
    res = run_system(two(*pops), {"WETH": 0.1})
    out = SystemCascade(two(*pops)).run({"WETH": 0.1})
    assert rounds_of(out, "A") == [1] and rounds_of(out, "B") == [1]
    led = res["liquidators"].set_index("liquidator")
    assert led.loc["A", "market"] == "A" and led.loc["A", "debt_repaid_usd"] == pytest.approx(8_000.0, rel=1e-12)
    assert led.loc["shared", "debt_repaid_usd"] == pytest.approx(16_000.0, rel=1e-12)


def test_a_sale_below_the_debt_repaid_shrinks_the_balance(one_numba_thread):
    # A's 4.644 WETH into a fee-free pool of k = 648,000 at 1,800 fetch sqrt(k·1800) − k/(sqrt(k/1800) + q)
    # = 6,716 USD for 8,000 repaid: a loss of 1,284 that comes out of the balance
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 36_000.0, 0.0)
    res = run_system(SystemModel(PARAMS.symbols, PRICES, {"A": market(A_ROWS)}, {"WETH": pool},
                                 liquidators=(StaticLiquidators(capital_usd=8_000.0),)), {"WETH": 0.1})
    k, q = 648_000.0, 8_360.0 / 1_800.0
    first = math.sqrt(k * 1800.0) - k / (math.sqrt(k / 1800.0) + q)
    assert first < 8_000.0
    r1 = res["rounds"].query("round == 1 and asset == 'WETH'").iloc[0]
    assert r1["proceeds_usd"] == pytest.approx(first, rel=1e-9)
    row = res["liquidators"].iloc[0]
    assert row["balance_end_usd"] == pytest.approx(8_000.0 + row["proceeds_usd"] - row["capital_used_usd"], rel=1e-12)
    assert row["balance_end_usd"] < 8_000.0


def _synthetic_system(pops=(), impact=True, n=300):
    books = {
        "A": synthetic_book(PARAMS, PRICES, n, seed=1),
        "B": synthetic_book(PARAMS, PRICES, n, seed=2),
    }
    markets = {k: MarketModel(b, AaveV3Rules(PARAMS, V3_3), PRICES, {}) for k, b in books.items()}
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 4e6, 0.003)
    return SystemModel(PARAMS.symbols, PRICES, markets, {"WETH": pool} if impact else {}, liquidators=pops)


@pytest.mark.parametrize("shock", [0.15, 0.3])
def test_huge_capital_is_the_unbounded_cascade(one_numba_thread, shock):
    free = run_system(_synthetic_system(), {"WETH": shock})
    rich = run_system(_synthetic_system((StaticLiquidators(capital_usd=1e200, calls_per_round=10**9),)),
                      {"WETH": shock})
    for name in ("markets", "assets", "accounts"):
        a, b = free[name], rich[name]
        assert list(a.columns) == list(b.columns) and a.shape == b.shape
        num = a.select_dtypes("number").columns
        np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=1e-9, atol=1e-6)
        assert (a.drop(columns=num).astype(str).to_numpy() == b.drop(columns=num).astype(str).to_numpy()).all()
    assert rich["liquidators"].iloc[0]["accounts_left_eligible"] == 0
    assert rich["summary"].iloc[0]["rounds"] == free["summary"].iloc[0]["rounds"]


def test_no_population_bounded_runs_todays_engine():
    sysm = _synthetic_system((StaticLiquidators(), StaticLiquidators("A")), n=20)
    assert not sysm.bounded
    out = SystemCascade(sysm).run({"WETH": 0.2})
    assert out.liquidators == {}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1.0, 50.0), st.floats(0.80, 0.99)), min_size=1, max_size=6),
    st.lists(st.tuples(st.floats(1.0, 50.0), st.floats(0.80, 0.99)), min_size=1, max_size=6),
    st.floats(500.0, 60_000.0), st.floats(1.0, 4.0), st.integers(1, 4),
)
def test_more_capital_never_fewer_liquidations_at_fixed_prices(one_numba_thread, a, b, cap, more, calls):
    # prices do not move (no venue): each account's round is the same whenever it is taken, profits
    # are >= 0, so whatever fits a smaller balance fits the larger one by the end
    def rows(name, accts):
        out = []
        for i, (w, hf) in enumerate(accts):  # HF at 1,800 = w·1,800·0.85 / debt
            out += [(f"{name}{i}", "WETH", w, 0.0), (f"{name}{i}", "USDC", 0.0, w * 1530.0 / hf)]
        return out

    def liquidated(capital):
        out = SystemCascade(two(StaticLiquidators(capital_usd=capital, calls_per_round=calls),
                                a=rows("a", a), b=rows("b", b))).run({"WETH": 0.1})
        done = {n: set(o.liquidated_accounts()) for n, o in out.markets.items()}
        return done, out

    small, out_s = liquidated(cap)
    big, out_b = liquidated(cap * more)
    for n in small:
        assert small[n] <= big[n]
    for out in (out_s, out_b):  # the ledger's balance is the capital plus what its sales made
        led = out.liquidators["shared"]
        assert led.balance_usd == pytest.approx(led.population.capital_usd + led.proceeds_usd - led.capital_used_usd,
                                                rel=1e-9)
        parts = [pd.DataFrame(o.round_rows).assign(m=n) for n, o in out.markets.items() if o.round_rows]
        if parts:
            rows_ = pd.concat(parts)
            per_round = rows_.drop_duplicates(["m", "round"]).groupby("round")["liquidation_calls"].sum()
            assert (per_round <= calls).all()


def test_conservation_of_the_ledgers(one_numba_thread):
    pops = (StaticLiquidators(capital_usd=3e5, calls_per_round=40), StaticLiquidators("B", capital_usd=1e5))
    res = run_system(_synthetic_system(pops), {"WETH": 0.3})
    led, m = res["liquidators"], res["markets"]
    assert led["debt_repaid_usd"].sum() == pytest.approx(m["debt_repaid_usd"].sum(), rel=1e-9)
    assert led["proceeds_usd"].sum() == pytest.approx(m["liquidator_proceeds_usd"].sum(), rel=1e-9)
    assert led["liquidation_calls"].sum() == m["liquidation_calls"].sum()
    assert (led["balance_end_usd"] - led["capital_usd"] - led["proceeds_usd"] + led["capital_used_usd"]).abs().max() < 1e-3
    a = res["assets"]  # seized = fee + sold + held, per asset over every market
    np.testing.assert_allclose(a["seized"], a["fee"] + a["sold"] + a["held"], rtol=1e-12)


def test_bad_populations_are_refused():
    with pytest.raises(ConfigError, match="calls_per_round"):
        StaticLiquidators(calls_per_round=0)
    with pytest.raises(ConfigError, match="capital_usd"):
        StaticLiquidators("A", capital_usd=0.0)
    with pytest.raises(ConfigError, match="market names"):
        two(StaticLiquidators("C", capital_usd=1.0))
    with pytest.raises(ConfigError, match="one population per market"):
        two(StaticLiquidators(capital_usd=1.0), StaticLiquidators(calls_per_round=2))


def test_issued_coins_are_bought_as_unbounded_with_huge_capital(one_numba_thread):
    # the hand case of docs/system.md (a vault owing DAI in the issuer, an account owing DAI
    # elsewhere): the same coin purchases and the same liquidations through the bounded rounds
    from liqcascade.engine.system import IssuedCoin
    from liqcascade.model import AssetParams, RiskParams

    params = RiskParams.from_assets([AssetParams("WETH", 18, 0.80, 0.85, 0.05, 0.10),
                                     AssetParams("DAI", 18, 0.75, 0.78, 0.045, 0.10)])
    prices = np.array([2000.0, 1.0])

    def one(name, weth, dai):
        b = PositionBook.from_rows([name, name], [0, 1], [weth, 0.0], [0.0, dai], params.symbols)
        return MarketModel(b, AaveV3Rules(params, V3_0), prices, {})

    def run(pops):
        system = SystemModel(params.symbols, prices, {"issuer": one("vault", 10.0, 16_000.0),
                                                      "other": one("b", 5.0, 7_620.0)},
                             {"DAI": ConstantProductPool("DAI", 2e6, 2e6, fee=0.0)},
                             issued=(IssuedCoin("DAI", issuer="issuer"),), liquidators=pops)
        return run_system(system, {"WETH": 0.1})

    free, rich = run(()), run((StaticLiquidators(capital_usd=1e200),))
    pd.testing.assert_frame_equal(free["stablecoins"], rich["stablecoins"], rtol=1e-12)
    assert rich["stablecoins"].iloc[0]["bought"] == 8_000.0
    pd.testing.assert_frame_equal(free["markets"], rich["markets"], rtol=1e-12)


@pytest.mark.parametrize("example", ["system_eth_2023.toml", "system_shared_eth.toml", "system_pegs_2023.toml"])
def test_huge_capital_is_unbounded_for_every_shipped_protocol(one_numba_thread, example):
    # Aave, Comet, Maker (auctions), Morpho, Liquity (global effects) and crvUSD (soft liquidation):
    # each market's round goes through its own static rule, so unbounded populations change nothing
    import re
    import tomllib
    from dataclasses import replace
    from pathlib import Path

    from liqcascade.io.system import build_system, parse_system

    path = Path(__file__).resolve().parents[2] / "examples" / example
    text = re.sub(r"(?m)^n_accounts = (\d+)", lambda m: f"n_accounts = {min(int(m.group(1)), 400)}", path.read_text())
    ss = build_system(parse_system(tomllib.loads(text), str(path)), path.parent, str(path))
    free = run_system(ss.model, ss.config.shock, ss.settings, ss.market_settings)
    rich = run_system(replace(ss.model, liquidators=(StaticLiquidators(capital_usd=1e200, calls_per_round=1e12),)),
                      ss.config.shock, ss.settings, ss.market_settings)
    assert free["markets"]["accounts_liquidated"].sum() > 0
    assert set(rich.tables) == set(free.tables) | {"liquidators"}
    for name in set(free.tables) - {"summary"}:  # markets, rounds, accounts, trades, ...
        a, b = free[name], rich[name]
        assert list(a.columns) == list(b.columns) and a.shape == b.shape, name
        num = a.select_dtypes("number").columns
        np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=1e-9, atol=1e-6,
                                   err_msg=name)
    for key, v in free["summary"].iloc[0].items():  # the bounded summary only adds columns
        assert rich["summary"].iloc[0][key] == pytest.approx(v, rel=1e-9, abs=1e-6) if isinstance(v, float) else \
            rich["summary"].iloc[0][key] == v


def test_a_solver_reused_after_a_bounded_run_starts_from_the_book(one_numba_thread):
    # the solver's working rows are reset between runs (crvUSD's AMM included): the same run twice
    # gives the same tables, and an unbounded solver's first run is unchanged by it
    import re
    import tomllib
    from dataclasses import replace
    from pathlib import Path

    from liqcascade.io.system import build_system, parse_system

    path = Path(__file__).resolve().parents[2] / "examples" / "system_eth_2023.toml"
    text = re.sub(r"(?m)^n_accounts = (\d+)", lambda m: f"n_accounts = {min(int(m.group(1)), 300)}", path.read_text())
    ss = build_system(parse_system(tomllib.loads(text), str(path)), path.parent, str(path))
    bounded = replace(ss.model, liquidators=(StaticLiquidators(capital_usd=3e6, calls_per_round=25),))
    solver = SystemCascade(bounded, ss.settings, ss.market_settings)
    first = {n: solver.totals(n, o) for n, o in solver.run({"WETH": 0.4, "wstETH": 0.4}).markets.items()}
    solver.run({"WETH": 0.2, "wstETH": 0.2})
    again = {n: solver.totals(n, o) for n, o in solver.run({"WETH": 0.4, "wstETH": 0.4}).markets.items()}
    assert first == again
    assert first["crvusd_wsteth"]["liquidation_calls"] > 0
