"""Aave's liquidate_list with per-call repayment caps (LiquidationLimits.call_caps_usd), the
liquidator strategies' way into the kernel: hand cases, the rule's maximum never exceeded, and
the compiled kernel against its plain twin."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liqcascade._jit import jit_functions
from liqcascade.errors import LiqcascadeError
from liqcascade.protocols.aave_v3 import V3_0, kernels_python
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.base import LiquidationLimits, Tallies

from tests.engine.conftest import PARAMS, book

# 10 WETH at $1800 against 15,600 USDC (HF 0.98077: 50 % close factor under v3.0-3.2);
# 5 WETH against 8,300 DAI (HF 0.92169: 100 %)
BOOK = book([(1, "WETH", 10.0, 0.0), (1, "USDC", 0.0, 15_600.0), (2, "WETH", 5.0, 0.0), (2, "DAI", 0.0, 8_300.0)])
PRICES = np.array([1800.0, 1.0, 1.0])


def liquidate(caps, max_calls=8):
    rules = AaveV3Rules(PARAMS, V3_0)
    arrays = rules.prepare(BOOK)
    tallies = Tallies.zeros(3, BOOK.n_accounts)
    accounts = np.arange(BOOK.n_accounts, dtype=np.int64)
    calls, ev = rules.liquidate_list(arrays, PRICES, accounts, tallies, LiquidationLimits(max_calls, 0.0, caps))
    return calls, ev, arrays


def test_caps_size_each_call_and_end_the_list():
    calls, ev, _ = liquidate(np.array([[1000.0, math.inf], [2000.0, 0.0]]))
    by_id = {int(BOOK.account_ids[k]): j for j, k in enumerate(ev.account)}
    # account 1: 1000 USDC, then half of the 14,600 left; account 2: 2000 DAI and stop
    assert ev.calls[by_id[1]] == 2 and ev.repaid_usd[by_id[1]] == pytest.approx(1000.0 + 7300.0, rel=1e-12)
    assert ev.calls[by_id[2]] == 1 and ev.repaid_usd[by_id[2]] == pytest.approx(2000.0, rel=1e-12)
    assert calls == 3


def test_a_cap_above_the_rule_gives_the_rule():
    _, ev, _ = liquidate(np.array([[1e12], [1e12]]))
    by_id = {int(BOOK.account_ids[k]): j for j, k in enumerate(ev.account)}
    assert ev.repaid_usd[by_id[1]] == pytest.approx(7800.0, rel=1e-12)  # the close factor, not the cap
    assert ev.repaid_usd[by_id[2]] == pytest.approx(8300.0, rel=1e-12)


def test_caps_must_have_a_row_per_account():
    with pytest.raises(LiqcascadeError, match="one row per listed account"):
        liquidate(np.array([[1000.0]]))


def test_compiled_and_plain_kernels_agree_with_caps():
    compiled = jit_functions(kernels_python.FUNCTIONS, parallel=kernels_python.PARALLEL, enabled=True)
    rules = AaveV3Rules(PARAMS, V3_0)
    caps = np.array([[777.0, math.inf, 50.0], [1234.5, 10.0, 0.0]])
    out = []
    for fn in (compiled["liquidate_list"], kernels_python.liquidate_list):
        a = rules.prepare(BOOK)
        t = Tallies.zeros(3, BOOK.n_accounts, BOOK.n_rows)
        n = BOOK.n_accounts
        ev = [np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n)]
        calls = fn(V3_0, 0, np.arange(n, dtype=np.int64), a.offsets, a.asset, a.coll, a.debt, PRICES, a.params.key,
                   a.params.lt, a.params.bonus, a.params.fee, 8, 0.0, caps, t.seized, t.fee, t.repaid, t.deficit, t.acct_seized_usd, t.acct_repaid_usd,
                   t.acct_bad_debt_usd, t.acct_calls, t.acct_blocked, *ev, t.flows)
        out.append((calls, a.coll.copy(), a.debt.copy(), *ev, t.flows))
    # account 1: 777, then half of the rest lifts HF above 1 (no third call); account 2: 1234.5, then 10, then 0 stops
    assert out[0][0] == out[1][0] == 4
    for x, y in zip(out[0][1:], out[1][1:]):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=0)
