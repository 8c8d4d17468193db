"""Read and write position books as long-format CSV or Parquet files.

One row per (account, asset) holding:

=============  ========  =====================================================
column         required  meaning
=============  ========  =====================================================
``account``    yes       the account's label (address string or integer)
``asset``      yes       asset symbol, one of the market's ``RiskParams.symbols``
``collateral`` yes       supplied amount, whole tokens, finite, >= 0
``debt``       yes       borrowed amount, whole tokens, finite, >= 0
``emode``      no        the account's e-mode category (integer, 0 = none);
                         every row of an account must carry the same value
=============  ========  =====================================================

Rows may come in any order; an (account, asset) pair appears in one row only (a repeated pair
is refused, naming both rows, rather than silently added up). Every check is
vectorized (a 2.5 M-row Parquet file loads in seconds) and every failure is a
:class:`~liqcascade.errors.DataError` naming the file and the 1-based data row (the header is
not counted) or the column.

A book in health order (``PositionBook.in_health_order``) is written in that order, and in a
Parquet file with the marker in the file's metadata (key ``liqcascade.health_order``: JSON with
the ``assets`` and the ``prices`` it is in order at); reading such a file keeps the accounts in
the file's order and restores the marker, so an engine at those prices needs no sorted copy of
the book. Its accounts' rows must then be together (one run of rows per account). A CSV file
carries no metadata: it is written in the same order and read by label, as any other.

Supplying an asset whose liquidation threshold is 0 is allowed (Aave lets you supply it; it
simply never counts as collateral). Borrowing an asset whose ``borrowable`` flag is off is not.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from liqcascade.errors import DataError, plain
from liqcascade.model.book import HealthOrder, PositionBook
from liqcascade.model.params import RiskParams

REQUIRED_COLUMNS = ("account", "asset", "collateral", "debt")
OPTIONAL_COLUMNS = ("emode",)
_EXPECTED = f"columns {list(REQUIRED_COLUMNS)} and optionally {list(OPTIONAL_COLUMNS)}"


def _format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise DataError(str(path), None, f"unknown file type {path.suffix!r}: expected .csv, .csv.gz, .parquet or .pq")


def _read_table(path: Path, text_columns: list[str] | tuple[str, ...] = ("asset", "account")) -> pa.Table:
    """The file as an Arrow table; in a CSV, ``text_columns`` stay text as written."""
    src = str(path)
    if not path.exists():
        raise DataError(src, None, "file not found")
    if not path.is_file():
        raise DataError(src, None, "not a regular file")
    fmt = _format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pcsv

        return pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                # account labels are text in a CSV: "0xa1" or "0001" must stay as written
                column_types={c: pa.string() for c in text_columns},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise DataError(src, None, f"cannot read the file as {fmt.upper()}: {exc}") from None


def _first(mask: np.ndarray) -> int:
    """1-based index of the first True."""
    return int(np.flatnonzero(mask)[0]) + 1


def _amount(table: pa.Table, name: str, src: str) -> np.ndarray:
    col = table.column(name)
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        arr = pc.cast(col, pa.float64())
        null = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        if null.any():
            raise DataError(src, _first(null), f"column {name!r} is empty (missing or NaN); expected a number >= 0")
        x = arr.to_numpy(zero_copy_only=False)
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        # a CSV column with a non-numeric cell is inferred as text: find the first bad cell
        s = pd.Series(col.to_numpy(zero_copy_only=False), dtype=object)
        x_s = pd.to_numeric(s, errors="coerce")
        bad = x_s.isna().to_numpy() & ~s.astype(str).str.strip().str.lower().isin(["nan"]).to_numpy()
        if bad.any():
            r = _first(bad)
            raise DataError(src, r, f"column {name!r} must be numeric (token units), got {plain(s.iloc[r - 1])!r}")
        x = x_s.to_numpy(dtype=np.float64)
    else:
        raise DataError(src, None, f"column {name!r} must be numeric (token units), got type {t}")
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    if nan.any():
        raise DataError(src, _first(nan), f"column {name!r} is NaN; expected a finite number >= 0")
    bad = ~np.isfinite(x) | (x < 0)
    if bad.any():
        r = _first(bad)
        raise DataError(src, r, f"column {name!r} must be a finite number >= 0, got {plain(x[r - 1])!r}")
    return x


def load_positions(path: str | Path, params: RiskParams, prices: np.ndarray | None = None) -> PositionBook:
    """Load a long-format positions file (CSV or Parquet) against ``params``.

    The book's ``assets`` is ``params.symbols``; accounts are ordered by label. See the module
    docstring for the columns and checks; sums that would overflow are refused at their row
    (:func:`check_sums`: token sums always, USD sums given ``prices`` in ``params.symbols`` order).
    """
    p = Path(path)
    return book_from_table(_read_table(p), params, str(p), prices)


def _frame_table(frame: pd.DataFrame, label: str) -> pa.Table:
    """A DataFrame as an Arrow table (its index dropped); errors name ``label``."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(label, None, f"expected a pandas DataFrame, got {type(frame).__name__}")
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise DataError(label, None, f"columns of mixed or unsupported types ({exc})") from None


def book_from_table(table: pa.Table, params: RiskParams, src: str, prices: np.ndarray | None = None) -> PositionBook:
    """A :class:`PositionBook` from an Arrow table in the long format; every check of the
    module docstring, errors naming ``src`` and the 1-based row."""
    if table.num_rows == 0:
        raise DataError(src, None, f"no rows; expected at least one holding ({_EXPECTED})")
    cols = list(table.column_names)
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    unknown = [c for c in cols if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing:
        raise DataError(src, None, f"missing column(s) {missing}; expected {_EXPECTED}, found {cols}")
    if unknown:
        raise DataError(src, None, f"unexpected column(s) {unknown}; expected {_EXPECTED}")
    if len(set(cols)) != len(cols):
        raise DataError(src, None, f"duplicate column names in {cols}; expected {_EXPECTED}")
    n = table.num_rows
    acc_col = _account_column(table, src)
    asset_idx = _asset_index(table, params, src)
    coll = _amount(table, "collateral", src)
    debt = _amount(table, "debt", src)
    check_sums(asset_idx, coll, debt, params.symbols, None if prices is None else np.asarray(prices, np.float64), src)

    borrowable = np.asarray(params.borrowable, dtype=bool)
    bad = (debt > 0) & ~borrowable[asset_idx]
    if bad.any():
        r = _first(bad)
        sym = params.symbols[asset_idx[r - 1]]
        raise DataError(src, r, f"debt in {sym!r}, which is not borrowable in {params.source}")
    emode = _emode_column(table, params, src) if "emode" in cols else None

    # Factorize labels with a hash (pandas) instead of letting from_rows sort object arrays,
    # then put the original labels back: same result, much faster for string addresses.
    codes_acc, uniq = _factorize_sorted(acc_col)
    if emode is not None and n:
        per_acct = np.zeros(len(uniq), dtype=np.int64)
        per_acct[codes_acc] = emode
        clash = per_acct[codes_acc] != emode
        if clash.any():
            r = _first(clash)
            raise DataError(src, r, f"account {plain(uniq[codes_acc[r - 1]])!r} has rows with different e-mode categories "
                                    f"(this row says {int(emode[r - 1])}, another {int(per_acct[codes_acc[r - 1]])})")
    _refuse_repeats(codes_acc, asset_idx, uniq, params.symbols, src)
    book = PositionBook.from_rows(codes_acc, asset_idx, coll, debt, params.symbols, emode=emode, source=src)
    book = dataclasses.replace(book, account_ids=uniq[book.account_ids])
    prices = _health_order_prices(table, params, src)
    if prices is None:
        return book
    # the file's account order; the book by label is account k = label rank k, so that order
    # is also each account's rank in the order the tables list accounts in
    order = _file_account_order(codes_acc, uniq, src)
    return book.permuted(order, HealthOrder(prices, order))


HEALTH_ORDER_KEY = b"liqcascade.health_order"


def _health_order_prices(table: pa.Table, params: RiskParams, src: str) -> tuple[float, ...] | None:
    """The prices (in ``params.symbols`` order) a file's health-order marker names, None when it
    has none; an asset the marker gives no price for gets NaN (no engine's prices match it)."""
    meta = table.schema.metadata or {}
    if HEALTH_ORDER_KEY not in meta:
        return None
    what = f"metadata {HEALTH_ORDER_KEY.decode()!r}"
    try:
        marker = json.loads(meta[HEALTH_ORDER_KEY])
        assets, prices = list(marker["assets"]), [float(x) for x in marker["prices"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise DataError(src, None, f"{what} must be JSON with lists 'assets' and 'prices' ({exc})") from None
    if len(assets) != len(prices) or len(set(assets)) != len(assets):
        raise DataError(src, None, f"{what}: expected one price per asset, each asset once; got {len(assets)} "
                                   f"assets and {len(prices)} prices")
    if not all(np.isfinite(x) and x > 0 for x in prices):
        raise DataError(src, None, f"{what}: expected finite prices > 0, got {prices}")
    by_symbol = dict(zip(assets, prices))
    return tuple(by_symbol.get(s, float("nan")) for s in params.symbols)


def _file_account_order(codes: np.ndarray, labels: np.ndarray, src: str) -> np.ndarray:
    """The accounts (their label ranks ``codes``) in the order their rows come in the file;
    a :class:`DataError` at the first row of an account met again after another's rows."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    order = codes[starts]
    if order.shape[0] != labels.shape[0]:
        seen = np.zeros(labels.shape[0], dtype=bool)
        for s in starts.tolist():  # only on a bad file: the account met twice, reading down
            if seen[codes[s]]:
                raise DataError(src, s + 1, f"account {plain(labels[codes[s]])!r} again after other accounts' rows; "
                                            "a file in health order keeps each account's rows together")
            seen[codes[s]] = True
    return order.astype(np.int64)


def _account_column(table: pa.Table, src: str) -> pa.ChunkedArray:
    """The account labels: any scalar type, never empty."""
    acc_col = table.column("account")
    if not (pa.types.is_integer(acc_col.type) or pa.types.is_string(acc_col.type)
            or pa.types.is_large_string(acc_col.type) or pa.types.is_dictionary(acc_col.type)):
        raise DataError(src, None, f"column 'account' must hold strings or integers, got type {acc_col.type}")
    acc_null = np.asarray(acc_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if acc_null.any():
        raise DataError(src, _first(acc_null), "column 'account' is empty; every row needs an account")
    if pa.types.is_string(acc_col.type) or pa.types.is_large_string(acc_col.type):
        empty = np.asarray(pc.equal(pc.utf8_trim_whitespace(acc_col), "").to_numpy(zero_copy_only=False), dtype=bool)
        if empty.any():
            raise DataError(src, _first(empty), "column 'account' is empty; every row needs an account")
    return acc_col


def _asset_index(table: pa.Table, params: RiskParams, src: str) -> np.ndarray:
    """Asset symbols -> index into ``params.symbols`` (hash once per distinct symbol)."""
    n = table.num_rows
    asset_col = table.column("asset")
    if pa.types.is_dictionary(asset_col.type):
        asset_col = pc.cast(asset_col, pa.string())
    if not (pa.types.is_string(asset_col.type) or pa.types.is_large_string(asset_col.type)):
        raise DataError(src, None, f"column 'asset' must hold asset symbols (text), got type {asset_col.type}")
    a_null = np.asarray(asset_col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if a_null.any():
        raise DataError(src, _first(a_null), f"column 'asset' is empty; expected one of {list(params.symbols)}")
    enc = pc.dictionary_encode(asset_col.combine_chunks() if n else pa.array([], pa.string()))
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    names = enc.dictionary.to_pylist()
    pos = {s: i for i, s in enumerate(params.symbols)}
    remap = np.array([pos.get(s, -1) for s in names], dtype=np.int64)
    asset_idx = remap[codes] if n else np.zeros(0, dtype=np.int64)
    unknown_rows = asset_idx < 0
    if unknown_rows.any():
        r = _first(unknown_rows)
        raise DataError(src, r, f"unknown asset {names[codes[r - 1]]!r}; known assets: {list(params.symbols)}")
    return asset_idx


def _emode_column(table: pa.Table, params: RiskParams, src: str) -> np.ndarray:
    """The e-mode category per row: whole numbers, each 0 or a category of ``params``."""
    ecol = table.column("emode")
    if not pa.types.is_integer(ecol.type):
        if pa.types.is_floating(ecol.type):
            ev = ecol.to_numpy(zero_copy_only=False)
            frac = ~np.isfinite(ev) | (ev != np.round(ev))
            if frac.any():
                r = _first(frac)
                raise DataError(src, r, f"column 'emode' must be an integer category id, got {plain(ev[r - 1])!r}")
        else:
            raise DataError(src, None, f"column 'emode' must hold integer category ids, got type {ecol.type}")
    e_null = np.asarray(ecol.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if e_null.any():
        raise DataError(src, _first(e_null), "column 'emode' is empty; use 0 for no e-mode")
    emode = np.asarray(ecol.to_numpy(zero_copy_only=False)).astype(np.int64)
    known = np.array([0] + [e.id for e in params.emodes], dtype=np.int64)
    bad = ~np.isin(emode, known)
    if bad.any():
        r = _first(bad)
        raise DataError(src, r, f"unknown e-mode category {int(emode[r - 1])}; known: {known.tolist()}")
    return emode


# Sums must stay this far below float64's largest value: the engines multiply them by prices
# that may rise 11-fold (a shock above -10), by 1 + bonus (< 2) and add them across assets.
SUM_LIMIT = float(np.finfo(np.float64).max) / 1e3


def check_sums(asset: np.ndarray, coll: np.ndarray, debt: np.ndarray, symbols, prices: np.ndarray | None,
               src: str) -> None:
    """A :class:`DataError` at the first row (reading down) with which a sum the engines form
    passes :data:`SUM_LIMIT`: an asset's collateral or debt in tokens, or (given ``prices``) the
    book's value in USD (which bounds every account's and every asset's USD sum, all terms being
    >= 0). Vectorized: running sums in row order."""
    k = len(symbols)
    with np.errstate(over="ignore", invalid="ignore"):
        for name, x in (("collateral", coll), ("debt", debt)):
            # one pass for the totals; the running sums (to name the row) only for an asset over
            totals = np.bincount(asset, weights=x, minlength=k)
            for a in np.flatnonzero(~(totals <= SUM_LIMIT)):
                rows = np.flatnonzero(asset == a)
                run = np.cumsum(x[rows])
                over = ~(run <= SUM_LIMIT)
                if over.any():
                    r = int(rows[np.argmax(over)]) + 1
                    raise DataError(src, r, f"the {name} in {symbols[a]} adds up past {SUM_LIMIT:.3g} tokens "
                                            "with this row; expected amounts in whole tokens (raw integer amounts "
                                            "need decimals: see docs/positions.md)")
        if prices is None:
            return
        value = (coll + debt) * prices[asset]
        if value.sum() <= SUM_LIMIT:
            return
        usd = np.cumsum(value)
    over = ~(usd <= SUM_LIMIT)
    if over.any():
        r = int(np.argmax(over)) + 1
        raise DataError(src, r, f"the book's collateral and debt add up past ${SUM_LIMIT:.3g} at the reference "
                                f"price of {symbols[asset[r - 1]]} ({plain(prices[asset[r - 1]])}) with this row; "
                                "expected amounts in whole tokens (raw integer amounts need decimals: see "
                                "docs/positions.md)")


def _refuse_repeats(acc: np.ndarray, asset: np.ndarray, labels: np.ndarray, symbols, src: str) -> None:
    """A :class:`DataError` at the first row (reading down) whose (account, asset) pair an
    earlier row already holds, naming both rows; vectorized (one stable sort)."""
    n = acc.shape[0]
    if n < 2:
        return
    key = acc.astype(np.int64) * len(symbols) + asset.astype(np.int64)
    order = np.argsort(key, kind="stable")  # equal keys keep their row order
    ks = key[order]
    repeat = np.r_[False, ks[1:] == ks[:-1]]
    if not repeat.any():
        return
    first_of_group = order[np.maximum.accumulate(np.where(~repeat, np.arange(n), 0))]
    j = np.flatnonzero(repeat)
    j = j[np.argmin(order[j])]  # the repeat met first reading the file top down
    first, again = int(first_of_group[j]) + 1, int(order[j]) + 1
    raise DataError(src, again, f"account {plain(labels[acc[again - 1]])!r} holds {symbols[asset[again - 1]]} "
                                f"again (first in row {first}); expected one row per (account, asset): add the "
                                "amounts into one row")


def _factorize_sorted(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Codes per row and sorted distinct labels, hashing in Arrow (no Python object per row)."""
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    enc = pc.dictionary_encode(arr)
    order = pc.array_sort_indices(enc.dictionary).to_numpy(zero_copy_only=False)
    rank = np.empty(order.shape[0], dtype=np.int64)
    rank[order] = np.arange(order.shape[0], dtype=np.int64)
    codes = rank[enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
    uniq = enc.dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
    return codes, uniq


def write_positions(book: PositionBook, path: str | Path) -> Path:
    """Write ``book`` in the long format :func:`load_positions` reads (by suffix: CSV or Parquet).

    Columns: account, asset, collateral, debt, emode, rows in the book's order; a book in
    health order carries its marker in a Parquet file's metadata. Returns the path written.
    """
    p = Path(path)
    fmt = _format(p)
    labels = book.account_ids[book.account]
    table = pa.table(
        {
            "account": pa.array(labels),
            "asset": pa.array(np.asarray(book.assets, dtype=object)[book.asset], type=pa.string())
            if book.n_rows else pa.array([], pa.string()),
            "collateral": pa.array(book.collateral, type=pa.float64()),
            "debt": pa.array(book.debt, type=pa.float64()),
            "emode": pa.array(book.emode[book.account].astype(np.int64), type=pa.int64()),
        }
    )
    marker = book.health_order
    if fmt == "parquet":
        import pyarrow.parquet as pq

        if marker is not None and marker.prices:  # the rows are in that order already
            note = json.dumps({"assets": list(book.assets), "prices": list(marker.prices)})
            table = table.replace_schema_metadata({HEALTH_ORDER_KEY: note.encode()})
        pq.write_table(table, p)
    else:
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, p)
    return p
