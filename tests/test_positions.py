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


# ------------------------------------------------------------- books in health order
def _ordered(params):
    """Three accounts whose HF order (at the snapshot's prices) is not their label order:
    0xc HF 0.5 (1 WETH, LT 0.83, debt 2 x the WETH price * 0.83), 0xa HF 2, 0xb no debt (inf)."""
    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.protocols.aave_v3 import V3_3
    from liqcascade.protocols.aave_v3.rules import AaveV3Rules

    snap = load_aave_reserve_config()
    weth, usdc = params.index("WETH"), params.index("USDC")
    px = snap.price_array
    lt = float(params.liquidation_threshold[weth])
    owe = px[weth] * lt / px[usdc]  # the USDC debt that puts 1 WETH at HF 1
    book = PositionBook.from_rows(["0xa", "0xa", "0xb", "0xc", "0xc"], [weth, usdc, weth, weth, usdc],
                                  [1.0, 0.0, 3.0, 1.0, 0.0], [0.0, owe / 2, 0.0, 0.0, owe * 2], params.symbols)
    rules = AaveV3Rules(params, V3_3)
    return book.in_health_order(rules, px), rules, px


def test_a_book_in_health_order_keeps_its_order_and_marker_in_parquet(tmp_path, params):
    ordered, rules, px = _ordered(params)
    assert ordered.account_ids.tolist() == ["0xc", "0xa", "0xb"]
    back = load_positions(write_positions(ordered, tmp_path / "o.parquet"), params)
    assert back.account_ids.tolist() == ["0xc", "0xa", "0xb"]
    assert back.health_order.at(px) and back.health_order.rank.tolist() == [2, 0, 1]  # by label: a, b, c
    for f in ("account", "asset", "collateral", "debt", "emode", "offsets"):
        np.testing.assert_array_equal(getattr(back, f), getattr(ordered, f), err_msg=f)
    # a CSV has no metadata: the same rows in the same order, read by label as any file
    plain_back = load_positions(write_positions(ordered, tmp_path / "o.csv"), params)
    assert plain_back.health_order is None and plain_back.account_ids.tolist() == ["0xa", "0xb", "0xc"]
    assert pd.read_csv(tmp_path / "o.csv")["account"].tolist() == ["0xc", "0xc", "0xa", "0xa", "0xb"]


def _with_marker(tmp_path, frame: pd.DataFrame, note: bytes) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    path = tmp_path / "m.parquet"
    pq.write_table(table.replace_schema_metadata({b"liqcascade.health_order": note}), path)
    return path


@pytest.mark.parametrize("note, says", [
    (b"{not json", "must be JSON"),
    (b'{"assets": ["WETH"]}', "must be JSON"),
    (b'{"assets": ["WETH", "USDC"], "prices": [1.0]}', "one price per asset"),
    (b'{"assets": ["WETH"], "prices": [-1.0]}', "finite prices > 0"),
])
def test_a_bad_health_order_marker_is_refused(tmp_path, params, note, says):
    e = _err(_with_marker(tmp_path, _frame(), note), params)
    assert "liqcascade.health_order" in str(e) and says in str(e)


def test_a_file_in_health_order_keeps_each_accounts_rows_together(tmp_path, params):
    # _frame() has 0xbob's rows at rows 1 and 4, with 0xalice's between
    e = _err(_with_marker(tmp_path, _frame(), b'{"assets": ["WETH"], "prices": [2000.0]}'), params)
    assert e.row == 4 and "0xbob" in str(e) and "together" in str(e)


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


def test_a_scenario_on_its_book_stored_in_health_order_sorts_nothing_and_gives_the_same_tables(tmp_path):
    """examples/small_book.toml, and the same scenario on its book written to Parquet in health order
    at the scenario's own rules and reference prices: the solver takes the book as sorted, and
    run_static's five tables are the CSV book's."""
    from liqcascade.engine.run import run_static
    from liqcascade.engine.static import SortedBook
    from liqcascade.io.config import load_scenario
    from liqcascade.io.scenario import build

    path = Path(__file__).parent.parent / "examples" / "small_book.toml"
    cfg, base = load_scenario(path)
    sc = build(cfg, base, str(path))
    m = sc.model
    stored = write_positions(m.book.in_health_order(m.rules, m.prices), tmp_path / "ordered.parquet")
    cfg2 = cfg.model_copy(update={"positions": cfg.positions.model_copy(update={"path": str(stored)})})
    sc2 = build(cfg2, base, str(path))
    assert sc2.model.book.health_order.at(sc2.model.prices)
    assert sc2.model.book.account_ids.tolist() != m.book.account_ids.tolist()  # not the label order
    assert SortedBook.partial(sc2.model, 0.0).n_sorted == m.book.n_accounts  # nothing left to sort
    a, b = run_static(m, dict(cfg.shock), sc.settings), run_static(sc2.model, dict(cfg.shock), sc2.settings)
    for name in a.tables:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
