"""Reading perp books: the documented schema loads, and every bad input is a DataError
naming the file, the row and what was expected (nothing is built)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from liqcascade.errors import DataError
from liqcascade.io.perps import load_perp_book
from liqcascade.protocols.dydx_v4.rules import DydxV4Rules

ACCOUNTS = """account,collateral,margin,side,owner
alice-1,1000,cross,,alice
alice-2,500,isolated,long,alice
bob,2000,isolated,short,bob
"""
POSITIONS = """account,market,size,entry_price
alice-1,BTC-USD,0.1,50000
alice-1,ETH-USD,-1.5,3000
alice-2,ETH-USD,2,3000
bob,BTC-USD,-0.2,51000
"""


def _files(tmp_path: Path, accounts: str = ACCOUNTS, positions: str = POSITIONS) -> tuple[Path, Path]:
    a, p = tmp_path / "accounts.csv", tmp_path / "positions.csv"
    a.write_text(accounts)
    p.write_text(positions)
    return a, p


def test_the_documented_schema_loads(tmp_path):
    book = load_perp_book(*_files(tmp_path), max_leverage=DydxV4Rules().max_leverage)
    assert book.markets == ("BTC-USD", "ETH-USD")
    assert list(book.account_ids) == ["alice-1", "alice-2", "bob"]
    assert list(book.owner_ids) == ["alice", "bob"] and list(book.owner) == [0, 0, 1]
    assert list(book.isolated) == [False, True, True] and list(book.declared_side) == [0, 1, -1]
    np.testing.assert_array_equal(book.size, [0.1, -1.5, 2.0, -0.2])
    # equity at entry is the collateral; at BTC 40,000 alice-1 loses 0.1·10,000 = 1,000
    np.testing.assert_allclose(book.equity(np.array([40_000.0, 3_000.0])), [0.0, 500.0, 4_200.0])


def test_parquet_files_load_the_same(tmp_path):
    a, p = _files(tmp_path)
    import pyarrow.csv as pcsv

    opts = pcsv.ConvertOptions(column_types={"account": pa.string(), "side": pa.string(), "owner": pa.string()},
                               strings_can_be_null=False)
    pq.write_table(pcsv.read_csv(a, convert_options=opts), tmp_path / "a.parquet")
    pq.write_table(pcsv.read_csv(p), tmp_path / "p.parquet")
    x, y = load_perp_book(a, p), load_perp_book(tmp_path / "a.parquet", tmp_path / "p.parquet")
    np.testing.assert_array_equal(x.size, y.size) and np.testing.assert_array_equal(x.collateral, y.collateral)


@pytest.mark.parametrize("accounts,positions,where,why", [
    (ACCOUNTS, POSITIONS + "carol,BTC-USD,0.1,50000\n", "positions.csv: row 5",
     "'carol' has no margin account in the accounts file"),
    (ACCOUNTS, POSITIONS.replace("alice-2,ETH-USD,2,", "alice-2,ETH-USD,-2,"), "positions.csv: row 3",
     "declared long"),
    (ACCOUNTS.replace("isolated,long", "isolated,up"), POSITIONS, "accounts.csv: row 2", "side: expected 'long', 'short'"),
    (ACCOUNTS.replace("1000,cross", "1000,both"), POSITIONS, "accounts.csv: row 1", "margin: expected 'cross' or 'isolated'"),
    (ACCOUNTS, POSITIONS.replace("-0.2,51000", "-0.2,lots"), "positions.csv: row 4", "'entry_price' must be numeric"),
    (ACCOUNTS.replace(",margin,", ",mode,"), POSITIONS, "accounts.csv", "missing column(s) ['margin']"),
    (ACCOUNTS, POSITIONS + "bob,BTC-USD,0.1,50000\n", "positions.csv", "holds BTC-USD twice"),
])
def test_bad_input_names_file_row_and_expectation(tmp_path, accounts, positions, where, why):
    with pytest.raises(DataError) as err:
        load_perp_book(*_files(tmp_path, accounts, positions))
    assert where in str(err.value) and why in str(err.value)


def test_leverage_above_the_engines_tier_maximum_is_refused(tmp_path):
    # dYdX's large-cap tier: IMF 2 %, 50x. bob: 0.2 BTC at 51,000 = 10,200 on 150 -> 68x
    accounts = ACCOUNTS.replace("bob,2000,", "bob,150,")
    with pytest.raises(DataError) as err:
        load_perp_book(*_files(tmp_path, accounts), max_leverage=DydxV4Rules().max_leverage)
    text = str(err.value)
    assert "accounts.csv: row 3" in text and "'bob'" in text and "leverage 68x" in text and "maximum 50x" in text
    # without the engine's cap the same files load
    assert load_perp_book(*_files(tmp_path, accounts)).n_accounts == 3
