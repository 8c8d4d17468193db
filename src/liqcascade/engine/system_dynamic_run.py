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
from liqcascade.engine.system_run import market_table, stacked, summed


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
    markets = market_table(system, summaries, None if apart is None else {n: r.summary for n, r in apart.items()},
                           SYSTEM_TOTALS, ("cleared", "time_to_clear_s"))
    summary = system_row(markets, nb, float(path.block_seconds))
    tables = {
        "summary": pd.DataFrame([summary]),
        "markets": markets,
        "steps": stacked({n: r["steps"] for n, r in together.items()}),
        "events": stacked({n: r["events"] for n, r in together.items()}),
        "assets": stacked({n: r["assets"] for n, r in together.items()}),
        "market_summaries": stacked({n: r["summary"] for n, r in together.items()}),
        "trades": stacked({n: r["trades"] for n, r in together.items()}),
    }
    return Result("system_simulation", tables, dict(config or {}))


def system_row(markets: pd.DataFrame, blocks: int, block_seconds: float) -> dict[str, object]:
    """The system's row: totals over the markets (and the alone sums and contagion when
    the table has them); cleared when every market cleared."""
    return {"markets": len(markets), "blocks": blocks, "block_seconds": block_seconds,
            "cleared": bool(markets["cleared"].all()), **summed(markets, SYSTEM_TOTALS)}
