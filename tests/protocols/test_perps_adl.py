"""ADL policies against a hand case, the ranking against its definition, the compiled key
packer against its plain twin, and conservation over random books."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade._jit import jit_functions
from liqcascade.errors import DataError
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols import perps_adl
from liqcascade.protocols import perps_adl_kernels_python as plain
from liqcascade.protocols.perps_adl import (
    _capped_shares, cex_score, hyperliquid_score, pro_rata, queue, rank, risk_aware,
)

MARK = np.array([90_000.0])


def _hand_book() -> PerpBook:
    """B: long 2 BTC from 100,000, bankrupt. S1: short 1 from 100,000 on 10,000 (equity 20,000);
    S2: short 3 from 95,000 on 30,000 (equity 45,000); S3: short 1 from 85,000 on 10,000
    (equity 5,000). S1 and S2 belong to one owner."""
    return PerpBook.from_rows(
        AccountColumns(["B", "S1", "S2", "S3"], [0.0, 10_000.0, 30_000.0, 10_000.0], np.ones(4, dtype=bool),
                       owner=["b", "o", "o", "p"]),
        PositionColumns(["B", "S1", "S2", "S3"], [0, 0, 0, 0], [2.0, -1.0, -3.0, -1.0],
                        [100_000.0, 100_000.0, 95_000.0, 85_000.0]), ("BTC",))


DEFICIT = np.array([1_000.0, 0.0, 0.0, 0.0])  # 2 units to match, 500 given up per unit matched


def test_the_scores_by_hand():
    book = _hand_book()
    # S1: PnL % 10,000 / 100,000 = 0.1, leverage 90,000 / 20,000 = 4.5 -> 0.45
    # S2: 15,000 / 285,000, leverage 270,000 / 45,000 = 6; S3: -5,000 / 85,000 ÷ (90,000 / 5,000)
    assert cex_score(book, MARK)[1:] == pytest.approx([0.45, 15 / 285 * 6, -5 / 85 / 18])
    # Hyperliquid, short: (entry / mark) * notional / account value
    assert hyperliquid_score(book, MARK)[1:] == pytest.approx([10 / 9 * 4.5, 95 / 90 * 6, 85 / 90 * 18])


def test_queue_closes_whole_positions_in_rank_order_and_reports_the_overshoot():
    out = queue(_hand_book(), DEFICIT, MARK)
    # rank S1, S2, S3: S1 (1) and S2 (3) close whole; 2 of their 4 units were needed
    assert out.close.tolist() == [0.0, 1.0, 3.0, 0.0]
    assert out.given_up.tolist() == [0.0, 500.0, 500.0, 0.0]
    assert out.overshoot == 2 * 90_000.0
    assert out.covered.tolist() == [1_000.0, 0.0, 0.0, 0.0] and out.socialised.sum() == 0.0
    # S1 buys back at the bankruptcy price 90,500; S2's 1 matched unit at it, 2 at the mark
    assert out.price[1] == 90_500.0 and out.price[2] == pytest.approx(90_000 + 500 / 3)
    # owners b, o, p: o bears both, and closed 4 BTC of notional
    assert out.borne.tolist() == [0.0, 1_000.0, 0.0]
    assert out.closed_notional.tolist() == [0.0, 360_000.0, 0.0]


def test_queue_with_hyperliquids_index_takes_the_most_leveraged_first():
    out = queue(_hand_book(), DEFICIT, MARK, score=hyperliquid_score)
    # index S3 17 > S2 6.33 > S1 5: S3 (1 unit) then S2 (3) -> overshoot again 2 units
    assert out.close.tolist() == [0.0, 0.0, 3.0, 1.0]
    assert out.given_up.tolist() == [0.0, 0.0, 500.0, 500.0]


def test_pro_rata_by_size_has_no_overshoot():
    out = pro_rata(_hand_book(), DEFICIT, MARK)
    # sizes 1 : 3 : 1 of 2 units -> 0.4, 1.2, 0.4
    assert out.close[1:] == pytest.approx([0.4, 1.2, 0.4])
    assert out.given_up[1:] == pytest.approx([200.0, 600.0, 200.0])
    assert out.overshoot == pytest.approx(0.0, abs=1e-6) and out.covered[0] == pytest.approx(1_000.0)


def test_risk_aware_weights_leverage_times_profit_and_spares_the_losers():
    out = risk_aware(_hand_book(), DEFICIT, MARK)
    # weights 4.5 * 10,000 = 45,000 and 6 * 15,000 = 90,000; S3 is losing: weight 0
    assert out.close[1:] == pytest.approx([2 / 3, 4 / 3, 0.0])
    assert out.given_up[1:] == pytest.approx([1_000 / 3, 2_000 / 3, 0.0])


def test_capped_shares_pass_the_excess_on():
    # 2 units by 9 : 1 -> 1.8 and 0.2; the first is capped at 1, its 0.8 goes to the second
    assert _capped_shares(np.array([9.0, 1.0]), np.array([1.0, 5.0]), 2.0) == pytest.approx([1.0, 1.0])
    # nobody can take more than the side holds
    assert _capped_shares(np.array([1.0, 1.0]), np.array([0.5, 0.5]), 2.0) == pytest.approx([0.5, 0.5])


def test_a_deficit_without_opposite_positions_is_socialised():
    book = PerpBook.from_rows(AccountColumns(["B", "L"], [0.0, 5_000.0], np.ones(2, dtype=bool)),
                              PositionColumns(["B", "L"], [0, 0], [1.0, 1.0], [100_000.0, 80_000.0]), ("BTC",))
    for policy in (queue, pro_rata, risk_aware):
        out = policy(book, np.array([700.0, 0.0]), MARK)
        assert out.socialised.tolist() == [700.0, 0.0] and not out.close.any()


def test_a_bad_deficit_is_refused():
    with pytest.raises(DataError, match="row 2.*deficit"):
        queue(_hand_book(), np.array([0.0, -1.0, 0.0, 0.0]), MARK)


def test_rank_is_descending_score_then_index_at_float32_precision():
    s = np.array([0.5, 2.0, -1.0, 2.0, np.nan, 0.0, -0.0, 1.0 + 1e-12])
    # 1 + 1e-12 is 1.0 in float32, ties of 2.0 by index, -0.0 as 0.0, NaN last
    assert rank(s).tolist() == [1, 3, 7, 0, 5, 6, 2, 4]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=0, max_size=200))
def test_the_compiled_key_packer_agrees_with_its_twin_and_ranks_like_a_lexsort(values):
    score = np.array(values, dtype=np.float64)
    compiled = jit_functions(plain.FUNCTIONS, enabled=True)["pack_rank_keys"]
    a = np.empty(score.size, dtype=np.uint64)
    b = np.empty(score.size, dtype=np.uint64)
    compiled(score, a)
    plain.pack_rank_keys(score, b)
    assert a.tolist() == b.tolist()
    f = score.astype(np.float32) + np.float32(0.0)  # -0.0 -> 0.0
    assert rank(score).tolist() == np.lexsort((np.arange(score.size), -f)).tolist()


@st.composite
def _books(draw):
    n = draw(st.integers(2, 12))
    size = draw(st.lists(st.floats(0.1, 5) | st.floats(-5, -0.1), min_size=n, max_size=n))
    entry = draw(st.lists(st.floats(50, 150), min_size=n, max_size=n))
    coll = draw(st.lists(st.floats(0, 500), min_size=n, max_size=n))
    market = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    bankrupt = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    amount = draw(st.lists(st.floats(0.01, 1_000), min_size=n, max_size=n))
    owner = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    book = PerpBook.from_rows(AccountColumns(list(range(n)), coll, np.ones(n, dtype=bool), owner=owner),
                              PositionColumns(list(range(n)), market, size, entry), ("A", "B"))
    deficit = np.where(bankrupt, amount, 0.0)
    return book, deficit, np.array(draw(st.lists(st.floats(50, 150), min_size=2, max_size=2)))


@settings(max_examples=100, deadline=None)
@given(_books(), st.sampled_from(sorted(perps_adl.POLICIES)))
def test_what_the_bankrupt_lose_is_given_up_or_socialised(case, name):
    book, deficit, mark = case
    out = perps_adl.POLICIES[name](book, deficit, mark)
    assert deficit.sum() == pytest.approx(out.given_up.sum() + out.socialised.sum(), rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(out.covered + out.socialised, deficit, rtol=1e-12, atol=1e-12)
    assert np.all(out.given_up >= 0) and np.all(out.socialised >= -1e-9)
    assert out.borne.sum() == pytest.approx(out.given_up.sum())
    # closes reduce positions, never flip them; the bankrupt and the broke never pay
    assert np.all(np.abs(out.close) <= np.abs(book.size) * (1 + 1e-12))
    assert np.all(out.close * book.size <= 0)
    payer = out.close != 0
    assert np.all(deficit[book.account[payer]] == 0) and np.all(book.equity(mark)[book.account[payer]] > 0)
    if name == "queue":
        # a queue closes positions whole or not at all
        assert np.all((out.close == 0) | (np.abs(out.close) == np.abs(book.size)))
    else:
        assert out.overshoot == pytest.approx(0.0, abs=1e-6)


def test_a_cross_bankrupt_splits_its_deficit_over_its_markets_by_notional():
    # B (cross): long 1 BTC and short 10 ETH, notionals 90,000 and 30,000 at the marks; its
    # deficit 1,200 splits 900 to BTC and 300 to ETH. S: short 2 BTC; L: long 20 ETH.
    book = PerpBook.from_rows(
        AccountColumns(["B", "L", "S"], [0.0, 100_000.0, 100_000.0], np.array([False, True, True])),
        PositionColumns(["B", "B", "S", "L"], [0, 1, 0, 1], [1.0, -10.0, -2.0, 20.0],
                        [100_000.0, 2_000.0, 95_000.0, 2_500.0]), ("BTC", "ETH"))
    mark = np.array([90_000.0, 3_000.0])
    out = pro_rata(book, np.array([1_200.0, 0.0, 0.0]), mark)
    # positions in book order: B's BTC, B's ETH, L's ETH, S's BTC
    assert out.close.tolist() == [0.0, 0.0, -10.0, 1.0]
    assert out.given_up.tolist() == pytest.approx([0.0, 0.0, 300.0, 900.0])
    # S buys back 1 BTC at 90,000 + 900; L sells 10 ETH at 3,000 - 30
    assert out.price[3] == pytest.approx(90_900.0) and out.price[2] == pytest.approx(2_970.0)
    assert out.covered.tolist() == pytest.approx([1_200.0, 0.0, 0.0])


def test_each_engine_deleverages_with_its_own_ranking():
    from liqcascade.protocols.cex_perp.rules import CexEngine
    from liqcascade.protocols.hyperliquid.rules import HyperliquidEngine

    # the hand book: Binance's ranking takes S1 first, Hyperliquid's index S3 first
    assert CexEngine().deleverage(_hand_book(), DEFICIT, MARK).close.tolist() == [0.0, 1.0, 3.0, 0.0]
    assert HyperliquidEngine().deleverage(_hand_book(), DEFICIT, MARK).close.tolist() == [0.0, 0.0, 3.0, 1.0]
