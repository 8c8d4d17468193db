"""Compound v2 and v3 (Comet): bundled conformance vectors, hand cases, properties.

Vectors: ``data/conformance/compound_v2/seize.yaml`` (compound-finance/compound-protocol@a3214f67)
and ``data/conformance/compound_v3/comet.yaml`` (compound-finance/comet@d5a30b0a).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.protocols.conformance import run_vector_file
from liqcascade.errors import LiqcascadeError
from liqcascade.protocols.compound_v2 import exact as v2
from liqcascade.protocols.compound_v3 import exact as v3

E18 = 10**18
E8 = 10**8
E6 = 10**6


def _vector_files() -> list[Path]:
    root = importlib.resources.files("liqcascade") / "data" / "conformance"
    with importlib.resources.as_file(root) as base:
        return sorted(Path(base).glob("compound_v*/*.yaml"))


def test_vector_files_bundled() -> None:
    names = {p.parent.name for p in _vector_files()}
    assert names == {"compound_v2", "compound_v3"}


@pytest.mark.parametrize("path", _vector_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_vectors_pass(path: Path) -> None:
    results = run_vector_file(path)
    assert len(results) >= 10
    failed = [f"{r.id}: {r.detail}" for r in results if not r.passed]
    assert not failed, failed


# --- Compound v2 hand cases -------------------------------------------------------------------


def test_v2_revert_is_liqcascade_error() -> None:
    assert issubclass(v2.CompoundRevert, LiqcascadeError)
    with pytest.raises(v2.PriceError):
        v2.seize_tokens(E18, 0, E18, E18, E18)


def test_v2_liquidity_truncates_per_market() -> None:
    # tokensToDenom = floor(floor(0.5e18 * 3) * 1 / 1e18) ... each step floors separately.
    m = {"a": v2.Market(collateral_factor=E18 // 3, exchange_rate=3, price=E18)}
    p = {"a": v2.Position(ctoken_balance=E18, borrow_balance=0)}
    # CF*ER = floor(333333333333333333*3/1e18) = 0 -> no collateral value at all.
    assert v2.account_liquidity(m, p).sum_collateral == 0


def test_v2_hypothetical_redeem_and_borrow() -> None:
    m = {"c": v2.Market(collateral_factor=E18 // 2, exchange_rate=E18, price=E18)}
    p = {"c": v2.Position(ctoken_balance=100 * E18)}
    base = v2.account_liquidity(m, p)
    assert (base.liquidity, base.shortfall) == (50 * E18, 0)
    hyp = v2.account_liquidity(m, p, modify="c", redeem_tokens=40 * E18, borrow_amount=40 * E18)
    assert (hyp.liquidity, hyp.shortfall) == (0, 10 * E18)


def test_v2_deprecated_market_allows_full_repay_without_shortfall() -> None:
    m = {
        "coll": v2.Market(collateral_factor=E18 // 2, exchange_rate=E18, price=E18),
        "debt": v2.Market(collateral_factor=0, exchange_rate=E18, price=E18, deprecated=True),
    }
    p = {"coll": v2.Position(ctoken_balance=10), "debt": v2.Position(borrow_balance=2)}
    o = v2.liquidate_borrow(m, p, "debt", "coll", 2, close_factor=E18 // 2, liquidation_incentive=E18)
    assert o.positions_after["debt"].borrow_balance == 0
    with pytest.raises(v2.RepayMoreThanBorrow):
        v2.liquidate_borrow(m, p, "debt", "coll", 3, close_factor=E18 // 2, liquidation_incentive=E18)


@settings(max_examples=80, deadline=None)
@given(
    er=st.integers(10**8, 10**30),
    pb=st.integers(1, 10**30),
    pc=st.integers(1, 10**30),
    li=st.integers(E18, 15 * E18 // 10),
    r1=st.integers(0, 10**30),
    r2=st.integers(0, 10**30),
)
def test_v2_seize_monotone_in_repay(er: int, pb: int, pc: int, li: int, r1: int, r2: int) -> None:
    lo, hi = sorted((r1, r2))
    if pc * er < E18:
        with pytest.raises(v2.DivisionByZero):
            v2.seize_tokens(pb, pc, er, li, lo)
        return
    assert v2.seize_tokens(pb, pc, er, li, lo) <= v2.seize_tokens(pb, pc, er, li, hi)


@settings(max_examples=80, deadline=None)
@given(
    er=st.integers(10**8, 10**30),
    pb=st.integers(1, 10**30),
    pc=st.integers(1, 10**30),
    li1=st.integers(E18, 2 * E18),
    li2=st.integers(E18, 2 * E18),
    repay=st.integers(0, 10**30),
)
def test_v2_seize_monotone_in_incentive(er: int, pb: int, pc: int, li1: int, li2: int, repay: int) -> None:
    lo, hi = sorted((li1, li2))
    if pc * er < E18:
        return
    assert v2.seize_tokens(pb, pc, er, lo, repay) <= v2.seize_tokens(pb, pc, er, hi, repay)


@settings(max_examples=100, deadline=None)
@given(seize=st.integers(0, 10**40), er=st.integers(1, 10**30), share=st.integers(0, E18))
def test_v2_split_sums_to_seize(seize: int, er: int, share: int) -> None:
    s = v2.seize_split(seize, er, share)
    assert s.protocol_tokens + s.liquidator_tokens == seize
    assert 0 <= s.protocol_tokens <= seize
    assert s.protocol_amount == er * s.protocol_tokens // E18


@settings(max_examples=60, deadline=None)
@given(
    borrow=st.integers(10**18, 10**24),
    cf=st.integers(v2.CLOSE_FACTOR_MIN_MANTISSA, v2.CLOSE_FACTOR_MAX_MANTISSA),
    frac=st.floats(0.0, 1.0),
)
def test_v2_liquidation_respects_close_factor(borrow: int, cf: int, frac: float) -> None:
    m = {"c": v2.Market(collateral_factor=E18 // 2, exchange_rate=E18, price=E18)}
    p = {"c": v2.Position(ctoken_balance=borrow, borrow_balance=borrow)}  # shortfall borrow/2
    limit = v2.max_repay(cf, borrow)
    repay = max(1, min(limit, int(limit * frac)))  # a float product may round past the limit
    o = v2.liquidate_borrow(m, p, "c", "c", repay, close_factor=cf, liquidation_incentive=11 * E18 // 10)
    assert o.positions_after["c"].borrow_balance == borrow - repay
    assert o.split.protocol_tokens + o.split.liquidator_tokens == o.seize_tokens
    with pytest.raises(v2.TooMuchRepay):
        v2.liquidate_borrow(m, p, "c", "c", limit + 1, close_factor=cf, liquidation_incentive=11 * E18 // 10)


# --- Comet hand cases -------------------------------------------------------------------------

USDC = v3.Base(scale=E6, price=E8)


def test_v3_revert_is_liqcascade_error() -> None:
    assert issubclass(v3.CometRevert, LiqcascadeError)


def test_v3_present_value_roundtrip_directions() -> None:
    # Supply loses at most one wei round trip; borrow principal never understates the debt.
    for idx in (10**15, 1_234_567_890_123_456, 3 * 10**15):
        for pv in (0, 1, 7, 10**6, 123_456_789):
            p = v3.principal_value(pv, idx, idx)
            assert v3.present_value(p, idx, idx) <= pv
            pb = v3.principal_value(-pv, idx, idx)
            assert -v3.present_value(pb, idx, idx) >= pv


def test_v3_buy_not_for_sale_at_target() -> None:
    asset = v3.Asset(scale=E18, price=E8)
    base = v3.Base(scale=E6, price=E8, balance=100)
    with pytest.raises(v3.NotForSale):
        v3.buy_collateral(asset, base, E18, target_reserves=100, base_amount=1, min_amount=0, collateral_reserves=E18)
    out, after = v3.buy_collateral(asset, base, E18, 101, 1, 0, E18)
    assert v3.get_reserves(after) == 101 and out == 10**12


@settings(max_examples=80, deadline=None)
@given(
    price=st.integers(1, 10**13),
    base_price=st.integers(1, 10**10),
    sf=st.integers(0, E18),
    lf=st.integers(0, E18),
    a1=st.integers(0, 10**24),
    a2=st.integers(0, 10**24),
    decimals=st.sampled_from([6, 8, 18]),
)
def test_v3_quote_monotone_in_base_amount(
    price: int, base_price: int, sf: int, lf: int, a1: int, a2: int, decimals: int
) -> None:
    asset = v3.Asset(scale=10**decimals, price=price, liquidation_factor=lf)
    base = v3.Base(scale=E6, price=base_price)
    lo, hi = sorted((a1, a2))
    if v3.mul_factor(price, E18 - v3.mul_factor(sf, E18 - lf)) == 0:
        with pytest.raises(v3.DivisionByZero):
            v3.quote_collateral(asset, base, sf, lo)
        return
    q_lo = v3.quote_collateral(asset, base, sf, lo)
    q_hi = v3.quote_collateral(asset, base, sf, hi)
    assert q_lo <= q_hi
    # The discount never makes collateral dearer than at the feed price.
    assert q_hi >= v3.quote_collateral(asset, base, 0, hi)


_asset_st = st.builds(
    v3.Asset,
    scale=st.sampled_from([10**8, 10**18]),
    price=st.integers(10**6, 10**13),
    borrow_cf=st.just(E18 // 2),
    liquidate_cf=st.integers(E18 // 2, 9 * E18 // 10),
    liquidation_factor=st.integers(8 * E18 // 10, E18),
)


@settings(max_examples=80, deadline=None)
@given(
    assets=st.lists(_asset_st, min_size=1, max_size=3),
    bals=st.lists(st.integers(0, 10**22), min_size=3, max_size=3),
    debt=st.integers(1, 10**14),
    borrow_index=st.integers(10**15, 2 * 10**15),
    supply_index=st.integers(10**15, 2 * 10**15),
)
def test_v3_absorb_conserves_value_at_liquidation_factor(
    assets: list, bals: list, debt: int, borrow_index: int, supply_index: int
) -> None:
    names = [f"A{i}" for i in range(len(assets))]
    amap = dict(zip(names, assets))
    coll = dict(zip(names, bals))
    base = v3.Base(
        scale=E6, price=E8, supply_index=supply_index, borrow_index=borrow_index, total_borrow_base=debt
    )
    if not v3.is_liquidatable(-debt, coll, amap, base):
        with pytest.raises(v3.NotLiquidatable):
            v3.absorb(-debt, coll, amap, base)
        return
    o = v3.absorb(-debt, coll, amap, base)
    credited = sum(
        v3.mul_factor(v3.mul_price(coll[n], amap[n].price, amap[n].scale), amap[n].liquidation_factor) for n in names
    )
    assert o.delta_balance == v3.div_price(credited, base.price, base.scale)
    # Balance after = old balance + collateral credited at LF, floored at zero; the rest is
    # paid by reserves (base_paid_out = new - old).
    assert o.new_balance == max(0, o.old_balance + o.delta_balance)
    assert o.base_paid_out == o.new_balance - o.old_balance
    # All debt is gone; any surplus is supply, within one wei of index rounding.
    assert o.base_after.total_borrow_base == 0
    assert o.new_principal >= 0
    assert v3.present_value(o.new_principal, supply_index, borrow_index) <= o.new_balance
    assert o.new_balance - v3.present_value(o.new_principal, supply_index, borrow_index) <= 2
    # Reserves move by the collateral-free loss: before - after = base paid out (± index rounding).
    moved = v3.get_reserves(base) - v3.get_reserves(o.base_after)
    assert abs(moved - o.base_paid_out) <= 2
