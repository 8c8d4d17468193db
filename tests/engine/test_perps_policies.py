"""The ADL policies of protocols/perps_adl.py run inside the perp engine (issue 13 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine import perps as P
from liqcascade.errors import ConfigError
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols.perps_adl import POLICY_NAMES, policy
from tests.engine.test_perps import RULES, random_book, venue


def _book(long_collateral: float, shorts: list[float]) -> PerpBook:
    """An isolated long of 2 BTC from $50,000 and cross shorts of the given sizes, each with $1e6."""
    ids = ["long"] + [f"s{i}" for i in range(len(shorts))]
    return PerpBook.from_rows(
        AccountColumns(ids=ids, collateral=[long_collateral] + [1e6] * len(shorts), isolated=[True] + [False] * len(shorts)),
        PositionColumns(account=ids, market=[0] * len(ids), size=[2.0] + [-s for s in shorts],
                        entry_price=[50_000.0] * len(ids)),
        markets=["BTC"],
    )


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_hand_case_an_empty_fund_deleverages_at_the_bankruptcy_price(name):
    # 2 BTC long from $50,000 with $10,000 at $44,900: equity 10,000 − 2·5,100 = −$200; the
    # sale is refused (no fund) and 2 BTC of shorts take it over at 44,900 + 200/2 = $45,000
    book = _book(10_000.0, [2.0])
    mark = np.array([44_900.0])
    state = P.start(book, RULES, mark, [venue("BTC", 44_900.0, 1e12)], fund=0.0)
    before = state.book.equity(mark).copy()
    rec = P.step(RULES, state, mark, None, policy(name))
    after = state.book.equity(mark)
    assert rec.adl_notional == pytest.approx(2 * 44_900.0)
    assert after[0] == pytest.approx(0.0, abs=1e-6)
    assert after[1] - before[1] == pytest.approx(-200.0)
    assert np.all(state.book.size == 0.0) and rec.socialised == 0.0


def test_hand_case_pro_rata_spreads_the_loss_by_size_and_the_queue_closes_the_first_ranked_fully():
    # shorts of 1 and 3 BTC against the 2 BTC long's $200 deficit
    mark = np.array([44_900.0])
    state = P.start(_book(10_000.0, [1.0, 3.0]), RULES, mark, [venue("BTC", 44_900.0, 1e12)], fund=0.0)
    before = state.book.equity(mark).copy()
    P.step(RULES, state, mark, None, policy("pro_rata"))
    # each closes 2 × its share of 4 BTC: 0.5 and 1.5 BTC, giving up $50 and $150
    np.testing.assert_allclose(state.book.size, [0.0, -0.5, -1.5])
    np.testing.assert_allclose(state.book.equity(mark) - before, [200.0, -50.0, -150.0], atol=1e-6)
    # the queue (Binance's rank: equal PnL %, the 3 BTC short is more leveraged) closes the
    # 3 BTC short fully: 2 BTC of it match the deficit ($200), 1 BTC closes at the mark
    state = P.start(_book(10_000.0, [1.0, 3.0]), RULES, mark, [venue("BTC", 44_900.0, 1e12)], fund=0.0)
    P.step(RULES, state, mark, None, policy("queue"))
    np.testing.assert_allclose(state.book.size, [0.0, -1.0, 0.0])
    np.testing.assert_allclose(state.book.equity(mark) - before, [200.0, 0.0, -200.0], atol=1e-6)


def test_an_unknown_policy_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="perps.adl"):
        policy("lottery")


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(POLICY_NAMES), st.floats(0.0, 5e4), st.floats(1e4, 1e7),
       st.floats(-0.16, -0.04))
def test_every_policy_conserves_money_through_the_engine_run(seed, name, fund, depth, shock):
    # three steps at one shocked mark: Σ equity + fund + outside − socialised is what it was
    book = random_book(150, seed=seed)
    mark = np.array([50_000.0, 3_000.0]) * (1.0 + shock)
    venues = [venue("BTC", mark[0], depth), venue("ETH", mark[1], depth / 10)]
    res = P.run(RULES, book, np.array([mark] * 3), venues, fund=fund, policy=policy(name))
    s = res.state
    before = book.equity(mark).sum() + fund
    after = s.book.equity(mark).sum() + s.fund + s.outside - s.socialised
    assert after == pytest.approx(before, abs=1e-6 * max(1.0, abs(before)))
    assert len(res.records) == 3 and s.fund >= -1e-6  # the fund never below zero (float rounding aside)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(POLICY_NAMES), st.floats(0.0, 5e4), st.floats(1e4, 1e7))
def test_every_policy_conserves_money_at_each_step(seed, name, fund, depth):
    book = random_book(150, seed=seed)
    base = np.array([50_000.0, 3_000.0])
    state = P.start(book, RULES, base, [venue("BTC", base[0], depth), venue("ETH", base[1], depth / 10)], fund=fund)
    hook = policy(name)
    for shock in (0.0, -0.05, -0.1, -0.14, 0.07, 0.16):
        mark = base * (1.0 + shock)
        eq0 = state.book.equity(mark).sum()
        fund0, out0, soc0 = state.fund, state.outside, state.socialised
        P.step(RULES, state, mark, None, hook, recentre=lambda v, m: v.with_mid_price(m))
        eq1 = state.book.equity(mark).sum()
        total = (eq1 - eq0) + (state.fund - fund0) + (state.outside - out0) - (state.socialised - soc0)
        assert total == pytest.approx(0.0, abs=1e-6 * max(1.0, abs(eq0)))
