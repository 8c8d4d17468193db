"""The positions importer: column mapping, symbol aliases, raw integer amounts, DataFrames.

Expected amounts are the raw integers of the example export divided by hand by 10**decimals
(USDC and USDT 6, WBTC 8, the rest 18: Aave v3 Ethereum's reserve configuration)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.errors import ConfigError, DataError
from liqcascade.io import scenario as S
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.io.importer import ImportSpec, import_positions

REPO = Path(__file__).resolve().parents[2]
DUNE = ImportSpec(columns={"account": "user", "asset": "symbol", "collateral": "supplied_amount",
                           "debt": "borrowed_amount"}, aliases={"ETH": "WETH"}, raw=True)


@pytest.fixture(scope="module")
def params():
    return load_aave_reserve_config().params


def _holdings(book) -> dict[tuple[str, str], tuple[float, float]]:
    return {(str(book.account_ids[a]), book.assets[s]): (c, d)
            for a, s, c, d in zip(book.account, book.asset, book.collateral.tolist(), book.debt.tolist())}


def _addr(n: int) -> str:
    return "0x" + "0" * 38 + f"b{n}"


def test_shipped_dune_export_by_hand(params):
    book = import_positions(REPO / "examples" / "dune_export.csv", params, DUNE)
    assert _holdings(book) == {
        (_addr(1), "WETH"): (120.0, 0.0),  # 120000000000000000000 wei of "weth"
        (_addr(1), "USDC"): (0.0, 150_000.0),  # 150000000000 / 1e6 of "usdc"
        (_addr(2), "WETH"): (40.5, 0.0),  # "ETH" by the alias
        (_addr(2), "USDT"): (0.0, 52_000.25),
        (_addr(3), "WBTC"): (2.5, 0.0),  # 250000000 / 1e8
        (_addr(3), "DAI"): (0.0, 60_000.0),  # 23 digits / 1e18
        (_addr(4), "wstETH"): (10.0, 0.0),  # "wsteth": case-insensitive
        (_addr(4), "WETH"): (0.0, 7.25),
    }


def test_shipped_example_scenario_reads_the_export(tmp_path):
    for f in ("dune_export.toml", "dune_export.csv"):
        shutil.copy(REPO / "examples" / f, tmp_path / f)
    sc = S.load(tmp_path / "dune_export.toml")
    book = sc.model.book
    assert book.n_accounts == 4 and book.n_rows == 8
    assert book.collateral[book.asset == book.assets.index("WETH")].sum() == 160.5


def test_without_the_mapping_the_export_is_refused_naming_its_columns(params):
    with pytest.raises(DataError, match=r"dune_export.csv: missing column\(s\) \['account', 'asset', 'collateral', "
                                        r"'debt'\]"):
        import_positions(REPO / "examples" / "dune_export.csv", params)


def test_raw_amounts_without_raw_overflow_at_their_row(tmp_path, params):
    """Two raw wei debts read as whole tokens: the USD sum passes the limit at row 2."""
    p = tmp_path / "wei.csv"
    p.write_text("user,symbol,supplied,borrowed\n0xa,WETH,0,1e305\n0xb,WETH,0,1e305\n")
    spec = ImportSpec(columns={"account": "user", "asset": "symbol", "collateral": "supplied", "debt": "borrowed"})
    with pytest.raises(DataError, match=r"wei.csv: row 2: the debt in WETH adds up past 1.8e\+305 tokens"):
        import_positions(p, params, spec)


def test_non_integer_raw_amount_names_row_and_column(tmp_path, params):
    p = tmp_path / "x.csv"
    p.write_text("user,symbol,supplied_amount,borrowed_amount\n0xa,WETH,1000,0\n0xb,WETH,1.5,0\n")
    with pytest.raises(DataError, match=r"x.csv: row 2: column 'supplied_amount' must be a raw integer amount >= 0 "
                                        r"\(raw = true.*got '1.5'"):
        import_positions(p, params, DUNE)


def test_negative_raw_amount_refused(tmp_path, params):
    p = tmp_path / "x.csv"
    p.write_text("user,symbol,supplied_amount,borrowed_amount\n0xa,WETH,0,-5\n")
    with pytest.raises(DataError, match=r"x.csv: row 1: column 'borrowed_amount' must be a raw integer amount"):
        import_positions(p, params, DUNE)


def test_unknown_symbol_after_aliases_names_row(tmp_path, params):
    p = tmp_path / "x.csv"
    p.write_text("user,symbol,supplied_amount,borrowed_amount\n0xa,weth,1,0\n0xb,DOGE,1,0\n")
    with pytest.raises(DataError, match=r"x.csv: row 2: unknown asset 'DOGE'"):
        import_positions(p, params, DUNE)


def test_alias_to_a_symbol_the_market_lacks_names_the_key(tmp_path, params):
    spec = ImportSpec(columns=dict(DUNE.columns), aliases={"BTC": "XBT"}, raw=True)
    with pytest.raises(ConfigError, match=r"<python>: spec.aliases.BTC: expected a market symbol"):
        import_positions(REPO / "examples" / "dune_export.csv", params, spec)


def test_mapped_column_missing_names_the_key(params):
    spec = ImportSpec(columns={**DUNE.columns, "debt": "borrowed"}, raw=True)
    with pytest.raises(DataError, match=r"no column 'borrowed' \(for 'debt'; set spec.columns.debt\)"):
        import_positions(REPO / "examples" / "dune_export.csv", params, spec)


def test_decimals_override(tmp_path, params):
    p = tmp_path / "x.csv"
    p.write_text("user,symbol,supplied_amount,borrowed_amount\n0xa,WETH,1000,0\n")
    spec = ImportSpec(columns=dict(DUNE.columns), decimals={"WETH": 3}, raw=True)
    assert import_positions(p, params, spec).collateral.tolist() == [1.0]


def test_decimals_without_raw_refused(params):
    spec = ImportSpec(columns=dict(DUNE.columns), decimals={"WETH": 3})
    with pytest.raises(ConfigError, match=r"spec.decimals: expected decimals only with raw = true"):
        import_positions(REPO / "examples" / "dune_export.csv", params, spec)


@given(st.integers(0, 10**40), st.sampled_from(["WETH", "USDC", "WBTC"]))
def test_raw_division_is_exact_then_rounded_once(n, sym):
    """int / 10**d is the correctly rounded quotient: the float nearest n / 10**d, checked
    against Fraction arithmetic (no float overflow on the way for 40-digit amounts)."""
    from fractions import Fraction

    params = load_aave_reserve_config().params
    d = int(params.decimals[params.index(sym)])
    frame = pd.DataFrame({"account": ["a"], "asset": [sym], "collateral": [str(n)], "debt": ["0"]})
    got = import_positions(frame, params, ImportSpec(raw=True)).collateral[0]
    assert Fraction(got) == Fraction(n, 10**d) or abs(Fraction(got) - Fraction(n, 10**d)) <= Fraction(
        np.spacing(got)) / 2


def test_dataframe_errors_name_the_argument_and_row(params):
    frame = pd.DataFrame({"account": ["a", "b", "c"], "asset": ["WETH", "WETH", "USDC"],
                          "collateral": [1.0, 2.0, -3.0], "debt": [0.0, 0.0, 0.0]})
    with pytest.raises(DataError, match=r"^positions \(DataFrame\): row 3: column 'collateral' must be a finite "
                                        r"number >= 0, got -3.0$"):
        import_positions(frame, params)


def test_scenario_with_a_dataframe_book(tmp_path):
    """A scenario whose [positions] has no path takes a DataFrame; the run id follows its content."""
    text = (REPO / "examples" / "dune_export.toml").read_text().replace('path = "dune_export.csv"\n', "")
    (tmp_path / "s.toml").write_text(text)
    frame = pd.read_csv(REPO / "examples" / "dune_export.csv", dtype=str)
    a = S.load(tmp_path / "s.toml", positions=frame)
    assert a.model.book.n_rows == 8
    frame2 = frame.copy()
    frame2.loc[0, "supplied_amount"] = "121000000000000000000"
    b = S.load(tmp_path / "s.toml", positions=frame2)
    assert b.model.book.collateral.sum() == a.model.book.collateral.sum() + 1.0
    assert a.resolved()["positions"]["path"] != b.resolved()["positions"]["path"]
    from liqcascade import api

    ra, rb = api.run(a, store=tmp_path / "store"), api.run(b, store=tmp_path / "store")
    assert ra.run_id != rb.run_id  # a different frame is a different run, not the stored one
    with pytest.raises(ConfigError, match=r"dune_export.toml: positions: expected source = 'file' and no path"):
        S.load(REPO / "examples" / "dune_export.toml", positions=frame)


def test_mapping_keys_on_a_synthetic_book_refused(tmp_path):
    from liqcascade.io.config import parse_scenario

    cfg = parse_scenario({"name": "x", "market": {"protocol": "aave_v3", "version": "3.7"},
                          "positions": {"source": "synthetic", "n_accounts": 10, "raw": True}}, "x.toml")
    with pytest.raises(ConfigError, match=r"x.toml: positions.raw: expected nothing when positions.source = "
                                          r"'synthetic'"):
        S.build(cfg, tmp_path, "x.toml")


def test_parquet_integer_and_decimal_columns(tmp_path, params):
    """Raw amounts as a Parquet int64 column and as DECIMAL(38, 0) (25 digits) divide the same way."""
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pa.table({"user": ["a", "b"], "symbol": ["USDC", "DAI"],
                  "supplied_amount": pa.array([2_500_000, 0], pa.int64()),
                  "borrowed_amount": pa.array([Decimal(0), Decimal("1234567000000000000000000")], pa.decimal128(38, 0))})
    pq.write_table(t, tmp_path / "x.parquet")
    book = import_positions(tmp_path / "x.parquet", params, DUNE)
    assert _holdings(book) == {("a", "USDC"): (2.5, 0.0), ("b", "DAI"): (0.0, 1_234_567.0)}


def test_negative_integer_column_refused_at_its_row(params):
    frame = pd.DataFrame({"account": ["a", "b"], "asset": ["WETH", "WETH"],
                          "collateral": [10**18, -(10**18)], "debt": [0, 0]})
    with pytest.raises(DataError, match=r"^positions \(DataFrame\): row 2: column 'collateral' must be a raw integer "
                                        r"amount >= 0 .* got -1000000000000000000$"):
        import_positions(frame, params, ImportSpec(raw=True))
