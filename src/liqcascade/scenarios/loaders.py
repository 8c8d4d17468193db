"""Readers, with validation, for the price, gas and pool files that replays are built from.

Every reader returns a :class:`pandas.DataFrame` with

- ``time``: int64 Unix seconds, UTC, the *start* of the row's period (a candle's open time, a
  10-minute period's start, a block's timestamp);
- the file's values, in the units named by the column (prices in the quote currency, gas in gwei);
- ``row``: the 1-based data row of the file it came from (header not counted), 0 for a row the
  chosen ``fill`` policy added; ``filled``: True for those added rows;

and ``attrs``: ``source`` (the file), ``interval`` (seconds between rows), ``fill`` and
``quote`` (for prices). Bad input raises :class:`~liqcascade.errors.DataError` naming the file
and the 1-based row (``None`` when the whole file is at fault: unreadable, missing columns).

Checks, in order: the columns (the message lists what was expected); every time parses;
optional ``start``/``end`` window (``start <= time < end``; the remaining checks look only at
rows in the window); values numeric, finite and in range (prices > 0; candles
``low <= min(open, close)``, ``max(open, close) <= high``); times strictly increasing (a
duplicate or an earlier time names its row); times on the ``interval`` grid; then gaps.

Gap policy ``fill`` — the caller's explicit choice, never a silent default:

- ``"none"`` (default): a gap (a step of more than one interval) is a DataError naming the row
  after it;
- ``"ffill"``: each missing row repeats the previous row's values (a candle becomes
  ``open = high = low = close = previous close``, volume 0);
- ``"linear"``: missing rows are interpolated linearly in time (a candle: linear in price from the
  previous close, at the end of the previous candle, to the next open, each filled candle's open
  and close on that line, high/low their max/min, volume 0); other values linearly between
  the rows on either side;
- ``"keep"``: the gap stays (no rows added), listed in ``attrs["gaps"]``; for consumers that
  handle gaps themselves (:func:`~liqcascade.scenarios.paths.block_bootstrap`,
  :func:`split_at_gaps`).

Per-block values from 10-minute files (gas, pool reserves) use :func:`to_blocks`: **step/hold**,
the value of a period applies to every block whose start lies in that period.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.scenarios.paths import DEFAULT_BLOCK_SECONDS, PricePath, historical

FILL_POLICIES = ("none", "ffill", "linear", "keep")

KLINE_TIME_COLUMNS = {
    "open_time_ms": "ms",  # Binance kline dumps with our header (the 1-minute perp and spot files)
    "open_time": "ms",  # Binance's own header (COIN-M price klines)
    "date": "text",  # hourly files: 'YYYY-MM-DD HH:MM:SS', candle open time, UTC
    "open_time_utc": "text",  # USDe file: 'YYYY-MM-DD HH:MM:SS', UTC
}
"""Accepted names of a kline file's time column and how each is written."""

BINANCE_HEADERLESS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)  # fmt: skip
"""Column order of Binance's headerless data.binance.vision kline CSVs."""

GAS_COLUMNS = (
    "period_start_utc",
    "tx_count",
    "avg_gas_price_wei",
    "p30_wei",
    "p60_wei",
    "p90_wei",
    "max_wei",
)
UNIV2_COLUMNS = ("period_start_utc", "dai_reserve", "weth_reserve")
UNIV3_COLUMNS = (
    "blockNumber", "liquidity", "sqrtPrice", "tick", "token0Price", "token1Price", "totalValueLockedUSD", "timestamp",
)  # fmt: skip
_PRICES = ("open", "high", "low", "close")


# --------------------------------------------------------------------------- reading


def _read_csv(path: Path, src: str, headerless: tuple[str, ...] | None = None) -> pd.DataFrame:
    """All cells as text; with ``headerless``, a file whose first cell is a number gets those names."""
    if not path.exists():
        raise DataError(src, None, "file not found")
    if not path.is_file():
        raise DataError(src, None, "not a regular file")
    names = None
    if headerless is not None:
        try:
            with path.open(encoding="utf-8") as fh:
                first = fh.readline().split(",")[0].strip()
        except (UnicodeDecodeError, OSError) as exc:
            raise DataError(src, None, f"cannot read the file as CSV: {exc}") from None
        names = list(headerless) if first.isdigit() else None
    try:
        df = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True,
            header=None if names else "infer", names=names,
        )  # fmt: skip
    except pd.errors.EmptyDataError:
        raise DataError(src, None, "empty file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise DataError(src, None, f"cannot read the file as CSV: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _require(df: pd.DataFrame, src: str, cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(src, None, f"missing column(s) {missing}; expected {what}, found {list(df.columns)}")
    if len(set(df.columns)) != len(df.columns):
        raise DataError(src, None, f"duplicate column names in {list(df.columns)}; expected {what}")


def _numeric(df: pd.DataFrame, col: str, src: str, rows: np.ndarray) -> FloatArray:
    raw = df[col]
    x = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
    bad = np.isnan(x) & (raw.str.strip().str.lower() != "nan").to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        v = raw.iloc[i]
        why = "is empty" if v.strip() == "" else f"is not a number: {v!r}"
        raise DataError(src, int(rows[i]), f"column {col!r} {why}")
    return x


def _parse_times(raw: pd.Series, kind: str, col: str, src: str, rows: np.ndarray) -> IntArray:
    """Unix seconds from a column of epoch milliseconds or of UTC date-time text."""
    if kind == "ms":
        ms = pd.to_numeric(raw, errors="coerce")
        x = ms.to_numpy(np.float64)
        bad = ~np.isfinite(x) | (x != np.floor(x))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                src, int(rows[i]), f"column {col!r} must be integer epoch milliseconds, got {raw.iloc[i]!r}"
            )
        ms_i = x.astype(np.int64)
        off = ms_i % 1000 != 0
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise DataError(src, int(rows[i]), f"column {col!r} is not a whole second: {raw.iloc[i]!r}")
        return ms_i // 1000
    ts = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            src,
            int(rows[i]),
            f"column {col!r} must be a UTC date-time 'YYYY-MM-DD HH:MM:SS', got {raw.iloc[i]!r}",
        )
    # resolution-agnostic (pandas may parse to s, us or ns)
    return ts.dt.tz_convert(None).to_numpy().astype("datetime64[s]").astype(np.int64)


def _to_seconds(x: Any, key: str) -> int | None:
    if x is None:
        return None
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    try:
        ts = pd.Timestamp(x)
    except (TypeError, ValueError):
        raise ConfigError("<python>", key, "Unix seconds or a UTC date-time string", x) from None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.timestamp())


def _fmt(t: int) -> str:
    return f"{pd.Timestamp(int(t), unit='s'):%Y-%m-%d %H:%M:%S} UTC"


# --------------------------------------------------------------------------- time checks and fills


def _window(t: IntArray, start: Any, end: Any) -> np.ndarray:
    lo, hi = _to_seconds(start, "start"), _to_seconds(end, "end")
    keep = np.ones(t.size, dtype=bool)
    if lo is not None:
        keep &= t >= lo
    if hi is not None:
        keep &= t < hi
    return np.flatnonzero(keep)


def _check_times(
    t: IntArray, rows: np.ndarray, src: str, interval: int | None, fill: str
) -> tuple[int, list]:
    """Strictly increasing, on the interval grid; returns (interval, gaps as (row index, missing))."""
    if fill not in FILL_POLICIES:
        raise ConfigError("<python>", "fill", f"one of {list(FILL_POLICIES)}", fill)
    if t.size == 0:
        raise DataError(src, None, "no data rows (in the selected window)")
    d = np.diff(t)
    if np.any(d <= 0):
        i = int(np.flatnonzero(d <= 0)[0])
        if d[i] == 0:
            why = f"duplicate timestamp {_fmt(t[i + 1])} (same as the previous row, {int(rows[i])})"
        else:
            why = f"timestamp {_fmt(t[i + 1])} is earlier than the previous row's {_fmt(t[i])}: rows must be sorted by time"
        raise DataError(src, int(rows[i + 1]), why)
    if interval is None:
        if d.size == 0:
            raise DataError(src, None, "one row only: pass interval= (seconds) explicitly")
        vals, counts = np.unique(d, return_counts=True)
        interval = int(vals[np.argmax(counts)])  # the commonest step (ties: the smallest)
    if interval <= 0:
        raise ConfigError("<python>", "interval", "a positive number of seconds", interval)
    off = d % interval != 0
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise DataError(
            src,
            int(rows[i + 1]),
            f"timestamp {_fmt(t[i + 1])} is not a whole number of {interval}-second steps after the previous row's {_fmt(t[i])}",
        )
    gi = np.flatnonzero(d > interval)
    gaps = [(int(i) + 1, int(d[i] // interval) - 1) for i in gi]
    if gaps and fill == "none":
        i, k = gaps[0]
        raise DataError(
            src,
            int(rows[i]),
            f"gap: {k} missing row(s) of {interval} s between {_fmt(t[i - 1])} and {_fmt(t[i])}; "
            "choose fill='ffill', 'linear' or 'keep' to accept it explicitly",
        )
    return interval, gaps


def _apply_fill(df: pd.DataFrame, interval: int, fill: str, candles: bool) -> pd.DataFrame:
    t = df["time"].to_numpy(np.int64)
    full = np.arange(t[0], t[-1] + 1, interval, dtype=np.int64)
    if fill in ("none", "keep") or full.size == t.size:
        return df
    pos = (t - t[0]) // interval
    present = np.zeros(full.size, dtype=bool)
    present[pos] = True
    prev = np.maximum.accumulate(np.where(present, np.arange(full.size), -1))  # last present slot
    slot_to_row = np.full(full.size, -1)
    slot_to_row[pos] = np.arange(t.size)
    nxt_slot = np.minimum.accumulate(np.where(present, np.arange(full.size), full.size)[::-1])[::-1]
    pr = slot_to_row[prev]
    nr = slot_to_row[np.minimum(nxt_slot, full.size - 1)]
    missing = ~present
    out = {"time": full}
    value_cols = [c for c in df.columns if c not in ("time", "row", "filled")]
    if candles:
        c_prev = df["close"].to_numpy(np.float64)[pr]
        o_next = df["open"].to_numpy(np.float64)[nr]
        if fill == "ffill":
            o = c = c_prev
        else:  # linear in price from the previous close (at t_prev + interval) to the next open
            t0 = t[pr] + interval
            span = (t[nr] - t0).astype(np.float64)
            span[span == 0] = 1.0
            o = c_prev + (o_next - c_prev) * (full - t0) / span
            c = c_prev + (o_next - c_prev) * (full + interval - t0) / span
        fills = {"open": o, "high": np.maximum(o, c), "low": np.minimum(o, c), "close": c}
        for col in value_cols:
            x = np.full(full.size, np.nan)
            x[pos] = df[col].to_numpy(np.float64)
            x[missing] = fills[col][missing] if col in fills else 0.0
            out[col] = x
    else:
        frac = (full - t[pr]) / np.maximum(t[nr] - t[pr], 1)
        for col in value_cols:
            v = df[col].to_numpy(np.float64)
            x = v[pr] if fill == "ffill" else v[pr] + (v[nr] - v[pr]) * frac
            x = np.array(x, dtype=np.float64)
            x[pos] = v
            out[col] = x
    row = np.zeros(full.size, dtype=np.int64)
    row[pos] = df["row"].to_numpy(np.int64)
    out["row"] = row
    out["filled"] = missing
    res = pd.DataFrame(out)
    res.attrs = dict(df.attrs)
    res.attrs["filled_rows"] = int(missing.sum())
    return res


def _finish(
    df: pd.DataFrame, src: str, interval: int, fill: str, gaps: list, candles: bool, **attrs: Any
) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df["filled"] = False
    df.attrs = {"source": src, "interval": int(interval), "fill": fill, **attrs}
    df.attrs["gaps"] = [(int(df["time"].iat[i - 1]), int(df["time"].iat[i])) for i, _ in gaps]
    return _apply_fill(df, interval, fill, candles)


# --------------------------------------------------------------------------- public readers


def load_binance_klines(
    path: str | Path,
    fill: str = "none",
    start: Any = None,
    end: Any = None,
    interval: int | None = None,
    quote: str = "USDT",
) -> pd.DataFrame:
    """Candles from a Binance kline CSV in any of the layouts of ``shared/data``.

    The time column is the candle's **open** time, one of ``open_time_ms`` or ``open_time``
    (epoch ms), ``date`` or ``open_time_utc`` (UTC text); then ``open, high, low, close`` and
    optionally ``volume``; other columns (close time, trades, ...) are ignored. A file without
    a header (first cell numeric) is read as Binance's 12-column layout (:data:`BINANCE_HEADERLESS`).
    ``interval`` (seconds) is inferred as the commonest step when not given. Returns
    ``time, open, high, low, close[, volume], row, filled`` (see the module docstring for the
    checks and the ``fill`` policies); ``attrs["quote"]`` is ``quote``.
    """
    p = Path(path)
    src = str(p)
    df = _read_csv(p, src, headerless=BINANCE_HEADERLESS)
    time_cols = [c for c in KLINE_TIME_COLUMNS if c in df.columns]
    what = f"one time column of {list(KLINE_TIME_COLUMNS)} and {list(_PRICES)} (optionally 'volume')"
    if len(time_cols) != 1:
        found = "none" if not time_cols else f"several: {time_cols}"
        raise DataError(src, None, f"time column: {found}; expected {what}, found {list(df.columns)}")
    _require(df, src, (time_cols[0], *_PRICES), what)
    rows = np.arange(1, len(df) + 1, dtype=np.int64)
    t = _parse_times(df[time_cols[0]], KLINE_TIME_COLUMNS[time_cols[0]], time_cols[0], src, rows)
    keep = _window(t, start, end)
    df, t, rows = df.iloc[keep], t[keep], rows[keep]
    out = pd.DataFrame({"time": t})
    for col in _PRICES:
        x = _numeric(df, col, src, rows)
        bad = ~(np.isfinite(x) & (x > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(src, int(rows[i]), f"column {col!r} must be a finite price > 0, got {x[i]!r}")
        out[col] = x
    o, h, lw, c = (out[k].to_numpy() for k in _PRICES)
    for bad, why in (
        (h < np.maximum(o, c), "high < max(open, close)"),
        (lw > np.minimum(o, c), "low > min(open, close)"),
    ):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(src, int(rows[i]), f"{why}: open={o[i]}, high={h[i]}, low={lw[i]}, close={c[i]}")
    if "volume" in df.columns:
        v = _numeric(df, "volume", src, rows)
        bad = ~(np.isfinite(v) & (v >= 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(src, int(rows[i]), f"column 'volume' must be finite and >= 0, got {v[i]!r}")
        out["volume"] = v
    out["row"] = rows
    iv, gaps = _check_times(t, rows, src, interval, fill)
    return _finish(out, src, iv, fill, gaps, candles=True, quote=quote)


def _ten_minute_file(path: str | Path, cols: tuple[str, ...], start: Any, end: Any, interval: int, fill: str):
    p = Path(path)
    src = str(p)
    df = _read_csv(p, src)
    _require(df, src, cols, str(list(cols)))
    rows = np.arange(1, len(df) + 1, dtype=np.int64)
    t = _parse_times(df[cols[0]], "text", cols[0], src, rows)
    keep = _window(t, start, end)
    return src, df.iloc[keep], t[keep], rows[keep]


def load_gas_percentiles(
    path: str | Path, start: Any = None, end: Any = None, fill: str = "none", interval: int = 600
) -> pd.DataFrame:
    """Ethereum gas-price percentiles per 10-minute period (``shared/data`` section C).

    Expects :data:`GAS_COLUMNS` (wei); returns ``time`` (period start), ``tx_count`` and the gas
    prices in **gwei**: ``avg_gwei, p30_gwei, p60_gwei, p90_gwei, max_gwei`` (finite, >= 0, with
    ``p30 <= p60 <= p90 <= max``), plus ``row, filled``. The shared file holds several
    separate days: select one with ``start``/``end`` (or accept the gaps with ``fill="keep"``).
    Per block: ``to_blocks(frame, "p60_gwei", path.times)`` (step/hold).
    """
    src, df, t, rows = _ten_minute_file(path, GAS_COLUMNS, start, end, interval, fill)
    out = pd.DataFrame({"time": t})
    names = {"avg_gas_price_wei": "avg_gwei", "p30_wei": "p30_gwei", "p60_wei": "p60_gwei",
             "p90_wei": "p90_gwei", "max_wei": "max_gwei"}  # fmt: skip
    for col in ("tx_count", *names):
        x = _numeric(df, col, src, rows)
        bad = ~(np.isfinite(x) & (x >= 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(src, int(rows[i]), f"column {col!r} must be finite and >= 0, got {x[i]!r}")
        out[names.get(col, col)] = x / 1e9 if col in names else x
    pct = out[["p30_gwei", "p60_gwei", "p90_gwei", "max_gwei"]].to_numpy()
    bad = np.any(np.diff(pct, axis=1) < 0, axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(src, int(rows[i]), "gas percentiles must satisfy p30 <= p60 <= p90 <= max")
    out["row"] = rows
    iv, gaps = _check_times(t, rows, src, interval, fill)
    return _finish(out, src, iv, fill, gaps, candles=False)


def load_univ2_reserves(
    path: str | Path, start: Any = None, end: Any = None, fill: str = "none", interval: int = 600
) -> pd.DataFrame:
    """Uniswap v2 ETH/DAI pool reserves every 10 minutes (``shared/data`` section C).

    Expects :data:`UNIV2_COLUMNS`; returns ``time`` (period start), ``dai_reserve``,
    ``weth_reserve`` (whole tokens, finite, > 0), ``price`` (DAI per WETH = dai / weth, the
    pool's mid price), ``row, filled``. The shared file holds six separate days (and a
    duplicated 2020-09-05 00:20 row): select a day with ``start``/``end``.
    """
    src, df, t, rows = _ten_minute_file(path, UNIV2_COLUMNS, start, end, interval, fill)
    out = pd.DataFrame({"time": t})
    for col in UNIV2_COLUMNS[1:]:
        x = _numeric(df, col, src, rows)
        bad = ~(np.isfinite(x) & (x > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(src, int(rows[i]), f"column {col!r} must be a finite amount > 0, got {x[i]!r}")
        out[col] = x
    out["row"] = rows
    iv, gaps = _check_times(t, rows, src, interval, fill)
    res = _finish(out, src, iv, fill, gaps, candles=False, quote="DAI")
    res.insert(3, "price", res["dai_reserve"] / res["weth_reserve"])
    return res


def load_univ3_pool_blocks(
    path: str | Path, decimals0: int = 18, decimals1: int = 6, fill: str = "none"
) -> pd.DataFrame:
    """Uniswap v3 pool state at every block (the USDe/USDT parquet of ``shared/data``).

    Expects :data:`UNIV3_COLUMNS` (values as decimal strings, as the source stores them).
    Returns one row per block: ``block`` (int64, consecutive unless ``fill="keep"``), ``time``
    (block timestamp, Unix s; strictly increasing, not evenly spaced), ``tick`` (int64),
    ``sqrt_price_x96``, ``liquidity`` (float64; raw Uniswap values), ``price`` = token1 per token0
    in whole tokens, ``(sqrtPriceX96 / 2**96)**2 * 10**(decimals0 - decimals1)`` (for the USDe
    (token0, 18 decimals) / USDT (token1, 6 decimals) pool: USDT per USDe; it equals the source's
    ``token1Price``), ``token0_price, token1_price, tvl_usd`` as given, and ``row``.
    ``fill`` is ``"none"`` (a missing block is an error) or ``"keep"``; ``attrs["interval"]`` is 1 (block).
    """
    p = Path(path)
    src = str(p)
    if fill not in ("none", "keep"):
        raise ConfigError("<python>", "fill", "'none' or 'keep' for block-level pool state", fill)
    if not p.is_file():
        raise DataError(src, None, "file not found")
    try:
        df = pd.read_parquet(p).reset_index(drop=True)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataError(src, None, f"cannot read the file as Parquet: {exc}") from None
    _require(df, src, UNIV3_COLUMNS, str(list(UNIV3_COLUMNS)))
    rows = np.arange(1, len(df) + 1, dtype=np.int64)
    sdf = df.astype({c: str for c in UNIV3_COLUMNS})
    block = _numeric(sdf, "blockNumber", src, rows)
    t = _numeric(sdf, "timestamp", src, rows)
    for name, x in (("blockNumber", block), ("timestamp", t)):
        bad = ~np.isfinite(x) | (x != np.floor(x))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(src, int(rows[i]), f"column {name!r} must be an integer, got {x[i]!r}")
    block, t = block.astype(np.int64), t.astype(np.int64)
    db = np.diff(block)
    if np.any(db <= 0):
        i = int(np.flatnonzero(db <= 0)[0]) + 1
        why = "duplicate block number" if db[i - 1] == 0 else "block numbers must be increasing"
        raise DataError(src, int(rows[i]), f"{why}: {block[i]} after {block[i - 1]}")
    dt = np.diff(t)
    if np.any(dt <= 0):
        i = int(np.flatnonzero(dt <= 0)[0]) + 1
        raise DataError(
            src, int(rows[i]), f"timestamp {_fmt(t[i])} is not after the previous block's {_fmt(t[i - 1])}"
        )
    if fill == "none" and np.any(db > 1):
        i = int(np.flatnonzero(db > 1)[0]) + 1
        raise DataError(
            src,
            int(rows[i]),
            f"gap: blocks {block[i - 1] + 1}..{block[i] - 1} missing; pass fill='keep' to accept",
        )
    try:
        sq = np.array([float(int(v)) for v in sdf["sqrtPrice"]])
    except ValueError:
        bad = [i for i, v in enumerate(sdf["sqrtPrice"]) if not v.strip().isdigit()]
        raise DataError(
            src,
            int(rows[bad[0]]),
            f"column 'sqrtPrice' must be an integer, got {sdf['sqrtPrice'].iat[bad[0]]!r}",
        ) from None
    if np.any(sq <= 0):
        i = int(np.flatnonzero(sq <= 0)[0])
        raise DataError(src, int(rows[i]), "column 'sqrtPrice' must be > 0")
    out = pd.DataFrame({"block": block, "time": t})
    out["tick"] = _numeric(sdf, "tick", src, rows).astype(np.int64)
    out["sqrt_price_x96"] = sq
    out["liquidity"] = _numeric(sdf, "liquidity", src, rows)
    out["price"] = (sq / 2.0**96) ** 2 * 10.0 ** (decimals0 - decimals1)
    for a, b in (
        ("token0Price", "token0_price"),
        ("token1Price", "token1_price"),
        ("totalValueLockedUSD", "tvl_usd"),
    ):
        out[b] = _numeric(sdf, a, src, rows)
    out["row"] = rows
    out.attrs = {"source": src, "interval": 1, "fill": fill, "quote": "token1"}
    return out


# --------------------------------------------------------------------------- onto the block grid


def to_blocks(frame: pd.DataFrame, column: str, times: IntArray, beyond: str = "error") -> FloatArray:
    """Values of ``frame[column]`` on block start ``times`` by **step/hold**.

    A row at ``time`` t covers ``[t, t + interval)`` (``frame.attrs["interval"]``); each block gets
    the value of the row covering its start. (A 10-minute gas percentile describes the blocks of
    its period; a reserve snapshot holds until the next one.) A block before the first row, or
    inside a gap of a ``fill="keep"`` frame, is a DataError; a block at or after the end of the
    last period is a DataError unless ``beyond="hold"`` (the last value is held; say so in the
    path's meta).
    """
    if beyond not in ("error", "hold"):
        raise ConfigError("<python>", "beyond", "'error' or 'hold'", beyond)
    src = str(frame.attrs.get("source", "<frame>"))
    if column not in frame.columns:
        raise ConfigError("<python>", "column", f"one of {list(frame.columns)}", column)
    iv = int(frame.attrs.get("interval", 0)) or None
    t = frame["time"].to_numpy(np.int64)
    if iv is None:
        raise DataError(
            src, None, "frame has no attrs['interval']; load it with liqcascade.scenarios.loaders"
        )
    times = np.asarray(times, dtype=np.int64)
    i = np.searchsorted(t, times, side="right") - 1
    if np.any(i < 0):
        raise DataError(
            src,
            None,
            f"no {column!r} value for the block at {_fmt(times[i < 0][0])}: data start at {_fmt(t[0])}",
        )
    inside = times < t[i] + iv
    last = i == t.size - 1
    bad = ~inside & ~last
    if bad.any():
        b = times[bad][0]
        raise DataError(
            src,
            int(frame["row"].iat[i[bad][0]]) if "row" in frame else None,
            f"no {column!r} value for the block at {_fmt(b)} (a gap in the data after this row)",
        )
    if beyond == "error" and np.any(~inside & last):
        raise DataError(
            src, None,
            f"no {column!r} value for the block at {_fmt(times[~inside & last][0])}: data end at "
            f"{_fmt(t[-1] + iv)}; pass beyond='hold' to hold the last value explicitly",
        )  # fmt: skip
    return frame[column].to_numpy(np.float64)[i]


def split_at_gaps(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """The contiguous runs of a frame loaded with ``fill="keep"``, in time order (attrs kept)."""
    t = frame["time"].to_numpy(np.int64)
    iv = int(frame.attrs["interval"])
    cuts = np.flatnonzero(np.diff(t) != iv) + 1
    parts = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, t.size]):
        part = frame.iloc[a:b].reset_index(drop=True)
        part.attrs = {**frame.attrs, "gaps": []}
        parts.append(part)
    return parts


# --------------------------------------------------------------------------- shipped replays


@dataclasses.dataclass(frozen=True)
class Replay:
    """The loaded data of one shipped replay.

    ``legs``: one mapping asset -> 1-minute candle frame per contiguous window (most replays have
    one; Black Thursday has two); ``gas``: 10-minute gas percentiles (gwei) or None; ``pools``:
    pool-state frames by name; ``quote``: the currency of the candle prices.
    """

    name: str
    description: str
    legs: tuple[Mapping[str, pd.DataFrame], ...]
    gas: pd.DataFrame | None
    pools: Mapping[str, pd.DataFrame]
    quote: str
    files: tuple[str, ...]


_REPLAYS: dict[str, dict[str, Any]] = {
    "2021-05-19": {
        "description": "May 19 2021: Binance ETHUSDT perpetual, 11:10-15:45 UTC, wick to 1400.73 at 13:10 "
        "(spot low ~1888); Uniswap v2 ETH/DAI reserves and gas percentiles of the day.",
        "candles": {"ETH": "binance_um_perp_ethusdt_1m_2021-05-19_crash.csv"},
        "gas": "ethereum_gas_price_percentiles_10min_2021-05-19.csv",
        "pools": {"univ2_eth_dai": "uniswap_v2_eth_dai_reserves_10min_2021-05-19.csv"},
    },
    "2021-05-19-spot": {
        "description": "May 19 2021 on Binance spot: ETHUSDT 1-hour candles for the UTC day (low 1888.00, against "
        "the perpetual's 1400.73 wick); Uniswap v2 ETH/DAI reserves and gas percentiles of the day.",
        "candles": {"ETH": "binance_ethusdt_1h_2021-05-19.csv"},
        "gas": "ethereum_gas_price_percentiles_10min_2021-05-19.csv",
        "pools": {"univ2_eth_dai": "uniswap_v2_eth_dai_reserves_10min_2021-05-19.csv"},
    },
    "2021-05-week": {
        "description": "The week of May 19 2021, 2021-05-17..25: Binance spot ETHUSDT 1-hour candles, "
        "the nine UTC days (open 3581.81, low 1728.74 at 2021-05-23 16:00). No gas data.",
        "candles": {"ETH": "binance_ethusdt_1h_2021-05-17_25.csv"},
        "gas": None,
        "pools": {},
    },
    "2020-03-12": {
        "description": "Black Thursday: Binance ETHUSDT perpetual, leg 0 2020-03-12 09:40-14:36 (low 118.27), "
        "leg 1 23:49-02:17 next day (low 84.23); gas percentiles of 2020-03-12 (p30 ~5 -> ~150 gwei). "
        "Gas data end at 2020-03-13 00:00: leg 1 needs gas_beyond='hold' or gas_column=None.",
        "candles": {"ETH": "binance_um_perp_ethusdt_1m_2020-03-12_black_thursday.csv"},
        "gas": "ethereum_gas_price_percentiles_10min_2020-03-12.csv",
        "pools": {},
    },
    "2022-05-luna": {
        "description": "LUNA/UST collapse, 2022-05-05..15: Binance spot ETHUSDT 1-hour candles, "
        "the eleven UTC days (open 2940.65, low 1800.00 at 2022-05-12 05:00); "
        "ETH only, no UST leg. No gas data.",
        "candles": {"ETH": "binance_ethusdt_1h_2022-05-05_15.csv"},
        "gas": None,
        "pools": {},
    },
    "2022-11-ftx": {
        "description": "FTX collapse, 2022-11-06..12: Binance spot ETHUSDT 1-hour candles, "
        "the seven UTC days (open 1626.98, low 1073.53 at 2022-11-09 23:00). No gas data.",
        "candles": {"ETH": "binance_ethusdt_1h_2022-11-06_12.csv"},
        "gas": None,
        "pools": {},
    },
    "2023-03-usdc": {
        "description": "USDC depeg, 2023-03-11 14:00 to 03-14 23:00: Binance spot USDCUSDT 1-hour "
        "candles (the shared file starts at 03-11 14:00; open 1.0, low 0.882 in that "
        "first candle). No gas data.",
        "candles": {"USDC": "binance_usdcusdt_1h_2023-03-11_14.csv"},
        "gas": None,
        "pools": {},
    },
    "2024-08-05": {
        "description": "2024-08-05: Binance spot ETHUSDT and BTCUSDT 1-minute, the whole UTC day "
        "(ETH low 2111.00, BTC low 49000.00). No gas data.",
        "candles": {"ETH": "binance_ethusdt_1m_2024-08-05.csv", "BTC": "binance_btcusdt_1m_2024-08-05.csv"},
        "gas": None,
        "pools": {},
    },
    "2025-10-10-usde": {
        "description": "USDe depeg 2025-10-10: Binance spot USDe/USDT 1-minute for the UTC day (low 0.65), "
        "and the Uniswap v3 USDe/USDT pool at every block 16:00-02:00 (which stayed near 1). No gas data.",
        "candles": {"USDe": "binance_usdeusdt_1m_2025-10-10.csv"},
        "gas": None,
        "pools": {"univ3_usde_usdt": "uniswap_v3_usde_usdt_pool_blocks_2025-10-10.parquet"},
    },
}
REPLAY_NAMES = tuple(_REPLAYS)


def replay_file(filename: str) -> Path:
    """Path of a file shipped in ``liqcascade/data/replays``."""
    return Path(str(resources.files("liqcascade").joinpath("data", "replays", filename)))


def replay_data(name: str) -> Replay:
    """Load (and validate) the shipped data of the replay ``name``, one of :data:`REPLAY_NAMES`."""
    if name not in _REPLAYS:
        raise ConfigError("<python>", "replay", f"one of {list(REPLAY_NAMES)}", name)
    spec = _REPLAYS[name]
    files = []
    per_asset = {}
    for asset, fn in spec["candles"].items():
        files.append(fn)
        per_asset[asset] = split_at_gaps(load_binance_klines(replay_file(fn), fill="keep"))
    n_legs = {len(v) for v in per_asset.values()}
    if len(n_legs) != 1:
        raise DataError(
            name,
            None,
            f"assets have different numbers of contiguous windows: { {a: len(v) for a, v in per_asset.items()} }",
        )
    legs = tuple({a: per_asset[a][k] for a in per_asset} for k in range(n_legs.pop()))
    gas = None
    if spec["gas"]:
        files.append(spec["gas"])
        gas = load_gas_percentiles(replay_file(spec["gas"]))
    pools: dict[str, pd.DataFrame] = {}
    for pname, fn in spec["pools"].items():
        files.append(fn)
        pools[pname] = (
            load_univ3_pool_blocks(replay_file(fn))
            if fn.endswith(".parquet")
            else load_univ2_reserves(replay_file(fn))
        )
    return Replay(name, spec["description"], legs, gas, pools, "USDT", tuple(files))


def replay_path(
    name: str,
    leg: int = 0,
    block_seconds: int = DEFAULT_BLOCK_SECONDS,
    intrabar: str = "ohlc_path",
    gas_column: str | None = "p60_gwei",
    gas_beyond: str = "error",
) -> PricePath:
    """The :class:`PricePath` of a shipped replay: :func:`historical` on leg ``leg`` of
    :func:`replay_data`, with gas (gwei, column ``gas_column`` by step/hold, see :func:`to_blocks`)
    when the replay has gas data and ``gas_column`` is not None. Prices are in USDT
    (``meta["quote"]``)."""
    rep = replay_data(name)
    if not isinstance(leg, int) or not 0 <= leg < len(rep.legs):
        raise ConfigError("<python>", "leg", f"an integer in [0, {len(rep.legs) - 1}]", leg)
    path = historical(rep.legs[leg], block_seconds=block_seconds, intrabar=intrabar)
    meta = {**path.meta, "replay": name, "leg": leg, "quote": rep.quote}
    path = dataclasses.replace(path, meta=meta)
    if rep.gas is not None and gas_column is not None:
        g = to_blocks(rep.gas, gas_column, path.times, beyond=gas_beyond)
        path = path.with_gas(
            g,
            rule=f"{gas_column} of the 10-minute period holding each block (step/hold); beyond data: {gas_beyond}",
        )
    return path
