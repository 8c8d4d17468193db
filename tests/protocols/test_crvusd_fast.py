"""crvUSD float rule (adiabatic LLAMMA) against closed forms, invariants and the integer rule.

Bounds stated here (A = 100): bands not yet reached agree with the contract's get_x_down,
health and liquidation amounts to 1e-12 relative (the grid's wad_exp is good to ~1e-17, dead
shares cost 1e-15 on >= 1e15-wei bands). Inside the bands the exact AMM, driven down by an
arbitrageur in 100 steps, holds collateral within 1/A of one band's deposit of the float model,
and the value of what it holds (collateral at the price plus stablecoin) is below the model's
by at most 2/(A*k) when the oracle moves k steps per band: each discrete oracle step lets the
arbitrageur buy a little below the adiabatic price (measured: 1.5/(A*k) over whole bands, fee 0).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.protocols.crvusd import exact as X
from liqcascade.protocols.crvusd import fast as F

W = 10**18
A, BASE = 100, 3000.0
GRID = X.Grid(A, 3000 * W)

prices = st.floats(min_value=1000.0, max_value=5000.0)


def test_edges_and_band_conversion_closed_form():
    p_up, p_down = F.band_edges(A, BASE, 0, 3)
    assert p_up.tolist() == pytest.approx([3000.0, 2970.0, 2940.3], rel=1e-15)
    assert p_down.tolist() == pytest.approx([2970.0, 2940.3, 2910.897], rel=1e-15)
    b = F.deposit(A, BASE, 0, 1, 2.0)
    assert F.holdings(b, 3000.0) == (2.0, 0.0)
    coll, stable = F.holdings(b, 2970.0)  # all sold, at the geometric mean of the edges
    assert coll == 0.0 and stable == pytest.approx(2.0 * math.sqrt(3000.0 * 2970.0), rel=1e-14)
    assert F.band_of_price(A, BASE, 2980.0) == 0 and F.band_of_price(A, BASE, 2960.0) == 1
    assert F.f_remove(0.5, 0.06) == pytest.approx(0.492924528301886792, rel=1e-15)  # LL1
    assert F.f_remove(0.1, 0.06) == pytest.approx(0.097452830188679245, rel=1e-15)


@given(p1=prices, p2=prices, n1=st.integers(-20, 40), n=st.integers(4, 50), c=st.floats(0.01, 1e6))
def test_soft_liquidation_conserves_value_and_is_monotone(p1, p2, n1, n, c):
    b = F.deposit(A, BASE, n1, n, c)
    hi, lo = max(p1, p2), min(p1, p2)
    sale = F.soft_liquidation(b, hi, lo)
    # what falls is sold, at prices between the two: lo*sold <= received <= hi*sold
    assert sale.collateral_sold >= 0.0
    back = F.soft_liquidation(b, lo, hi)  # the price recovers: LLAMMA buys the collateral back
    assert back.collateral_sold == pytest.approx(-sale.collateral_sold, rel=1e-12, abs=1e-12 * c)
    assert back.stablecoin_received == pytest.approx(-sale.stablecoin_received, rel=1e-12, abs=1e-9 * c * hi)
    assert lo * sale.collateral_sold * (1 - 1e-9) - 1e-9 * c * hi <= sale.stablecoin_received
    assert sale.stablecoin_received <= hi * sale.collateral_sold * (1 + 1e-9) + 1e-9 * c * hi
    coll_hi, st_hi = F.split_at(b, hi)
    coll_lo, st_lo = F.split_at(b, lo)
    assert (coll_lo <= coll_hi * (1 + 1e-12)).all()  # a lower price never leaves more collateral
    assert min(coll_lo.min(), st_lo.min(), coll_hi.min(), st_hi.min()) >= 0.0
    assert F.x_down(b, hi) == pytest.approx(F.x_down(b, lo), rel=1e-9)  # path independent


def _fresh(n1, n, amount):
    return X.deposit_into_empty(amount, n1, n1 + n - 1, min(n1 - 1, 0))


@given(
    n1=st.integers(1, 60),
    n=st.integers(4, 50),
    amount=st.integers(10**18, 10**26),
    debt_f=st.floats(0.3, 1.5),
)
def test_health_and_liquidation_match_exact_above_the_bands(n1, n, amount, debt_f):
    u = _fresh(n1, n, amount - amount % n)  # equal bands, as the float deposit
    b = F.deposit(A, BASE, n1, n, (amount - amount % n) / W)
    p = BASE * 1.01
    x_exact = X.get_x_down(GRID, int(p * W), u) / W
    assert F.x_down(b, p) == pytest.approx(x_exact, rel=1e-12)
    debt = x_exact * debt_f
    h = X.health(GRID, int(p * W), u, int(debt * W), 6 * 10**16, True) / W
    assert F.health(b, p, debt, 0.06, True) == pytest.approx(h, abs=1e-12 * (1 + abs(h)))
    if h < 0:
        o = X.liquidate(GRID, int(p * W), u, int(debt * W), 6 * 10**16, frac=W // 2)
        f = F.hard_liquidation(b, p, debt, 0.06, 0.5)
        assert f.collateral_out == pytest.approx(o.collateral_out / W, rel=1e-12)
        assert f.debt_repaid == pytest.approx(o.debt_repaid / W, rel=1e-12)


def _slow_path(n1, n, amount, p_end, steps):
    u = _fresh(n1, n, amount)
    amm = X.AmmState(GRID, {}, {n1 + i: bb.y for i, bb in enumerate(u.bands)}, 0, 0, n1 + n - 1, 0)
    start = X.p_oracle_up(GRID, n1) / W
    left = []
    for p in np.linspace(start, p_end, steps):
        p_o = int(p * W)
        amm = X.arbitrage_to(amm, p_o, p_o).amm_after
        left.append(sum(amm.bands_y.values()) / W)
    return amm, left


@settings(max_examples=8, deadline=None)
@given(n1=st.integers(1, 20), n=st.integers(4, 8), frac_down=st.floats(0.1, 1.2))
def test_soft_liquidation_matches_exact_arbitrage(n1, n, frac_down):
    """The exact AMM pushed down by an arbitrageur in k = 20 steps per band vs the adiabatic model."""
    amount, k = n * 10**18, 20
    p_up0 = BASE * 0.99**n1
    p_end = p_up0 * 0.99 ** (n * frac_down)
    amm, left = _slow_path(n1, n, amount, p_end, max(int(k * n * frac_down), 2))
    assert all(a >= b for a, b in itertools.pairwise(left))  # the exact AMM only sells as the price falls
    b = F.deposit(A, BASE, n1, n, float(n))
    coll, stable = F.holdings(b, p_end)
    coll_x, stable_x = sum(amm.bands_y.values()) / W, sum(amm.bands_x.values()) / W
    assert coll_x == pytest.approx(coll, abs=1.0 / A)  # one band holds 1 coin here
    value_x, value = coll_x * p_end + stable_x, coll * p_end + stable
    assert value * (1 - 2.0 / (A * k)) <= value_x <= value * (1 + 1e-9)
    # and so does get_x_down, hence health, in the middle of soft liquidation
    u = _fresh(n1, n, amount)
    bands = tuple(
        X.Band(amm.bands_x.get(n1 + i, 0), amm.bands_y.get(n1 + i, 0), bb.total_shares, bb.user_shares)
        for i, bb in enumerate(u.bands)
    )
    x_down_x = X.get_x_down(GRID, int(p_end * W), X.UserBands(n1, bands, amm.active_band)) / W
    x_down = F.x_down(b, p_end)
    assert x_down * (1 - 2.0 / (A * k)) <= x_down_x <= x_down * (1 + 1e-9)


@settings(max_examples=15, deadline=None)
@given(n1=st.integers(1, 20), n=st.integers(4, 10), d1=st.floats(0.0, 1.0), d2=st.floats(0.0, 1.0))
def test_exact_arbitrage_lower_price_never_leaves_more_collateral(n1, n, d1, d2):
    u = _fresh(n1, n, n * 10**18)
    amm = X.AmmState(GRID, {}, {n1 + i: bb.y for i, bb in enumerate(u.bands)}, 0, 0, n1 + n - 1, 0)
    top = X.p_oracle_up(GRID, n1)
    pa, pb = sorted(int(top * 0.99 ** (n * d)) for d in (d1, d2))
    ya = sum(X.arbitrage_to(amm, pa, pa).amm_after.bands_y.values())
    yb = sum(X.arbitrage_to(amm, pb, pb).amm_after.bands_y.values())
    assert ya <= yb


def test_a_sudden_drop_costs_more_than_the_float_rule_shows():
    """One oracle jump through 4 of 5 bands: arbitrage buys at the AMM's cubic price, far under
    the adiabatic one, so the exact AMM keeps less value than the float rule's (beyond the
    2/(A*k) of a slow path)."""
    n1, n = 5, 5
    p_end = BASE * 0.99 ** (n1 + 4)
    u = _fresh(n1, n, n * W)
    amm = X.AmmState(GRID, {}, {n1 + i: bb.y for i, bb in enumerate(u.bands)}, 0, 0, n1 + n - 1, 0)
    amm = X.arbitrage_to(amm, int(p_end * W), int(p_end * W)).amm_after
    assert sum(amm.bands_y.values()) <= W  # four bands sold, the fifth (almost) untouched
    coll, stable = F.holdings(F.deposit(A, BASE, n1, n, float(n)), p_end)
    value_x = sum(amm.bands_y.values()) / W * p_end + sum(amm.bands_x.values()) / W
    assert value_x < (coll * p_end + stable) * (1 - 2.0 / (A * 20))


@given(
    st.lists(
        st.tuples(st.integers(-50, 300), st.integers(4, 50), st.floats(1e-3, 1e7)), min_size=1, max_size=20
    ),
    prices,
)
def test_book_state_is_the_per_account_rule(accounts, p):
    n1 = np.array([a[0] for a in accounts])
    nb = np.array([a[1] for a in accounts])
    c = np.array([a[2] for a in accounts])
    s = F.book_state(A, BASE, n1, nb, c, p)
    for i, (a1, an, ac) in enumerate(accounts):
        b = F.deposit(A, BASE, a1, an, ac)
        coll, stable = F.holdings(b, p)
        scale = ac * max(p, BASE * 0.99**a1)
        assert s.collateral[i] == pytest.approx(coll, rel=1e-9, abs=1e-12 * ac)
        assert s.stablecoin[i] == pytest.approx(stable, rel=1e-9, abs=1e-12 * scale)
        assert s.x_down[i] == pytest.approx(F.x_down(b, p), rel=1e-9)
