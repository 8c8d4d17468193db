"""The perp book: hand-valued accounts (dYdX's D1/D2 states), zero-sum PnL and funding, and
every bad row named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.errors import DataError
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns

BTC_ETH = ("BTC-USD", "ETH-USD")


def _book(accounts: dict, positions: dict) -> PerpBook:
    return PerpBook.from_rows(AccountColumns(**accounts), PositionColumns(**positions), BTC_ETH)


def test_dydx_d1_d2_states_have_the_quote_balances_of_the_vectors():
    # protocols.md §10: 0.1 BTC at $50,000 with USDC -4,501 (long) and +5,499 (short): the
    # collateral that gives those quote balances is 499 on both sides (499 - 5,000, 499 + 5,000)
    book = _book(
        {"ids": ["long", "short"], "collateral": [499.0, 499.0], "isolated": np.array([False, False])},
        {"account": ["short", "long"], "market": [0, 0], "size": [-0.1, 0.1], "entry_price": [50_000.0, 50_000.0]},
    )
    assert book.account_ids.tolist() == ["long", "short"]
    assert book.quote_balance().tolist() == [-4_501.0, 5_499.0]
    assert book.equity(np.array([50_000.0, 0.0])).tolist() == [499.0, 499.0]
    # at $49,000 the long lost 100 and the short gained it
    assert book.equity(np.array([49_000.0, 0.0])).tolist() == [399.0, 599.0]
    assert book.notional(np.array([49_000.0, 0.0])).tolist() == [4_900.0, 4_900.0]


def test_a_cross_account_sums_its_markets_and_funding_flows_from_longs_to_shorts():
    book = _book(
        {"ids": [7, 9], "collateral": [1_000.0, 200.0], "isolated": np.array([False, True]), "side": [0, -1]},
        {"account": [7, 7, 9], "market": [1, 0, 1], "size": [2.0, -0.5, -2.0],
         "entry_price": [3_000.0, 60_000.0, 3_000.0], "funding_index": [10.0, 0.0, 10.0]},
    )
    assert book.offsets.tolist() == [0, 2, 3]
    mark = np.array([62_000.0, 3_100.0])
    funding = np.array([0.0, 13.0])
    # account 7: +2·100 (ETH) − 0.5·2,000 (BTC short) − 2·3 funding = −806
    assert book.equity(mark, funding).tolist() == [1_000.0 - 806.0, 200.0 - 200.0 + 6.0]
    long, short = book.open_interest()
    assert long.tolist() == [0.0, 2.0] and short.tolist() == [0.5, 2.0]


@given(
    size=st.floats(1e-6, 1e6), entry=st.floats(1.0, 1e6), mark=st.floats(1.0, 1e6),
    f0=st.floats(-1e3, 1e3), f1=st.floats(-1e3, 1e3),
)
def test_pnl_and_funding_are_zero_sum_between_a_long_and_an_equal_short(size, entry, mark, f0, f1):
    book = _book(
        {"ids": ["a", "b"], "collateral": [0.0, 0.0], "isolated": np.array([True, True]), "side": [1, -1]},
        {"account": ["a", "b"], "market": [0, 0], "size": [size, -size], "entry_price": [entry, entry],
         "funding_index": [f0, f0]},
    )
    eq = book.equity(np.array([mark, 1.0]), np.array([f1, 0.0]))
    assert eq[0] == -eq[1]
    assert book.equity(np.array([entry, 1.0])).tolist() == [0.0, 0.0]


ACC = {"ids": ["a", "b"], "collateral": [10.0, 10.0], "isolated": np.array([False, True]), "side": [0, 1]}
POS = {"account": ["a", "b"], "market": [0, 1], "size": [1.0, 1.0], "entry_price": [100.0, 100.0]}


@pytest.mark.parametrize(
    ("accounts", "positions", "source", "row", "words"),
    [
        ({}, {"account": ["a", "zz"]}, "positions", 2, "'zz' has no margin account"),
        ({"ids": ["a", "a"]}, {}, "accounts", 2, "listed twice"),
        ({"collateral": [10.0, -1.0]}, {}, "accounts", 2, "collateral"),
        ({"side": [1, 1]}, {}, "accounts", 1, "only an isolated account declares a side"),
        ({"side": [0, 2]}, {}, "accounts", 2, "side"),
        ({}, {"size": [1.0, -1.0]}, "positions", 2, "declared long"),
        ({}, {"size": [0.0, 1.0]}, "positions", 1, "non-zero"),
        ({}, {"entry_price": [100.0, 0.0]}, "positions", 2, "entry_price"),
        ({}, {"market": [0, 2]}, "positions", 2, "outside 0..1"),
        ({}, {"account": ["a", "b", "a"], "market": [0, 1, 0], "size": [1.0, 1.0, 2.0],
              "entry_price": [1.0, 1.0, 1.0]}, "positions", 3, "holds BTC-USD twice"),
        ({}, {"account": ["a", "b", "b"], "market": [0, 1, 0], "size": [1.0, 1.0, 2.0],
              "entry_price": [1.0, 1.0, 1.0]}, "positions", 3, "isolated and holds 2 positions"),
    ],
)
def test_every_bad_row_is_named(accounts, positions, source, row, words):
    acc = AccountColumns(**{**ACC, **accounts}, source="accounts")
    pos = PositionColumns(**{**POS, **positions}, source="positions")
    with pytest.raises(DataError) as err:
        PerpBook.from_rows(acc, pos, BTC_ETH)
    assert err.value.file == source and err.value.row == row
    assert words in str(err.value)


def test_subset_keeps_the_chosen_accounts_positions_and_maps_them_back():
    book = PerpBook.from_rows(
        AccountColumns(ids=["a", "b", "c"], collateral=[1.0, 2.0, 3.0], isolated=[False, True, False]),
        PositionColumns(account=["a", "c", "a", "b", "c"], market=[0, 0, 1, 1, 1], size=[1.0, -2.0, 3.0, 4.0, 5.0],
                        entry_price=[10.0, 20.0, 30.0, 40.0, 50.0]),
        markets=["X", "Y"],
    )
    sub, pos = book.subset(np.array([0, 2]))
    assert list(sub.account_ids) == ["a", "c"] and list(sub.collateral) == [1.0, 3.0]
    assert list(sub.offsets) == [0, 2, 4] and list(sub.account) == [0, 0, 1, 1]
    np.testing.assert_array_equal(book.size[pos], sub.size)
    assert sorted(sub.size.tolist()) == [-2.0, 1.0, 3.0, 5.0]  # b's 4.0 left out
    mark = np.array([11.0, 29.0])
    np.testing.assert_allclose(sub.equity(mark), book.equity(mark)[[0, 2]])
