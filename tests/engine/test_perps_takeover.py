"""Binance's takeover in the perp engine (issue 13): the cex_perp engine sells beyond the
bankruptcy price, the insurance fund pays the gap, and only what the fund cannot pay or the
venue cannot take is deleveraged. Hand cases on a venue that trades any amount at one price;
conservation of money over random books."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine import perps as P
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols.cex_perp.rules import BTCUSDT_2021_03_18, CexEngine, CexSettings
from liqcascade.protocols.perps_adl import policy
from liqcascade.protocols.perps_tiers import TierTable
from tests.engine.test_perps import random_book, venue

TAKEOVER = CexEngine(CexSettings(market_take_bound=0.05))
MARK = np.array([48_800.0])


@dataclass(frozen=True)
class Flat:
    """A venue that buys and sells any amount at one price."""

    price: float

    def sell(self, amount: float):
        return amount * self.price, self

    def buy(self, amount: float):
        return amount * self.price, self

    def mid_price(self) -> float:
        return self.price


def _two_longs() -> PerpBook:
    """Isolated longs "a" and "b" of 1 BTC from $50,000 with $1,000 each (bankruptcy price
    $49,000), and a cross short of 2 BTC with $1e9 on the other side."""
    return PerpBook.from_rows(
        AccountColumns(["a", "b", "mm"], [1_000.0, 1_000.0, 1e9], np.array([True, True, False])),
        PositionColumns(["a", "b", "mm"], [0, 0, 0], [1.0, 1.0, -2.0], [50_000.0] * 3), ("BTCUSDT",))


def _step(engine, fund):
    # at $48,800 each long has equity −$200 (below 0.4 % · 48,800 = $195.20 of maintenance);
    # the venue takes any amount at $48,700, $300 below their bankruptcy price
    state = P.start(_two_longs(), engine, MARK, [Flat(48_700.0)], fund=fund)
    before = state.book.equity(MARK).copy()
    rec = P.step(engine, state, MARK, None, policy("pro_rata"))  # closes exactly the bankrupt size
    return state, rec, state.book.equity(MARK) - before


def test_the_fund_pays_exactly_the_gap_of_positions_closed_below_bankruptcy():
    state, rec, gained = _step(TAKEOVER, fund=1_000.0)
    # both longs sold on the venue at 48,700 (the bound is 0.95 · 48,800 = 46,360): the fund
    # pays 2 × 300 and each long ends at zero; nothing deleveraged
    assert rec.accounts_liquidated == 2 and rec.negative_equity_accounts == 2
    assert rec.liquidated_notional == pytest.approx(2 * 48_800.0) and rec.adl_notional == 0.0
    assert rec.fund_balance == pytest.approx(400.0, rel=1e-12)
    np.testing.assert_allclose(gained, [200.0, 200.0, 0.0], atol=1e-6)
    assert state.outside == pytest.approx(200.0)  # the venue bought 2 BTC $100 under the mark
    assert state.book.size.tolist() == [0.0, 0.0, -2.0] and rec.socialised == 0.0


def test_an_exhausted_fund_leaves_exactly_the_remainder_to_deleveraging():
    state, rec, gained = _step(TAKEOVER, fund=400.0)
    # the fund pays a's 300; it cannot pay b's, so b is re-executed no worse than 49,000 (the
    # venue's 48,700 takes nothing) and the short takes b over at 49,000: $200 under the
    # mark for the short, b at zero; the fund keeps the 100 it did not need
    assert rec.liquidated_notional == pytest.approx(48_800.0) and rec.adl_notional == pytest.approx(48_800.0)
    assert rec.fund_balance == pytest.approx(100.0, rel=1e-12)
    np.testing.assert_allclose(gained, [200.0, 200.0, -200.0], atol=1e-6)
    assert state.book.size.tolist() == [0.0, 0.0, -1.0] and rec.socialised == 0.0


@dataclass(frozen=True)
class Ladder:
    """Bids of ``size`` BTC at each of ``prices`` (falling), then any amount at ``floor``."""

    prices: tuple[float, ...]
    size: float
    floor: float
    sold: float = 0.0

    def sell(self, amount: float):
        cash, left, at = 0.0, amount, self.sold
        for i, p in enumerate(self.prices):
            take = min(max(0.0, (i + 1) * self.size - at), left)
            cash, left, at = cash + take * p, left - take, at + take
        return cash + left * self.floor, replace(self, sold=self.sold + amount)

    def mid_price(self) -> float:
        return self.prices[0]


def test_an_account_the_fund_cannot_pay_still_sells_what_the_book_takes_at_its_bankruptcy_price():
    # a: 1 BTC from 50,000 with 1,000 (bankruptcy 49,000); b: 2 BTC from 50,000 with 2,600
    # (equity 200 < 0.4 % · 97,600 = 390.40 at 48,800; bankruptcy 48,800 − 200 / 2 = 48,700).
    # Bids: 1 BTC at 48,750, 1 BTC at 48,700, then any amount at 46,500; no clearance fee.
    book = PerpBook.from_rows(
        AccountColumns(["a", "b", "mm"], [1_000.0, 2_600.0, 1e9], np.array([True, True, False])),
        PositionColumns(["a", "b", "mm"], [0, 0, 0], [1.0, 2.0, -3.0], [50_000.0] * 3), ("BTCUSDT",))
    engine = CexEngine(CexSettings(clearance_fee_rate=0.0, market_take_bound=0.05))
    state = P.start(book, engine, MARK, [Ladder((48_750.0, 48_700.0), 1.0, 46_500.0)], fund=1_000.0)
    rec = P.step(engine, state, MARK, None, policy("pro_rata"))
    # first pass: a sells at 48,750 (gap 250, paid); b sells 1 at 48,700 and 1 at 46,500, an
    # average of 47,600 (above the bound 46,360): a gap of 2 · 1,100 = 2,200 that the 750
    # left cannot pay. Second pass: b no worse than 48,700 sells exactly the 1 BTC bid there.
    assert rec.fund_balance == pytest.approx(750.0, rel=1e-12)
    assert rec.liquidated_notional == pytest.approx(2 * 48_800.0)
    assert state.book.size.tolist() == [0.0, 1.0, -3.0]
    # b keeps 1 BTC and 2,600 − 1,300 = 1,300: equity 100 at the mark, nothing to deleverage yet
    assert state.book.collateral[1] == pytest.approx(1_300.0) and rec.adl_notional == 0.0


def test_without_the_bound_nothing_sells_below_bankruptcy_and_the_fund_is_untouched():
    state, rec, gained = _step(CexEngine(), fund=1_000.0)
    # the old rule: orders no worse than 49,000 fill nothing at 48,700; both longs deleveraged
    assert rec.liquidated_notional == 0.0 and rec.adl_notional == pytest.approx(2 * 48_800.0)
    assert rec.fund_balance == 1_000.0
    np.testing.assert_allclose(gained, [200.0, 200.0, -400.0], atol=1e-6)


def test_only_the_binance_like_engine_declares_the_takeover():
    from liqcascade.protocols.dydx_v4.rules import DydxV4Rules
    from liqcascade.protocols.hyperliquid.rules import HyperliquidEngine

    assert CexEngine().capabilities.fund_takeover
    assert not DydxV4Rules().capabilities.fund_takeover and not HyperliquidEngine().capabilities.fund_takeover


TIERS = CexSettings(tiers=TierTable({"BTC": BTCUSDT_2021_03_18, "ETH": BTCUSDT_2021_03_18}), market_take_bound=0.05)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 5e4), st.floats(1e4, 1e7), st.sampled_from(["queue", "pro_rata"]))
def test_money_is_conserved_through_takeover_fund_and_deleveraging(seed, fund, depth, adl):
    engine = CexEngine(TIERS)
    book = random_book(200, seed=seed)
    base = np.array([50_000.0, 3_000.0])
    state = P.start(book, engine, base, [venue("BTC", base[0], depth), venue("ETH", base[1], depth / 10)], fund=fund)
    hook = policy(adl)
    for shock in (0.0, -0.04, -0.08, -0.12, 0.06, 0.15):
        mark = base * (1.0 + shock)
        eq0 = state.book.equity(mark).sum()
        fund0, out0, soc0 = state.fund, state.outside, state.socialised
        P.step(engine, state, mark, None, hook, recentre=lambda v, m: v.with_mid_price(m))
        eq1 = state.book.equity(mark).sum()
        total = (eq1 - eq0) + (state.fund - fund0) + (state.outside - out0) - (state.socialised - soc0)
        assert total == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(eq0)))
        assert state.fund >= -1e-6


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.0, 100.0, 5e4]), st.floats(1e4, 1e7))
def test_isolated_books_never_write_a_loss_off_however_small_the_fund(seed, fund, depth):
    # the last retry bounds every order at its bankruptcy price: a fill there never leaves an
    # isolated account below zero, so what the fund cannot pay goes to deleveraging, not to a write-off
    engine = CexEngine(TIERS)
    book = random_book(200, seed=seed, isolated_share=1.0)
    base = np.array([50_000.0, 3_000.0])
    state = P.start(book, engine, base, [venue("BTC", base[0], depth), venue("ETH", base[1], depth / 10)], fund=fund)
    for shock in (0.0, -0.05, -0.1, -0.14, 0.07, 0.16):
        P.step(engine, state, base * (1.0 + shock), None, policy("queue"), recentre=lambda v, m: v.with_mid_price(m))
    assert state.socialised <= 1e-6 and state.fund >= 0.0
