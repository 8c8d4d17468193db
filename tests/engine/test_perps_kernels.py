"""The perp engine's compiled kernels (engine/perps_kernels.py) against their plain twins, the
order-book venue they walk, and hand calculations: the liquidation walk (walk_orders) and the
screen's affine slack (account_affine)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine import perps as P
from liqcascade.engine import perps_kernels, perps_kernels_python
from liqcascade.markets.orderbook import DepthCurve, OrderBookVenue
from liqcascade.markets.perp_book import PerpOrderBookVenue
from liqcascade.markets.perp_depth import shipped_dynamics
from tests.engine.test_perps import RULES, random_book

KERNELS = (perps_kernels, perps_kernels_python)


def _walk(kernel, venue: OrderBookVenue, close, worst):
    d = venue.depth_segments()
    close, worst = np.asarray(close, dtype=np.float64), np.asarray(worst, dtype=np.float64)
    filled, price = np.empty(close.size), np.empty(close.size)
    q = kernel.walk_orders(d.bid_start, d.bid_notional, d.bid_density, d.ask_start, d.ask_notional,
                           d.ask_density, d.reference_price, d.net_sold, close, worst, filled, price, 0.0)
    return filled, price, q


# ---------------------------------------------------------------------- hand cases
@pytest.mark.parametrize("kernel", KERNELS, ids=["compiled", "plain"])
def test_hand_case_one_segment_book(kernel):
    """$10,000 within 1 % of a $100 mid and the same density beyond: dN/df = 1e6 $ per unit of
    fraction. Selling q from the mid walks to p = 100·e^(−u), u = q·100/1e6, for s·(1 − e^(−u))."""
    curve = DepthCurve((0.01,), (10_000.0,))
    venue = OrderBookVenue("X", 100.0, curve, curve)
    # 1) sell 10: u = 0.001, cash 1e6·(1 − e^−0.001) = 999.500166..., average 99.9500166...
    # 2) sell 5 with a floor of 99.95: the book is already at 100·e^−0.001 = 99.90005 < 99.95: nothing
    # 3) buy 4, no cap: back up from u = 0.001 to u = 0.0006, paying 1e6·(e^−0.0006 − e^−0.001)
    # 4) sell 1 with a floor of 90: all of it, from u = 0.0006 to 0.0007
    filled, price, q = _walk(kernel, venue, [-10.0, -5.0, 4.0, -1.0], [np.nan, 99.95, np.nan, 90.0])
    e = math.exp
    assert filled.tolist() == [-10.0, 0.0, 4.0, -1.0]
    assert price[0] == pytest.approx(1e6 * (1 - e(-0.001)) / 10, rel=1e-12)
    assert np.isnan(price[1])
    assert price[2] == pytest.approx(1e6 * (e(-0.0006) - e(-0.001)) / 4, rel=1e-9)
    assert price[3] == pytest.approx(1e6 * (e(-0.0006) - e(-0.0007)) / 1, rel=1e-9)
    assert q == pytest.approx(7.0, abs=1e-12)


@pytest.mark.parametrize("kernel", KERNELS, ids=["compiled", "plain"])
def test_hand_case_a_floor_stops_the_order_where_its_average_reaches_it(kernel):
    """Same book: a sale's average from the mid is 1e6·(1 − e^(−u))/q. With a floor of 99.9 the
    largest sale solves (1 − e^(−u))/u = 0.999, u ≈ 0.0020007 (q ≈ 20.007): the bisection's
    answer is within 2^-30 of the order of it, and no more than it."""
    curve = DepthCurve((0.01,), (10_000.0,))
    venue = OrderBookVenue("X", 100.0, curve, curve)
    lo, hi = 0.0, 1.0  # solve (1 − e^−u)/u = 0.999 by bisection on u, independently of the kernel
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if -math.expm1(-mid) / mid >= 0.999 else (lo, mid)
    want = lo * 1e6 / 100.0
    filled, price, _ = _walk(kernel, venue, [-50.0], [99.9])
    assert -filled[0] <= want + 1e-9 and -filled[0] == pytest.approx(want, abs=50.0 * 2.0**-29)
    assert price[0] >= 99.9 and price[0] == pytest.approx(99.9, abs=1e-6)


# ---------------------------------------------------------------------- agreement
def _random_venue(seed: int, net_sold: float) -> OrderBookVenue:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    f = np.sort(rng.choice(np.arange(1, 50), k, replace=False)) / 1000.0
    n_bid = np.cumsum(rng.uniform(0.0, 2e6, k)) + 1e5
    n_ask = np.cumsum(rng.uniform(0.0, 2e6, k)) + 1e5
    return OrderBookVenue("X", float(rng.uniform(10.0, 1e5)), DepthCurve(tuple(f), tuple(n_bid)),
                          DepthCurve(tuple(f), tuple(n_ask)), float(rng.uniform(0.2, 3.0)), net_sold)


orders_st = st.lists(st.tuples(st.floats(-3e5, 3e5).filter(lambda c: abs(c) > 1.0), st.floats(-0.02, 0.02),
                               st.booleans()), min_size=1, max_size=25)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(-50.0, 50.0), orders_st)
def test_the_compiled_walk_is_its_plain_twin_and_the_venue_walk(seed, net_sold_usd, rows):
    """Orders in USD notional, bounds a few % around the mid (or none). The compiled walk and its
    twin agree to the bit; against the venue object walked order by order (engine.perps._fill_one,
    the rule before the kernel) they agree to a millionth of an order: the kernel skips an order
    whose first unit is past its bound, where the object walk's bisection may take a sliver its
    rounding lets through (a bound at the mid: a tiny sale's average rounds to the mid itself).
    A sliver moves the book for the orders after it, by about itself: ``slack``."""
    venue0 = _random_venue(seed, 0.0)
    venue = venue0.with_net_sold(net_sold_usd / venue0.reference_price)
    p = venue.reference_price
    close = np.array([c / p for c, _, _ in rows])
    worst = np.array([p * (1.0 + w) if bounded else np.nan for _, w, bounded in rows])
    a = _walk(perps_kernels, venue, close, worst)
    b = _walk(perps_kernels_python, venue, close, worst)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-15)
    assert a[2] == pytest.approx(b[2], rel=1e-15, abs=1e-15)
    v = venue
    slack = 0.0  # how far the two walks may have drifted: slivers the kernel did not take
    for i, (c, w) in enumerate(zip(close, worst)):
        f, avg, v = P._fill_one(v, float(c), float(w))
        assert a[0][i] == pytest.approx(f, abs=1e-6 * abs(c) + 10.0 * slack)
        if a[0][i] != 0.0 and abs(f) > 1e-6 * abs(c):
            assert a[1][i] == pytest.approx(avg, rel=1e-7)
        slack += abs(a[0][i] - f)
    assert a[2] == pytest.approx(v.net_sold, abs=1e-9 * max(1.0, abs(v.net_sold)) + 10.0 * slack)


def test_the_engine_walks_a_perp_book_by_its_profile():
    """PerpOrderBookVenue (the replay's venue kind) exposes its current book: the kernel's walk and
    the venue's own sale agree, and the venue after the walk is the venue after the sale."""
    venue = PerpOrderBookVenue("BTC", 100_000.0, shipped_dynamics(), stress=0.8, net_sold=3.0)
    filled, price, q = _walk(perps_kernels, venue, [-20.0], [np.nan])
    cash, after = venue.sell(20.0)
    assert filled[0] == -20.0 and price[0] * 20.0 == pytest.approx(cash, rel=1e-12)
    assert venue.with_net_sold(q).mid_price() == pytest.approx(after.mid_price(), rel=1e-12)


# ---------------------------------------------------------------------- the screen's affine slack
@pytest.mark.parametrize("kernel", KERNELS, ids=["compiled", "plain"])
def test_the_affine_slack_is_the_slack(kernel):
    book = random_book(300, seed=4)
    rate = RULES.maintenance_rate(book.markets)
    accounts = np.arange(book.n_accounts, dtype=np.int64)
    out = np.empty((accounts.size, 10))
    kernel.account_affine(accounts, book.offsets, book.market, book.size, book.entry_price,
                          book.funding_index, book.collateral, rate, out)
    for mark, funding in ((np.array([47_000.0, 3_100.0]), np.array([3.0, -0.2])),
                          (np.array([61_000.0, 2_500.0]), np.array([-8.0, 0.5]))):
        ms = RULES.margin(book, mark, funding)
        slack = out[:, :5] @ np.concatenate(([1.0], mark, -funding))
        size = out[:, 5:] @ np.concatenate(([1.0], mark, np.abs(funding)))
        np.testing.assert_allclose(slack, ms.equity - ms.maintenance, rtol=0, atol=1e-12 * size.max())
        assert np.all(size >= np.abs(slack))


def test_the_affine_pass_is_its_plain_twin_and_the_matrix_product():
    """Rows: valid or struck out, room below or above the move; the pass keeps the valid rows
    within the move whose slack is at most ``rounding`` of the size of its terms."""
    rng = np.random.default_rng(5)
    n = 400
    signed, size = rng.normal(0.0, 1.0, (n, 5)), rng.uniform(0.0, 3.0, (n, 5))
    valid, room = rng.random(n) < 0.8, rng.uniform(-0.1, 0.2, n)
    accounts = rng.permutation(10 * n)[:n].astype(np.int64)
    at, scale = np.array([1.0, 2.0, -0.5, 0.1, 0.3]), np.array([1.0, 2.0, 0.5, 0.1, 0.3])
    slack, bound = signed @ at, size @ scale
    want = accounts[valid & (room <= 0.05) & (slack <= 0.01 * bound)]
    assert 0 < want.size < n // 2
    for kernel in KERNELS:
        out = np.empty(n, dtype=np.int64)
        k = kernel.affine_pass(signed, size, valid, accounts, room, n, 0.05, at, scale, 0.01, out)
        np.testing.assert_array_equal(out[:k], want)
        k = kernel.affine_pass(signed, size, valid, accounts, room, 100, 0.05, at, scale, 0.01, out)
        np.testing.assert_array_equal(out[:k], [a for a in want if np.flatnonzero(accounts == a)[0] < 100])
