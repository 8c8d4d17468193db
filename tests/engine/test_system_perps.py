"""Perps and lending in one system (engine/system_perps.py): with no arbitrage capital each
side runs exactly as alone; a perp-only crash reaches a lending market through the spot venue
only when the arbitrageur has capital; the arbitrage legs conserve tokens and USD; Binance's
mark from the perp's own book, by hand and in the runner, and arbitrage closing its basis."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine import perps as P
from liqcascade.engine.system_dynamic import run_system, start_system
from liqcascade.engine.system_perps import (
    MarkState, PerpMarketSim, basis_samples, perp_substep, run_system_perps, start_perp, substeps,
)
from liqcascade.errors import ConfigError
from liqcascade.execution.perps import _DustSafe
from liqcascade.io.system import load_system, system_simulation_parts
from liqcascade.markets.perp_arb import BasisArbitrageur
from liqcascade.markets.perp_book import PerpOrderBookVenue
from liqcascade.markets.perp_depth import shipped_dynamics
from liqcascade.markets.perp_prices import binance_mark_price
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols.dydx_v4.rules import DydxDeleveraging, DydxV4Rules, Tier
from liqcascade.scenarios import PricePath

RULES = DydxV4Rules(default_tier=Tier(0.05, 0.6))  # initial margin 5 %, maintenance 3 %
SYSTEM = '''name = "perps-and-lending"

[[markets]]
name = "aave"
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]

[markets.positions]
source = "synthetic"
n_accounts = 600
seed = 5
pair = ["WETH", "USDC"]

[shock]
WETH = 0.3

[[venues]]
kind = "orderbook"
asset = "WETH"
calibration = "calm"
scale = 0.05

[simulation]
path = "linear"
duration_blocks = 15
blocks = 30
check_conservation = true

[simulation.liquidators]
liquidations_per_block = 4
min_profit_usd = 1
'''


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    p = tmp_path_factory.mktemp("perps") / "system.toml"
    p.write_text(SYSTEM)
    ss = load_system(p)
    path, oracle, sim_settings = system_simulation_parts(ss)
    return ss, path, oracle, sim_settings


def longs(price: float, leverage: list[float], notional: float) -> PerpBook:
    """One long account per leverage, each ``notional`` USD entered at ``price`` (cross margin)."""
    n = len(leverage)
    size = np.full(n, notional / price)
    return PerpBook.from_rows(
        AccountColumns(ids=np.arange(n), collateral=notional / np.asarray(leverage), isolated=np.zeros(n, bool)),
        PositionColumns(account=np.arange(n), market=np.zeros(n, int), size=size, entry_price=np.full(n, price)),
        markets=["ETH-USD"],
    )


def perp(book: PerpBook, price: float, capital: float, scale: float = 0.01, step: float = 6.0,
         mark: str = "index") -> PerpMarketSim:
    venue = PerpOrderBookVenue("WETH", price, shipped_dynamics(), scale=scale)
    return PerpMarketSim("eth-perp", "WETH", RULES, book, venue, lambda: DydxDeleveraging(RULES, 3), step,
                         BasisArbitrageur(capital), fund_usd=1e6, mark=mark)


def test_substeps_divide_the_block():
    assert substeps(12, 6) == 2 and substeps(12, 12) == 1 and substeps(12, 1) == 12
    for bad in (5.0, 24.0, 0.0):
        with pytest.raises(ConfigError, match="divides the block"):
            substeps(12, bad)


def test_without_arbitrage_capital_each_side_runs_as_alone(system):
    ss, path, oracle, sim_settings = system
    p0 = float(path.prices[0, 0])
    # 8x to 30x longs: the 30 % fall takes them below maintenance one after the other
    book = longs(p0, [8.0, 12.0, 16.0, 20.0, 25.0, 30.0] * 5, 2e5)
    sim = perp(book, p0, capital=0.0)
    run = run_system_perps(ss.model, path, oracle, [sim], sim_settings, wrap=_DustSafe)
    # the lending side: bit for bit the system simulation without the perp
    alone = run_system(ss.model, path, oracle, sim_settings).markets["aave"]
    together = run.lending.markets["aave"]
    assert together.summary["accounts_liquidated"] > 0
    for name in ("steps", "events", "assets", "trades", "summary"):
        pd.testing.assert_frame_equal(together[name], alone[name], check_exact=True)
    assert run.arbitrage.empty
    # the perp side: the perp engine alone (engine/perps.run) on the index the lending run gives,
    # two sub-steps per 12 s block, its book refilled and re-centred at each index as the runner says
    steps = alone["steps"]
    market = steps[steps["asset"] == "WETH"]["market_price"].to_numpy()
    marks = np.repeat(market, 2)
    np.testing.assert_array_equal(run.perp_steps["index_price"].to_numpy(), marks)
    # the lending liquidators' sales pushed the spot venue, so the perp's index, below the path
    assert (market < path.prices[:, 0] * (1 - 1e-9)).any()
    prev = [p0]

    def recentre(v, m):
        inner = v.inner.evolve(6.0, math.log(m / prev[0]))
        prev[0] = m
        return _DustSafe(replace(inner, reference_price=m))

    ref = P.run(RULES, book, marks[:, None], [_DustSafe(sim.venue.with_mid_price(p0))], fund=1e6,
                policy=DydxDeleveraging(RULES, 3), recentre=recentre)
    table = ref.table()
    assert table["liquidated_notional"].sum() > 0
    np.testing.assert_array_equal(run.perp_steps["liquidated_usd"].to_numpy(), table["liquidated_notional"])
    np.testing.assert_array_equal(run.perp_steps["adl_usd"].to_numpy(), table["adl_notional"])
    np.testing.assert_array_equal(run.perp_steps["fund_usd"].to_numpy(), table["fund_balance"])
    np.testing.assert_array_equal(run.perp_steps["accounts_liquidated"].to_numpy(), table["accounts_liquidated"])


def _flat(path) -> PricePath:
    return PricePath(path.times, path.assets, np.repeat(path.prices[:1], len(path.times), axis=0), path.block_seconds)


def test_a_perp_only_crash_reaches_the_lending_market_through_arbitrage(system):
    ss, path, oracle, sim_settings = system
    flat = _flat(path)
    p0 = float(flat.prices[0, 0])
    # 60 longs at 40x with collateral below the 3 % maintenance at the start price: the perp's
    # own crash, liquidated into its thin book at the first step; the spot price never moves by itself
    book = longs(p0, [40.0] * 60, 5e5)
    book.collateral[:] = 0.025 * 5e5
    out = {}
    for capital in (0.0, 3e7):
        run = run_system_perps(ss.model, flat, oracle, [perp(book, p0, capital)], sim_settings, wrap=_DustSafe)
        steps = run.lending.markets["aave"]["steps"]
        out[capital] = (run, float(steps[steps["asset"] == "WETH"]["market_price"].min()),
                        int(run.lending.markets["aave"].summary["accounts_liquidated"]))
    quiet, tied = out[0.0], out[3e7]
    assert quiet[0].perp_steps["liquidated_usd"].sum() > 0  # the perp crashed in both runs
    assert quiet[1] == p0 and quiet[2] == 0  # without arbitrage the lending market never sees it
    assert not tied[0].arbitrage.empty and not tied[0].arbitrage["perp_sold"].any()  # perp bought, spot sold
    assert tied[1] < p0 and tied[2] > 0  # with it, spot falls and accounts safe before are liquidated
    # impact_on_path = "none" (a replay's default): the path stays the market every oracle reads
    none = replace(sim_settings, dynamics=replace(sim_settings.dynamics, impact_on_path="none"))
    run = run_system_perps(ss.model, flat, oracle, [perp(book, p0, 3e7)], none, wrap=_DustSafe)
    assert not run.arbitrage.empty and run.lending.markets["aave"].summary["accounts_liquidated"] == 0


def test_capital_used_up_ends_the_arbitrage(system):
    """A leg the capital caps spends all of it (markets/perp_arb.py): the arbitrage stops there,
    with no rounding rest of capital left to buy dust tokens at every sub-step after."""
    ss, path, oracle, sim_settings = system
    flat = _flat(path)
    p0 = float(flat.prices[0, 0])
    book = longs(p0, [40.0] * 60, 5e5)  # the perp-only crash above: its book falls below spot
    book.collateral[:] = 0.025 * 5e5
    # $1 M lasts a few sub-steps of legs of about $250,000 (the last one capped)
    run = run_system_perps(ss.model, flat, oracle, [perp(book, p0, 1e6)], sim_settings, wrap=_DustSafe)
    left, cost = run.arbitrage["capital_left_usd"].to_numpy(), run.arbitrage["buy_cost_usd"].to_numpy()
    assert left.size >= 2 and left[-1] == 0.0 and (left[:-1] > 1.0).all()
    assert (cost >= 1.0).all()  # no dust leg
    assert cost.sum() == pytest.approx(1e6, rel=1e-12)


@settings(max_examples=20, deadline=None)
@given(capital=st.floats(1e3, 5e7), consumed=st.floats(-300.0, 300.0), band=st.sampled_from([0.0, 0.0007]))
def test_the_arbitrage_legs_conserve_tokens_and_usd(system, capital, consumed, band):
    ss, path, oracle, sim_settings = system
    shared, sp, runs, logs = start_system(ss.model, path, oracle, sim_settings)
    p0 = float(sp.market[0])
    book = longs(p0, [2.0], 1e4)  # one safe account: the step liquidates nothing
    sim = replace(perp(book, p0, capital), arbitrageur=BasisArbitrageur(capital, band))
    pm = start_perp(ss.model, sp, sim, _DustSafe)
    pm.venue = replace(pm.venue, net_sold=consumed)  # the perp's book displaced (ETH sold > 0, bought < 0)
    spot = sp.venues[0]
    log0 = float(sp.perm[0] + sp.trans[0])
    perp_substep(shared, sp, pm, 0, 0, _DustSafe)
    traded = pm.state.venues[0].inner  # the perp's book after the step, before the arbitrage
    if not pm.flows:
        assert pm.arb.capital_usd == capital and sp.venues[0] is spot
        return
    row = pm.flows[0]
    q = row["tokens"]
    assert q > 0
    # tokens: what one venue gave the arbitrageur, the other took
    if row["perp_sold"]:
        assert pm.venue.net_sold == pytest.approx(traded.net_sold + q, rel=1e-12, abs=1e-9)
        assert sp.venues[0].net_sold == pytest.approx(spot.net_sold - q, rel=1e-12, abs=1e-9)
        cheap, rich = spot, traded
    else:
        assert pm.venue.net_sold == pytest.approx(traded.net_sold - q, rel=1e-12, abs=1e-9)
        assert sp.venues[0].net_sold == pytest.approx(spot.net_sold + q, rel=1e-12, abs=1e-9)
        cheap, rich = traded, spot
    # USD: the buy leg paid the cheap venue's walk, which the capital lost; the sell leg got the rich one's
    assert row["buy_cost_usd"] == pytest.approx(cheap.quote_buy(q), rel=1e-12)
    assert row["sell_proceeds_usd"] == pytest.approx(rich.quote_sell(q), rel=1e-12)
    assert capital - pm.arb.capital_usd == pytest.approx(row["buy_cost_usd"], rel=1e-9)
    assert row["buy_cost_usd"] <= capital * (1 + 1e-12)
    # the shared prices follow the spot venue: the log move is all in the impact
    after = sp.venues[0].mid_price()
    assert sp.market[0] == after
    assert float(sp.perm[0] + sp.trans[0]) - log0 == pytest.approx(math.log(after / spot.mid_price()), abs=1e-12)


def test_a_perp_market_on_an_asset_without_a_shared_venue_is_refused(system):
    ss, path, oracle, sim_settings = system
    p0 = float(path.prices[0, 0])
    sim = replace(perp(longs(p0, [2.0], 1e4), p0, 0.0), asset="USDC")
    with pytest.raises(ConfigError, match="perp_markets.eth-perp.asset"):
        run_system_perps(ss.model, path, oracle, [sim], sim_settings)
    with pytest.raises(ConfigError, match="step_seconds"):
        run_system_perps(ss.model, path, oracle, [perp(longs(p0, [2.0], 1e4), p0, 0.0, step=5.0)], sim_settings)
    with pytest.raises(ConfigError, match="perp_markets.eth-perp.mark"):
        run_system_perps(ss.model, path, oracle, [perp(longs(p0, [2.0], 1e4), p0, 0.0, mark="last")], sim_settings)


def test_binances_window_holds_the_samples_of_the_last_30_seconds():
    # one sample per sub-step in (t - 30 s, t]: 30 at 1 s steps, 5 at 6 s, 3 at 12 s (36 s), 2 at 15 s
    assert [basis_samples(s) for s in (1.0, 6.0, 12.0, 15.0, 30.0, 60.0)] == [30, 5, 3, 2, 1, 1]


def test_the_mark_rule_by_hand_over_three_substeps():
    # 15 s steps: Binance's 30 s window holds 2 samples. Price 1 = index (last funding rate 0),
    # Price 2 = index + mean(book mid - index over the window), mark = median(Price 1, Price 2, last)
    m = MarkState.start("binance", 15.0, 100.0)  # the last price: the book's mid at the start
    q = m.quote(101.0, 98.0)  # samples [-3]: Price 2 = 98; median(101, 98, 100) = 100, the last price
    assert (q.mark, q.basis, q.last_price) == (100.0, -3.0, 100.0)
    m.traded(96.0)  # a liquidation walked the book down to 96
    q = m.quote(100.0, 99.0)  # samples [-3, -1]: Price 2 = 98; median(100, 98, 96) = 98, Price 2
    assert (q.mark, q.basis, q.last_price) == (98.0, -2.0, 96.0)
    q = m.quote(102.0, 105.0)  # samples [-1, 3] (-3 left the window): Price 2 = 103; median(102, 103, 96) = 102
    assert (q.mark, q.basis, q.last_price) == (102.0, 1.0, 96.0)
    # the same numbers through the series form (markets/perp_prices.py) with its window of 2 samples
    series = binance_mark_price([101.0, 100.0, 102.0], [98.0, 99.0, 105.0], [100.0, 96.0, 96.0], 0.0, 0.0, window=2)
    np.testing.assert_array_equal(series, [100.0, 98.0, 102.0])
    # the index rule ignores the book: the mark is the index
    i = MarkState.start("index", 15.0, 100.0)
    assert [i.quote(x, mid).mark for x, mid in ((101.0, 98.0), (100.0, 99.0))] == [101.0, 100.0]
    with pytest.raises(ConfigError, match="mark"):
        MarkState.start("last", 15.0, 100.0)


def _perp_only_crash(system, capital: float, n: int = 60):
    """The perp-only crash (``n`` longs at 40x below maintenance, flat spot path) at Binance's mark."""
    ss, path, oracle, sim_settings = system
    flat = _flat(path)
    p0 = float(flat.prices[0, 0])
    book = longs(p0, [40.0] * n, 5e5)
    book.collateral[:] = 0.025 * 5e5
    sim = perp(book, p0, capital, mark="binance")
    return run_system_perps(ss.model, flat, oracle, [sim], sim_settings, wrap=_DustSafe).perp_steps, p0


def test_binances_mark_reads_the_perps_own_trades(system):
    s, p0 = _perp_only_crash(system, 0.0, n=10)  # 10 accounts: some sub-steps liquidate none
    # at the start the book is centred at the index: no basis, the last price is its mid
    assert (s["mark_price"].iloc[0], s["basis_usd"].iloc[0], s["last_price"].iloc[0]) == (p0, 0.0, p0)
    # every row's mark is the median of what it read
    trio = np.sort(np.c_[s["index_price"], s["index_price"] + s["basis_usd"], s["last_price"]], axis=1)
    np.testing.assert_array_equal(s["mark_price"].to_numpy(), trio[:, 1])
    # no arbitrage: the last price is where the last liquidation left the book (the book's mid
    # after the sub-step), carried through sub-steps that liquidate nothing
    liq = s["liquidated_usd"].to_numpy()[:-1] > 0
    assert liq.any() and (~liq).any()
    after = np.where(liq, s["venue_mid"].to_numpy()[:-1], s["last_price"].to_numpy()[:-1])
    np.testing.assert_array_equal(s["last_price"].to_numpy()[1:], after)


def test_arbitrage_closes_the_basis(system):
    alone, _ = _perp_only_crash(system, 0.0)
    tied, _ = _perp_only_crash(system, 3e7)
    gap = lambda s: ((s["mark_price"] - s["index_price"]) / s["index_price"]).abs().to_numpy()  # noqa: E731
    # untied, the liquidations' walks keep the book, so the mark, below the index: the mark
    # follows the book down and liquidates more (the perp's own cascade)
    assert gap(alone)[-1] > 0.01 and (alone["mark_price"] <= alone["index_price"]).all()
    # with ample capital (band 0) each sub-step's arbitrage brings the book's mid to the spot's:
    # the mark stays within 5 bp of the index and ends on it
    assert gap(tied).max() < 5e-4 and gap(tied)[-1] < 1e-9
    # the arbitrage's perp leg trades at every sub-step here: it sets the next sub-step's last price
    np.testing.assert_array_equal(tied["last_price"].to_numpy()[1:], tied["venue_mid"].to_numpy()[:-1])
    assert tied["liquidated_usd"].sum() > 0
