"""crvUSD rules (CrvUsdRules) by hand: one loan of 4 WETH in 4 bands (A = 100), placed as
create_loan places it; soft liquidation against closed forms and the exact AMM driven down by
an arbitrageur; health and hard liquidation at the price computed from the contract's formula.

Closed forms (r = (A-1)/A, grid anchored at 1, so band n spans [r**(n+1), r**n]):
- ``calculate_debt_n1`` in float: ``n1 = floor(ln(y_eff / D) / ln(1/r))`` with
  ``y_eff = y·(1 − loan_discount)·sqrt(r)·(1 − r**N)/(1 − r)/N``;
- a band sold on the adiabatic path gives ``Y·sqrt(p_up·p_down) = Y·r**n·sqrt(r)``;
- ``x_down = Σ Y·r**n·sqrt(r)`` over the loan's bands, whatever the price;
- health ``= x_down·(1 − ld)/D − 1``, plus ``(p − p_up(n1))·y/D`` above the top band (full).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError, DataError
from liqcascade.protocols.base import LiquidationLimits, Tallies
from liqcascade.protocols.crvusd import exact as X
from liqcascade.protocols.crvusd.rules import CrvUsdRules
from tests.engine.conftest import PARAMS, book

A, N, Y, D = 100, 4, 4.0, 5000.0
R = (A - 1) / A
W = 10**18
Y_EFF = Y * (1 - 0.09) * math.sqrt(R) * (1 - R**N) / (1 - R) / N
N1 = math.floor(math.log(Y_EFF / D) / math.log(1 / R))
TOP = R**N1
X_DOWN = (Y / N) * TOP * math.sqrt(R) * (1 - R**N) / (1 - R)


def rules(**kw):
    return CrvUsdRules(PARAMS, collateral="WETH", debt_asset="DAI", A=A, n_bands=N, **kw)


def one_loan(debt=D):
    return book([(0, "WETH", Y, 0.0), (0, "DAI", 0.0, debt)])


def prices(p_weth):
    return np.array([p_weth, 1.0, 1.0])


def sweep(r, arrays, p):
    t = Tallies.zeros(3, arrays.n_accounts, arrays.asset.shape[0])
    touched = np.zeros(arrays.n_accounts, dtype=np.bool_)
    q = np.zeros(arrays.n_accounts)
    found, calls = r.sweep(arrays, prices(p), arrays.n_accounts, t, LiquidationLimits(), touched, q, 1.0)
    return t, found, calls


def test_the_loan_sits_where_calculate_debt_n1_puts_it():
    r = rules()
    a = r.prepare(one_loan())
    hv = r.health(a, prices(2000.0))
    assert hv.hf[0] == pytest.approx(2000.0 / TOP, rel=1e-12)  # hf: the price over the top band
    assert hv.collateral_usd[0] == 8000.0 and hv.debt_usd[0] == D
    # just above the top band nothing is sold; just below, a sliver of the top band
    t, found, _ = sweep(r, a, TOP * (1 + 1e-9))
    assert found == 0 and t.seized.sum() == 0.0
    assert r.health(a, prices(TOP * 0.999)).hf[0] < 1.0


@pytest.mark.parametrize("fee", [0.0, 0.006])
def test_two_of_four_bands_sold_by_hand_and_by_the_exact_amm(fee):
    r = rules(fee=fee)
    a = r.prepare(one_loan())
    p_end = TOP * R**2  # the bottom of the loan's second band
    t, found, calls = sweep(r, a, p_end)
    assert (found, calls) == (1, 1)
    assert t.seized[0] == pytest.approx(2.0, rel=1e-12)  # two bands of 1 WETH
    assert t.repaid.sum() == 0.0 and t.seized[1:].sum() == 0.0  # debt unchanged, nothing else taken
    # the two bands at their geometric means, the arbitrageurs' fee on top
    stable = TOP * math.sqrt(R) * (1 + R) / (1 - fee)
    assert a.coll.tolist() == pytest.approx([2.0, stable], rel=1e-12) and a.debt.tolist() == [0.0, D]
    assert t.acct_seized_usd[0] == pytest.approx(2.0 * p_end, rel=1e-12)
    # the contract's AMM on a grid whose band 0 is the loan's top band, pushed down by an
    # arbitrageur in k = 20 oracle steps per band: the collateral it keeps is within 1/A of a
    # band of the float rule's, and its value below the float rule's by at most 2/(A*k)
    grid = X.Grid(A, int(TOP * W))
    user = X.deposit_into_empty(4 * W, 0, 3, -1)
    amm = X.AmmState(grid, {}, {i: b.y for i, b in enumerate(user.bands)}, -1, 0, 3, int(fee * W))
    k = 20
    for p in np.linspace(TOP, p_end, 2 * k + 1)[1:]:
        amm = X.arbitrage_to(amm, int(p * W), int(p * W)).amm_after
    coll_x, stable_x = sum(amm.bands_y.values()) / W, sum(amm.bands_x.values()) / W
    assert Y - coll_x == pytest.approx(t.seized[0], abs=1.0 / A)
    value_x, value = coll_x * p_end + stable_x, 2.0 * p_end + stable
    assert value * (1 - 2.0 / (A * k)) <= value_x <= value * (1 + 1e-9)


def test_health_is_the_contracts_and_constant_along_the_path():
    r = rules()
    a = r.prepare(one_loan())
    h = X_DOWN * (1 - 0.06) / D - 1  # 0.03 or so: loan_discount 0.09 > liquidation_discount 0.06
    assert 0.0 < h < 0.09
    for p in (TOP * 0.995, TOP * R**2, TOP * R**5):
        t, _, _ = sweep(r, a, p)
        assert t.repaid.sum() == 0.0  # never hard-liquidated: x_down does not depend on the path
        assert r._health(r.loans(a), a, np.array([0]), p, True)[0] == pytest.approx(h, rel=1e-12)


def test_the_fee_the_arbitrageurs_pay_raises_health():
    fee = 0.01
    r = rules(fee=fee)
    a = r.prepare(one_loan())
    sweep(r, a, TOP * R**2)
    gain = TOP * math.sqrt(R) * (1 + R) * fee / (1 - fee)  # the fee on the two bands sold
    h = (X_DOWN + gain) * (1 - 0.06) / D - 1
    assert r._health(r.loans(a), a, np.array([0]), TOP * R**2, False)[0] == pytest.approx(h, rel=1e-12)
    with pytest.raises(ConfigError) as e:
        rules(fee=1.0)
    assert e.value.key == "fee"


def test_hard_liquidation_at_the_price_the_formula_gives():
    """Debt grown (interest) to where health without the value above the bands is -1 %: the
    full health ``-0.01 + (p − top)·4/D'`` crosses 0 at ``p* = top + 0.01·D'/4``."""
    r = rules()
    debt = X_DOWN * (1 - 0.06) / 0.99
    p_star = TOP + 0.01 * debt / Y
    a = r.prepare(one_loan())
    a.debt[1] = debt
    assert r.health(a, prices(p_star * 1.001)).hf[0] == pytest.approx(0.99, rel=1e-12)
    t, found, _ = sweep(r, a, p_star * 1.001)
    assert found == 0 and a.debt[1] == debt
    t, found, calls = sweep(r, a, p_star * 0.999)
    assert (found, calls) == (1, 1)
    assert t.seized.tolist() == [Y, 0.0, 0.0] and t.repaid.tolist() == [0.0, 0.0, debt]
    assert t.acct_repaid_usd[0] == debt and t.acct_seized_usd[0] == pytest.approx(Y * p_star * 0.999)
    assert a.coll.tolist() == [0.0, 0.0] and a.debt.tolist() == [0.0, 0.0]
    assert r.health(a, prices(1000.0)).hf[0] > 1e299


def test_a_hard_liquidation_takes_the_bands_stablecoin_too():
    r = rules()
    a = r.prepare(one_loan())
    sweep(r, a, TOP * R**2)  # two bands sold
    stable = a.coll[1]
    a.debt[1] = X_DOWN  # x_down * 0.94 / debt - 1 < 0; bands worth 2*p + stable >= debt
    p = TOP * R**2
    assert 2.0 * p + stable >= X_DOWN
    t, found, _ = sweep(r, a, p)
    assert found == 1
    assert t.seized.tolist() == pytest.approx([2.0, 0.0, stable]) and t.repaid[2] == X_DOWN


def test_an_underwater_loan_is_left_and_its_shortfall_is_unrecoverable():
    r = rules()
    a = r.prepare(one_loan())
    p = TOP * 1.5  # above the bands: they hold 4 WETH worth 6 * top
    a.debt[1] = 7.0 * TOP
    t, found, _ = sweep(r, a, p)
    assert found == 0 and t.seized.sum() == 0.0 and a.debt[1] == 7.0 * TOP
    bad = r.unrecoverable_debt(a, prices(p), np.array([0]))
    assert bad[0] == pytest.approx(7.0 * TOP - 4.0 * p, rel=1e-12)
    assert r.unrecoverable_debt(r.prepare(one_loan()), prices(p), np.array([0]))[0] == 0.0


@settings(max_examples=40, deadline=None)
@given(drops=st.lists(st.floats(0.0, 0.6), min_size=1, max_size=8))
def test_any_falling_path_ends_where_the_closed_form_says(drops):
    """Sold collateral depends only on the lowest price reached (the adiabatic path), and
    collateral plus what was sold is the deposit."""
    r = rules()
    a = r.prepare(one_loan())
    total = 0.0
    for d in drops:
        total += sweep(r, a, TOP * 1.01 * (1 - d))[0].seized[0]
    low = TOP * 1.01 * (1 - max(drops))
    fresh = r.prepare(one_loan())
    once = sweep(r, fresh, low)[0].seized[0]
    assert total == pytest.approx(once, rel=1e-9, abs=1e-9)
    assert a.coll[0] + total == pytest.approx(Y, rel=1e-12)
    assert a.coll[1] == pytest.approx(fresh.coll[1], rel=1e-9, abs=1e-9)
    assert min(a.coll.min(), a.debt.min()) >= 0.0


def test_bad_books_and_settings_are_errors():
    with pytest.raises(DataError, match="USDC"):
        rules().prepare(book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 10.0), (0, "DAI", 0.0, 1.0)]))
    with pytest.raises(DataError, match="exactly one"):
        rules().prepare(book([(0, "WETH", 1.0, 0.0)]))
    with pytest.raises(DataError, match="no WETH"):
        rules().prepare(book([(0, "WETH", 0.0, 0.0), (0, "DAI", 0.0, 10.0)]))
    with pytest.raises(ConfigError) as e:
        rules(loan_discount=0.05)
    assert e.value.key == "loan_discount"
    with pytest.raises(ConfigError) as e:
        CrvUsdRules(PARAMS, debt_asset="GHO")
    assert e.value.key == "debt_asset"


@settings(max_examples=30, deadline=None)
@given(loans=st.lists(st.tuples(st.floats(0.01, 1e5), st.floats(0.05, 0.85)), min_size=1, max_size=10),
       n=st.integers(4, 50))
def test_every_loan_is_placed_as_the_per_loan_float_rule_places_it(loans, n):
    from liqcascade.protocols.crvusd import fast

    r = CrvUsdRules(PARAMS, collateral="WETH", debt_asset="DAI", A=A, n_bands=n)
    b = book([row for k, (y, ltv) in enumerate(loans)
              for row in ((k, "WETH", y, 0.0), (k, "DAI", 0.0, ltv * y * 2000))])
    n1 = r.loans(r.prepare(b)).n1
    assert n1.tolist() == [fast.top_band(A, 1.0, y, ltv * y * 2000, n, 0.09) for y, ltv in loans]


def test_health_after_the_price_comes_back_is_still_the_paths():
    """Bands sold down to a low price keep their health when the price rises again (nothing is
    bought back here): x_down counts the stablecoin they hold, not the price's split."""
    r = rules()
    a = r.prepare(one_loan())
    h = X_DOWN * (1 - 0.06) / D - 1
    sweep(r, a, TOP * R**2.5)
    for p in (TOP * R, TOP * 1.2):
        t, found, _ = sweep(r, a, p)
        assert found == 0 and t.seized.sum() == 0.0
        assert r._health(r.loans(a), a, np.array([0]), p, False)[0] == pytest.approx(h, rel=1e-12)
