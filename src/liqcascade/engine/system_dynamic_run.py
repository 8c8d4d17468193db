"""One block-by-block simulation of a system of markets, as :class:`Result` tables, with
each market also run alone along the same path (the contagion in time).

Tables:

- ``summary`` -- one row for the system: markets, blocks, the totals over the markets and
  (with ``alone``) the same totals summed over the markets run alone and the difference;
- ``markets`` -- one row per market: its totals together, alone and ``contagion_*`` =
  together - alone, when everything cleared and its time to clear;
- ``steps``, ``events``, ``assets`` -- the single-market simulation's tables
  (:mod:`liqcascade.engine.dynamic.schema`) with a leading ``market`` column;
- ``market_summaries`` -- each market's single-market ``summary`` row, with ``market``;
- ``stablecoins`` / ``stablecoin_blocks`` -- when markets issue coins: per coin, and per block
  and coin, the issuer's debt repaid in it and what was bought on its venue;
- ``owners`` -- when accounts are linked to owners: per owner, as the static run's;
- ``liquidators`` -- one row per liquidator population of the run together (the shared
  one, ``market`` ``*``, and each market's dedicated one): accounts taken, capital used
  (debt repaid, USD), expected profit, the busiest block's accounts and capital, and the
  population's limits (:func:`~liqcascade.engine.system_dynamic.liquidators_table`).
"""

from __future__ import annotations

from typing import Callable, Mapping

import pandas as pd

from liqcascade.engine.dynamic.settings import SimSettings
from liqcascade.engine.result import Result
from liqcascade.engine.static import SortedBook
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import (
    COIN_BLOCK_COLUMNS,
    PEG_BLOCK_COLUMNS,
    SYSTEM_TOTALS,
    MarketSim,
    run_system,
    simulate_system,
)
from liqcascade.engine.system_owners import dynamic_outcomes, owner_table
from liqcascade.engine.system_run import market_table, stacked, summed


def run_system_simulation(
    system: SystemModel,
    path,
    oracle,
    settings: SimSettings | None = None,
    config: Mapping[str, object] | None = None,
    progress: Callable[[int, int], None] | None = None,
    alone: bool = True,
    per_market: Mapping[str, MarketSim] | None = None,
) -> Result:
    """The system together along ``path`` and, with ``alone``, every market by itself along
    the same path with fresh copies of the shared venues (and its own ``per_market`` parts)."""
    nb = len(path.times)
    total = nb * (1 + (len(system.names) if alone else 0))
    books = {n: SortedBook.of(m) for n, m in system.markets.items()}  # sorted once, read by every run

    def part(offset: int):
        if progress is None:
            return None
        return lambda done, _n: progress(offset + done, total)

    coin_rows: list[dict] = []
    run = run_system(system, path, oracle, settings, None, part(0), books, per_market, coin_rows)
    together = run.markets
    apart = None
    if alone:
        apart = {}
        for k, n in enumerate(system.names):
            apart[n] = simulate_system(system, path, oracle, settings, [n], part(nb * (k + 1)), books, per_market)[n]
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
        "liquidators": run.liquidators,
    }
    if system.issued:
        pegged = any(c.pegged for c in system.issued)
        blocks = pd.DataFrame(coin_rows, columns=list(COIN_BLOCK_COLUMNS + (PEG_BLOCK_COLUMNS if pegged else ())))
        tables["stablecoins"] = coin_summary(system, blocks)
        tables["stablecoin_blocks"] = blocks
    if system.owners:
        tables["owners"] = owner_table(system, dynamic_outcomes(tables["events"]))
    return Result("system_simulation", tables, dict(config or {}))


def system_row(markets: pd.DataFrame, blocks: int, block_seconds: float) -> dict[str, object]:
    """The system's row: totals over the markets (and the alone sums and contagion when
    the table has them); cleared when every market cleared."""
    return {"markets": len(markets), "blocks": blocks, "block_seconds": block_seconds,
            "cleared": bool(markets["cleared"].all()), **summed(markets, SYSTEM_TOTALS)}


def coin_summary(system: SystemModel, blocks: pd.DataFrame) -> pd.DataFrame:
    """Per issued coin: the issuer's debt repaid in it over the run, the tokens bought on its
    venue and their cost, blocks with a purchase, and the venue's highest price right after one."""
    rows = []
    for c in system.issued:
        mine = blocks[blocks["asset"] == c.asset]
        bought = mine[mine["bought"] > 0]
        ref = float(system.prices[system.assets.index(c.asset)])
        rows.append({"asset": c.asset, "issuer": c.issuer, "buy_share": float(c.buy_share), "price_reference": ref,
                     "debt_repaid": float(mine["debt_repaid"].sum()), "bought": float(mine["bought"].sum()),
                     "bought_cost_usd": float(mine["bought_cost_usd"].sum()), "blocks_bought": len(bought),
                     "price_max_after_purchase": float(bought["price_after"].max()) if len(bought) else float("nan"),
                     **(_peg_totals(c, mine) if c.pegged else {})})
    return pd.DataFrame(rows)


def _peg_totals(c, mine: pd.DataFrame) -> dict[str, float]:
    """A pegged coin's supply at the start and end and its PSM's totals over the run."""
    nan = float("nan")
    s0 = nan if c.supply is None else float(c.supply)
    g0 = nan if c.psm is None else float(c.psm.gem_balance)
    last = mine.iloc[-1] if len(mine) else None
    return {"supply_start": s0, "supply_end": s0 if last is None else float(last["supply"]),
            "psm_minted": float(mine["psm_minted"].sum()), "psm_burnt": float(mine["psm_burnt"].sum()),
            "psm_gem_start": g0, "psm_gem_end": g0 if last is None else float(last["psm_gem"]),
            "redeemed": float(mine["redeemed"].sum())}
