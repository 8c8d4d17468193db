"""One block-by-block simulation of a system of markets, as :class:`Result` tables, with
each market also run alone along the same path (the contagion in time).

Tables:

- ``summary`` -- one row for the system: markets, blocks, the totals over the markets and
  (with ``alone``) the same totals summed over the markets run alone and the difference;
- ``markets`` -- one row per market: its totals together, alone and ``contagion_*`` =
  together - alone, when everything cleared and its time to clear;
- ``steps``, ``events``, ``assets`` -- the single-market simulation's tables
  (:mod:`liqcascade.engine.dynamic.schema`) with a leading ``market`` column;
- ``market_summaries`` -- each market's single-market ``summary`` row, with ``market``.
"""

from __future__ import annotations

from typing import Callable, Mapping

import pandas as pd

from liqcascade.engine.dynamic.settings import SimSettings
from liqcascade.engine.result import Result
from liqcascade.engine.static import SortedBook
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import SYSTEM_TOTALS, simulate_system


def run_system_simulation(
    system: SystemModel,
    path,
    oracle,
    settings: SimSettings | None = None,
    config: Mapping[str, object] | None = None,
    progress: Callable[[int, int], None] | None = None,
    alone: bool = True,
) -> Result:
    """The system together along ``path`` and, with ``alone``, every market by itself along
    the same path with fresh copies of the shared venues."""
    nb = len(path.times)
    total = nb * (1 + (len(system.names) if alone else 0))
    books = {n: SortedBook.of(m) for n, m in system.markets.items()}  # sorted once, read by every run

    def part(offset: int):
        if progress is None:
            return None
        return lambda done, _n: progress(offset + done, total)

    together = simulate_system(system, path, oracle, settings, None, part(0), books)
    apart = None
    if alone:
        apart = {}
        for k, n in enumerate(system.names):
            apart[n] = simulate_system(system, path, oracle, settings, [n], part(nb * (k + 1)), books)[n]
    summaries = {n: r.summary for n, r in together.items()}
    markets = market_rows(system, summaries, None if apart is None else {n: r.summary for n, r in apart.items()})
    summary = system_row(markets, nb, float(path.block_seconds))
    tables = {
        "summary": pd.DataFrame([summary]),
        "markets": markets,
        "steps": stacked({n: r["steps"] for n, r in together.items()}),
        "events": stacked({n: r["events"] for n, r in together.items()}),
        "assets": stacked({n: r["assets"] for n, r in together.items()}),
        "market_summaries": stacked({n: r["summary"] for n, r in together.items()}),
    }
    return Result("system_simulation", tables, dict(config or {}))


def market_rows(system: SystemModel, together: Mapping[str, dict], alone: Mapping[str, dict] | None) -> pd.DataFrame:
    """One row per market: its totals in the system and, unless ``alone`` is None, alone and
    the difference (``contagion_*``)."""
    rows = []
    for name in system.names:
        t = together[name]
        row: dict[str, object] = {"market": name, "protocol": t.get("protocol"), "version": t.get("version")}
        for key in SYSTEM_TOTALS:
            row[key] = t[key]
        row["cleared"] = t["cleared"]
        row["time_to_clear_s"] = t["time_to_clear_s"]
        if alone is not None:
            for key in SYSTEM_TOTALS[1:]:
                row[f"alone_{key}"] = alone[name][key]
                row[f"contagion_{key}"] = t[key] - alone[name][key]
        rows.append(row)
    return pd.DataFrame(rows)


def system_row(markets: pd.DataFrame, blocks: int, block_seconds: float) -> dict[str, object]:
    """The system's row: totals over the markets (and the alone sums and contagion when
    the table has them); cleared when every market cleared."""
    s: dict[str, object] = {
        "markets": len(markets), "blocks": blocks, "block_seconds": block_seconds,
        "cleared": bool(markets["cleared"].all()),
    }
    for key in SYSTEM_TOTALS:
        s[key] = markets[key].sum().item()
    for key in SYSTEM_TOTALS[1:]:
        if f"alone_{key}" in markets.columns:
            s[f"alone_{key}"] = markets[f"alone_{key}"].sum().item()
            s[f"contagion_{key}"] = s[key] - s[f"alone_{key}"]
    return s


def stacked(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The frames one under the other with a leading ``market`` column."""
    parts = [f.assign(market=n)[["market", *f.columns]] for n, f in frames.items() if len(f)]
    if not parts:
        first = next(iter(frames.values()), pd.DataFrame())
        return pd.DataFrame(columns=["market", *first.columns])
    return pd.concat(parts, ignore_index=True)
