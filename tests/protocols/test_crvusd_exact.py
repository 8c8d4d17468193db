"""crvUSD / LLAMMA integer rules: closed forms, the upstream tests' invariants, reverts.

Upstream: curvefi/curve-stablecoin@cf1d05fb (tests/amm/, tests/stableborrow/test_calculate_n1.py,
tests/unitary/controller/test_liquidate.py). Expected values come from closed forms (e, ln 2,
0.99**n, the band walk of exact decimals) or from the tests' own inequalities.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.protocols.crvusd import exact as X
from liqcascade.protocols.crvusd.wadmath import WAD, WadMathError, sdiv, wad_exp, wad_ln

GRID = X.Grid(A=100, base_price=3000 * WAD)  # tests/amm/conftest.py: A 100, BASE_PRICE 3000


def test_wad_exp_ln_closed_forms():
    # e = 2.718281828459045235360..., ln 2 = 0.693147180559945309417...
    assert wad_exp(0) == WAD
    assert wad_exp(WAD) == 2_718_281_828_459_045_235
    assert wad_ln(WAD) == 0
    assert wad_ln(2 * WAD) == 693_147_180_559_945_309
    assert wad_exp(-41_446_531_673_892_822_313) == 0
    with pytest.raises(WadMathError):
        wad_exp(135_305_999_368_893_231_589)
    with pytest.raises(WadMathError):
        wad_ln(-1)
    assert sdiv(-7, 2) == -3 and sdiv(7, -2) == -3 and sdiv(7, 2) == 3


@given(st.integers(min_value=-42 * WAD, max_value=135 * WAD))
def test_wad_exp_within_a_wei_and_1e17(x):
    with localcontext() as ctx:
        ctx.prec = 60
        exact = (Decimal(x) / WAD).exp() * WAD
        assert abs(Decimal(wad_exp(x)) - exact) <= 2 + exact * Decimal("2e-17")


@given(st.integers(min_value=1, max_value=2**250))
def test_wad_ln_within_two_wei(x):
    with localcontext() as ctx:
        ctx.prec = 60
        assert abs(Decimal(wad_ln(x)) - (Decimal(x) / WAD).ln() * WAD) <= 2


def test_grid_edges_closed_form():
    # upstream test_p_oracle_updown: p_oracle_up(0) == base price exactly
    assert X.p_oracle_up(GRID, 0) == 3000 * WAD
    assert X.p_oracle_up(GRID, 1) == 2970 * WAD  # 3000 * 0.99
    assert X.p_oracle_down(GRID, 0) == X.p_oracle_up(GRID, 1)
    assert GRID.log_a_ratio == 10_050_335_853_501_441  # ln(100/99) = 0.01005033585350144118...
    assert GRID.sqrt_band_ratio == math.isqrt(10**36 * 100 // 99)
    for n in range(-10, 11):  # upstream: rel 1e-14 against ((A-1)/A)**n
        want = Fraction(3000 * WAD) * Fraction(99, 100) ** n
        assert abs(X.p_oracle_up(GRID, n) - want) <= want * Fraction(1, 10**14)


@given(st.integers(min_value=-1023, max_value=1023), st.integers(min_value=1000, max_value=10000))
def test_p_current_closed_form(n, p):
    p_o = p * WAD  # upstream test_p_current_updown: p_o**3 / p_up**2 within 1e-10
    up = 3000.0 * 0.99**n
    assert X.p_current_down(GRID, p_o, n) == pytest.approx(p_o**3 / (up * WAD) ** 2, rel=1e-10)
    assert X.p_current_up(GRID, p_o, n) == pytest.approx(p_o**3 / (up * 0.99 * WAD) ** 2, rel=1e-10)


@given(st.integers(min_value=100, max_value=10**6))
def test_band_of_oracle_price(p):
    price = p * 10**16
    n = X.band_of_oracle_price(GRID, price)
    assert X.p_oracle_down(GRID, n) < price <= X.p_oracle_up(GRID, n)


def test_deposit_split_remainder_to_lowest_band():
    assert X.deposit_split(10**18 + 3, 5) == [2 * 10**17 + 3] + [2 * 10**17] * 4
    with pytest.raises(X.CrvusdRevert, match="Amount too low"):
        X.deposit_split(500, 5)


def _fresh(amount, n1, dn, active=0):
    return X.deposit_into_empty(amount, n1, n1 + dn, active)


def test_x_down_of_bands_above_the_oracle_by_hand():
    # 4 bands 0..3 at p_o 3100 > 3000: each converts at p_up * sqrt(99/100) (the geometric mean
    # of its edges); the band walk is exact decimals 3000, 2970, 2940.3, 2910.897
    u = _fresh(4 * 10**18, 0, 3, active=-1)
    sbr = math.isqrt(10**36 * 100 // 99)
    y = 10**18
    ups = [3000 * WAD, 2970 * WAD, 29403 * 10**17, 2910897 * 10**15]
    want = sum((y * p // sbr) * (1000 * y) // (1000 * y + 1000) for p in ups)
    assert X.get_x_down(GRID, 3100 * WAD, u) == want
    # y_up of collateral-only bands above the oracle is the collateral less the dead-share cut
    assert X.get_y_up(GRID, 3100 * WAD, u) == 4 * (y * 1000 * y // (1000 * y + 1000))
    # health = x_down * (1 - 0.06) / debt - 1, truncated
    debt = 10_000 * WAD
    assert X.health(GRID, 3100 * WAD, u, debt, 6 * 10**16, False) == want * (WAD - 6 * 10**16) // debt - WAD
    full = X.health(GRID, 3100 * WAD, u, debt, 6 * 10**16, True)
    assert full == want * (WAD - 6 * 10**16) // debt - WAD + 100 * WAD * (4 * y) // debt


def _user_in(amm, u):
    """The user's bands read back from the AMM (the user holds every share but the dead ones)."""
    bands = tuple(
        X.Band(amm.bands_x.get(u.n1 + i, 0), amm.bands_y.get(u.n1 + i, 0), b.total_shares, b.user_shares)
        for i, b in enumerate(u.bands)
    )
    return X.UserBands(u.n1, bands, amm.active_band)


@settings(max_examples=60, deadline=None)
@given(
    p=st.integers(min_value=1000, max_value=10000),
    n1=st.integers(min_value=1, max_value=30),
    dn=st.integers(min_value=0, max_value=30),
    amount=st.integers(min_value=10**18, max_value=10**25),
    f_pump=st.floats(min_value=0, max_value=10),
    f_trade=st.floats(min_value=0, max_value=10),
    pump=st.booleans(),
)
def test_immediate_trades_never_lower_x_down_y_up(p, n1, dn, amount, f_pump, f_trade, pump):
    """Upstream tests/amm/test_xdown_yup_invariants.py::test_immediate: at constant p_o, a trade
    (fee 0, only the dynamic fee) never lowers get_x_down or get_y_up; coins are conserved."""
    p_o = p * WAD
    u = _fresh(amount, n1, dn)
    amm = X.AmmState(GRID, {}, {n1 + i: b.y for i, b in enumerate(u.bands)}, 0, 0, n1 + dn, 0)
    first = X.exchange(amm, p_o, True, int(p_o * amount / WAD * f_pump / 10**12))
    amm = first.amm_after
    assert sum(amm.bands_x.values()) == first.in_amount
    assert sum(amm.bands_y.values()) == amount - first.out_amount
    u0 = _user_in(amm, u)
    x0, y0 = X.get_x_down(GRID, p_o, u0), X.get_y_up(GRID, p_o, u0)
    trade = int(p_o * amount / WAD * f_trade / 10**12) if pump else int(amount * f_trade)
    t = X.exchange(amm, p_o, pump, trade)
    a = t.amm_after
    u1 = _user_in(a, u)
    assert X.get_x_down(GRID, p_o, u1) >= x0
    assert X.get_y_up(GRID, p_o, u1) >= y0
    dx, dy = (t.in_amount, -t.out_amount) if pump else (-t.out_amount, t.in_amount)
    assert sum(a.bands_x.values()) == sum(amm.bands_x.values()) + dx
    assert sum(a.bands_y.values()) == sum(amm.bands_y.values()) + dy
    assert min(list(a.bands_x.values()) + list(a.bands_y.values()) + [0]) >= 0


def test_pump_buys_everything():
    # upstream test_dxdy_limits: a huge pump buys all the collateral
    amount = 5 * 10**18
    u = _fresh(amount, 1, 4)
    amm = X.AmmState(GRID, {}, {1 + i: b.y for i, b in enumerate(u.bands)}, 0, 0, 5, 0)
    t = X.exchange(amm, 3000 * WAD, True, 10**12 * WAD)
    assert t.out_amount == amount
    assert t.in_amount < 10**12 * WAD
    assert all(v == 0 for v in t.amm_after.bands_y.values())
    assert t.amm_after.active_band == 5


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=5, max_value=50),
    debt=st.integers(min_value=10**6, max_value=2 * 10**6 * 10**18),
    collateral=st.integers(min_value=10**6, max_value=10**9 * 10**18 // 3000),
)
def test_n1_brackets_the_debt(n, debt, collateral):
    """Upstream tests/stableborrow/test_calculate_n1.py::test_n1, its inequalities (loan discount
    9%, oracle at band 0's top, empty AMM)."""
    p_o = 3000 * WAD
    disc = collateral * (WAD - 9 * 10**16) // WAD
    p0 = X.p_oracle_down(GRID, 0) / 1e18
    try:
        n1 = X.calculate_debt_n1(GRID, p_o, 0, collateral, debt, n, 9 * 10**16)
    except X.CrvusdRevert as exc:
        assert "Debt too high" in str(exc) or "Amount too low" in str(exc)
        if "Debt too high" in str(exc):
            assert disc * p0 * (99 / 100) ** n <= debt
        return
    assert disc * p0 >= debt
    assert disc * X.p_oracle_up(GRID, n1) / 1e18 >= debt
    if n1 + n - 1 < 1023:
        assert disc * X.p_oracle_down(GRID, n1 + n - 1) / 1e18 <= debt


@settings(deadline=None)
@given(n=st.integers(4, 50), debt=st.integers(10**18, 10**24), collateral=st.integers(10**18, 10**24))
def test_float_top_band_within_one_of_exact(n, debt, collateral):
    from liqcascade.protocols.crvusd import fast as F

    try:
        n1 = X.calculate_debt_n1(GRID, 10**30, 0, collateral, debt, n, 9 * 10**16)  # oracle never binds
    except X.CrvusdRevert:
        return
    if n1 < 1024 - n:  # the contract caps n1 at 1024 - N above the active band
        assert abs(F.top_band(100.0, 3000.0, collateral / WAD, debt / WAD, n, 0.09) - n1) <= 1


@given(
    frac=st.integers(1, WAD),
    ys=st.lists(st.integers(10**15, 10**24), min_size=4, max_size=12),
    xs=st.integers(0, 10**24),
)
def test_tokens_to_liquidate_is_what_liquidate_asks(frac, ys, xs):
    """tokens_to_liquidate floors sum_x*f_remove where withdraw floors the shares per band: they
    differ by at most one share's worth of stablecoin plus one wei per band."""
    bands = tuple(X.Band(xs if i == 0 else 0, y, 1000 * y, 1000 * y) for i, y in enumerate(ys))
    u = X.UserBands(0, bands, 0)
    debt = sum(ys) * 4000 + 2 * xs  # underwater at 3000: health < 0
    o = X.liquidate(GRID, 3000 * WAD, u, debt, 6 * 10**16, frac=frac)
    t = X.tokens_to_liquidate(u, debt, 6 * 10**16, frac=frac)
    assert o.health_before < 0
    assert o.debt_repaid == -(-debt * frac // WAD)
    assert abs(t - o.liquidator_pays) <= sum((b.x + 1) // (b.total_shares + 1000) + 1 for b in bands) + 1
    assert o.collateral_out <= sum(ys) and o.liquidator_pays >= 0


def test_reverts():
    u = _fresh(4 * WAD, 0, 3, active=-1)
    with pytest.raises(X.CrvusdRevert, match="Loan doesn't exist"):
        X.health(GRID, 3000 * WAD, u, 0, 0, False)
    with pytest.raises(X.CrvusdRevert, match="frac>100%"):
        X.liquidate(GRID, 3000 * WAD, u, 10**30, 6 * 10**16, frac=WAD + 1, approval=True)
    with pytest.raises(X.CrvusdRevert, match="N must be"):
        X.calculate_debt_n1(GRID, 3000 * WAD, 0, WAD, WAD, 3, 0)
    with pytest.raises(X.CrvusdRevert, match="No deposits"):
        X.withdraw(X.UserBands(0, (X.Band(),), 0), WAD)
