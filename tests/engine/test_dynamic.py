"""The block-by-block simulation: limits, invariants, determinism."""

import math

import numpy as np
import pandas as pd
import pytest

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel, StaticCascade
from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import ChainlinkPush, Instant
from liqcascade.model import PositionBook
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import gbm, instant_shock, linear_shock

from .conftest import PARAMS, PRICES

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)


def random_book(n=400, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n), 3)
    assets = np.tile([0, 1, 2], n)
    coll = np.zeros(3 * n)
    coll[0::3] = rng.lognormal(1, 1.2, n)
    coll[2::3] = rng.lognormal(7, 1, n) * (rng.random(n) < 0.3)
    hf = 1.0 + rng.beta(1.2, 5, n)
    cap = (coll[0::3] * 2000 * 0.85 + coll[2::3] * 0.78) / hf
    debt = np.zeros(3 * n)
    split = rng.random(n)
    debt[1::3] = cap * split
    debt[2::3] = cap * (1 - split) * (coll[2::3] == 0)
    return PositionBook.from_rows(ids, assets, coll, debt, PARAMS.symbols)


def model(book, depth=2e6, version=V3_3, venues=True):
    v = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, depth)} if venues else {}
    return MarketModel(book, AaveV3Rules(PARAMS, version), PRICES, v)


@pytest.mark.parametrize("version", [V3_0, V3_3])
def test_static_limit(version):
    """Unbounded liquidators, instant oracle, no recovery, a one-block shock: the
    simulation ends at the static cascade's fixed point."""
    m = model(random_book(), version=version)
    static = StaticCascade(m).run({"WETH": 0.2})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=60)
    res = simulate(m, path, Instant(), SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf)))
    w = res["steps"].query("asset == 'WETH'")
    assert w["market_price"].iloc[-1] == pytest.approx(static.prices_final[0], rel=1e-9)
    a = res["assets"].set_index("asset")
    assert a.loc["WETH", "seized"] == pytest.approx(static.totals["seized"][0], rel=1e-9)
    assert res.summary["accounts_liquidated"] == len(static.liquidated_accounts())
    assert static.rounds >= 2  # the feedback mattered
    # each block after the shock is one static round
    assert (w["accounts_liquidated"].to_numpy() > 0).sum() == static.rounds


def _gbm_path(seed, n=600):
    return gbm({"WETH": 2000.0}, {"WETH": 1.2}, [[1.0]], n_blocks=n, seed=seed, drift=-3.0)


def test_deterministic_under_a_seed():
    m = model(random_book(seed=1))
    s = SimSettings(Liquidators(liquidations_per_block=5, gas_gwei=30), Dynamics(600, 0.5))
    a = simulate(m, _gbm_path(7), ChainlinkPush(0.005, 3600), s)
    b = simulate(m, _gbm_path(7), ChainlinkPush(0.005, 3600), s)
    for name in ("steps", "events", "summary"):
        assert a[name].equals(b[name]), name
    c = simulate(m, _gbm_path(8), ChainlinkPush(0.005, 3600), s)
    assert not a["steps"]["market_price"].equals(c["steps"]["market_price"])


@pytest.mark.parametrize("version", [V3_0, V3_3])
def test_conservation_every_block(version):
    m = model(random_book(seed=2), depth=5e5, version=version)
    s = SimSettings(Liquidators(liquidations_per_block=3, gas_gwei=50, spread_blocks=4, latency_blocks=1),
                    Dynamics(300, 0.3), check_conservation=True)
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.5}, duration_blocks=100, n_blocks=300)
    res = simulate(m, path, ChainlinkPush(0.005, 3600, delay_blocks=1), s)
    assert res.summary["accounts_liquidated"] > 0


def test_an_oracle_that_never_updates_liquidates_nothing():
    m = model(random_book(seed=3))
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.6}, duration_blocks=50, n_blocks=200)
    res = simulate(m, path, ChainlinkPush(math.inf, math.inf), SimSettings(UNBOUNDED))
    assert res.summary["accounts_liquidated"] == 0
    w = res["steps"].query("asset == 'WETH'")
    assert (w["oracle_price"] == 2000.0).all() and w["market_price"].iloc[-1] < 900


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_more_capacity_never_more_bad_debt_on_a_falling_price(seed):
    """Monotone (falling) price and no price impact: with twice the liquidations per
    block, bad debt (written off plus left underwater) is never larger."""
    m = model(random_book(n=300, seed=seed), venues=False)
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.45}, duration_blocks=40, n_blocks=120)
    bad = []
    for cap in (2, 4, 8):
        res = simulate(m, path, Instant(), SimSettings(Liquidators(liquidations_per_block=cap, gas_asset=None)))
        s = res.summary
        bad.append(s["bad_debt_usd"] + s["shortfall_end_usd"])
    assert bad[1] <= bad[0] * (1 + 1e-9) + 1e-6
    assert bad[2] <= bad[1] * (1 + 1e-9) + 1e-6


def test_unprofitable_liquidations_wait_and_capacity_limits_count():
    m = model(random_book(seed=4))
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.15}, n_blocks=30)
    costly = simulate(m, path, Instant(), SimSettings(Liquidators(gas_gwei=20_000, gas_per_call=1e6)))
    # gas of 20,000 gwei * 1e6 gas * $2000/ETH = $40,000 a call: nothing is worth it
    assert costly.summary["accounts_liquidated"] == 0
    assert costly.summary["left_unprofitable_block_max"] > 0
    capped = simulate(m, path, Instant(), SimSettings(Liquidators(liquidations_per_block=1, gas_asset=None)))
    steps = capped["steps"].query("asset == 'WETH'")
    assert steps["accounts_liquidated"].max() == 1
    assert capped.summary["left_over_capacity_block_max"] > 0


def test_profitable_accounts_are_not_vetoed_by_the_batch_slippage():
    """A thin pool: liquidating everyone at once would be unprofitable, but the most
    profitable accounts, each charged only its marginal slippage, still are."""
    m = model(random_book(n=400, seed=9), depth=5e5)
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=40)
    for cap in (math.inf, 5, 1):
        res = simulate(m, path, Instant(), SimSettings(Liquidators(liquidations_per_block=cap, gas_asset=None),
                                                        Dynamics(600, 0.5)))
        assert res.summary["accounts_liquidated"] > 0, cap
        ev = res.table("events")
        assert (ev["expected_profit_usd"] >= 0).all()


def test_capital_skips_what_does_not_fit_instead_of_stopping():
    m = model(random_book(n=400, seed=9), depth=5e7)
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=20)
    res = simulate(m, path, Instant(), SimSettings(Liquidators(capital_usd=20_000, gas_asset=None)))
    ev = res.table("events")
    assert len(ev) > 0
    # no block repays more than the capital
    assert ev.groupby("block")["debt_repaid_usd"].sum().max() <= 20_000 * (1 + 1e-9)


def test_block_zero_below_the_model_prices_is_seen():
    """A path that starts below the book's reference prices, read by an oracle that never
    updates after block 0: the accounts below 1 at block 0 are liquidated."""
    m = model(random_book(seed=5), venues=False)
    path = instant_shock({"WETH": 1700.0}, {"WETH": 0.0}, n_blocks=10)
    res = simulate(m, path, ChainlinkPush(math.inf, math.inf), SimSettings(UNBOUNDED))
    hf = StaticCascade(m).run({"WETH": 0.15})  # 2000 -> 1700 statically, no venues
    assert res.summary["accounts_liquidated"] == len(hf.liquidated_accounts()) > 0


def test_existing_bad_debt_is_not_counted_again():
    # one account owes 1 WETH with no collateral before anything happens; WETH halves
    book = PositionBook.from_rows([0, 1, 1], [0, 0, 1], [0.0, 10.0, 0.0], [1.0, 0.0, 1000.0], PARAMS.symbols)
    m = model(book, venues=False)
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.5}, duration_blocks=5, n_blocks=10)
    s = simulate(m, path, Instant(), SimSettings(UNBOUNDED)).summary
    assert s["bad_debt_usd"] == pytest.approx(0.0, abs=1e-9)
    assert s["bad_debt_before_usd"] == pytest.approx(1000.0)  # 1 WETH at the final 1000


@pytest.mark.parametrize("seed", range(6))
def test_skipping_and_cache_match_a_full_rescan_every_block(seed, monkeypatch):
    """The per-account bounds and the candidate cache skip only what cannot matter: the
    tables equal a run that scans every account every block."""
    from liqcascade.engine.dynamic.candidates import Candidates
    from liqcascade.protocols.aave_v3.rules import AaveV3Rules as R

    rng = np.random.default_rng(seed)
    m = model(random_book(n=150, seed=seed), depth=float(rng.uniform(3e5, 3e6)), version=[V3_0, V3_3][seed % 2])
    path = gbm({"WETH": 2000.0 * float(rng.uniform(0.8, 1.0))}, {"WETH": 1.5}, [[1.0]], 300, seed=seed, drift=-5.0)
    oracle = [Instant(), ChainlinkPush(0.005, 600), ChainlinkPush(0.01, 3600, delay_blocks=2)][seed % 3]
    s = SimSettings(Liquidators(liquidations_per_block=[math.inf, 3][seed % 2], gas_gwei=10,
                                latency_blocks=seed % 3, spread_blocks=1 + seed % 2), Dynamics(300, 0.4))
    fast = simulate(m, path, oracle, s)

    orig_scan = R.scan

    def full_scan(self, arrays, prices, upto, q, cum_bound):
        q[:] = 0.0
        return orig_scan(self, arrays, prices, arrays.n_accounts, q, cum_bound)

    def full_refresh(self, rules, arrays, prices, changed, gap=True):
        q = np.zeros(arrays.n_accounts)
        return Candidates.build(rules, arrays, prices, orig_scan(rules, arrays, prices, arrays.n_accounts, q, 1.0), gap)

    orig_since = R.scan_since

    def full_since(self, arrays, prices, upto, hf, epoch, history, n_epochs):
        hf[:] = 0.0
        return orig_since(self, arrays, prices, arrays.n_accounts, hf, epoch, history, n_epochs)

    monkeypatch.setattr(R, "scan", full_scan)
    monkeypatch.setattr(R, "scan_since", full_since)
    monkeypatch.setattr(Candidates, "refresh", full_refresh)
    brute = simulate(m, path, oracle, s)
    for name in ("steps", "events"):
        assert fast[name].equals(brute[name]), name


def test_arbitrage_capital_limits_how_fast_a_pool_follows_the_reference():
    """An exogenous drop of 20 %: with unlimited arbitrage the pool is at the new price at
    once; with $50k a block, each block's trade into a $2M-a-side fee-free pool moves it by
    what $50k buys, so it lags and converges from above (closed form for x*y=k below)."""
    book = random_book(n=50, seed=1)
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 2e6, fee=0.0)
    m = MarketModel(book, AaveV3Rules(PARAMS, V3_3), PRICES, {"WETH": pool})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=200)
    lq = Liquidators(liquidations_per_block=1e-9, gas_asset=None)  # effectively nobody liquidates
    free = simulate(m, path, Instant(), SimSettings(lq, Dynamics(0.0, 0.5)))
    slow = simulate(m, path, Instant(), SimSettings(lq, Dynamics(0.0, 0.5, arb_capital_usd=50_000)))
    wf = free["steps"].query("asset == 'WETH'")["market_price"].to_numpy()
    ws = slow["steps"].query("asset == 'WETH'")["market_price"].to_numpy()
    assert wf[1] == pytest.approx(1600.0, rel=1e-12)
    # block 1: arbitrageurs sell WETH worth $50k into the pool: y' = 2e6 - 5e4, x' = k / y'
    k = 1000.0 * 2e6
    y1 = 2e6 - 5e4
    assert ws[1] == pytest.approx(y1 / (k / y1), rel=1e-9)
    # block 2: another $50k: y'' = y' - 5e4
    y2 = y1 - 5e4
    assert ws[2] == pytest.approx(y2 / (k / y2), rel=1e-9)
    # it lags for a few blocks, falling monotonically, then sits at the reference
    assert (ws[1:4] > 1600.0).all() and (np.diff(ws[1:10]) <= 1e-9).all()
    assert ws[-1] == pytest.approx(1600.0, rel=1e-9)


def test_order_book_depth_refills_with_its_half_life():
    """One liquidation batch walks down the calibrated book; with no permanent impact and
    a 120 s depth half-life, the consumed depth halves every 10 blocks and the price is
    the book re-quoted at the reference with that much depth still taken."""
    from liqcascade.markets.orderbook import OrderBookVenue

    # HF 1.03 before the shock, 0.927 after it: one full close at block 1, nothing at block 0
    book = PositionBook.from_rows([0, 0], [0, 1], [200.0, 0.0], [0.0, 330_000.0], PARAMS.symbols)
    ob = OrderBookVenue.from_calibration("crash", "WETH", 2000.0, 0.05)
    m = MarketModel(book, AaveV3Rules(PARAMS, V3_0), PRICES, {"WETH": ob})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, n_blocks=40)
    res = simulate(m, path, Instant(), SimSettings(
        Liquidators(gas_asset=None, calls_per_account=64), Dynamics(math.inf, 0.0, depth_half_life_s=120.0)))
    w = res["steps"].query("asset == 'WETH'").reset_index(drop=True)
    sold = res["assets"].set_index("asset").loc["WETH", "sold"]
    assert res.summary["accounts_liquidated"] == 1 and sold > 0
    base = ob.with_mid_price(1800.0)
    for n in (10, 20, 30):
        left = sold * 0.5 ** (n * 12 / 120)
        expected = base.sell(left)[1].mid_price()
        assert w.loc[1 + n, "market_price"] == pytest.approx(expected, rel=1e-9)
    assert w.loc[1, "market_price"] < w.loc[11, "market_price"] < w.loc[21, "market_price"] < 1800.0


@pytest.mark.parametrize("tables", [("summary",), ("summary", "steps", "assets"), ("trades", "events")])
def test_only_the_tables_asked_for_are_built(tables):
    """``tables``: the result holds just those, each equal to the full run's (a Monte Carlo
    path builds three of the five)."""
    from liqcascade.engine.dynamic.results import TABLES

    m = model(random_book(seed=3))
    s = SimSettings(Liquidators(liquidations_per_block=5, gas_gwei=30), Dynamics(600, 0.5))
    full = simulate(m, _gbm_path(4, 200), ChainlinkPush(0.005, 3600), s)
    part = simulate(m, _gbm_path(4, 200), ChainlinkPush(0.005, 3600), s, tables=tables)
    assert sorted(full.tables) == sorted(TABLES) and sorted(part.tables) == sorted(tables)
    assert full.summary["accounts_liquidated"] > 0  # the tables have rows to compare
    for name in tables:
        pd.testing.assert_frame_equal(part.table(name), full.table(name), check_exact=True, obj=name)


def test_without_shortfall_only_the_shortfall_record_is_left_out():
    """``SimInputs(shortfall=False)`` (a Monte Carlo path) skips the eligible accounts'
    health pass: every record but ``shortfall_usd`` (then 0) and the book are the same."""
    from dataclasses import fields

    from liqcascade.engine.dynamic.loop import SimInputs, simulate_state

    m = model(random_book(seed=3))
    s = SimSettings(Liquidators(liquidations_per_block=5, gas_gwei=30), Dynamics(600, 0.5))
    on = simulate_state(m, _gbm_path(4, 200), ChainlinkPush(0.005, 3600), SimInputs(s)).state
    off = simulate_state(m, _gbm_path(4, 200), ChainlinkPush(0.005, 3600), SimInputs(s, shortfall=False)).state
    assert (on.records.shortfall_usd > 0).any() and not off.records.shortfall_usd.any()
    for f in fields(on.records):
        if f.name != "shortfall_usd":
            np.testing.assert_array_equal(getattr(off.records, f.name), getattr(on.records, f.name), err_msg=f.name)
    np.testing.assert_array_equal(off.arrays.coll, on.arrays.coll)
    np.testing.assert_array_equal(off.arrays.debt, on.arrays.debt)


def test_the_keywords_of_simulate_are_one_inputs_record():
    """``simulate``'s keywords travel as one :class:`~.loop.SimInputs`: the run from the record
    gives the same tables; ``moving`` says which inputs make the book move."""
    from liqcascade.engine.dynamic.loop import SimInputs, simulate_state
    from liqcascade.engine.dynamic.results import build_result
    from liqcascade.engine.static import SortedBook

    m = model(random_book(seed=4))
    s = SimSettings(Liquidators(liquidations_per_block=5, gas_gwei=30), Dynamics(600, 0.5))
    path, oracle = _gbm_path(5, 150), ChainlinkPush(0.005, 3600)
    book = SortedBook.of(m)
    by_keywords = simulate(m, path, oracle, s, sorted_book=book)
    fin = simulate_state(m, path, oracle, SimInputs(s, sorted_book=book))
    by_record = build_result(fin.run, fin.state, None)
    assert by_keywords.summary["accounts_liquidated"] > 0
    for name in ("steps", "events", "summary", "assets", "trades"):
        pd.testing.assert_frame_equal(by_record.table(name), by_keywords.table(name), check_exact=True, obj=name)
    assert not SimInputs(s).moving and SimInputs(accrual=(object(),)).moving


def test_an_unknown_table_is_refused_by_name():
    m = model(random_book(50, seed=3))
    with pytest.raises(ConfigError, match="tables.*'stepz'"):
        simulate(m, _gbm_path(4, 10), ChainlinkPush(0.005, 3600), tables=("summary", "stepz"))
