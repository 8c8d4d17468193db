"""The 2025-10-10 perp cascade window: BTC 1-minute path and order-book depth per minute.

:func:`load_perp_window` reads two shipped files (``liqcascade/data/replays``, see
``ATTRIBUTION-replays.md``) covering 20:00–22:00 UTC:

- ``binance_cm_btcusd_perp_1m_price_2025-10-10_20-22.csv``: Binance COIN-M BTCUSD_PERP 1-minute
  price kline (index or mark, Binance's dump does not say; low 102 497.49 at 21:20) — the path a
  replay drives as the index;
- ``binance_btcusdt_perp_depth_1m_2025-10-10_20-22.csv``: per minute, the Binance USD-M BTCUSDT
  cumulative depth within 1…5 % of mid on each side, cleaned of the stale bid that corrupts the
  raw feed that evening, and the depth stress ``x`` (depth = calm × e^−x); built by
  :func:`liqcascade.markets.perp_depth.write_minute_depth`. An empty cell is a distance the
  cleaned feed does not reach that minute (NaN here).

Both may be given as other paths (same layouts); every bad row is a DataError naming the file,
the row and the column. No engine or venue is built here (layer 2): a replay turns the
depth rows into venues.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import DataError
from liqcascade.scenarios.loaders import load_binance_klines, replay_file

__all__ = ["PERP_WINDOW_PRICE", "PERP_WINDOW_DEPTH", "DEPTH_FRACTIONS", "PerpWindow", "load_perp_window"]

PERP_WINDOW_PRICE = "binance_cm_btcusd_perp_1m_price_2025-10-10_20-22.csv"
PERP_WINDOW_DEPTH = "binance_btcusdt_perp_depth_1m_2025-10-10_20-22.csv"
DEPTH_FRACTIONS = (0.01, 0.02, 0.03, 0.04, 0.05)
_DEPTH_COLUMNS = ("minute_utc", "mid_usd", "stale_bid", "stress",
                  *(f"bid_{k}pct_usd" for k in range(1, 6)), *(f"ask_{k}pct_usd" for k in range(1, 6)))  # fmt: skip


@dataclass(frozen=True)
class PerpWindow:
    """One minute per row, aligned: ``times[i]`` is the start of minute ``i`` (Unix s)."""

    times: IntArray
    candles: pd.DataFrame
    """The price kline (``time, open, high, low, close, row, filled``; see ``load_binance_klines``)."""
    index: FloatArray
    """The minute's close: the index path."""
    mid: FloatArray
    """The USD-M book's mid the depth was measured from (median over the minute)."""
    bid: FloatArray
    """Cumulative USDT within :data:`DEPTH_FRACTIONS` below the mid (minutes × 5; NaN unobserved)."""
    ask: FloatArray
    stress: FloatArray
    """Depth stress ``x`` (NaN when no bucket was observed)."""
    stale_bid: np.ndarray
    """True for minutes whose raw snapshots held the stale bid (cleaned here)."""
    files: tuple[str, ...]


def _read_depth(path: Path) -> tuple[IntArray, np.ndarray]:
    src = str(path)
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(src, None, f"cannot read: {e}") from e
    rows = list(csv.reader(lines))
    if not rows or tuple(rows[0]) != _DEPTH_COLUMNS:
        raise DataError(src, None, f"header {rows[0] if rows else None}; expected {list(_DEPTH_COLUMNS)}")
    times = np.empty(len(rows) - 1, dtype=np.int64)
    vals = np.full((len(rows) - 1, len(_DEPTH_COLUMNS) - 1), np.nan)
    for i, row in enumerate(rows[1:]):
        if len(row) != len(_DEPTH_COLUMNS):
            raise DataError(src, i + 1, f"expected {len(_DEPTH_COLUMNS)} columns, got {len(row)}")
        try:
            times[i] = int(pd.Timestamp(row[0]).timestamp())
        except ValueError:
            raise DataError(src, i + 1, f"column 'minute_utc': not a time: {row[0]!r}") from None
        for j, cell in enumerate(row[1:], start=1):
            required = j <= 2  # mid and stale_bid
            if cell.strip() == "" and not required:
                continue
            try:
                v = float(cell)
            except ValueError:
                raise DataError(src, i + 1, f"column {_DEPTH_COLUMNS[j]!r}: not a number: {cell!r}") from None
            ok = (v > 0 if j == 1 else v in (0.0, 1.0) if j == 2 else v >= 0) and np.isfinite(v)
            if not ok:
                want = {1: "a price > 0", 2: "0 or 1"}.get(j, "a finite value >= 0")
                raise DataError(src, i + 1, f"column {_DEPTH_COLUMNS[j]!r}: expected {want}, got {cell!r}")
            vals[i, j - 1] = v
    for side, cols in (("bid", slice(3, 8)), ("ask", slice(8, 13))):
        for i, d in enumerate(vals[:, cols]):
            seen = d[~np.isnan(d)]
            if np.any(np.diff(seen) < 0):
                raise DataError(src, i + 1, f"{side} depth must be non-decreasing from 1 % to 5 %, got {d.tolist()}")
    return times, vals


def load_perp_window(price_path: str | Path | None = None, depth_path: str | Path | None = None) -> PerpWindow:
    """The shipped 2025-10-10 20:00–22:00 window (or the same layouts at the given paths)."""
    pp = Path(price_path) if price_path is not None else replay_file(PERP_WINDOW_PRICE)
    dp = Path(depth_path) if depth_path is not None else replay_file(PERP_WINDOW_DEPTH)
    candles = load_binance_klines(pp, quote="USD")
    times, vals = _read_depth(dp)
    ct = candles["time"].to_numpy()
    if len(times) != len(ct) or np.any(times != ct):
        i = int(np.argmax(times[: len(ct)] != ct[: len(times)])) if min(len(times), len(ct)) else 0
        raise DataError(str(dp), i + 1, f"minutes do not match the price file {pp.name} row for row "
                        f"({len(times)} depth rows, {len(ct)} candles)")
    return PerpWindow(
        times=times,
        candles=candles,
        index=candles["close"].to_numpy(),
        mid=vals[:, 0],
        bid=vals[:, 3:8],
        ask=vals[:, 8:13],
        stress=vals[:, 2],
        stale_bid=vals[:, 1] == 1.0,
        files=(str(pp), str(dp)),
    )
