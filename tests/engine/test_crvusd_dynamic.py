"""crvUSD (LLAMMA) block by block: a loan's collateral converts band by band as the price
crosses its bands (the closed form of fully converted bands, and the per-band float rule
inside a band), hard liquidation the first block the contract's full health is below 0,
conservation with the soft sales going into a pool, and the one-market system identity."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.dynamic.loop import run_block
from liqcascade.engine.dynamic.state import initial_state, prepare_inputs
from liqcascade.engine.static import MarketModel
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import simulate_system
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.crvusd import exact as X
from liqcascade.protocols.crvusd import fast
from liqcascade.protocols.crvusd.rules import CrvUsdRules
from liqcascade.scenarios import PricePath, linear_shock

from .conftest import PARAMS, PRICES, book

A, N = 100, 10
R = (A - 1.0) / A
RULES = CrvUsdRules(PARAMS, collateral="WETH", debt_asset="DAI", A=A, n_bands=N)
FREE = SimSettings(Liquidators(gas_asset=None), check_conservation=True)


def _path(prices) -> PricePath:
    p = np.asarray(prices, dtype=np.float64)[:, None]
    return PricePath(np.arange(p.shape[0], dtype=np.int64) * 12, ("WETH",), p, 12)


def _by_block(model: MarketModel, path: PricePath, settings: SimSettings):
    """The loop by hand, to read each loan's (collateral, stablecoin) after every block."""
    run = prepare_inputs(model, path, Instant(), settings, None, None, None)
    st = initial_state(run)
    out = []
    for b in range(run.n_blocks):
        run_block(run, st, b)
        lo = model.rules.loans(st.arrays)
        out.append((st.arrays.coll[lo.crow].copy(), st.arrays.coll[lo.drow].copy()))
    return out


def _top(rules, b) -> tuple[int, float]:
    n1 = int(rules.loans(rules.prepare(b)).n1[0])
    return n1, R**n1


def test_collateral_converts_band_by_band_on_a_falling_path():
    """One loan, 10 WETH over 10 bands below its top p_up(n1) = R**n1 (grid anchored at 1,
    DAI at $1). The price (no venue: the market is the path) steps down half a band a block
    from the top. After the price has crossed k bands' lower edges the loan holds
    10 (N - k) / N WETH and, each sold band having converted at the geometric mean of its
    edges, sum_{i<k} (10 / N) R**(n1 + i) sqrt(R) DAI (the contract's get_x_down). Inside a
    band it holds the per-band rule's amounts (fast.holdings, the concentrated-liquidity
    range of that band). No soft sale before the top; one event a block after it."""
    b = book([(0, "WETH", 10.0, 0.0), (0, "DAI", 0.0, 8000.0)])
    n1, top = _top(RULES, b)
    assert top < 2000.0  # the loan starts above its bands
    prices = [2000.0, top * 1.001] + [top * R ** (k / 2) for k in range(1, 2 * N + 1)] + [0.9 * top * R**N]
    states = _by_block(MarketModel(b, RULES, PRICES, {}), _path(prices), FREE)
    bands = fast.deposit(A, 1.0, n1, N, 10.0)
    for blk, p in enumerate(prices):
        y, x = states[blk][0][0], states[blk][1][0]
        k = 2 * math.log(top / p) / math.log(1.0 / R) if p < top else 0.0
        if p >= top:
            assert (y, x) == (10.0, 0.0), blk
        elif abs(k / 2 - round(k / 2)) < 1e-9 or p < top * R**N:  # on a band edge, or below all bands
            whole = min(round(k / 2), N)
            assert y == pytest.approx(10.0 * (N - whole) / N, rel=1e-9, abs=1e-9), blk
            want = sum(10.0 / N * R ** (n1 + i) * math.sqrt(R) for i in range(whole))
            assert x == pytest.approx(want, rel=1e-9), blk
        else:
            hy, hx = fast.holdings(bands, p)
            assert y == pytest.approx(hy, rel=1e-9) and x == pytest.approx(hx, rel=1e-9), blk
    res = simulate(MarketModel(b, RULES, PRICES, {}), _path(prices), Instant(), FREE)
    ev = res["events"]
    # blocks 0 and 1 are above the top; the last block, below every band, has nothing left to sell
    assert list(ev["block"]) == list(range(2, len(prices) - 1))
    assert (ev["debt_repaid_usd"] == 0.0).all() and (ev["calls"] == 1).all()
    # each event sold what the loan lost that block, at that block's price
    lost = [states[blk - 1][0][0] - states[blk][0][0] for blk in ev["block"]]
    np.testing.assert_allclose(ev["collateral_seized_usd"], np.array(lost) * np.array(prices)[ev["block"]], rtol=1e-12)
    weth = res["assets"].set_index("asset")
    assert weth.loc["WETH", "seized"] == pytest.approx(10.0, rel=1e-12)
    assert weth.loc["DAI", "returned"] == pytest.approx(states[-1][1][0], rel=1e-12)


@dataclass(frozen=True)
class _Accrued(CrvUsdRules):
    """Debt 5 % above what the bands were placed for (interest accrued since create_loan):
    the only way the adiabatic model's health falls below 0."""

    def prepare(self, b):
        arrays = super().prepare(b)
        arrays.debt *= 1.05
        return arrays


def test_hard_liquidation_comes_the_first_block_full_health_is_below_zero():
    """10 WETH placed for 8,000 DAI, owing 8,400. Above the top band the contract's health
    is h = x_down (1 - 0.06) / 8,400 - 1 with x_down = (10 / N) R**n1 sqrt(R) (1 - R**N) /
    (1 - R) (< 0 here), and full health adds (p - R**n1) 10 / 8,400: it crosses 0 at
    p* = R**n1 - h 8,400 / 10, above the top band. On a linear fall the liquidator takes the
    loan the first block below p* -- repays 8,400, receives the 10 WETH -- and the per-band
    rule's full health is < 0 there and >= 0 the block before."""
    rules = _Accrued(PARAMS, collateral="WETH", debt_asset="DAI", A=A, n_bands=N)
    b = book([(0, "WETH", 10.0, 0.0), (0, "DAI", 0.0, 8000.0)])
    n1, top = _top(rules, b)
    x_down = 10.0 / N * top * math.sqrt(R) * (1.0 - R**N) / (1.0 - R)
    h = x_down * 0.94 / 8400.0 - 1.0
    assert h < 0.0
    p_star = top - h * 8400.0 / 10.0
    path = linear_shock({"WETH": 2000.0}, {"WETH": 0.8 * top / 2000.0 - 1.0}, duration_blocks=200, n_blocks=220)
    p = path.prices[:, 0]
    first = int(np.argmax(p < p_star))
    res = simulate(MarketModel(b, rules, PRICES, {}), path, Instant(), SimSettings(Liquidators(gas_asset=None)))
    ev = res["events"]
    assert list(ev["block"]) == [first]
    assert ev["debt_repaid_usd"].iloc[0] == pytest.approx(8400.0, rel=1e-12)
    assert ev["collateral_seized_usd"].iloc[0] == pytest.approx(10.0 * p[first], rel=1e-12)
    bands = fast.deposit(A, 1.0, n1, N, 10.0)
    assert fast.health(bands, p[first], 8400.0, 0.06, full=True) < 0.0
    assert fast.health(bands, p[first - 1], 8400.0, 0.06, full=True) >= 0.0
    # and the contract's integer health (Controller._health, grid anchored at 1e18) agrees in sign
    grid = X.Grid(A, X.WAD)
    user = X.deposit_into_empty(10 * X.WAD, n1, n1 + N - 1, fast.band_of_price(A, 1.0, p[first - 1]))
    debt = 8400 * X.WAD
    assert X.health(grid, int(p[first] * 1e18), user, debt, 6 * X.WAD // 100, True) < 0
    assert X.health(grid, int(p[first - 1] * 1e18), user, debt, 6 * X.WAD // 100, True) >= 0
    assert res.summary["debt_repaid_usd"] == pytest.approx(8400.0, rel=1e-12)


# six loans of 10 WETH at LTVs 0.3 .. 0.8 (at $2000)
SIX = book([row for k, ltv in enumerate((0.3, 0.4, 0.5, 0.6, 0.7, 0.8))
            for row in ((k, "WETH", 10.0, 0.0), (k, "DAI", 0.0, ltv * 20000.0))])
POOL = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 2e5, 0.0)}


def test_soft_sales_into_a_pool_conserve_and_end_on_the_adiabatic_path():
    """WETH falls 40 % over 30 blocks into a fee-free pool that never recovers (prices only
    fall): conservation holds every block (the engine checks it), the WETH the loans lost
    is what arbitrageurs sold, the DAI they paid in is what the bands hold, and each loan
    sits where the closed form puts it at the last market price."""
    settings = SimSettings(Liquidators(gas_asset=None), Dynamics(recovery_half_life_s=math.inf), check_conservation=True)
    model = MarketModel(SIX, RULES, PRICES, POOL)
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.4}, duration_blocks=30, n_blocks=40)
    states = _by_block(model, path, settings)
    res = simulate(model, path, Instant(), settings)
    a = res["assets"].set_index("asset")
    y_end, x_end = states[-1]
    assert a.loc["WETH", "seized"] == pytest.approx(60.0 - y_end.sum(), rel=1e-12)
    assert a.loc["WETH", "seized"] == pytest.approx(a.loc["WETH", "sold"] + a.loc["WETH", "inventory_end"], rel=1e-12)
    assert a.loc["DAI", "returned"] == pytest.approx(x_end.sum(), rel=1e-12)
    assert res.summary["band_stablecoin_usd"] == pytest.approx(x_end.sum(), rel=1e-12)
    assert res.summary["debt_repaid_usd"] == 0.0
    p = res["steps"].query("asset == 'WETH'")["market_price"].to_numpy()
    assert (np.diff(p) <= 0).all() and p[-1] < 1200.0  # the soft sales pushed it below the path
    lo = RULES.loans(RULES.prepare(SIX))
    # the loans' order in the working book is by starting health; compare as sets of amounts
    s = fast.book_state(A, 1.0, lo.n1, np.full(6, N), lo.deposit, p[-1])
    np.testing.assert_allclose(np.sort(y_end), np.sort(s.collateral), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.sort(x_end), np.sort(s.stablecoin), rtol=1e-9, atol=1e-6)


def test_a_one_market_crvusd_system_is_the_single_market_simulation_bit_for_bit():
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.4}, duration_blocks=30, n_blocks=60)
    settings = SimSettings(Liquidators(gas_asset=None, liquidations_per_block=2), Dynamics(600.0, 0.5),
                           check_conservation=True)
    alone = simulate(MarketModel(SIX, RULES, PRICES, POOL), path, Instant(), settings)
    sysm = SystemModel(PARAMS.symbols, PRICES, {"crv": MarketModel(SIX, RULES, PRICES, {})}, POOL)
    out = simulate_system(sysm, path, Instant(), settings)["crv"]
    assert alone.summary["collateral_seized_usd"] > 0
    for name in ("steps", "events", "assets", "summary"):
        pd.testing.assert_frame_equal(out[name], alone[name], check_exact=True)
