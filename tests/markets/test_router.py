"""Router: fills add up, marginal prices end equal, never worse than the best single venue."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.impact import PowerLawImpact
from liqcascade.markets.orderbook import DepthCurve, OrderBookVenue
from liqcascade.markets.router import Router


def test_identical_pools_split_evenly_by_hand():
    a = ConstantProductPool("T", 100.0, 100.0, 0.0)
    r = Router.of([a, a])
    res = r.route_sell(50.0)
    assert res.fills == pytest.approx((25.0, 25.0), rel=1e-10)
    assert res.total == pytest.approx(2 * 100 * 25 / 125, rel=1e-10)  # 2·y·a/(x+a)
    assert res.price == pytest.approx(100 * 100 / 125**2, rel=1e-10)
    assert isinstance(r, Venue)


def test_venue_below_the_common_price_gets_nothing():
    hi = ConstantProductPool.from_price_depth("T", 100.0, 1e6, 0.0)
    lo = ConstantProductPool.from_price_depth("T", 90.0, 1e6, 0.0)
    res = Router.of([hi, lo]).route_sell(hi.amount_to_price(95.0))
    assert res.fills[1] == 0.0
    assert res.price == pytest.approx(95.0, rel=1e-9)


def test_mid_price_is_max_before_and_common_after():
    v = [ConstantProductPool.from_price_depth("T", p, 1e6) for p in (100.0, 98.0)]
    r = Router.of(v)
    assert r.mid_price() == pytest.approx(100.0)
    after = r.sell(5000.0)[1]
    m = after.mid_prices()
    assert m[0] == pytest.approx(m[1], rel=1e-9) and after.mid_price() == pytest.approx(m[0], rel=1e-12)


def test_gap_in_a_book_still_fills_exactly():
    book = OrderBookVenue("T", 100.0, DepthCurve((0.01, 0.05, 0.06), (1e6, 1e6, 2e6)))
    pool = ConstantProductPool.from_price_depth("T", 100.0, 1e3, 0.0)  # tiny pool
    amt = book.amount_to_price(99.0) * 1.001
    res = Router.of([book, pool]).route_sell(amt)
    assert math.fsum(res.fills) == pytest.approx(amt, rel=1e-12)


def test_mixed_assets_rejected():
    with pytest.raises(ConfigError, match="asset"):
        Router("A", (ConstantProductPool("A", 1, 1), ConstantProductPool("B", 1, 1)))


def _venue(kind: int, price: float, depth: float):
    if kind == 0:
        return ConstantProductPool.from_price_depth("T", price, depth, 0.003)
    if kind == 1:
        return PowerLawImpact("T", price, depth * 10, 1.0, 0.5, 1.0)
    return OrderBookVenue("T", price, DepthCurve((0.01, 0.02, 0.05), (0.01 * depth, 0.03 * depth, 0.1 * depth)))


venues = st.lists(
    st.tuples(st.integers(0, 2), st.floats(50.0, 150.0), st.floats(1e5, 1e8)), min_size=1, max_size=4
)


@settings(max_examples=80, deadline=None)
@given(venues, st.floats(1e-3, 0.5))
def test_router_properties(specs, frac):
    vs = [_venue(*s) for s in specs]
    r = Router.of(vs)
    amount = frac * sum(s[2] for s in specs) / 100.0
    res = r.route_sell(amount)
    # total fills = amount
    assert math.fsum(res.fills) == pytest.approx(amount, rel=1e-9)
    # equal marginal prices where filled; unfilled venues were already at or below it
    for v0, v1, f in zip(vs, res.router.venues, res.fills):
        if f > 1e-9 * amount:
            assert v1.mid_price() == pytest.approx(res.price, rel=1e-7)
        else:
            assert v0.mid_price() <= res.price * (1 + 1e-7)
    # never worse than the best single venue
    best = max(v.quote_sell(amount) for v in vs)
    assert res.total >= best * (1 - 1e-9)
    # quotes do not change state; the router is a venue
    assert r.quote_sell(amount) == pytest.approx(res.total, rel=1e-12)
    assert r.mid_price() == max(v.mid_price() for v in vs)


@settings(max_examples=50, deadline=None)
@given(venues, st.floats(1e-3, 0.2))
def test_router_buy_properties(specs, frac):
    vs = [_venue(*s) for s in specs]
    r = Router.of(vs)
    amount = frac * sum(s[2] for s in specs) / 150.0
    res = r.route_buy(amount)
    assert math.fsum(res.fills) == pytest.approx(amount, rel=1e-9)
    for v0, v1, f in zip(vs, res.router.venues, res.fills):
        if f > 1e-9 * amount:
            assert v1.buy_price() == pytest.approx(res.price, rel=1e-7)
        else:
            assert v0.buy_price() >= res.price * (1 - 1e-7)
    assert res.total <= min(v.quote_buy(amount) for v in vs) * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(venues, st.floats(1e-3, 0.2), st.floats(1.01, 5.0))
def test_router_venue_contract(venue_contract, specs, frac, ratio):
    # CPMM fees make chunks differ slightly, so path independence is not asserted
    r = Router.of([_venue(*s) for s in specs])
    a = frac * sum(s[2] for s in specs) / 100.0
    venue_contract(r, a, a * ratio, path_independent=False, rel=1e-7)
