"""Owners' actions between blocks: the event file a simulation applies (docs/positions.md).

One row per action, in long format (CSV or Parquet)::

    time,account,action,asset,amount
    2022-06-13 04:00:00,1234,deposit,WETH,12.5
    2022-06-13 05:10:00,1234,borrow,DAI,8000

- ``time``: when the owner acted, a UTC time (``YYYY-MM-DD HH:MM[:SS]``) or Unix seconds.
  Instead of ``time`` a file may carry ``block``: the simulation's block index (0 = the
  first block). The action applies before that block's oracle step (the first block whose
  start is at or after ``time``); actions after the path's end are not applied.
- ``account``: the account, as the position book names it (compared as text); an account
  the book does not hold is a new one (``open`` is optional before its first deposit).
- ``action``: ``open`` (the account appears, no amounts), ``deposit``/``withdraw``
  (collateral of ``asset``), ``borrow``/``repay`` (debt of ``asset``), ``close`` (repay
  all debt and withdraw all collateral; ``asset`` and ``amount`` empty).
- ``asset``: a market asset symbol; ``amount``: tokens, a finite number > 0.

Rows of one time are applied in file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.dynamic.owners import ACTIONS, DebtAccrual, OwnerActions
from liqcascade.errors import ConfigError, DataError

SECONDS_PER_YEAR = 365 * 24 * 3600
NEEDS_AMOUNT = frozenset({"deposit", "withdraw", "borrow", "repay"})
COLUMNS = ("account", "action", "asset", "amount")


@dataclass(frozen=True)
class OwnerEventFile:
    """A validated event file: one entry per row, in application order (by time or block,
    file order within one). Exactly one of ``time`` (Unix seconds) and ``block`` is set."""

    source: str
    time: IntArray | None
    block: IntArray | None
    account: np.ndarray
    """Account labels as text."""
    action: IntArray
    """Index into :data:`ACTIONS`."""
    asset: np.ndarray
    """Asset symbol ('' for open and close)."""
    amount: FloatArray
    """Tokens (0 for open and close)."""
    row: IntArray
    """1-based data row in the file."""

    def __len__(self) -> int:
        return int(self.action.shape[0])


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(str(path), None, "event file not found")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            raw = pd.read_parquet(path)
            return raw.astype({c: str for c in raw.columns if raw[c].dtype == object})
        if name.endswith((".csv", ".csv.gz")):
            return pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # unreadable file
        raise DataError(str(path), None, f"cannot read the event file: {exc}") from exc
    raise DataError(str(path), None, f"unknown file type {path.suffix!r}: expected .csv, .csv.gz, .parquet or .pq")


def _times(col: pd.Series, path: Path) -> IntArray:
    """UTC times or Unix seconds -> int64 seconds; a bad value names its row."""
    text = col.astype(str).str.strip()
    secs = pd.to_numeric(text, errors="coerce")
    parsed = pd.to_datetime(text.where(secs.isna()), errors="coerce", utc=True, format="mixed")
    unix = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    out = secs.where(secs.notna(), unix)
    bad = out.isna() | ~np.isfinite(out.astype(float))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(str(path), i + 1, f"column time: expected a UTC time 'YYYY-MM-DD HH:MM[:SS]' or Unix seconds, "
                        f"got {col.iloc[i]!r}")
    return np.floor(out.to_numpy(dtype=float)).astype(np.int64)


def _blocks(col: pd.Series, path: Path) -> IntArray:
    v = pd.to_numeric(col.astype(str).str.strip(), errors="coerce")
    bad = v.isna() | (v < 0) | (v != np.floor(v))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(str(path), i + 1, f"column block: expected a block index, an integer >= 0, got {col.iloc[i]!r}")
    return v.to_numpy(dtype=np.int64)


def _amounts(raw: pd.DataFrame, action: np.ndarray, path: Path) -> FloatArray:
    text = raw["amount"].astype(str).str.strip()
    v = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    needs = np.isin(action, list(NEEDS_AMOUNT))
    bad = needs & ~(np.isfinite(v) & (v > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(str(path), i + 1, f"column amount: expected a finite number > 0 for {action[i]}, "
                        f"got {raw['amount'].iloc[i]!r}")
    extra = ~needs & ~text.isin(["", "0", "nan", "None"]).to_numpy()
    if extra.any():
        i = int(np.flatnonzero(extra)[0])
        raise DataError(str(path), i + 1, f"column amount: expected it empty for {action[i]}, got {raw['amount'].iloc[i]!r}")
    return np.where(needs, v, 0.0)


def read_owner_events(path: str | Path, assets: tuple[str, ...]) -> OwnerEventFile:
    """Read and validate an event file against the market's ``assets``.

    A missing column, an unknown action, an asset the market does not have, a bad time,
    block or amount raises :class:`DataError` naming the file, the 1-based data row and
    the column.
    """
    p = Path(path)
    raw = _read_table(p)
    has_time, has_block = "time" in raw.columns, "block" in raw.columns
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing or has_time == has_block:
        raise DataError(str(p), None, f"columns: expected time (or block), account, action, asset, amount; "
                        f"got {list(raw.columns)}")
    action = raw["action"].astype(str).str.strip().str.lower().to_numpy(dtype=object)
    unknown = ~np.isin(action, ACTIONS)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DataError(str(p), i + 1, f"column action: expected one of {list(ACTIONS)}, got {raw['action'].iloc[i]!r}")
    account = raw["account"].astype(str).str.strip().to_numpy(dtype=object)
    if (account == "").any():
        i = int(np.flatnonzero(account == "")[0])
        raise DataError(str(p), i + 1, "column account: expected an account label, got an empty value")
    asset = raw["asset"].astype(str).str.strip().to_numpy(dtype=object)
    per_asset = np.isin(action, list(NEEDS_AMOUNT))
    bad_asset = per_asset & ~np.isin(asset, list(assets))
    if bad_asset.any():
        i = int(np.flatnonzero(bad_asset)[0])
        raise DataError(str(p), i + 1, f"column asset: expected an asset of the market {list(assets)}, got {asset[i]!r}")
    asset = np.where(per_asset, asset, "")
    amount = _amounts(raw, action, p)
    time = _times(raw["time"], p) if has_time else None
    block = _blocks(raw["block"], p) if has_block else None
    order = np.argsort(time if time is not None else block, kind="stable")
    code = np.array([ACTIONS.index(a) for a in action], dtype=np.int64)
    return OwnerEventFile(
        source=str(p), time=None if time is None else time[order], block=None if block is None else block[order],
        account=account[order], action=code[order], asset=asset[order], amount=amount[order],
        row=(np.arange(len(raw), dtype=np.int64) + 1)[order],
    )


def owner_actions_on(path: str | Path, assets: tuple[str, ...], times: IntArray,
                     dust: dict[str, float] | None = None) -> OwnerActions:
    """The event file's actions on a path's blocks (``times``: each block's start): a timed
    action applies before the first block starting at or after it; actions after the
    last block are dropped, a ``block`` beyond the path is a :class:`DataError`."""
    f = read_owner_events(path, assets)
    t = np.asarray(times, dtype=np.int64)
    if f.block is not None:
        late = np.flatnonzero(f.block >= t.shape[0])
        if late.size:
            i = int(late[0])
            raise DataError(f.source, int(f.row[i]), f"column block: expected a block below the path's {t.shape[0]}, "
                            f"got {int(f.block[i])}")
        block, keep = f.block, np.ones(len(f), dtype=bool)
    else:
        block = np.searchsorted(t, f.time, side="left")
        keep = block < t.shape[0]
    return OwnerActions(block[keep].astype(np.int64), f.account[keep], f.action[keep], f.asset[keep], f.amount[keep],
                        f.source, dict(dust or {}))


def read_accrual(path: str | Path, asset: str, assets: tuple[str, ...], times: IntArray, source: str) -> DebtAccrual:
    """A fee history (CSV ``time, annual_fee``: the annual fee in force from each time on) as
    the debt asset's accumulator on the path's blocks, relative to the first block:
    ``rate(t) = exp(sum_i ln(1 + fee_i) * seconds under fee_i / 31536000)`` (Maker's ``drip``
    compounding ``duty = (1 + fee) ** (1 / 31536000)`` per second). Before the first row the
    fee is 0."""
    if asset not in assets:
        raise ConfigError(source, f"simulation.events.accrual.{asset}", f"a debt asset of the market {list(assets)}",
                          asset)
    p = Path(path)
    raw = _read_table(p)
    if list(raw.columns[:2]) != ["time", "annual_fee"]:
        raise DataError(str(p), None, f"columns: expected time, annual_fee; got {list(raw.columns)}")
    start = _times(raw["time"], p)
    fee = pd.to_numeric(raw["annual_fee"].astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(fee) | (fee <= -1) | (fee > 10)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(str(p), i + 1, f"column annual_fee: expected a yearly fee from -1 to 10 (0.05 = 5 %), "
                        f"got {raw['annual_fee'].iloc[i]!r}")
    if np.any(np.diff(start) < 0):
        i = int(np.flatnonzero(np.diff(start) < 0)[0]) + 1
        raise DataError(str(p), i + 1, "column time: expected times in increasing order")
    t = np.asarray(times, dtype=float)
    ends = np.append(start[1:], np.inf)
    seconds = np.clip(np.minimum(t[:, None], ends[None, :]) - start[None, :], 0.0, None)
    log_rate = seconds @ (np.log1p(fee) / SECONDS_PER_YEAR)
    return DebtAccrual(asset, np.exp(log_rate - log_rate[0]))


def _time_asset_values(path: str | Path, column: str, assets, ok, expected: str) -> pd.DataFrame:
    """A CSV ``time, asset, COLUMN`` as ``time`` (Unix s), ``asset`` and ``COLUMN`` (float), every
    asset one of ``assets`` and every value passing ``ok``; the first bad row is a
    :class:`DataError` naming it and saying ``expected``."""
    p = Path(path)
    raw = _read_table(p)
    if list(raw.columns[:3]) != ["time", "asset", column]:
        raise DataError(str(p), None, f"columns: expected time, asset, {column}; got {list(raw.columns)}")
    t = _times(raw["time"], p)
    asset = raw["asset"].astype(str).str.strip().to_numpy(dtype=object)
    bad = ~np.isin(asset, list(assets))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(str(p), i + 1, f"column asset: expected an asset of the market {list(assets)}, got {asset[i]!r}")
    value = pd.to_numeric(raw[column].astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~ok(value)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(str(p), i + 1, f"column {column}: expected {expected}, got {raw[column].iloc[i]!r}")
    return pd.DataFrame({"time": t, "asset": asset, column: value})


def read_impact_baseline(path: str | Path, assets: tuple[str, ...], times: IntArray) -> dict[str, FloatArray]:
    """What a path's own liquidations sold (CSV ``time, asset, amount``: tokens) as tokens per
    block of the path (each row in the block whose span holds its time; rows outside the
    path are dropped)."""
    rows = _time_asset_values(path, "amount", assets, lambda v: np.isfinite(v) & (v >= 0),
                              "tokens, a finite number >= 0")
    t, asset, amount = rows["time"].to_numpy(), rows["asset"].to_numpy(dtype=object), rows["amount"].to_numpy()
    tb = np.asarray(times, dtype=np.int64)
    step = int(tb[1] - tb[0]) if tb.size > 1 else 1
    block = np.searchsorted(tb, t, side="right") - 1
    inside = (block >= 0) & (t < tb[-1] + step)
    out: dict[str, FloatArray] = {}
    for a in np.unique(asset[inside]).tolist():
        m = inside & (asset == a)
        out[a] = np.bincount(block[m], weights=amount[m], minlength=tb.size).astype(np.float64)
    return out


def read_oracle_floor(path: str | Path, assets: list[str]) -> pd.DataFrame:
    """Lower bounds on an oracle's price (CSV ``time, asset, price``: UTC or Unix s, a market
    asset, a price > 0) as ``time`` (Unix s), ``asset``, ``price``; a bad row is a
    :class:`DataError` naming it."""
    return _time_asset_values(path, "price", assets, lambda v: np.isfinite(v) & (v > 0), "a finite price > 0")


__all__ = ["OwnerEventFile", "read_impact_baseline", "read_oracle_floor", "owner_actions_on", "read_accrual", "read_owner_events"]
