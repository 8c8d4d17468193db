"""Binance's insurance fund holding what it takes over (issue 13): with the cex_perp engine's
``fund_position_limit`` above 0, what the book leaves of a bankrupt account goes to the fund's
own position at the bankruptcy price, within a net notional of ``limit ×`` the fund; the fund
unwinds it on the book later; only the excess is deleveraged. Hand cases on venues that trade
any amount at one price (``Flat``), and conservation over random books."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine import perps as P
from liqcascade.errors import ConfigError
from liqcascade.protocols.cex_perp.rules import CexEngine, CexSettings
from liqcascade.protocols.perps_adl import policy
from tests.engine.test_perps import random_book, venue
from tests.engine.test_perps_takeover import MARK, TIERS, Flat, _two_longs

# bound 0: orders no worse than the bankruptcy price, so the venue's 48,700 fills nothing and
# both longs of _two_longs (equity −200 each at 48,800, bankruptcy price 49,000) stay bankrupt
HOLDS = CexEngine(CexSettings(fund_position_limit=1.0, fund_unwind_usd_per_minute=48_800.0))


def _first_step(fund: float):
    state = P.start(_two_longs(), HOLDS, MARK, [Flat(48_700.0)], fund=fund)
    before = state.book.equity(MARK).copy()
    rec = P.step(HOLDS, state, MARK, None, policy("pro_rata"))
    return state, rec, state.book.equity(MARK) - before


def test_the_fund_takes_over_exactly_the_remainder_at_the_bankruptcy_price():
    state, rec, gained = _first_step(fund=1e6)
    # the fund's limit is $1M of notional: it takes both longs' 1 BTC at 49,000, nothing is
    # deleveraged, each long ends at zero, and the fund holds 2 BTC worth 2 · (48,800 − 49,000)
    assert state.held[0].size == 2.0 and state.held[0].entry == 49_000.0
    assert rec.adl_notional == 0.0 and rec.liquidated_notional == 0.0
    assert rec.fund_taken_notional == pytest.approx(2 * 48_800.0) and rec.fund_position_notional == 2 * 48_800.0
    assert rec.fund_unrealised == pytest.approx(-400.0) and rec.fund_balance == 1e6
    np.testing.assert_allclose(gained, [200.0, 200.0, 0.0], atol=1e-9)
    assert state.book.size.tolist() == [0.0, 0.0, -2.0] and state.fund_took.tolist() == [1.0, 1.0, 0.0]


def test_the_fund_unwinds_at_its_rate_and_keeps_exactly_the_better_price():
    state, _, _ = _first_step(fund=1e6)
    state.venues = [Flat(49_500.0)]  # the book now pays 500 above the takeover price
    rec = P.step(HOLDS, state, MARK, None, policy("pro_rata"))
    # $48,800 a minute at a 60 s step: 1 BTC sold at 49,500, a gain of exactly 500
    assert rec.fund_unwound_notional == pytest.approx(48_800.0) and rec.fund_balance == pytest.approx(1e6 + 500.0)
    assert state.held[0].size == 1.0 and state.held[0].entry == 49_000.0
    assert state.outside == pytest.approx(-700.0)  # the venue's buyer paid 700 over the mark
    rec = P.step(HOLDS, state, MARK, None, policy("pro_rata"))
    assert state.held[0].size == 0.0 and rec.fund_balance == pytest.approx(1e6 + 1_000.0)
    assert rec.fund_position_notional == 0.0 and rec.fund_unrealised == 0.0


def test_beyond_the_limit_exactly_the_excess_is_deleveraged():
    state, rec, gained = _first_step(fund=50_000.0)
    # a $50,000 limit at 48,800 holds 50,000 / 48,800 BTC of the 2 BTC; the other
    # 97,600 − 50,000 = $47,600 of notional goes to the short by ADL with its share of the deficit
    assert rec.fund_taken_notional == pytest.approx(50_000.0) and rec.adl_notional == pytest.approx(47_600.0)
    assert state.held[0].size == pytest.approx(50_000.0 / 48_800.0)
    np.testing.assert_allclose(gained, [200.0, 200.0, -400.0 * 47_600.0 / 97_600.0], atol=1e-6)
    assert state.book.size[:2].tolist() == [0.0, 0.0] and rec.socialised == 0.0


def test_a_limit_of_zero_leaves_the_old_rule():
    engine = CexEngine(CexSettings(fund_position_limit=0.0))
    state = P.start(_two_longs(), engine, MARK, [Flat(48_700.0)], fund=1e6)
    rec = P.step(engine, state, MARK, None, policy("pro_rata"))
    assert rec.adl_notional == pytest.approx(2 * 48_800.0) and rec.fund_taken_notional == 0.0
    assert state.held[0].size == 0.0 and state.fund_took is None


def test_only_the_binance_like_engine_declares_the_fund_holding():
    from liqcascade.protocols.dydx_v4.rules import DydxV4Rules
    from liqcascade.protocols.hyperliquid.rules import HyperliquidEngine

    assert CexEngine().capabilities.fund_holds_positions
    assert not DydxV4Rules().capabilities.fund_holds_positions
    assert not HyperliquidEngine().capabilities.fund_holds_positions


@pytest.mark.parametrize("key, value", [("fund_position_limit", -1.0), ("fund_position_limit", float("nan")),
                                        ("fund_unwind_usd_per_minute", 0.0), ("fund_unwind_usd_per_minute", True)])
def test_bad_fund_settings_are_named(key, value):
    with pytest.raises(ConfigError) as e:
        CexSettings(**{key: value}, source="x.toml: perps.settings")
    assert key in str(e.value) and "x.toml" in str(e.value)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 5e4), st.floats(1e4, 1e7), st.floats(0.1, 5.0),
       st.floats(1e3, 1e7), st.sampled_from(["queue", "pro_rata"]))
def test_money_is_conserved_with_the_fund_holding_positions(seed, fund, depth, limit, rate, adl):
    # at each step's marks: Δ Σ equity + Δ fund + Δ the fund's positions at the mark + Δ what
    # the venues' counterparties gained − Δ written off = 0
    from dataclasses import replace

    engine = CexEngine(replace(TIERS, fund_position_limit=limit, fund_unwind_usd_per_minute=rate))
    book = random_book(200, seed=seed)
    base = np.array([50_000.0, 3_000.0])
    state = P.start(book, engine, base, [venue("BTC", base[0], depth), venue("ETH", base[1], depth / 10)], fund=fund)
    hook = policy(adl)
    for shock in (0.0, -0.04, -0.08, -0.12, -0.1, 0.06, 0.15):
        mark = base * (1.0 + shock)
        eq0, held0 = state.book.equity(mark).sum(), state.fund_unrealised(mark)
        fund0, out0, soc0 = state.fund, state.outside, state.socialised
        rec = P.step(engine, state, mark, None, hook, recentre=lambda v, m: v.with_mid_price(m))
        eq1 = state.book.equity(mark).sum()
        total = ((eq1 - eq0) + (state.fund - fund0) + (state.fund_unrealised(mark) - held0)
                 + (state.outside - out0) - (state.socialised - soc0))
        assert total == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(eq0)))
        assert state.fund >= 0.0
        # within the limit at the step's marks, measured against the balance when it took
        notional = np.array([abs(h.size) * m for h, m in zip(state.held, mark)])
        assert rec.fund_position_notional == pytest.approx(notional.sum())
