"""Morpho Blue and Euler v2 liquidation rules: bundled vectors and ported fuzz properties.

Morpho properties port morpho-org/morpho-blue@3085651a:test/integration/LiquidateIntegrationTest.sol
(testLiquidateHealthyPosition, testLiquidateSeizedInputNoBadDebtRealized,
testLiquidateSharesInputNoBadDebtRealized, testLiquidateBadDebtRealized) with its bounds
(BaseTest: LLTV in [0.01, 0.99], amounts up to MAX_TEST_AMOUNT = 1e32). Euler properties follow
euler-xyz/euler-vault-kit@5b98b420:src/EVault/modules/Liquidation.sol.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from liqcascade.protocols.conformance import bundled_vector_files, load_vector_file, run_vector_file
from liqcascade.protocols.euler_v2 import exact as ev
from liqcascade.protocols.morpho_blue import exact as mb

WAD = 10**18
MAX_TEST_AMOUNT = 10**32
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)

VECTOR_FILES = [p for p in bundled_vector_files() if p.parent.name in ("morpho_blue", "euler_v2")]


# --- vectors -------------------------------------------------------------------------------------


def test_vector_files_are_bundled() -> None:
    names = {(p.parent.name, p.name) for p in VECTOR_FILES}
    assert ("morpho_blue", "liquidate.yaml") in names
    assert ("euler_v2", "liquidation.yaml") in names


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_vectors_pass(path: Path) -> None:
    results = run_vector_file(path)
    assert results
    failed = [f"{r.id}: {r.detail}" for r in results if not r.passed]
    assert not failed, failed


def test_vectors_cite_sources() -> None:
    ids = set()
    for path in VECTOR_FILES:
        vf = load_vector_file(path)
        for v in vf.vectors:
            repo = v.source.split("@")[0]
            assert repo in ("morpho-org/morpho-blue", "euler-xyz/euler-vault-kit"), v.source
            ids.add(v.id)
    assert {"MB1-0.80", "MB2", "E1"} <= ids


# --- Morpho Blue primitives ---------------------------------------------------------------------


def test_lif_matches_closed_form() -> None:
    for lltv in range(10**16, 10**18, 7 * 10**15):
        lif = mb.liquidation_incentive_factor(lltv)
        exact = Fraction(WAD * WAD, WAD - 3 * (WAD - lltv) // 10)
        assert lif == min(115 * 10**16, int(exact))


@given(
    st.integers(0, MAX_TEST_AMOUNT), st.integers(0, MAX_TEST_AMOUNT), st.integers(0, MAX_TEST_AMOUNT * 10**6)
)
@SETTINGS
def test_share_conversions_round_in_protocol_favour(x: int, total_assets: int, total_shares: int) -> None:
    ta, ts = total_assets, total_shares
    exact_shares = Fraction(x * (ts + mb.VIRTUAL_SHARES), ta + mb.VIRTUAL_ASSETS)
    assert mb.to_shares_down(x, ta, ts) <= exact_shares <= mb.to_shares_up(x, ta, ts)
    exact_assets = Fraction(x * (ta + mb.VIRTUAL_ASSETS), ts + mb.VIRTUAL_SHARES)
    assert mb.to_assets_down(x, ta, ts) <= exact_assets <= mb.to_assets_up(x, ta, ts)
    assert mb.to_assets_up(mb.to_shares_up(x, ta, ts), ta, ts) >= x


# --- Morpho Blue liquidation properties ---------------------------------------------------------


@st.composite
def morpho_market(draw: st.DrawFn, healthy: bool = False) -> tuple[mb.MarketState, mb.Position, int, int]:
    """A market built like BaseTest: another borrower, then the borrower, then accrued interest."""
    lltv = draw(st.integers(10**16, 99 * 10**16))
    other = draw(st.integers(0, MAX_TEST_AMOUNT))
    borrowed = draw(st.integers(100, MAX_TEST_AMOUNT))
    other_shares = mb.to_shares_up(other, 0, 0)
    shares = mb.to_shares_up(borrowed, other, other_shares)
    interest = draw(st.integers(0, (other + borrowed) // 2))
    tba = other + borrowed + interest
    tsa = tba + draw(st.integers(0, MAX_TEST_AMOUNT))
    market = mb.MarketState(tsa, tsa * 10**6, tba, other_shares + shares)
    price = draw(st.integers(10**30, 10**42))
    owed = mb.to_assets_up(shares, tba, other_shares + shares)
    # collateral at which max_borrow is about the debt; healthy well above, unhealthy below
    edge = owed * mb.ORACLE_PRICE_SCALE * WAD // (price * lltv)
    if healthy:
        collateral = draw(st.integers(edge + 2, 2 * edge + 2 + MAX_TEST_AMOUNT))
    else:
        collateral = draw(st.integers(1, max(1, edge)))
    position = mb.Position(shares, collateral)
    assume(mb.is_healthy(market, position, price, lltv) == healthy)
    return market, position, price, lltv


@given(morpho_market(healthy=True), st.integers(1, MAX_TEST_AMOUNT), st.booleans())
@SETTINGS
def test_healthy_position_cannot_be_liquidated(state, amount: int, by_seized: bool) -> None:
    market, position, price, lltv = state
    kw = {"seized_assets": amount} if by_seized else {"repaid_shares": amount}
    with pytest.raises(mb.HealthyPosition):
        mb.liquidate(market, position, price, lltv, **kw)


def _favours_protocol(o: mb.MorphoLiquidation, market: mb.MarketState, price: int) -> None:
    # the liquidator pays at least the seized value divided by the incentive factor ...
    paid = o.repaid_assets * o.liquidation_incentive_factor * mb.ORACLE_PRICE_SCALE
    assert paid >= o.seized_assets * price * WAD
    # ... and at least what the burnt shares are worth
    tba, tbs = market.total_borrow_assets, market.total_borrow_shares
    worth = Fraction(o.repaid_shares * (tba + mb.VIRTUAL_ASSETS), tbs + mb.VIRTUAL_SHARES)
    assert o.repaid_assets >= worth


@given(morpho_market(), st.data())
@SETTINGS
def test_liquidate_by_seized_assets(state, data: st.DataObject) -> None:
    """testLiquidateSeizedInputNoBadDebtRealized: seized bounded by maxSeized and collateral − 1."""
    market, position, price, lltv = state
    lif = mb.liquidation_incentive_factor(lltv)
    tba, tbs = market.total_borrow_assets, market.total_borrow_shares
    owed = mb.to_assets_down(position.borrow_shares, tba, tbs)
    max_seized = mb.mul_div_down(mb.w_mul_down(owed, lif), mb.ORACLE_PRICE_SCALE, price)
    hi = min(max_seized, position.collateral - 1)
    assume(hi >= 1)
    seized = data.draw(st.integers(1, hi))
    o = mb.liquidate(market, position, price, lltv, seized_assets=seized)
    assert o.seized_assets == seized <= position.collateral
    assert o.repaid_shares <= position.borrow_shares
    assert o.bad_debt_assets == 0 and o.bad_debt_shares == 0
    left = mb.Position(position.borrow_shares - o.repaid_shares, position.collateral - seized)
    assert o.position_after == left
    assert o.market_after.total_borrow_assets == max(market.total_borrow_assets - o.repaid_assets, 0)
    assert o.market_after.total_supply_assets == market.total_supply_assets
    _favours_protocol(o, market, price)


@given(morpho_market(), st.data())
@SETTINGS
def test_liquidate_by_repaid_shares(state, data: st.DataObject) -> None:
    """testLiquidateSharesInputNoBadDebtRealized: shares bounded by what the collateral can pay."""
    market, position, price, lltv = state
    lif = mb.liquidation_incentive_factor(lltv)
    quoted = mb.mul_div_down(position.collateral, price, mb.ORACLE_PRICE_SCALE)
    tba, tbs = market.total_borrow_assets, market.total_borrow_shares
    max_shares = mb.to_shares_down(mb.w_div_down(quoted, lif), tba, tbs)
    hi = min(position.borrow_shares, max_shares)
    assume(hi >= 1)
    shares = data.draw(st.integers(1, hi))
    o = mb.liquidate(market, position, price, lltv, repaid_shares=shares)
    assert o.seized_assets <= position.collateral
    assert o.repaid_shares == shares <= position.borrow_shares
    _favours_protocol(o, market, price)


@given(morpho_market())
@SETTINGS
def test_bad_debt_is_socialized(state) -> None:
    """testLiquidateBadDebtRealized: seizing all collateral writes off the rest of the borrow."""
    market, position, price, lltv = state
    try:
        o = mb.liquidate(market, position, price, lltv, seized_assets=position.collateral)
    except mb.ArithmeticUnderflow:
        # the collateral is worth more than the debt plus incentive: the contract reverts too
        lif = mb.liquidation_incentive_factor(lltv)
        quoted = mb.mul_div_up(position.collateral, price, mb.ORACLE_PRICE_SCALE)
        tba, tbs = market.total_borrow_assets, market.total_borrow_shares
        needed = mb.to_shares_up(mb.w_div_up(quoted, lif), tba, tbs)
        assert needed > position.borrow_shares
        return
    after = o.market_after
    assert o.position_after == mb.Position(0, 0)
    assert o.bad_debt_shares == position.borrow_shares - o.repaid_shares
    floor_borrow = max(market.total_borrow_assets - o.repaid_assets, 0)
    # supply and borrow totals fall by the same written-off amount
    assert market.total_supply_assets - after.total_supply_assets == o.bad_debt_assets
    assert floor_borrow - after.total_borrow_assets == o.bad_debt_assets
    assert after.total_borrow_shares == market.total_borrow_shares - position.borrow_shares
    assert 0 <= o.bad_debt_assets <= floor_borrow
    _favours_protocol(o, market, price)


# --- Euler v2 ------------------------------------------------------------------------------------


@st.composite
def euler_account(draw: st.DrawFn) -> dict:
    liability = draw(st.integers(1, MAX_TEST_AMOUNT))
    balance = draw(st.integers(0, MAX_TEST_AMOUNT))
    other = draw(st.integers(0, MAX_TEST_AMOUNT))
    adjusted, liability_value, value = ev.liquidation_values(
        balance,
        draw(st.integers(0, 10**22)),
        liability,
        draw(st.integers(1, 10**22)),
        draw(st.integers(1, 9999)),
        other,
    )
    return dict(
        liability=liability,
        liability_value=liability_value,
        collateral_adjusted_value=adjusted,
        collateral_balance=balance,
        collateral_value=value,
        max_discount_bps=draw(st.integers(0, 9999)),
        other_collateral=other > 0 or draw(st.booleans()),
        dont_socialize=draw(st.booleans()),
    )


@given(euler_account(), st.data())
@SETTINGS
def test_euler_liquidation_bounds(acct: dict, data: st.DataObject) -> None:
    o = ev.liquidate(**acct)
    if o.max_repay > 0 and data.draw(st.booleans()):
        o = ev.liquidate(**acct, desired_repay=data.draw(st.integers(0, o.max_repay)))
    assert 0 <= o.yield_balance <= o.max_yield <= acct["collateral_balance"]
    assert 0 <= o.repay <= o.max_repay <= acct["liability"]
    assert o.repay + o.socialized + o.debt_after == acct["liability"]
    assert o.collateral_after == acct["collateral_balance"] - o.yield_balance
    if not o.liquidatable:
        assert o.max_repay == o.max_yield == o.socialized == 0
    else:
        max_discount = WAD * acct["max_discount_bps"] // ev.CONFIG_SCALE
        assert 0 <= WAD - o.discount_factor <= max_discount
    if o.socialized:
        assert o.collateral_after == 0 and not acct["other_collateral"] and not acct["dont_socialize"]


@given(st.integers(1, MAX_TEST_AMOUNT), st.integers(0, 9999), st.data())
@SETTINGS
def test_euler_discount_monotone_in_health(
    liability_value: int, max_discount_bps: int, data: st.DataObject
) -> None:
    a = data.draw(st.integers(0, liability_value))
    b = data.draw(st.integers(a, liability_value))
    df_a = ev.discount_factor(a, liability_value, max_discount_bps)
    df_b = ev.discount_factor(b, liability_value, max_discount_bps)
    assert df_a <= df_b <= WAD  # healthier account, smaller discount
    assert df_a >= ev.min_discount_factor(max_discount_bps)


def test_euler_reverts() -> None:
    base = dict(liability=5 * WAD, liability_value=5 * WAD, collateral_adjusted_value=45 * WAD // 10,
                collateral_balance=10 * WAD, collateral_value=5 * WAD)  # fmt: skip
    with pytest.raises(ev.ExcessiveRepayAmount):
        ev.liquidate(**base, desired_repay=5 * WAD)
    with pytest.raises(ev.MinYield):
        ev.liquidate(**base, min_yield=10 * WAD + 1)
    with pytest.raises(ev.BadMaxLiquidationDiscount):
        ev.min_discount_factor(10**4)
    assert ev.owed_to_assets_up((5 * WAD << 31) + 1) == 5 * WAD + 1
