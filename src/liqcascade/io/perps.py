"""Reading perp books: an accounts file and a positions file (CSV or Parquet), docs/perps.md.

Accounts (one row per margin account)::

    account      text     the margin account's label
    collateral   number   USDC deposited, >= 0
    margin       text     "cross" or "isolated"
    side         text     optional: "long" / "short" for an isolated account (empty: not declared)
    owner        text     optional: who holds the account (empty column: each account its own)

Positions (one row per account and market)::

    account      text     a label from the accounts file
    market       text     the market's name ("BTC-USD")
    size         number   signed base units, long > 0, never 0
    entry_price  number   USD per unit, > 0
    funding_index number  optional: the cumulative funding index last settled at

Every problem is a :class:`~liqcascade.errors.DataError` naming the file, the 1-based data row
and the column; nothing is built on bad input. With ``max_leverage`` (for dYdX v4:
``DydxV4Rules().max_leverage``) an account whose positions at their entry prices exceed the
engine's leverage cap is refused too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from liqcascade.errors import DataError, plain
from liqcascade.io.positions import _read_table
from liqcascade.model.perps import EITHER, LONG, SHORT, AccountColumns, PerpBook, PositionColumns

__all__ = ["load_perp_book", "ACCOUNT_COLUMNS", "POSITION_COLUMNS"]

ACCOUNT_COLUMNS = ("account", "collateral", "margin")
POSITION_COLUMNS = ("account", "market", "size", "entry_price")
_SIDES = {"long": LONG, "short": SHORT, "": EITHER}


def _require(table: pa.Table, names: tuple[str, ...], src: str) -> None:
    missing = [c for c in names if c not in table.column_names]
    if missing:
        raise DataError(src, None, f"missing column(s) {missing}; expected {list(names)} (see docs/perps.md)")


def _text(table: pa.Table, name: str, src: str) -> np.ndarray:
    col = table.column(name)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        raise DataError(src, None, f"column {name!r} must be text, got type {col.type}")
    values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
    empty = np.array([v is None for v in values])
    if empty.any():
        raise DataError(src, int(np.flatnonzero(empty)[0]) + 1, f"column {name!r} is empty")
    return values.astype(str)


def _numbers(table: pa.Table, name: str, src: str) -> np.ndarray:
    col = table.column(name)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        # a CSV column with a non-numeric cell is read as text: name the first such cell
        cells = pd.Series(col.to_numpy(zero_copy_only=False), dtype=object)
        x = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isnan(x))
        r = int(bad[0]) if bad.size else 0
        raise DataError(src, r + 1 if bad.size else None, f"column {name!r} must be numeric, got {plain(cells.iloc[r])!r}")
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(src, None, f"column {name!r} must be numeric, got type {col.type}")
    x = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
    bad = np.isnan(x)
    if bad.any():
        raise DataError(src, int(np.flatnonzero(bad)[0]) + 1, f"column {name!r} is empty (missing or NaN)")
    return x


def _accounts(path: Path) -> AccountColumns:
    src = str(path)
    table = _read_table(path, text_columns=("account", "margin", "side", "owner"))
    _require(table, ACCOUNT_COLUMNS, src)
    margin = np.char.lower(_text(table, "margin", src))
    bad = ~np.isin(margin, ("cross", "isolated"))
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise DataError(src, r + 1, f"margin: expected 'cross' or 'isolated', got {plain(margin[r])!r}")
    side = None
    if "side" in table.column_names:
        col = np.asarray(table.column("side").to_numpy(zero_copy_only=False), dtype=object)
        words = np.array(["" if v is None else str(v).strip().lower() for v in col])
        bad = ~np.isin(words, list(_SIDES))
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise DataError(src, r + 1, f"side: expected 'long', 'short' or empty, got {plain(col[r])!r}")
        side = np.array([_SIDES[w] for w in words], dtype=np.int8)
    owner = _text(table, "owner", src) if "owner" in table.column_names else None
    return AccountColumns(ids=_text(table, "account", src), collateral=_numbers(table, "collateral", src),
                          isolated=margin == "isolated", side=side, owner=owner, source=src)


def _positions(path: Path) -> tuple[PositionColumns, tuple[str, ...]]:
    src = str(path)
    table = _read_table(path, text_columns=("account", "market"))
    _require(table, POSITION_COLUMNS, src)
    names = _text(table, "market", src)
    markets, index = np.unique(names, return_inverse=True)
    funding = _numbers(table, "funding_index", src) if "funding_index" in table.column_names else None
    cols = PositionColumns(account=_text(table, "account", src), market=index.reshape(-1).astype(np.int64),
                           size=_numbers(table, "size", src), entry_price=_numbers(table, "entry_price", src),
                           funding_index=funding, source=src)
    return cols, tuple(str(m) for m in markets)


def load_perp_book(accounts: str | Path, positions: str | Path,
                   max_leverage: Callable[[str], float] | None = None) -> PerpBook:
    """The perp book of an accounts file and a positions file (markets: the positions'
    market names, sorted). ``max_leverage(market)``: the engine's cap per market."""
    acc = _accounts(Path(accounts))
    pos, markets = _positions(Path(positions))
    book = PerpBook.from_rows(acc, pos, markets)
    if max_leverage is not None:
        _check_leverage(book, acc, max_leverage)
    return book


def _check_leverage(book: PerpBook, acc: AccountColumns, max_leverage: Callable[[str], float]) -> None:
    """An account's notional at entry prices over its collateral may not exceed the cap: for
    a cross account over several markets, the notional-weighted cap Σ n / Σ (n / cap)."""
    cap = np.array([float(max_leverage(m)) for m in book.markets])
    notional = np.abs(book.size) * book.entry_price
    gross = book.per_account(notional)
    needed = book.per_account(notional / cap[book.market])  # the collateral the caps ask for
    over = np.flatnonzero(needed > book.collateral * (1.0 + 1e-12))
    if not over.size:
        return
    k = int(over[0])
    label = book.account_ids[k]
    row = int(np.flatnonzero(np.asarray(acc.ids) == label)[0]) + 1
    lev = gross[k] / book.collateral[k] if book.collateral[k] > 0 else np.inf
    limit = gross[k] / needed[k]
    raise DataError(acc.source, row, f"account {plain(label)!r}: leverage {lev:.4g}x at entry prices is above the "
                                     f"engine's maximum {limit:.4g}x for its markets")
