"""crvUSD's ``liquidate_extended(frac)`` as the liquidator's choice: call caps take a share of the
whole loan (protocols/crvusd/rules.py ``_liquidate_shares``), and profit_max sizes that share on
the collateral's pool (engine/dynamic/plans.py ``_whole_loan``).

The loan of test_crvusd_dynamic.py: 10 WETH placed for 8,000 DAI and owing 8,400 (5 % accrued),
hard-liquidatable once WETH is below p* (above its top band: no stablecoin in the bands yet)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.base import LiquidationLimits, Tallies
from liqcascade.scenarios import linear_shock

from .conftest import PARAMS, PRICES, book
from .test_crvusd_dynamic import A, N, R, _Accrued, _top

RULES = _Accrued(PARAMS, collateral="WETH", debt_asset="DAI", A=A, n_bands=N)
BOOK = book([(0, "WETH", 10.0, 0.0), (0, "DAI", 0.0, 8000.0)])


def p_star() -> float:
    """The price below which the loan's full health is negative (test_crvusd_dynamic's derivation)."""
    _, top = _top(RULES, BOOK)
    x_down = 10.0 / N * top * math.sqrt(R) * (1.0 - R**N) / (1.0 - R)
    return top - (x_down * 0.94 / 8400.0 - 1.0) * 8400.0 / 10.0


def test_call_caps_take_shares_of_the_whole_loan():
    p = p_star() * 0.999
    prices = np.array([p, 1.0, 1.0])
    arrays = RULES.prepare(BOOK)
    acc = np.array([0], dtype=np.int64)
    assert RULES._eligible(arrays, prices, acc)[0]
    health0 = RULES.health(arrays, prices, acc).hf[0]
    t = Tallies.zeros(3, 1, BOOK.n_rows)
    # a quarter of the 8,400 first (2100 DAI for 2.5 WETH), then the rest (inf: the rule's maximum)
    calls, ev = RULES.liquidate_list(arrays, prices, acc, t, LiquidationLimits(8, 0.0, np.array([[2100.0, 0.0]])))
    assert (calls, ev.repaid_usd[0], ev.seized_usd[0]) == (1, pytest.approx(2100.0), pytest.approx(2.5 * p))
    lo = RULES.loans(arrays)
    assert arrays.coll[lo.crow[0]] == pytest.approx(7.5) and arrays.debt[lo.drow[0]] == pytest.approx(6300.0)
    # the rest of the loan keeps its health: still liquidatable, the same health factor
    assert RULES._eligible(arrays, prices, acc)[0]
    assert RULES.health(arrays, prices, acc).hf[0] == pytest.approx(health0, rel=1e-12)
    calls, ev = RULES.liquidate_list(arrays, prices, acc, t, LiquidationLimits(8, 0.0, np.array([[np.inf]])))
    assert (calls, ev.repaid_usd[0]) == (1, pytest.approx(6300.0))
    assert arrays.debt[lo.drow[0]] == 0.0 and arrays.coll[lo.crow[0]] == 0.0
    assert t.seized[0] == pytest.approx(10.0) and t.repaid[2] == pytest.approx(8400.0)


def test_profit_max_takes_the_share_the_pool_pays_for():
    """A fee-free pool of $20,000 a side at $2000 (k = 20,000² / 2000, re-centred each block on
    the path). At the first block below p*, a DAI repaid brings s = 10 / 8400 WETH; selling a WETH
    into the pool at price p (reserves X = √(k/p)) the optimum sells a* = X·(√(p·s) − 1) WETH,
    the share a* / 10 of the loan, repaying 8400 · a* / 10."""
    depth = 20_000.0
    k = depth**2 / 2000.0
    pool = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, depth, fee=0.0)}
    _, top = _top(RULES, BOOK)
    path = linear_shock({"WETH": 2000.0}, {"WETH": 0.8 * top / 2000.0 - 1.0}, duration_blocks=200, n_blocks=220)
    first = int(np.argmax(path.prices[:, 0] < p_star()))
    p = float(path.prices[first, 0])
    # (no conservation check: the accrued 5 % is debt the book itself does not hold)
    settings = SimSettings(Liquidators(gas_asset=None, strategy="profit_max"), Dynamics(recovery_half_life_s=0.0))
    ev = simulate(MarketModel(BOOK, RULES, PRICES, pool), path, Instant(), settings)["events"]
    x = math.sqrt(k / p)
    a = x * (math.sqrt(p * 10.0 / 8400.0) - 1.0)
    assert 0 < a < 10.0
    assert int(ev["block"].iloc[0]) == first
    assert ev["debt_repaid_usd"].iloc[0] == pytest.approx(8400.0 * a / 10.0, rel=1e-9)
    assert ev["collateral_seized_usd"].iloc[0] == pytest.approx(a * p, rel=1e-9)
    # later blocks take further shares of what is left, never more than the loan
    assert ev["debt_repaid_usd"].sum() <= 8400.0 * (1 + 1e-12)
