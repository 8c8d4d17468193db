"""Execution per market and side (engine/perps.py ``fill_side``): one walk of the venue,
allocated pro rata within each order's worst average price. Hand cases on a fee-free x·y=k
pool (10,000 USD / 100 tokens: a sale of q averages 10,000 / (100 + q), a purchase of r
10,000 / (100 − r)) and the invariants of the rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.perps import fill_side
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.orderbook import DepthCurve, OrderBookVenue

POOL = ConstantProductPool("X", 100.0, 10_000.0, fee=0.0)


def test_unbounded_orders_share_one_walk_pro_rata():
    q, cash = fill_side(POOL, np.array([1.0, 3.0]), np.array([np.nan, np.nan]), sell=True)
    np.testing.assert_allclose(q, [1.0, 3.0])
    # the walk of 4 pays 10,000·4/104; each order gets its share, at the one average 10,000/104
    np.testing.assert_allclose(cash, [10_000.0 / 104.0, 3.0 * 10_000.0 / 104.0], rtol=1e-12)


def test_an_order_leaves_the_walk_where_the_average_reaches_its_floor():
    q, cash = fill_side(POOL, np.array([10.0, 10.0]), np.array([99.0, np.nan]), sell=True)
    # both walk together until the average 10,000/(100 + w) is 99: w = 10,000/99 − 100, half each
    a = (10_000.0 / 99.0 - 100.0) / 2.0
    np.testing.assert_allclose(q, [a, 10.0], rtol=1e-9)
    assert cash[0] / q[0] == pytest.approx(99.0, rel=1e-12) and cash[0] / q[0] >= 99.0
    # the unbounded order takes the rest: all cash is one walk of 10 + a
    np.testing.assert_allclose(cash.sum(), 10_000.0 * (10.0 + a) / (110.0 + a), rtol=1e-12)


def test_a_floor_above_the_mid_fills_nothing_and_a_cap_bounds_a_buy():
    q, cash = fill_side(POOL, np.array([5.0]), np.array([101.0]), sell=True)
    assert q[0] == 0.0 and cash[0] == 0.0
    q, cash = fill_side(POOL, np.array([10.0, 10.0]), np.array([101.0, np.nan]), sell=False)
    a = (100.0 - 10_000.0 / 101.0) / 2.0  # the purchase averages 10,000/(100 − r) = 101
    np.testing.assert_allclose(q, [a, 10.0], rtol=1e-9)
    assert cash[0] / q[0] <= 101.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 30.0), st.one_of(st.none(), st.floats(90.0, 100.5))), min_size=1, max_size=8),
       st.booleans())
def test_fills_conserve_the_walk_and_respect_each_bound(rows, sell):
    curve = DepthCurve((0.01, 0.1), (2_000.0, 20_000.0))
    venue = OrderBookVenue("X", 100.0, curve, curve)
    amount = np.array([r[0] for r in rows])
    worst = np.array([np.nan if r[1] is None else (r[1] if sell else 200.0 - r[1]) for r in rows])
    q, cash = fill_side(venue, amount, worst, sell)
    assert np.all(q >= 0.0) and np.all(q <= amount * (1 + 1e-12))
    total = float(q.sum())
    walk = venue.quote_sell(total) if sell else venue.quote_buy(total)
    assert cash.sum() == pytest.approx(walk, rel=1e-9, abs=1e-9)  # one walk, nothing created
    filled = q > 0.0
    avg = cash[filled] / q[filled]
    bound = worst[filled]
    ok = np.isnan(bound) | ((avg >= bound * (1 - 1e-12)) if sell else (avg <= bound * (1 + 1e-12)))
    assert np.all(ok)
    assert np.all(q[np.isnan(worst)] == pytest.approx(amount[np.isnan(worst)]))  # unbounded: filled in full
    # an order cut short stopped where the common average reached its bound
    short = filled & (q < amount * (1 - 1e-9))
    np.testing.assert_allclose(cash[short] / q[short], worst[short], rtol=1e-9)
