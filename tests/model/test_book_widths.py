"""Narrow index columns (issue 14, memory): a book's per-row account index and a health order's
rank are int32 while the accounts fit (4 B a holding and 4 B an account fewer than int64), and the
static engine's per-account call counts are int32; the tables keep their int64 counts."""

from __future__ import annotations

import numpy as np

from liqcascade.engine.static import MarketModel, StaticCascade
from liqcascade.model import AssetParams, EModeCategory, HealthOrder, PositionBook, RiskParams, account_dtype, asset_dtype
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


def test_asset_ids_are_int16_while_the_assets_fit():
    assert asset_dtype(1) == np.int16 and asset_dtype(2**15 - 1) == np.int16  # ids 0 .. 32766
    assert asset_dtype(2**15) == np.int32


def test_a_book_keeps_its_asset_ids_as_int16_and_its_e_mode_key_follows():
    book = _book()
    assert book.asset.dtype == np.int16 and book.asset.tolist() == [0, 1, 0, 1]
    wide = PositionBook(book.account, np.array([0, 1, 0, 1], dtype=np.int64), book.collateral, book.debt,
                        book.assets, book.account_ids, book.emode, book.offsets)
    assert wide.asset.dtype == np.int16 and wide.asset.tolist() == [0, 1, 0, 1]
    swapped = book.reindex_assets(("USDC", "WETH"))  # each account's rows by the new ids: USDC's first
    assert swapped.asset.dtype == np.int16 and swapped.asset.tolist() == [0, 1, 0, 1]
    assert swapped.collateral.tolist() == [0.0, 1.0, 0.0, 1.0]
    # e-mode: the key is class * 2 + asset in the asset ids' type (class 1 on "b" below)
    params = RiskParams.from_assets([AssetParams("WETH", 18, 0.8, 0.85, 0.05, 0.1, emode_category=1),
                                     AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.1)],
                                    [EModeCategory(1, "ETH", 0.9, 0.93, 0.01)])
    em = PositionBook.from_rows(["b", "b", "a", "a"], [0, 1, 0, 1], [1.0, 0.0, 1.0, 0.0],
                                [0.0, 1800.0, 0.0, 1000.0], params.symbols, emode={"b": 1})
    key = AaveV3Rules(params, V3_3).prepare(em).params.key
    assert key.dtype == np.int16 and key.tolist() == [0, 1, 2, 3]


def test_many_assets_are_int32():
    n = 2**15 + 1
    book = PositionBook(np.array([0]), np.array([n - 1]), np.array([1.0]), np.array([0.0]),
                        tuple(f"A{i}" for i in range(n)), np.array([0]), np.zeros(1, dtype=np.int16),
                        np.array([0, 1]))
    assert book.asset.dtype == np.int32 and book.asset.tolist() == [n - 1]
