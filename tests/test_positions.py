"""Position files: round trips and every validation error naming the file and the row/column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqcascade.errors import DataError
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.io.positions import load_positions, write_positions
from liqcascade.model.book import PositionBook


@pytest.fixture(scope="module")
def params():
    return load_aave_reserve_config().params


def _frame():
    return pd.DataFrame(
        {
            "account": ["0xbob", "0xalice", "0xalice", "0xbob", "0xcarol", "0xcarol"],
            "asset": ["WBTC", "WETH", "USDC", "USDT", "wstETH", "WETH"],
            "collateral": [1.5, 10.0, 0.0, 0.0, 100.0, 0.0],
            "debt": [0.0, 0.0, 12_000.0, 20_000.5, 0.0, 80.0],
            "emode": [0, 0, 0, 0, 1, 1],
        }
    )


def _write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_by_hand(tmp_path, params, suffix):
    book = load_positions(_write(_frame(), tmp_path / f"pos{suffix}"), params)
    assert book.assets == params.symbols
    assert list(book.account_ids) == ["0xalice", "0xbob", "0xcarol"]
    assert book.n_rows == 6 and list(book.offsets) == [0, 2, 4, 6]
    assert list(book.emode) == [0, 0, 1]
    wbtc = params.index("WBTC")
    row = np.flatnonzero((book.account == 1) & (book.asset == wbtc))
    assert book.collateral[row].tolist() == [1.5]
    _, debt = book.totals_by_asset()
    assert debt[params.index("USDT")] == 20_000.5


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path, params, suffix):
    rng = np.random.default_rng(0)
    n = 300
    coll_assets = [params.index(s) for s in ("WETH", "WBTC", "LINK")]
    debt_assets = [params.index(s) for s in ("USDC", "DAI")]
    acc = rng.integers(0, 100, n)
    asset = np.where(rng.random(n) < 0.5, rng.choice(coll_assets, n), rng.choice(debt_assets, n))
    is_debt = np.isin(asset, debt_assets)
    amt = rng.lognormal(3, 2, n)
    book = PositionBook.from_rows(
        [f"acct{a:03d}" for a in acc], asset, np.where(is_debt, 0, amt), np.where(is_debt, amt, 0), params.symbols
    )
    path = write_positions(book, tmp_path / f"book{suffix}")
    back = load_positions(path, params)
    assert list(back.account_ids) == list(book.account_ids)
    for f in ("account", "asset", "collateral", "debt", "emode", "offsets"):
        np.testing.assert_array_equal(getattr(back, f), getattr(book, f), err_msg=f)


def test_round_trip_integer_labels_and_emode(tmp_path, params):
    weth, wst = params.index("WETH"), params.index("wstETH")
    book = PositionBook.from_rows([7, 7, 3], [wst, weth, weth], [5.0, 0.0, 1.0], [0.0, 4.0, 0.0],
                                  params.symbols, emode={7: 1})
    back = load_positions(write_positions(book, tmp_path / "b.parquet"), params)
    assert back.account_ids.tolist() == [3, 7] and back.emode.tolist() == [0, 1]


# ----------------------------------------------------------------------- errors
def _err(path: Path, params) -> DataError:
    with pytest.raises(DataError) as ei:
        load_positions(path, params)
    assert str(path) in str(ei.value)
    return ei.value


def test_missing_file(tmp_path, params):
    e = _err(tmp_path / "none.csv", params)
    assert "not found" in str(e)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_unreadable_file(tmp_path, params, suffix):
    p = tmp_path / f"junk{suffix}"
    p.write_bytes(b"\x00\x01PAR1garbage" if suffix == ".parquet" else b'account,asset\n"unterminated\n')
    e = _err(p, params)
    assert e.row is None and "cannot read" in str(e)


def test_unknown_suffix(tmp_path, params):
    p = tmp_path / "pos.xlsx"
    p.write_text("x")
    assert ".csv" in str(_err(p, params))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_missing_column_lists_expected(tmp_path, params, suffix):
    p = _write(_frame().drop(columns="debt"), tmp_path / f"p{suffix}")
    e = _err(p, params)
    assert e.row is None
    assert "'debt'" in str(e) and "account" in str(e) and "collateral" in str(e)


def test_unexpected_column(tmp_path, params):
    p = _write(_frame().rename(columns={"emode": "emod"}), tmp_path / "p.csv")
    assert "'emod'" in str(_err(p, params))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_non_numeric_amount(tmp_path, params, suffix):
    df = _frame().astype({"collateral": str})  # a text column, as a spreadsheet export may give
    df.loc[3, "collateral"] = "lots"
    e = _err(_write(df, tmp_path / f"p{suffix}"), params)
    assert e.row == 4 and "collateral" in str(e) and "row 4" in str(e)


@pytest.mark.parametrize("bad, why", [(np.nan, "NaN"), (-1.0, ">= 0"), (np.inf, ">= 0")])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_nan_and_negative_amounts(tmp_path, params, bad, why, suffix):
    df = _frame()
    df.loc[2, "debt"] = bad
    e = _err(_write(df, tmp_path / f"p{suffix}"), params)
    assert e.row == 3 and "debt" in str(e) and why in str(e)


def test_empty_amount_cell(tmp_path, params):
    p = tmp_path / "p.csv"
    p.write_text("account,asset,collateral,debt\na,WETH,1,0\nb,WETH,,0\n")
    e = _err(p, params)
    assert e.row == 2 and "collateral" in str(e)


def test_unknown_asset_lists_known(tmp_path, params):
    df = _frame()
    df.loc[4, "asset"] = "DOGE"
    e = _err(_write(df, tmp_path / "p.parquet"), params)
    assert e.row == 5 and "'DOGE'" in str(e) and "WETH" in str(e) and "USDC" in str(e)


def test_debt_in_non_borrowable_asset(tmp_path, params):
    # AAVE has borrowingEnabled false in the snapshot
    df = _frame()
    df.loc[1, ["asset", "debt"]] = ["AAVE", 3.0]
    e = _err(_write(df, tmp_path / "p.csv"), params)
    assert e.row == 2 and "'AAVE'" in str(e) and "borrowable" in str(e)


def test_collateral_in_non_borrowable_asset_is_fine(tmp_path, params):
    df = _frame()
    df.loc[1, ["asset", "collateral"]] = ["AAVE", 3.0]
    load_positions(_write(df, tmp_path / "p.csv"), params)


def test_unknown_emode(tmp_path, params):
    df = _frame()
    df["emode"] = [0, 0, 0, 0, 2, 2]
    e = _err(_write(df, tmp_path / "p.parquet"), params)
    assert e.row == 5 and "e-mode" in str(e) and "2" in str(e)


def test_non_integer_emode(tmp_path, params):
    df = _frame().astype({"emode": object})
    df.loc[0, "emode"] = "one"
    e = _err(_write(df, tmp_path / "p.csv"), params)
    assert "emode" in str(e)


def test_account_rows_disagree_on_emode(tmp_path, params):
    df = _frame()
    df["emode"] = [0, 0, 0, 0, 1, 0]
    e = _err(_write(df, tmp_path / "p.csv"), params)
    assert "0xcarol" in str(e) and e.row in (5, 6) and "e-mode" in str(e)


def test_empty_account(tmp_path, params):
    p = tmp_path / "p.csv"
    p.write_text("account,asset,collateral,debt\na,WETH,1,0\n,WETH,1,0\n")
    e = _err(p, params)
    assert e.row == 2 and "account" in str(e)


def test_large_parquet_is_vectorized(tmp_path, params):
    # 250k rows must load well under a second or two; per-row Python would take far longer
    import time

    n = 250_000
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "account": pd.Series(rng.integers(0, 100_000, n)).map("0x{:040x}".format),
            "asset": np.where(rng.random(n) < 0.5, "WETH", "USDC"),
            "collateral": rng.random(n),
            "debt": 0.0,
        }
    ).drop_duplicates(["account", "asset"])  # one row per holding (repeats are refused)
    p = _write(df, tmp_path / "big.parquet")
    t = time.perf_counter()
    book = load_positions(p, params)
    assert time.perf_counter() - t < 5.0
    assert book.collateral.sum() == pytest.approx(df["collateral"].sum())
