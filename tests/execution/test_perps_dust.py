"""The perp replay's dust guard (execution/perps._DustSafe) on the engine's compiled walk: the
guard passes the book's profile through with its dust bound, and the walk (engine/perps.py,
engine/perps_kernels*.py) applies the guard's rule -- a trade worth under $1 at the reference
priced at the mid, the book left where it was -- so it fills as the guarded book walked trade by
trade (engine.perps._fill_one) does."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine import perps as P
from liqcascade.engine import perps_kernels_python
from liqcascade.execution.perps import _DustSafe
from liqcascade.markets.orderbook import DepthCurve, OrderBookVenue
from liqcascade.markets.perp_book import PerpOrderBookVenue
from liqcascade.markets.perp_depth import shipped_dynamics

CURVE = DepthCurve((0.01,), (10_000.0,))
"""$10,000 within 1 % of the mid and the same density beyond: dN/df = 1e6 $ per unit of fraction."""


def test_the_guard_passes_the_profile_and_its_dust_bound_through():
    venue = PerpOrderBookVenue("BTC", 100_000.0, shipped_dynamics(), stress=0.8, net_sold=3.0)
    guarded = _DustSafe(venue)
    assert guarded.dust_trade_usd == 1.0
    d, want = guarded.depth_segments(), venue.depth_segments()
    assert (d.reference_price, d.net_sold) == (100_000.0, 3.0)
    np.testing.assert_array_equal(d.bid_density, want.bid_density)
    assert guarded.with_net_sold(5.0).inner == venue.with_net_sold(5.0)


def test_hand_case_a_dust_trade_goes_at_the_mid_and_leaves_the_book():
    """A $100 mid: selling 0.004 (= $0.40 < $1) fills at 100 exactly and leaves the book; the
    10 tokens sold after it walk from the mid, u = 10·100/1e6 = 0.001, for 1e6·(1 − e^−0.001).
    A dust buy capped below the mid the book is then at (100·e^−0.001) fills nothing (its first
    unit is past the cap); one capped above it fills at that mid."""
    venue = _DustSafe(OrderBookVenue("X", 100.0, CURVE, CURVE))
    filled, price, after = P._walk_profile(venue, np.array([-0.004, -10.0, 0.002, 0.002]),
                                           np.array([np.nan, np.nan, 99.8, 99.95]))
    mid_after = 100.0 * math.exp(-0.001)
    assert filled.tolist() == [-0.004, -10.0, 0.0, 0.002]
    assert price[0] == 100.0
    assert price[1] == pytest.approx(1e6 * (1.0 - math.exp(-0.001)) / 10.0, rel=1e-12)
    assert math.isnan(price[2])
    assert price[3] == pytest.approx(mid_after, rel=1e-15)
    assert after.inner.net_sold == 10.0  # neither dust trade moved it
    assert isinstance(after, _DustSafe)


def _random_venue(seed: int) -> OrderBookVenue:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    f = np.sort(rng.choice(np.arange(1, 50), k, replace=False)) / 1000.0
    n_bid = np.cumsum(rng.uniform(0.0, 2e6, k)) + 1e5
    n_ask = np.cumsum(rng.uniform(0.0, 2e6, k)) + 1e5
    return OrderBookVenue("X", float(rng.uniform(10.0, 1e5)), DepthCurve(tuple(f), tuple(n_bid)),
                          DepthCurve(tuple(f), tuple(n_ask)), float(rng.uniform(0.2, 3.0)), 0.0)


# orders of $0.0001 to $300,000 (many under the $1 dust bound), bounds within 2 % of the reference
orders_st = st.lists(st.tuples(st.floats(-5.5, 4.0), st.booleans(), st.floats(-0.02, 0.02), st.booleans()),
                     min_size=1, max_size=25)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), orders_st)
def test_the_walk_fills_as_the_guarded_book_order_by_order(seed, rows):
    """Bit for bit, order by order, until an order whose first unit is already at or past its
    bound: the walk fills nothing there; the guarded bisection may take a sliver its rounding
    lets through, after which the two books differ by it (so the comparison stops)."""
    base = _random_venue(seed)
    p = base.reference_price
    close = np.array([(-1.0 if sell else 1.0) * 10.0 ** e / p for e, sell, _, _ in rows])
    worst = np.array([p * (1.0 + w) if bounded else np.nan for _, _, w, bounded in rows])
    for walk in ("compiled", "plain"):
        if walk == "compiled":
            filled, price, _ = P._walk_profile(_DustSafe(base), close, worst)
        else:
            d = base.depth_segments()
            filled, price = np.empty(close.size), np.empty(close.size)
            perps_kernels_python.walk_orders(d.bid_start, d.bid_notional, d.bid_density, d.ask_start,
                                             d.ask_notional, d.ask_density, d.reference_price, d.net_sold,
                                             close, worst, filled, price, 1.0)
        v = _DustSafe(base)
        for i, (c, w) in enumerate(zip(close, worst)):
            mid = v.mid_price()
            if not math.isnan(w) and (mid <= w if c < 0 else mid >= w):
                assert filled[i] == 0.0 and math.isnan(price[i])
                break
            f, avg, v = P._fill_one(v, float(c), float(w))
            assert filled[i] == f, (walk, i)
            if f != 0.0:
                assert price[i] == avg, (walk, i)
