"""The curve's unrecoverable-debt pass reads only the liquidated accounts whose sweep bound does
not rule the debt out (``engine/curve.py`` ``unrecoverable_touched``, ``Capabilities.debt_free_bound``):
Aave's bound marks what an account held at its last read (hand-made accounts, both kernel twins),
and a curve whose points leave debt without collateral (v3.0) reads just those accounts and
gives the single runs' numbers, bit for bit, with the guard against underflow on and off."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from liqcascade.engine import curve as curve_mod
from liqcascade.engine.curve import curve_points, lowest_price_ratio
from liqcascade.engine.static import MarketModel, StaticCascade
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.base import HF_INF

from .conftest import PARAMS, PRICES, aave_sweep, book

# WETH at 2000 (LT 0.85, bonus 0.05), USDC at 1
MARK_ROWS = [
    (0, "WETH", 1e-105, 0.0), (0, "USDC", 0.0, 1e-105),  # HF 1700 on 3.4e-102 USD of collateral: below the floor
    (1, "WETH", 1.0, 0.0), (1, "USDC", 0.0, 1000.0),  # HF 1.7, not eligible
    (2, "USDC", 0.0, 100.0),  # debt, no collateral
    (3, "WETH", 1.0, 0.0),  # no debt
    (4, "WETH", 1.0, 0.0), (4, "USDC", 0.0, 1800.0),  # HF 0.944: all its debt repaid (1890 USD seized)
    (5, "WETH", 10.0, 0.0), (5, "USDC", 0.0, 17400.0),  # HF 0.977: half repaid, 10,865 USD left
    (6, "WETH", 1.0, 0.0), (6, "USDC", 0.0, 1950.0),  # all its collateral seized for 1904.76, 45.24 left
]


@pytest.mark.parametrize("version", [V3_0, V3_3])
def test_aave_bounds_mark_no_debt_no_collateral_and_collateral_below_the_floor(version):
    from liqcascade._jit import jit_functions
    from liqcascade.protocols.aave_v3 import kernels_python

    compiled = jit_functions(kernels_python.FUNCTIONS, parallel=kernels_python.PARALLEL, enabled=True)
    b = book(MARK_ROWS)
    qs = []
    for sweep in (compiled["sweep"], kernels_python.sweep):
        r = aave_sweep(sweep, version, b, PRICES)
        touched, q = r.touched, r.q
        assert touched.tolist() == [False, False, False, False, True, True, True]
        assert q[0] == 0.0  # read again: too little collateral to vouch for
        assert q[1] == pytest.approx(1.7, rel=1e-15)
        assert q[2] == kernels_python.NO_COLLATERAL > HF_INF
        assert q[3] == q[4] == HF_INF
        assert q[5] == pytest.approx(5.4325 * 2000 * 0.85 / 8700, rel=1e-12)
        assert q[6] == (kernels_python.NO_COLLATERAL if version == V3_0 else HF_INF)  # v3.3 burns the debt left
        qs.append(q)
    assert qs[0].tobytes() == qs[1].tobytes()


def curve_model(version: int) -> MarketModel:
    """Accounts 10x the ones above (the close factor is 50 % from 2,000 USD in v3.3), no venue
    (the seized WETH sold at the price): at a 50 % shock (WETH at 1000) account 0 loses all its
    collateral and keeps 17,000 - 10,000 / 1.05 USD of debt, 1 repays all, 2 half, 3 is healthy."""
    rows = [(0, "WETH", 10.0, 0.0), (0, "USDC", 0.0, 17000.0), (1, "WETH", 10.0, 0.0), (1, "USDC", 0.0, 9000.0),
            (2, "WETH", 10.0, 0.0), (2, "USDC", 0.0, 8700.0), (3, "WETH", 10.0, 0.0), (3, "USDC", 0.0, 1000.0)]
    return MarketModel(book(rows), AaveV3Rules(PARAMS, version), PRICES, {})


@pytest.mark.parametrize("guard", [False, True], ids=["bounds", "guard-reads-more"])
@pytest.mark.parametrize("version", [V3_0, V3_3])
def test_curve_reads_only_accounts_that_may_keep_debt_without_collateral(version, guard, monkeypatch):
    model = curve_model(version)
    grid = [0.0, 0.5]
    rows = np.array([model.shock_vector({"WETH": s}) for s in grid])
    singles = []
    for s in grid:
        solver = StaticCascade(model)
        o = solver.run({"WETH": s})
        singles.append(solver.summarize(o))
    if guard:  # as if prices had fallen so far that a product could underflow
        monkeypatch.setattr(curve_mod, "UNDERFLOW_RATIO", np.inf)
    read: list[int] = []
    original = AaveV3Rules.unrecoverable_debt

    def recorded(self, arrays, prices, accounts):
        read.extend(int(k) for k in accounts)
        return original(self, arrays, prices, accounts)

    monkeypatch.setattr(AaveV3Rules, "unrecoverable_debt", recorded)
    solver = StaticCascade(model)
    points = curve_points(solver, rows, workers=1)
    for pt, summ in zip(points, singles):
        assert pt.bad_debt_usd == summ["bad_debt_usd"]
        assert pt.accounts_liquidated == summ["accounts_liquidated"]
    left = 17000.0 - 10000.0 / 1.05
    assert points[1].accounts_liquidated == 3
    assert points[1].bad_debt_usd == pytest.approx(left, rel=1e-12)  # v3.0 keeps it, v3.3 burns it
    assert o.account_order.tolist() == [0, 1, 2, 3]  # by HF0 (1.0, 1.89, 1.95, 17): working positions are accounts
    # v3.0: account 0 (no collateral left) is read; account 2 (collateral left) only when guarded;
    # account 1 (no debt left) never. v3.3 burned account 0's debt.
    expected = ([0] if version == V3_0 else []) + ([2] if guard else [])
    assert sorted(read) == expected


def test_lowest_price_ratio_is_final_over_highest_seen():
    out = SimpleNamespace(
        prices_shocked=np.array([1.0, 2.0]), prices_final=np.array([0.25, 0.8]),
        round_rows=[{"asset": "A", "price_after": 0.5}, {"asset": "B", "price_after": 4.0},
                    {"asset": "A", "price_after": 0.25}, {"asset": "B", "price_after": 0.8}],
    )
    assert lowest_price_ratio(("A", "B"), out) == 0.2  # B: 0.8 / 4 (A: 0.25 / 1)
