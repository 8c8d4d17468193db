"""Narrow index columns (issue 14, memory): a book's per-row account index and a health order's
rank are int32 while the accounts fit (4 B a holding and 4 B an account fewer than int64), and the
static engine's per-account call counts are int32; the tables keep their int64 counts."""

from __future__ import annotations

import numpy as np

from liqcascade.engine.static import MarketModel, StaticCascade
from liqcascade.model import AssetParams, HealthOrder, PositionBook, RiskParams, account_dtype
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.base import Tallies

PARAMS = RiskParams.from_assets([AssetParams("WETH", 18, 0.8, 0.85, 0.05, 0.1),
                                 AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.1)])
PRICES = np.array([2000.0, 1.0])


def _book() -> PositionBook:
    # "b" owes 1,800 USDC against 1 WETH: HF 0.85 * 2000 / 1800 = 0.944, eligible at once;
    # "a" owes 1,000: HF 1.7
    return PositionBook.from_rows(["b", "b", "a", "a"], [0, 1, 0, 1], [1.0, 0.0, 1.0, 0.0],
                                  [0.0, 1800.0, 0.0, 1000.0], PARAMS.symbols)


def test_the_index_type_is_int32_up_to_the_largest_int32_account_count():
    assert account_dtype(0) == np.int32
    assert account_dtype(2**31 - 1) == np.int32  # indexes 0 .. 2^31 - 2
    assert account_dtype(2**31) == np.int64


def test_a_book_keeps_its_account_index_as_int32_whatever_it_is_given():
    book = _book()
    assert book.account.dtype == np.int32 and book.account.tolist() == [0, 0, 1, 1]  # "a" < "b"
    wide = PositionBook(np.array([0, 0, 1, 1], dtype=np.int64), book.asset, book.collateral, book.debt,
                        book.assets, book.account_ids, book.emode, book.offsets)
    assert wide.account.dtype == np.int32 and wide.account.tolist() == [0, 0, 1, 1]
    same = PositionBook(book.account, book.asset, book.collateral, book.debt, book.assets, book.account_ids,
                        book.emode, book.offsets)
    assert same.account is book.account  # already narrow: not copied


def test_an_ordered_book_and_its_rank_are_narrow():
    book = _book().in_health_order(AaveV3Rules(PARAMS, V3_3), PRICES)
    assert book.account_ids.tolist() == ["b", "a"]  # HF 0.944 before 1.7
    assert book.account.dtype == np.int32 and book.account.tolist() == [0, 0, 1, 1]
    assert book.health_order.rank.dtype == np.int32 and book.health_order.rank.tolist() == [1, 0]
    assert HealthOrder((), np.array([1, 0], dtype=np.int64)).rank.dtype == np.int32


def test_call_counts_are_int32_in_the_engine_and_int64_in_the_tables():
    t = Tallies.zeros(2, 3)
    assert t.acct_calls.dtype == np.int32 and t.acct_blocked.dtype == np.int32
    solver = StaticCascade(MarketModel(_book(), AaveV3Rules(PARAMS, V3_3), PRICES))
    out = solver.run({})  # no shock, no venues: only "b" is below 1
    assert out.tallies.acct_calls.dtype == np.int32
    frame = solver.account_frame(out)
    assert frame["account_id"].tolist() == ["b"]
    assert frame["liquidation_calls"].dtype == np.int64 and frame["blocked_calls"].dtype == np.int64
    assert int(frame["liquidation_calls"].iloc[0]) == int(out.tallies.acct_calls.sum()) >= 1
    assert solver.summarize(out)["liquidation_calls"] == int(frame["liquidation_calls"].sum())
