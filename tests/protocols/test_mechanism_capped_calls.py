"""The mechanism kernels' liquidate_list with per-call repayment caps (LiquidationLimits.call_caps_usd)
for the protocols whose liquidator chooses the amount (Compound v2, Morpho Blue, Euler v2): hand
cases, and the compiled loop against its plain twin.

The hand book (tests/engine/conftest.py's market: WETH LT 85 %, bonus 5 %) at WETH $1800:
account 1, 10 WETH against 15,600 USDC: HF 15,300 / 15,600 = 0.98077;
account 2, 5 WETH against 8,300 DAI: HF 7,650 / 8,300 = 0.92169."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.protocols.base import LiquidationLimits, Tallies
from liqcascade.protocols.compound_v2.rules import CompoundV2Rules
from liqcascade.protocols.euler_v2.rules import EulerV2Rules
from liqcascade.protocols.mechanisms.kernels import assemble
from liqcascade.protocols.mechanisms.rules import kernel_acc, kernel_rows
from liqcascade.protocols.morpho_blue.rules import MorphoBlueRules

from tests.engine.conftest import PARAMS, book

BOOK = book([(1, "WETH", 10.0, 0.0), (1, "USDC", 0.0, 15_600.0), (2, "WETH", 5.0, 0.0), (2, "DAI", 0.0, 8_300.0)])
PRICES = np.array([1800.0, 1.0, 1.0])


def liquidate(rules, caps, max_calls=8):
    arrays = rules.prepare(BOOK)
    tallies = Tallies.zeros(3, BOOK.n_accounts, BOOK.n_rows)
    accounts = np.arange(BOOK.n_accounts, dtype=np.int64)
    calls, ev = rules.liquidate_list(arrays, PRICES, accounts, tallies, LiquidationLimits(max_calls, 0.0, caps))
    by_id = {int(BOOK.account_ids[k]): j for j, k in enumerate(ev.account)}
    return calls, ev, by_id, tallies


def test_compound_v2_caps_size_each_call():
    calls, ev, j, t = liquidate(CompoundV2Rules(PARAMS), np.array([[1000.0, math.inf], [2000.0, 0.0]]))
    # account 1: 1000 USDC, then the close factor's half of the 14,600 left; account 2: 2000 DAI, then stop
    assert ev.calls[j[1]] == 2 and ev.repaid_usd[j[1]] == pytest.approx(1000.0 + 7300.0, rel=1e-12)
    assert ev.calls[j[2]] == 1 and ev.repaid_usd[j[2]] == pytest.approx(2000.0, rel=1e-12)
    assert calls == 3
    # seized: 10,300 USD repaid at 1.05 / 1800 WETH each; the reserves keep 2.8 % of it
    assert t.seized[0] == pytest.approx(10_300.0 * 1.05 / 1800.0, rel=1e-12)
    assert t.fee[0] == pytest.approx(0.028 * t.seized[0], rel=1e-12)


def test_morpho_blue_a_cap_makes_a_partial_call():
    # LLTV 0.85: LIF = 1 / (0.3·0.85 + 0.7) = 1 / 0.955; uncapped, one call would take the whole debt
    calls, ev, j, t = liquidate(MorphoBlueRules(PARAMS), np.array([[2000.0], [math.inf]]))
    assert ev.repaid_usd[j[1]] == pytest.approx(2000.0, rel=1e-12)
    assert ev.seized_usd[j[1]] == pytest.approx(2000.0 / 0.955, rel=1e-12)
    assert ev.bad_debt_usd[j[1]] == 0.0  # collateral is left: nothing written off
    assert ev.repaid_usd[j[2]] == pytest.approx(8300.0, rel=1e-12)  # inf: the rule's maximum
    assert calls == 2


def test_euler_v2_a_cap_keeps_the_discount_of_the_health_before():
    # HF 0.98077 > 1 - 0.15: df = HF; 3000 USDC repaid seize 3000 / 0.98077 of WETH value
    calls, ev, j, _ = liquidate(EulerV2Rules(PARAMS), np.array([[3000.0], [0.0]]))
    assert ev.seized_usd[j[1]] == pytest.approx(3000.0 / (15_300.0 / 15_600.0), rel=1e-12)
    assert ev.calls[j[2]] == 0  # a 0 cap: no call
    assert calls == 1


@pytest.mark.parametrize("make", [CompoundV2Rules, MorphoBlueRules, EulerV2Rules],
                         ids=["compound_v2", "morpho_blue", "euler_v2"])
def test_compiled_and_plain_loops_agree_with_caps(make):
    rules = make(PARAMS)
    caps = np.array([[777.0, math.inf, 50.0], [1234.5, 10.0, 0.0]])
    out = []
    for enabled in (True, False):
        ks = assemble(rules.kernel, enabled=enabled)
        a = rules.prepare(BOOK)
        t = Tallies.zeros(3, BOOK.n_accounts, BOOK.n_rows)
        n = BOOK.n_accounts
        ev = [np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n)]
        calls = ks.liquidate_list(np.arange(n, dtype=np.int64), a.offsets, kernel_rows(a, PRICES),
                                  rules.dynamic_scalars(), np.zeros(10), 8, 0.0, caps, kernel_acc(t),
                                  (t.acct_calls, t.acct_blocked), tuple(ev))
        out.append((calls, a.coll.copy(), a.debt.copy(), *ev, t.flows))
    assert out[0][0] == out[1][0] > 0
    for x, y in zip(out[0][1:], out[1][1:]):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=0)


caps_rows = st.lists(st.one_of(st.floats(0.0, 20_000.0), st.just(math.inf)), min_size=1, max_size=3)


@given(st.sampled_from(["compound_v2", "morpho_blue", "euler_v2"]), caps_rows, caps_rows,
       st.floats(900.0, 2000.0))
def test_capped_calls_never_repay_above_their_caps_and_conserve(protocol, row1, row2, weth):
    """Whatever the caps: each account repays at most the sum of its calls' caps (and makes at most
    as many calls as its caps before the first 0), and what leaves the book is what the tallies
    book: collateral seized, debt repaid plus written off."""
    rules = {"compound_v2": CompoundV2Rules, "morpho_blue": MorphoBlueRules, "euler_v2": EulerV2Rules}[protocol](PARAMS)
    width = max(len(row1), len(row2))
    caps = np.zeros((2, width))
    caps[0, :len(row1)], caps[1, :len(row2)] = row1, row2
    prices = np.array([weth, 1.0, 1.0])
    arrays = rules.prepare(BOOK)
    coll0, debt0 = arrays.coll.copy(), arrays.debt.copy()
    t = Tallies.zeros(3, BOOK.n_accounts, BOOK.n_rows)
    _, ev = rules.liquidate_list(arrays, prices, np.arange(2, dtype=np.int64), t, LiquidationLimits(8, 0.0, caps))
    for j in range(2):
        row = caps[j]
        live = int(np.argmax(row <= 0)) if np.any(row <= 0) else width
        assert ev.calls[j] <= live
        assert ev.repaid_usd[j] <= row[:live].sum() * (1 + 1e-12) + 1e-9
    seized = coll0 - arrays.coll
    assert np.bincount(BOOK.asset, weights=seized, minlength=3) == pytest.approx(t.seized, rel=1e-12, abs=1e-12)
    cleared = np.bincount(BOOK.asset, weights=debt0 - arrays.debt, minlength=3)
    assert cleared == pytest.approx(t.repaid + t.deficit, rel=1e-12, abs=1e-9)
    assert np.all(arrays.coll >= 0) and np.all(arrays.debt >= 0)
