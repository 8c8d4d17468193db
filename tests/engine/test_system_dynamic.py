"""The block-by-block system of markets: the one-market identity, composition invariance
in time, conservation per market and for the system, and one liquidator population
shared across markets (hand case)."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as hst

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import simulate_system
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import ChainlinkPush, Instant
from liqcascade.model import PositionBook
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import gbm, instant_shock

from .conftest import PARAMS, PRICES, book
from .test_dynamic import UNBOUNDED, random_book


def pool(depth=2e6):
    return ConstantProductPool.from_price_depth("WETH", 2000.0, depth)


def market(b, version=V3_3, venues=None):
    return MarketModel(b, AaveV3Rules(PARAMS, version), PRICES, {} if venues is None else venues)


def system(markets, venues=None):
    return SystemModel(PARAMS.symbols, PRICES, markets, {"WETH": pool()} if venues is None else venues)


def _gbm(seed, n=400):
    return gbm({"WETH": 2000.0}, {"WETH": 1.2}, [[1.0]], n_blocks=n, seed=seed, drift=-3.0)


SETTINGS = [
    SimSettings(Liquidators(liquidations_per_block=3, gas_gwei=30.0), Dynamics(600.0, 0.5), check_conservation=True),
    SimSettings(Liquidators(capital_usd=30_000, latency_blocks=2, spread_blocks=3, min_profit_usd=5.0)),
    SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf)),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_one_market_system_is_the_single_market_simulation_bit_for_bit(one_numba_thread, settings):
    # same order of operations: ranking, sale grid, one sale per asset, proceeds * (x / x = 1)
    b = random_book(n=300, seed=3)
    alone = simulate(market(b, venues={"WETH": pool()}), _gbm(5), ChainlinkPush(0.005, 3600), settings)
    out = simulate_system(system({"m": market(b)}), _gbm(5), ChainlinkPush(0.005, 3600), settings)["m"]
    assert alone.summary["accounts_liquidated"] > 0
    for name in ("steps", "events", "assets", "summary"):
        pd.testing.assert_frame_equal(out[name], alone[name], check_exact=True)


def _split(b: PositionBook, parity: int, side=None) -> PositionBook:
    """The accounts of ``b`` on one side: position parity, or ``side[k] == parity`` (rows kept whole)."""
    ids, assets, coll, debt = [], [], [], []
    for k in range(b.n_accounts):
        if (k % 2 if side is None else int(side[k])) != parity:
            continue
        lo, hi = int(b.offsets[k]), int(b.offsets[k + 1])
        for r in range(lo, hi):
            ids.append(b.account_ids[k])
            assets.append(int(b.asset[r]))
            coll.append(float(b.collateral[r]))
            debt.append(float(b.debt[r]))
    return PositionBook.from_rows(ids, assets, coll, debt, PARAMS.symbols)


NOFEE = ConstantProductPool.from_price_depth("WETH", 2000.0, 1.5e6, 0.0)


@pytest.mark.parametrize("version", [V3_0, V3_3])
@pytest.mark.parametrize("shock", [0.15, 0.3])
def test_composition_invariance_in_time(one_numba_thread, version, shock):
    """One book split in two markets with the same rules, one shared venue and unbounded
    liquidators: every block the same accounts are liquidated, and one sale of the summed
    amounts moves the venue as the whole book's sale did (sums in another order: 1e-9)."""
    whole = random_book(n=400, seed=11)
    halves = {"even": market(_split(whole, 0), version), "odd": market(_split(whole, 1), version)}
    assert halves["even"].book.n_accounts + halves["odd"].book.n_accounts == whole.n_accounts
    path = instant_shock({"WETH": 2000.0}, {"WETH": -shock}, n_blocks=40)
    s = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=900.0), check_conservation=True)
    one = simulate_system(system({"all": market(whole, version)}, {"WETH": NOFEE}), path, Instant(), s)["all"]
    two = simulate_system(system(halves, {"WETH": NOFEE}), path, Instant(), s)
    assert one.summary["accounts_liquidated"] > 10
    w1 = one["steps"].query("asset == 'WETH'")["market_price"].to_numpy()
    for part in two.values():
        w2 = part["steps"].query("asset == 'WETH'")["market_price"].to_numpy()
        np.testing.assert_allclose(w2, w1, rtol=1e-9)
    for key in ("accounts_liquidated", "liquidation_calls"):
        assert sum(r.summary[key] for r in two.values()) == one.summary[key]
    for key in ("collateral_seized_usd", "debt_repaid_usd", "liquidator_proceeds_usd", "bad_debt_usd"):
        assert sum(r.summary[key] for r in two.values()) == pytest.approx(one.summary[key], rel=1e-9, abs=1e-6)
    per_block = sum(r["steps"].query("asset == 'WETH'")["accounts_liquidated"].to_numpy() for r in two.values())
    np.testing.assert_array_equal(per_block, one["steps"].query("asset == 'WETH'")["accounts_liquidated"].to_numpy())


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=hst.integers(0, 10_000), split_seed=hst.integers(0, 10_000), shock=hst.floats(0.05, 0.4))
def test_composition_invariance_over_random_splits(one_numba_thread, seed, split_seed, shock):
    """Any split of any book into two markets (same rules, one shared venue, unbounded
    liquidators) ends at the whole book's venue price and totals."""
    whole = random_book(n=120, seed=seed)
    side = np.random.default_rng(split_seed).random(whole.n_accounts) < 0.5
    side[0], side[1] = True, False  # neither market empty
    halves = {"x": market(_split(whole, 1, side)), "y": market(_split(whole, 0, side))}
    path = instant_shock({"WETH": 2000.0}, {"WETH": -shock}, n_blocks=20)
    s = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=300.0))
    one = simulate_system(system({"all": market(whole)}, {"WETH": NOFEE}), path, Instant(), s)["all"]
    two = simulate_system(system(halves, {"WETH": NOFEE}), path, Instant(), s)
    w1 = one["steps"].query("asset == 'WETH'")["market_price"].to_numpy()
    np.testing.assert_allclose(two["x"]["steps"].query("asset == 'WETH'")["market_price"].to_numpy(), w1, rtol=1e-9)
    assert sum(r.summary["accounts_liquidated"] for r in two.values()) == one.summary["accounts_liquidated"]
    for key in ("collateral_seized_usd", "debt_repaid_usd", "bad_debt_usd"):
        assert sum(r.summary[key] for r in two.values()) == pytest.approx(one.summary[key], rel=1e-9, abs=1e-6)


def test_conservation_per_market_and_for_the_system(one_numba_thread):
    """Per market the engine's identities hold every block (check_conservation raises
    otherwise). For the system: with a fee-free pool that never recovers (it walks down
    x*y = k from the shocked price p1), all markets' sales are one walk: with S the WETH
    the markets sold, the pool ends at k / (sqrt(k/p1) + S)^2 and the markets' proceeds add
    up to sqrt(k p1) - k / (sqrt(k/p1) + S)."""
    a, b = random_book(n=300, seed=21), random_book(n=200, seed=22)
    sysm = system({"a": market(a, V3_0), "b": market(b, V3_3)}, {"WETH": NOFEE})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=30)
    s = SimSettings(Liquidators(liquidations_per_block=7, gas_asset=None, spread_blocks=2),
                    Dynamics(recovery_half_life_s=math.inf), check_conservation=True)
    res = simulate_system(sysm, path, Instant(), s)
    assets = {n: r["assets"].set_index("asset").loc["WETH"] for n, r in res.items()}
    for n, row in assets.items():
        assert row["seized"] > 0, n
        assert row["seized"] == pytest.approx(row["sold"] + row["inventory_end"] + row["fee"], rel=1e-12)
    sold = sum(row["sold"] for row in assets.values())
    proceeds = sum(row["proceeds"] for row in assets.values())
    k, p1 = NOFEE.k, 1600.0
    x1 = math.sqrt(k / p1)
    assert proceeds == pytest.approx(math.sqrt(k * p1) - k / (x1 + sold), rel=1e-9)
    end = res["a"]["steps"].query("asset == 'WETH'")["market_price"].iloc[-1]
    assert end == pytest.approx(k / (x1 + sold) ** 2, rel=1e-9)
    assert res["b"]["steps"].query("asset == 'WETH'")["market_price"].iloc[-1] == end


def test_one_liquidator_population_serves_both_markets_by_profit(one_numba_thread):
    """Capacity 1 account per block across the system, no venue (no slippage), no gas. WETH
    -10 % -> 1800 at block 1. Aave 3.0, LT 85 %, bonus 5 %, fee 10 % of the bonus:
    A: 10 WETH / 16,000 USDC, HF = 15,300 / 16,000 = 0.95625 > 0.95 -> 50 % close: repays
    8,000, receives 8,000 * 1.05 / 1800 less the fee on the bonus: profit 400 - 40 = $360.
    B: 20 WETH / 32,000 USDC, same HF, repays 16,000: profit $720. B (listed second) goes
    first at block 1, A waits (over capacity) and goes at block 2; after its call B's HF is
    10.667 * 1800 * 0.85 / 16,000 = 1.02 (safe)."""
    ma = market(book([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 16_000.0)]), V3_0)
    mb = market(book([("b", "WETH", 20.0, 0), ("b", "USDC", 0, 32_000.0)]), V3_0)
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, n_blocks=5)
    s = SimSettings(Liquidators(liquidations_per_block=1, gas_asset=None), check_conservation=True)
    res = simulate_system(system({"A": ma, "B": mb}, {}), path, Instant(), s)
    ea, eb = res["A"]["events"], res["B"]["events"]
    assert list(eb["block"]) == [1] and list(ea["block"]) == [2]
    assert eb["expected_profit_usd"].iloc[0] == pytest.approx(720.0, rel=1e-12)
    assert ea["expected_profit_usd"].iloc[0] == pytest.approx(360.0, rel=1e-12)
    assert eb["debt_repaid_usd"].iloc[0] == pytest.approx(16_000.0, rel=1e-12)
    steps_a = res["A"]["steps"].query("asset == 'WETH'").set_index("block")
    assert steps_a.loc[1, "left_over_capacity"] == 1 and steps_a.loc[1, "accounts_liquidated"] == 0
    assert steps_a.loc[2, "accounts_liquidated"] == 1
    # alone, each market's liquidator takes its account at block 1
    for name in ("A", "B"):
        alone = simulate_system(system({"A": ma, "B": mb}, {}), path, Instant(), s, only=[name])[name]
        assert list(alone["events"]["block"]) == [1]


def _pair(v=V3_0):
    """The hand case's two markets: A repays $8,000 for a $360 profit, B $16,000 for $720."""
    ma = market(book([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 16_000.0)]), v)
    mb = market(book([("b", "WETH", 20.0, 0), ("b", "USDC", 0, 32_000.0)]), v)
    return ma, mb


def test_a_market_whose_oracle_lags_liquidates_later_on_the_same_path(one_numba_thread):
    """Same two vaults (HF 0.95625 at 1,800), same shared path: WETH 2,000 -> 1,800 at block 1,
    12 s blocks. Market A reads an instant oracle: liquidated at block 1. Market B reads
    Maker's OSM with a one-hour hop (300 blocks): the poke at block 300 (t = 3,600 s) moves
    cur to the 2,000 it stored at block 0 and stores 1,800; the poke at block 600 (t = 7,200 s)
    makes 1,800 current, so B is liquidated at block 600, and B's oracle reads 2,000 before."""
    from liqcascade.engine.system_dynamic import MarketSim
    from liqcascade.markets.oracle import MakerOSM

    ma, mb = _pair()
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, n_blocks=605)
    s = SimSettings(Liquidators(gas_asset=None), check_conservation=True)
    res = simulate_system(system({"A": ma, "B": mb}, {}), path, Instant(), s,
                          per_market={"B": MarketSim(oracle=MakerOSM(3600))})
    assert list(res["A"]["events"]["block"]) == [1]
    assert list(res["B"]["events"]["block"]) == [600]
    ob = res["B"]["steps"].query("asset == 'WETH'").set_index("block")["oracle_price"]
    assert ob.loc[599] == 2000.0 and ob.loc[600] == pytest.approx(1800.0, rel=1e-15)
    oa = res["A"]["steps"].query("asset == 'WETH'").set_index("block")["oracle_price"]
    assert oa.loc[1] == pytest.approx(1800.0, rel=1e-15)
    # alone, B's own oracle still delays it: the lag is B's, not the other market's
    alone = simulate_system(system({"A": ma, "B": mb}, {}), path, Instant(), s, only=["B"],
                            per_market={"B": MarketSim(oracle=MakerOSM(3600))})["B"]
    assert list(alone["events"]["block"]) == [600]


def test_a_dedicated_population_takes_its_market_first_and_the_shared_one_the_rest(one_numba_thread):
    """The hand case of the shared population (capacity 1 a block, no venue, no gas; B's
    $720 call outranks A's $360): with a dedicated population of 1 a block for A, A goes at
    block 1 by its own liquidators and B by the shared ones, both at block 1. The
    ``liquidators`` table: the dedicated one took 1 account, $8,000 of debt, $360; the shared
    one 1 account, $16,000, $720."""
    from liqcascade.engine.system_dynamic import MarketSim, run_system

    ma, mb = _pair()
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, n_blocks=5)
    s = SimSettings(Liquidators(liquidations_per_block=1, gas_asset=None), check_conservation=True)
    own = {"A": MarketSim(liquidators=Liquidators(liquidations_per_block=1, gas_asset=None))}
    out = run_system(system({"A": ma, "B": mb}, {}), path, Instant(), s, per_market=own)
    assert list(out.markets["A"]["events"]["block"]) == [1]
    assert list(out.markets["B"]["events"]["block"]) == [1]
    t = out.liquidators.set_index("market")
    assert list(t["population"]) == ["shared", "dedicated"] and list(t.index) == ["*", "A"]
    assert t.loc["A", "accounts_taken"] == 1 and t.loc["*", "accounts_taken"] == 1
    assert t.loc["A", "capital_used_usd"] == pytest.approx(8_000.0, rel=1e-12)
    assert t.loc["*", "capital_used_usd"] == pytest.approx(16_000.0, rel=1e-12)
    assert t.loc["A", "expected_profit_usd"] == pytest.approx(360.0, rel=1e-12)
    assert t.loc["*", "expected_profit_usd"] == pytest.approx(720.0, rel=1e-12)


@pytest.mark.parametrize("own", [
    Liquidators(liquidations_per_block=1, gas_asset=None, min_profit_usd=500.0),  # A's $360 is below its floor
    Liquidators(liquidations_per_block=1, gas_asset=None, capital_usd=5_000.0),  # A's $8,000 does not fit
])
def test_what_a_dedicated_population_leaves_goes_to_the_shared_one(one_numba_thread, own):
    """A's own population will not take A's call, so A stays in the shared population's
    pool: B first at block 1 (higher profit), A at block 2, as with no dedicated population."""
    from liqcascade.engine.system_dynamic import MarketSim, run_system

    ma, mb = _pair()
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, n_blocks=5)
    s = SimSettings(Liquidators(liquidations_per_block=1, gas_asset=None), check_conservation=True)
    out = run_system(system({"A": ma, "B": mb}, {}), path, Instant(), s, per_market={"A": MarketSim(liquidators=own)})
    assert list(out.markets["B"]["events"]["block"]) == [1]
    assert list(out.markets["A"]["events"]["block"]) == [2]
    t = out.liquidators.set_index("market")
    assert t.loc["A", "accounts_taken"] == 0 and t.loc["*", "accounts_taken"] == 2
    assert t.loc["*", "max_accounts_in_a_block"] == 1


def test_conservation_with_a_dedicated_population_on_a_shared_pool(one_numba_thread):
    """The system's closed form of the fee-free pool that never recovers (see the test
    above) holds whichever population sells: market a has its own population (3 a block),
    the shared one takes 7 a block across both; all the WETH sold is one walk down x*y = k."""
    from liqcascade.engine.system_dynamic import MarketSim, run_system

    a, b = random_book(n=300, seed=21), random_book(n=200, seed=22)
    sysm = system({"a": market(a, V3_0), "b": market(b, V3_3)}, {"WETH": NOFEE})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=30)
    s = SimSettings(Liquidators(liquidations_per_block=7, gas_asset=None, spread_blocks=2),
                    Dynamics(recovery_half_life_s=math.inf), check_conservation=True)
    own = {"a": MarketSim(liquidators=Liquidators(liquidations_per_block=3, gas_asset=None, spread_blocks=2))}
    out = run_system(sysm, path, Instant(), s, per_market=own)
    t = out.liquidators.set_index("market")
    assert t.loc["a", "accounts_taken"] > 0 and t.loc["*", "accounts_taken"] > 0
    assert t.loc["a", "max_accounts_in_a_block"] <= 3 and t.loc["*", "max_accounts_in_a_block"] <= 7
    liquidated = sum(int(r.summary["accounts_liquidated"]) for r in out.markets.values())
    assert liquidated <= int(t["accounts_taken"].sum())
    assets = [r["assets"].set_index("asset").loc["WETH"] for r in out.markets.values()]
    sold, proceeds = sum(r["sold"] for r in assets), sum(r["proceeds"] for r in assets)
    k, p1 = NOFEE.k, 1600.0
    x1 = math.sqrt(k / p1)
    assert proceeds == pytest.approx(math.sqrt(k * p1) - k / (x1 + sold), rel=1e-9)
