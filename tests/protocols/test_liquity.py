"""Liquity v1/v2: bundled vectors, hand cases and conservation / socialization properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.protocols.conformance import run_vector_file
from liqcascade.protocols.liquity_v1 import exact as v1
from liqcascade.protocols.liquity_v2 import exact as v2

DATA = Path(__file__).resolve().parents[2] / "src" / "liqcascade" / "data" / "conformance"
FILES = sorted((DATA / "liquity_v1").glob("*.yaml")) + sorted((DATA / "liquity_v2").glob("*.yaml"))
E = 10**18


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_vectors_pass(path: Path) -> None:
    results = run_vector_file(path)
    assert results
    assert all(r.passed for r in results), [(r.id, r.detail) for r in results if not r.passed]


def test_hand_normal_offset_then_redistribute() -> None:
    t = v1.SystemTotals()
    a, t = v1.open_trove(10 * E, 1000 * E, t)
    b, t = v1.open_trove(1 * E, 1000 * E, t)
    r = v1.liquidate_normal(b, 400 * E, t)
    v = r.totals
    assert v.coll_gas_compensation == E // 200
    assert v.debt_to_offset == 400 * E
    assert v.coll_to_send_to_sp == (E - E // 200) * 400 // 1000
    assert v.debt_to_redistribute == 600 * E
    assert r.system.l_eth == v.coll_to_redistribute * E // a.stake
    assert r.sp_remaining == 0


def test_hand_recovery_mode_capped_and_never_last() -> None:
    t = v1.SystemTotals()
    low, t = v1.open_trove(12 * E, 1000 * E, t)  # ICR 120 % at price 100
    hi, t = v1.open_trove(13 * E, 1000 * E, t)  # ICR 130 %, the last trove
    price = 100 * E
    assert v1.check_recovery_mode(t.entire_system_coll, t.entire_system_debt, price)
    r = v1.liquidate_troves_sequence([("low", low), ("hi", hi)], price, 5000 * E, t)
    assert list(r.liquidated) == ["low"]
    c = 1000 * E * v1.MCR // price
    assert r.totals.coll_surplus == 12 * E - c
    assert r.totals.coll_to_send_to_sp == c - c // 200


def test_v2_mix_sp_minimum_and_redistribution_penalty() -> None:
    price = 1100 * E - 1
    v = v2.liquidate(v2.WETH, 2000 * E, 2 * E, 1000 * E, price)
    assert v.debt_to_offset == 999 * E  # 1 BOLD stays in the SP
    assert v.debt_to_redistribute == 1001 * E
    assert v.coll_to_redistribute <= 1001 * E * (E + v2.WETH.liquidation_penalty_redistribution) // price
    with pytest.raises(v2.LiquityV2Error):
        v2.liquidate(v2.LST, 1000 * E, 2 * E, 0, 1000 * E)  # ICR 200 %


amounts = st.integers(min_value=10**15, max_value=10**24)


@settings(max_examples=150, deadline=None)
@given(debt=amounts, coll=amounts, sp=st.integers(0, 10**24))
def test_v1_conservation(debt: int, coll: int, sp: int) -> None:
    v = v1.offset_and_redistribution_vals(debt, coll, sp)
    assert v.debt_to_offset + v.debt_to_redistribute == debt
    assert v.coll_to_send_to_sp + v.coll_to_redistribute + v.coll_gas_compensation + v.coll_surplus == coll


@settings(max_examples=150, deadline=None)
@given(debt=amounts, coll=amounts, sp=st.integers(0, 10**24), price=st.integers(10**18, 10**22),
       lst=st.booleans())  # fmt: skip
def test_v2_conservation(debt: int, coll: int, sp: int, price: int, lst: bool) -> None:
    b = v2.LST if lst else v2.WETH
    v = v2.offset_and_redistribution_vals(b, debt, coll, v2.bold_in_sp_for_offsets(sp), price)
    assert v.debt_to_offset + v.debt_to_redistribute == debt
    assert v.coll_to_send_to_sp + v.coll_to_redistribute + v.coll_gas_compensation + v.coll_surplus == coll
    assert v.debt_to_offset <= max(sp - E, 0)
    assert v.coll_to_send_to_sp <= v.debt_to_offset * (E + b.liquidation_penalty_sp) // price
    assert v.coll_to_redistribute <= v.debt_to_redistribute * (E + b.liquidation_penalty_redistribution) // price


@settings(max_examples=80, deadline=None)
@given(colls=st.lists(st.integers(E, 10**22), min_size=2, max_size=8), victim_coll=st.integers(10**15, 10**21),
       victim_debt=st.integers(2000 * E, 10**24), sp=st.integers(0, 10**23))  # fmt: skip
def test_v1_pending_rewards_sum_to_redistributed(colls, victim_coll, victim_debt, sp) -> None:
    t = v1.SystemTotals()
    troves = []
    for c in colls:
        tr, t = v1.open_trove(c, 2000 * E, t)
        troves.append(tr)
    victim, t = v1.open_trove(victim_coll, victim_debt, t)
    r = v1.liquidate_normal(victim, sp, t)
    v = r.totals
    assert v.coll_to_send_to_sp + v.coll_to_redistribute + v.coll_gas_compensation == victim_coll
    pend = [v1.pending_rewards(tr, r.system) for tr in troves]
    n = len(troves)
    eth = sum(p[0] for p in pend)
    debt = sum(p[1] for p in pend)
    # floor per trove loses < 1 wei each; the carried error (< totalStakes, in 1e18 units)
    # is worth at most totalStakes/1e18 wei
    carry = r.system.total_stakes // E + 1
    assert 0 <= v.coll_to_redistribute - eth <= n + carry
    assert 0 <= v.debt_to_redistribute - debt <= n + carry
    assert r.system.last_eth_error < r.system.total_stakes


@settings(max_examples=80, deadline=None)
@given(icrs=st.lists(st.integers(90, 200), min_size=2, max_size=8), sp=st.integers(0, 10**23))
def test_v1_recovery_mode_never_liquidates_at_or_above_tcr(icrs, sp) -> None:
    price = 100 * E
    t = v1.SystemTotals()
    troves = []
    for i, icr in enumerate(sorted(icrs)):
        tr, t = v1.open_trove(icr * 2000 * E // 100 // 100, 2000 * E, t)
        troves.append((i, tr))
    troves.sort(key=lambda kv: v1.current_icr(kv[1], t, price))
    r = v1.liquidate_troves_sequence(troves, price, sp, t)
    assert troves[-1][0] not in r.liquidated or not r.recovery_mode_at_start
    if r.recovery_mode_at_start:
        coll, debt = t.entire_system_coll, t.entire_system_debt
        for tid, tr in troves:
            if tid not in r.liquidated:
                continue
            icr = v1.current_icr(tr, t, price)
            cur_tcr = v1.compute_cr(coll, debt, price)
            if v1.check_recovery_mode(coll, debt, price):
                assert icr < cur_tcr or icr < v1.MCR
            v = r.liquidated[tid]
            coll -= v.coll_to_send_to_sp + v.coll_gas_compensation + v.coll_surplus
            debt -= v.debt_to_offset
