"""Bring positions exported elsewhere (Dune, a subgraph, a spreadsheet) into the long format.

:func:`import_positions` reads a CSV or Parquet file, or takes a pandas DataFrame, and

- **maps columns**: ``columns`` says which of the export's columns holds each of ours
  (``{"account": "user", "asset": "symbol", "collateral": "supplied_amount", "debt":
  "borrowed_amount"}``); columns it does not name are ignored;
- **maps symbols**: the export's symbols are matched to the market's without regard to case
  (``weth`` is ``WETH``), after ``aliases`` (export symbol -> market symbol, case-insensitive;
  :data:`DEFAULT_ALIASES` maps ``ETH`` to ``WETH``);
- **scales raw amounts**: with ``raw=True`` every amount is a whole number of the token's
  smallest unit (wei), written as text or as an integer column, and is divided by
  ``10 ** decimals`` in exact integer arithmetic (Python ints: a 30-digit amount neither
  overflows nor loses digits before the one final rounding to float64). ``decimals`` gives a
  token's decimals by market symbol; by default the reserve configuration's.

The result is checked exactly as :func:`~liqcascade.io.positions.load_positions` checks a file
in our format (every error names the file or ``positions (DataFrame)`` and the 1-based row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from liqcascade.errors import ConfigError, DataError
from liqcascade.io import positions as _pos
from liqcascade.model.book import PositionBook
from liqcascade.model.params import RiskParams

OUR_COLUMNS = _pos.REQUIRED_COLUMNS + _pos.OPTIONAL_COLUMNS
DEFAULT_ALIASES: dict[str, str] = {"ETH": "WETH"}
"""Export symbol -> market symbol applied unless ``aliases`` maps the same symbol otherwise
(the native coin is held as its wrapped token by lending markets)."""

_INTEGER = re.compile(r"\s*\+?[0-9]+\s*")


@dataclass(frozen=True)
class ImportSpec:
    """How to read an export: column names, symbol aliases, token decimals, raw amounts."""

    columns: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    decimals: Mapping[str, int] = field(default_factory=dict)
    raw: bool = False

    @property
    def plain(self) -> bool:
        """True when nothing is mapped: the input is in our format already."""
        return not (self.columns or self.aliases or self.decimals or self.raw)


def import_positions(
    source: str | Path | pd.DataFrame,
    params: RiskParams,
    spec: ImportSpec = ImportSpec(),
    prices: np.ndarray | None = None,
    where: tuple[str, str] = ("<python>", "spec"),
) -> PositionBook:
    """The book held by ``source`` (a CSV/Parquet path or a DataFrame) read by ``spec``.

    ``where`` = (file, key prefix) that errors in ``spec`` itself name: a scenario passes
    ``(scenario file, "positions")``. ``prices`` turns on the overflow checks of
    :func:`~liqcascade.io.positions.check_sums`.
    """
    if isinstance(source, pd.DataFrame):
        label = "positions (DataFrame)"
        table = _pos._frame_table(source, label)
    else:
        label = str(source)
        table = _pos._read_table(Path(source), text_columns=_text_columns(spec))
    if spec.plain:
        return _pos.book_from_table(table, params, label, prices)
    table = _mapped(table, spec, label, where)
    table = _symbols(table, params, spec, label, where)
    if spec.raw:
        table = _scaled(table, params, spec, label, where)
    elif spec.decimals:
        raise ConfigError(where[0], f"{where[1]}.decimals", "decimals only with raw = true (amounts in wei)",
                          dict(spec.decimals))
    return _pos.book_from_table(table, params, label, prices)


def _text_columns(spec: ImportSpec) -> list[str]:
    """Export columns a CSV reader must keep as text: labels, and raw amounts (a 25-digit
    integer read as a number would lose digits)."""
    cols = spec.columns
    keep = [cols.get("account", "account"), cols.get("asset", "asset")]
    if spec.raw:
        keep += [cols.get("collateral", "collateral"), cols.get("debt", "debt")]
    return keep


def _mapped(table: pa.Table, spec: ImportSpec, label: str, where: tuple[str, str]) -> pa.Table:
    """Our columns, renamed from the export's; the export's other columns dropped."""
    file, prefix = where
    for ours in spec.columns:
        if ours not in OUR_COLUMNS:
            raise ConfigError(file, f"{prefix}.columns.{ours}", f"one of our columns {list(OUR_COLUMNS)} as the key",
                              ours)
    theirs = list(table.column_names)
    out = {}
    for ours in OUR_COLUMNS:
        name = spec.columns.get(ours, ours)
        if name in theirs:
            out[ours] = table.column(name)
        elif ours in spec.columns or ours in _pos.REQUIRED_COLUMNS:
            key = f"{prefix}.columns.{ours}"
            raise DataError(label, None, f"no column {name!r} (for {ours!r}; set {key}); the file has {theirs}")
    return pa.table(out)


def _symbols(table: pa.Table, params: RiskParams, spec: ImportSpec, label: str, where: tuple[str, str]) -> pa.Table:
    """The asset column in the market's symbols: aliases first, then case-insensitive."""
    file, prefix = where
    by_lower: dict[str, str] = {}
    for s in params.symbols:
        if s.lower() in by_lower:
            raise ConfigError(file, f"{prefix}.aliases", f"market symbols that differ in more than case "
                              f"({by_lower[s.lower()]!r}, {s!r})")
        by_lower[s.lower()] = s
    lookup = dict(by_lower)
    for theirs, ours in {**DEFAULT_ALIASES, **dict(spec.aliases)}.items():
        if ours.lower() not in by_lower:
            if theirs in spec.aliases:
                raise ConfigError(file, f"{prefix}.aliases.{theirs}", f"a market symbol {list(params.symbols)}", ours)
            continue  # a default alias whose target this market does not list
        lookup[theirs.lower()] = by_lower[ours.lower()]
    col = table.column("asset")
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, pa.string())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return table  # the checks of the long format name the column's type
    enc = pc.dictionary_encode(col.combine_chunks())
    names = enc.dictionary.to_pylist()
    # unknown symbols stay as written: the long-format check names the first row holding one
    mapped = pa.array([lookup.get(str(n).strip().lower(), n) for n in names], pa.string())
    fixed = mapped.take(enc.indices)
    return table.set_column(table.column_names.index("asset"), "asset", fixed)


def _scaled(table: pa.Table, params: RiskParams, spec: ImportSpec, label: str, where: tuple[str, str]) -> pa.Table:
    """Raw integer amounts divided by 10**decimals of each row's asset, exactly."""
    file, prefix = where
    dec = {s: int(d) for s, d in zip(params.symbols, params.decimals)}
    for sym, d in spec.decimals.items():
        if sym not in dec:
            raise ConfigError(file, f"{prefix}.decimals.{sym}", f"a market symbol {list(params.symbols)}", sym)
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= int(d) <= 36:
            raise ConfigError(file, f"{prefix}.decimals.{sym}", "an integer from 0 to 36", d)
        dec[sym] = int(d)
    scale = {s: 10**d for s, d in dec.items()}
    row_scale = [scale.get(s) for s in table.column("asset").to_pylist()]  # None: unknown asset
    for ours in ("collateral", "debt"):
        col_name = spec.columns.get(ours, ours)
        out = _divided(table.column(ours), row_scale, label, col_name)
        table = table.set_column(table.column_names.index(ours), ours, pa.array(out, pa.float64()))
    return table


def _divided(col: pa.ChunkedArray, row_scale: list[int | None], label: str, column: str) -> list[float]:
    """Each raw amount of ``col`` / its row's 10**decimals. Validated in Arrow, divided in Python
    ints (a list comprehension per column); a bad cell is found and named by :func:`_whole_tokens`."""
    cells = col.to_pylist()
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        ok = pc.match_substring_regex(col, _INTEGER.pattern.join("^$")).fill_null(False)
        fast = pc.all(ok).as_py()
    else:
        fast = pa.types.is_integer(col.type) and col.null_count == 0 and (
            len(col) == 0 or pc.min(col).as_py() >= 0)
    if fast:
        try:
            return [int(c) / sc if sc else 0.0 for c, sc in zip(cells, row_scale)]
        except OverflowError:
            pass  # the slow path names the row
    return [_whole_tokens(c, sc, label, i + 1, column) for i, (c, sc) in enumerate(zip(cells, row_scale))]


def _whole_tokens(cell, scale: int | None, label: str, row: int, column: str) -> float:
    """``cell`` (a raw integer amount) / ``scale`` (10**decimals), correctly rounded to float64."""
    if isinstance(cell, (int, np.integer)) and not isinstance(cell, bool) and cell >= 0:
        n = int(cell)
    elif isinstance(cell, str) and _INTEGER.fullmatch(cell):
        n = int(cell)
    elif isinstance(cell, Decimal) and cell.is_finite() and cell == cell.to_integral_value() and cell >= 0:
        n = int(cell)  # a Parquet decimal column (e.g. DECIMAL(38, 0)) of whole amounts
    else:
        raise DataError(label, row, f"column {column!r} must be a raw integer amount >= 0 (raw = true: "
                                    f"the token's smallest unit, e.g. wei), got {cell!r}")
    if scale is None:  # unknown asset: its row is refused by the symbol check, amount unused
        return 0.0
    try:
        return n / scale  # int / int: exact quotient, one rounding
    except OverflowError:
        raise DataError(label, row, f"column {column!r}: {cell} / {scale:.0e} is too large for a number") from None
