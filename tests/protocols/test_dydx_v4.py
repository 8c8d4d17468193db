"""dYdX v4: the float margin engine agrees with the integer-exact rules (Hypothesis), hand
cases of the float engine, and the money of settle and deleveraging is conserved.

The exact rules are checked against v4-chain's own vectors in tests/test_conformance.py
(data/conformance/dydx_v4/liquidations.yaml)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols import perps_registry
from liqcascade.protocols.dydx_v4 import exact as X
from liqcascade.protocols.dydx_v4.rules import DydxV4Rules, Tier
from liqcascade.protocols.perps_base import Fills

# A market whose base quantum is 1e-6 units and whose price is whole dollars (exponent 0):
# notional in quote quantums is quantums·price with no rounding, so the float engine sees
# the same numbers as the exact one.
TIER = X.LiquidityTier(200_000, 500_000)
FLOAT_TIER = Tier(0.2, 0.5)


def _perp(price: int) -> X.Perpetual:
    return X.Perpetual(atomic_resolution=-6, price=price, exponent=0, tier=TIER)


def _book(collateral_q: int, sizes_q: list[int], entries: list[int]) -> PerpBook:
    n = len(sizes_q)
    return PerpBook.from_rows(
        AccountColumns(ids=["a"], collateral=[collateral_q / 1e6], isolated=[False]),
        PositionColumns(account=["a"] * n, market=list(range(n)), size=[q / 1e6 for q in sizes_q],
                        entry_price=[float(e) for e in entries]),
        markets=[f"M{i}" for i in range(n)],
    )


def _pair(collateral_q, sizes_q, entries, prices):
    """The same account, exact (quote balance = collateral − Σ size·entry) and float."""
    quote = collateral_q - sum(q * e for q, e in zip(sizes_q, entries))
    sub = X.Subaccount(quote, tuple(X.Position(_perp(p), q) for q, p in zip(sizes_q, prices)))
    return sub, _book(collateral_q, sizes_q, entries)


sizes = st.lists(st.integers(10**9, 10**11).flatmap(lambda a: st.sampled_from([a, -a])), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(sizes, st.data())
def test_float_engine_matches_the_exact_rules(sizes_q, data):
    n = len(sizes_q)
    prices = data.draw(st.lists(st.integers(100, 100_000), min_size=n, max_size=n))
    entries = [data.draw(st.integers(max(1, p * 7 // 10), p * 13 // 10)) for p in prices]
    notional = sum(abs(q) * p for q, p in zip(sizes_q, prices))
    collateral = data.draw(st.integers(0, notional // 5))
    sub, book = _pair(collateral, sizes_q, entries, prices)
    rules = DydxV4Rules(default_tier=FLOAT_TIER)
    mark = np.array(prices, dtype=float)
    state = rules.margin(book, mark, None)
    risk = X.subaccount_risk(sub)
    assert state.equity[0] * 1e6 == pytest.approx(risk.nc, rel=1e-12, abs=1e-3)
    assert state.maintenance[0] * 1e6 == pytest.approx(risk.mmr, rel=1e-9)
    assume(abs(risk.nc - risk.mmr) > 1e-6 * risk.mmr)  # away from ties (MMR is rounded up twice)
    assert bool(rules.liquidatable(book, state)[0]) == X.is_liquidatable(risk)
    if not X.is_liquidatable(risk) or risk.nc <= 0:
        return
    orders = rules.orders(book, state, mark, np.array([0]))
    for row, j in enumerate(orders.position):
        q = sizes_q[j]
        # exact prices are quote quantums per base quantum: 1e6 base quantums per unit, 1e6 quote per $
        fillable = X.fillable_price(sub, int(j), -q)
        bankrupt = Fraction(X.bankruptcy_quote(sub, int(j), -q), q)
        assert orders.worst_price[row] == pytest.approx(float(fillable), rel=1e-9)
        assert orders.bankruptcy_price[row] == pytest.approx(float(bankrupt), rel=1e-9)


def test_open_interest_scales_the_initial_margin_like_the_exact_rule():
    # BTC at $50,000, 750 BTC long open: $37.5M, halfway between caps of $25M and $50M
    rules = DydxV4Rules(default_tier=Tier(0.2, 0.5, 25e6, 50e6))
    book = PerpBook.from_rows(
        AccountColumns(ids=["a", "b", "c"], collateral=[1e7, 1e7, 1e7], isolated=[False] * 3),
        PositionColumns(account=["a", "b", "c"], market=[0, 0, 0], size=[749.9, -750.0, 0.1], entry_price=[5e4] * 3),
        markets=["BTC"],
    )
    state = rules.margin(book, np.array([5e4]), None)
    # c's 0.1 BTC: IMF 0.2 + 0.5·0.8 = 0.6 of $5,000; MMR from the base IMF: 10 % of $5,000
    assert state.initial[2] == pytest.approx(3000.0)
    assert state.maintenance[2] == pytest.approx(500.0)
    exact = X.position_risk(X.Perpetual(-8, 5_000_000_000, -5, X.LiquidityTier(200_000, 500_000, 25 * 10**12, 50 * 10**12),
                                        open_interest=75_000_000_000), 10_000_000)
    assert (exact.imr, exact.mmr) == (3_000_000_000, 500_000_000)


def _one_long(collateral: float, size: float = 0.1, entry: float = 50_000.0) -> PerpBook:
    return PerpBook.from_rows(
        AccountColumns(ids=["a"], collateral=[collateral], isolated=[False]),
        PositionColumns(account=["a"], market=[0], size=[size], entry_price=[entry]), markets=["BTC"])


def test_settle_fee_is_capped_and_the_fund_covers_what_it_can():
    # D6 in dollars: 0.1 BTC long with quote balance −$5,100 is, in a book, entry $51,000 and
    # collateral $0: equity at $50,000 is −$100
    rules = DydxV4Rules(default_tier=FLOAT_TIER)
    book = _one_long(0.0, entry=51_000.0)
    mark = np.array([50_000.0])
    state = rules.margin(book, mark, None)
    assert state.equity[0] == pytest.approx(-100.0) and rules.liquidatable(book, state)[0]
    orders = rules.orders(book, state, mark, np.array([0]))
    assert orders.bankruptcy_price[0] == pytest.approx(51_000.0)  # $5,100 for 0.1 BTC
    sold = rules.settle(book, orders, Fills(np.array([-0.1]), np.array([56_100.0])), fund_balance=0.0)
    assert sold.fund_delta == pytest.approx(28.05)  # 0.5 % of $5,610 (D6)
    assert sold.collateral_change[0] == pytest.approx(510.0 - 28.05)
    low = rules.settle(book, orders, Fills(np.array([-0.1]), np.array([50_490.0])), fund_balance=20.0)
    # $51 short of bankruptcy: the fund pays its $20, $31 is left for deleveraging
    assert low.fund_delta == pytest.approx(-20.0) and low.deficit[0] == pytest.approx(31.0)
    assert low.collateral_change[0] == pytest.approx(-51.0 + 20.0)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.0, 2_000.0), st.floats(40_000.0, 60_000.0), st.floats(0.0, 50.0))
def test_settle_conserves_money(collateral, price, fund):
    rules = DydxV4Rules(default_tier=FLOAT_TIER)
    book = _one_long(collateral + 1.0)
    mark = np.array([45_000.0])
    state = rules.margin(book, mark, None)
    orders = rules.orders(book, state, mark, np.array([0]))
    s = rules.settle(book, orders, Fills(np.array([-0.1]), np.array([price])), fund_balance=fund)
    # what the account got for its position (0.1·price) = its equity change + fund delta − deficit
    realised = 0.1 * (price - 50_000.0)
    assert s.collateral_change.sum() + s.fund_delta == pytest.approx(realised, abs=1e-7)
    assert s.fund_delta >= -fund - 1e-9
    after = book.collateral[0] + s.collateral_change[0]
    assert after == pytest.approx(-s.deficit[0], abs=1e-7) or s.deficit[0] == 0.0


def test_deleveraging_closes_the_deficit_at_bankruptcy_and_moves_money_only_between_accounts():
    rules = DydxV4Rules(default_tier=FLOAT_TIER)
    book = PerpBook.from_rows(
        AccountColumns(ids=["bad", "s1", "s2", "l1"], collateral=[0.0, 1e4, 1e4, 1e4], isolated=[False] * 4),
        PositionColumns(account=["bad", "s1", "s2", "l1"], market=[0, 0, 0, 0], size=[0.1, -0.03, -0.2, 0.02],
                        entry_price=[51_000.0, 50_000.0, 50_000.0, 50_000.0]),
        markets=["BTC"],
    )
    mark = np.array([50_000.0])
    eq = rules.margin(book, mark, None).equity
    closes = rules.deleveraging(seed=3)(book, np.array([-eq[0], 0, 0, 0]), mark)
    assert closes.close.sum() == pytest.approx(0.0)
    assert (closes.close * closes.price).sum() == pytest.approx(0.0)
    bad = closes.position == 0
    assert closes.close[bad].sum() == pytest.approx(-0.1)
    assert np.all(closes.price == pytest.approx(51_000.0))  # the bankruptcy price
    # the deficit account ends at zero equity; the shorts took the $100 loss between them
    cash = -closes.close * (closes.price - 50_000.0)  # value at mark each row transfers
    by_acct = np.bincount(book.account[closes.position], weights=cash, minlength=4)
    assert eq[0] + by_acct[0] == pytest.approx(0.0)
    i = {label: k for k, label in enumerate(book.account_ids)}  # accounts are kept in label order
    assert by_acct[i["s1"]] + by_acct[i["s2"]] == pytest.approx(-100.0) and by_acct[i["l1"]] == 0.0


def test_deleveraging_start_is_seeded_and_deterministic():
    rules = DydxV4Rules(default_tier=FLOAT_TIER)
    n = 12
    book = PerpBook.from_rows(
        AccountColumns(ids=list(range(n)), collateral=[0.0] + [1e4] * (n - 1), isolated=[False] * n),
        PositionColumns(account=list(range(n)), market=[0] * n, size=[0.1] + [-0.05] * (n - 1),
                        entry_price=[51_000.0] + [50_000.0] * (n - 1)),
        markets=["BTC"],
    )
    deficit = np.array([100.0] + [0.0] * (n - 1))
    runs = [rules.deleveraging(seed=s)(book, deficit, np.array([5e4])) for s in (1, 1, 2, 3, 4)]
    assert np.array_equal(runs[0].position, runs[1].position)
    assert len({tuple(r.position) for r in runs[1:]}) > 1  # another seed, another start


def test_registered_and_a_margin_engine():
    assert "dydx_v4" in perps_registry.names()
    engine = perps_registry.spec("dydx_v4").build(None)
    assert engine.capabilities.deleveraging and engine.capabilities.insurance_fund
