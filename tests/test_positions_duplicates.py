"""A position file holds each (account, asset) pair once: a repeat is refused, naming the
file, the account, the asset and both 1-based data rows (review finding 10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import DataError
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.io.positions import load_positions

REPO = Path(__file__).resolve().parents[1]
ASSETS = ["WETH", "WBTC", "USDC", "DAI"]


@pytest.fixture(scope="module")
def params():
    return load_aave_reserve_config().params


def _write(df: pd.DataFrame, path: Path) -> Path:
    (df.to_csv(path, index=False) if path.suffix == ".csv" else df.to_parquet(path, index=False))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_repeated_row_names_both_rows(tmp_path, params, suffix):
    df = pd.DataFrame({"account": ["0xa1", "0xa1", "0xa2", "0xa2", "0xa2"],
                       "asset": ["WETH", "USDC", "WETH", "WETH", "DAI"],
                       "collateral": [120.0, 0.0, 40.0, 40.0, 0.0],
                       "debt": [0.0, 150_000.0, 0.0, 0.0, 8_000.0]})
    p = _write(df, tmp_path / f"book{suffix}")
    with pytest.raises(DataError) as ei:
        load_positions(p, params)
    e = ei.value
    assert e.row == 4 and e.file == str(p)
    assert str(e).startswith(f"{p}: row 4: account '0xa2' holds WETH again (first in row 3)")
    assert "one row per (account, asset)" in str(e)


def test_same_asset_in_two_accounts_and_two_assets_in_one_are_fine(tmp_path, params):
    df = pd.DataFrame({"account": ["a", "b", "a"], "asset": ["WETH", "WETH", "USDC"],
                       "collateral": [1.0, 2.0, 0.0], "debt": [0.0, 0.0, 100.0]})
    book = load_positions(_write(df, tmp_path / "ok.csv"), params)
    assert book.n_rows == 3 and book.collateral.sum() == 3.0


def test_integer_account_labels_are_named_plainly(tmp_path, params):
    df = pd.DataFrame({"account": [7, 3, 7], "asset": ["WETH", "WETH", "WETH"],
                       "collateral": [1.0, 1.0, 2.0], "debt": [0.0, 0.0, 0.0]})
    with pytest.raises(DataError) as ei:
        load_positions(_write(df, tmp_path / "ints.parquet"), params)
    assert ei.value.row == 3 and "account 7 holds WETH again (first in row 1)" in str(ei.value)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_first_repeat_reading_down_is_reported(params, tmp_path_factory, data):
    # a book of distinct pairs, then copies of some rows inserted anywhere: the error names the
    # first row (top down) whose pair appeared above it, and that earlier row
    n = data.draw(st.integers(1, 12))
    pairs = data.draw(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(ASSETS)), min_size=n, max_size=n,
                               unique=True))
    rows = [(f"acc{a}", s) for a, s in pairs]
    k = data.draw(st.integers(1, 4))
    for _ in range(k):
        src = data.draw(st.integers(0, len(rows) - 1))
        at = data.draw(st.integers(0, len(rows)))
        rows.insert(at, rows[src])
    expect_again = next(i for i, r in enumerate(rows) if r in rows[:i]) + 1
    expect_first = rows.index(rows[expect_again - 1]) + 1
    df = pd.DataFrame({"account": [r[0] for r in rows], "asset": [r[1] for r in rows],
                       "collateral": 1.0, "debt": 0.0})
    p = _write(df, tmp_path_factory.mktemp("dup") / "b.csv")
    with pytest.raises(DataError) as ei:
        load_positions(p, params)
    acc, sym = rows[expect_again - 1]
    assert ei.value.row == expect_again
    assert f"account '{acc}' holds {sym} again (first in row {expect_first})" in str(ei.value)


def test_shipped_example_books_have_no_repeats(params):
    for csv in sorted((REPO / "examples").glob("*.csv")):
        df = pd.read_csv(csv, dtype=str)
        # position books only: an owners' event file (``action`` column) repeats accounts by design
        if {"account", "asset"} <= set(df.columns) and "action" not in df.columns:
            assert not df.duplicated(["account", "asset"]).any(), csv
            load_positions(csv, params)


def test_large_file_check_is_vectorized(tmp_path, params):
    import time

    n = 400_000
    acc = np.repeat(np.arange(n // 2), 2)
    df = pd.DataFrame({"account": acc, "asset": np.tile(["WETH", "USDC"], n // 2),
                       "collateral": 1.0, "debt": 0.0})
    df.loc[n - 1, "asset"] = "WETH"  # the very last row repeats the row above it
    p = _write(df, tmp_path / "big.parquet")
    t = time.perf_counter()
    with pytest.raises(DataError) as ei:
        load_positions(p, params)
    assert time.perf_counter() - t < 5.0
    assert ei.value.row == n and f"(first in row {n - 1})" in str(ei.value)
