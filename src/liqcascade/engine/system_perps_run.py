"""Perps and lending in one system as :class:`Result` tables, with each side also run without the other.

Tables (run kind ``system_perps``):

- ``summary`` -- one row: the lending markets' totals (as a system simulation's), the perp
  markets' totals and the arbitrage's; with ``alone``, ``alone_*`` (lending without the perps,
  perps without the lending markets) and ``contagion_*`` = together - alone;
- ``markets`` -- one row per lending market, together and without the perps;
- ``perp_markets`` -- one row per perp market: its book, liquidated and ADL notional, fund,
  deficits written off, the arbitrage's flow (tokens and USD each way, capital used), and
  with ``alone`` the same without the lending markets;
- ``steps``, ``events``, ``assets``, ``market_summaries``, ``trades``, ``liquidators`` -- the
  lending side's tables, as a system simulation's (:mod:`liqcascade.engine.system_dynamic_run`);
- ``perp_steps`` -- per perp market and sub-step (:data:`~liqcascade.engine.system_perps.PERP_STEP_COLUMNS`);
- ``arbitrage`` -- per perp market and sub-step with a trade
  (:data:`~liqcascade.engine.system_perps.ARB_COLUMNS`).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from liqcascade.engine.dynamic.settings import SimSettings
from liqcascade.engine.result import Result
from liqcascade.engine.static import SortedBook
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import SYSTEM_TOTALS, MarketSim, run_system
from liqcascade.engine.system_dynamic_run import system_row
from liqcascade.engine.system_perps import PerpMarketSim, PerpsSystemRun, run_system_perps
from liqcascade.engine.system_run import market_table, stacked

__all__ = ["KIND", "PERP_TOTALS", "perp_market_table", "run_system_perps_simulation"]

KIND = "system_perps"
PERP_TOTALS = ("liquidated_usd", "adl_usd", "written_off_usd", "fund_end_usd")
"""Per perp market numbers compared with and without the lending markets."""


def _perp_row(sim: PerpMarketSim, steps: pd.DataFrame, flows: pd.DataFrame) -> dict[str, object]:
    """A perp market's totals over the run and its arbitrage's flow."""
    mine = steps[steps["perp_market"] == sim.name]
    arb = flows[flows["perp_market"] == sim.name]
    sold = arb[arb["perp_sold"]]  # the perp was rich: sold on the perp, bought on spot
    bought = arb[~arb["perp_sold"]]
    long_oi, short_oi = sim.book.open_interest()
    p0 = float(mine["index_price"].iloc[0]) if len(mine) else float("nan")
    fund = mine["fund_usd"].to_numpy()
    return {
        "perp_market": sim.name, "asset": sim.asset, "engine": sim.engine.name, "market": sim.book.markets[0],
        "accounts": sim.book.n_accounts, "accounts_topped_up": sim.topped_up, "step_seconds": sim.step_seconds,
        "open_interest_long_usd": float(long_oi[0] * p0), "open_interest_short_usd": float(short_oi[0] * p0),
        "liquidated_usd": float(mine["liquidated_usd"].sum()), "adl_usd": float(mine["adl_usd"].sum()),
        "fund_start_usd": sim.fund_usd, "fund_end_usd": float(fund[-1]) if fund.size else sim.fund_usd,
        "fund_min_usd": float(min(sim.fund_usd, fund.min(initial=np.inf))),
        "written_off_usd": float(mine["written_off_usd"].iloc[-1]) if len(mine) else 0.0,
        "max_negative_equity_accounts": int(mine["negative_equity_accounts"].max()) if len(mine) else 0,
        "index_min": float(mine["index_price"].min()) if len(mine) else float("nan"),
        "arb_capital_usd": sim.arbitrageur.capital_usd, "arb_capital_used_usd": float(arb["buy_cost_usd"].sum()),
        "arb_perp_sold_tokens": float(sold["tokens"].sum()), "arb_perp_bought_tokens": float(bought["tokens"].sum()),
        "arb_spot_bought_usd": float(sold["buy_cost_usd"].sum()),
        "arb_spot_sold_usd": float(bought["sell_proceeds_usd"].sum()),
    }


def perp_market_table(perps: Sequence[PerpMarketSim], run: PerpsSystemRun, alone: PerpsSystemRun | None) -> pd.DataFrame:
    """One row per perp market (:func:`_perp_row`); with ``alone`` (the perps without the
    lending markets) its :data:`PERP_TOTALS` alone and ``contagion_*`` = together - alone."""
    rows = []
    for sim in perps:
        row = _perp_row(sim, run.perp_steps, run.arbitrage)
        if alone is not None:
            lone = _perp_row(sim, alone.perp_steps, alone.arbitrage)
            for key in PERP_TOTALS:
                row[f"alone_{key}"] = lone[key]
                row[f"contagion_{key}"] = row[key] - lone[key]
        rows.append(row)
    return pd.DataFrame(rows)


def _summary(markets: pd.DataFrame, perp_markets: pd.DataFrame, blocks: int, block_seconds: float) -> dict:
    row = system_row(markets, blocks, block_seconds)
    row["perp_markets"] = len(perp_markets)
    for key in PERP_TOTALS[:-1] + ("arb_capital_used_usd", "arb_spot_bought_usd", "arb_spot_sold_usd"):
        row[f"perp_{key}" if not key.startswith("arb_") else key] = float(perp_markets[key].sum())
    for key in PERP_TOTALS[:-1]:
        if f"alone_{key}" in perp_markets.columns:
            row[f"alone_perp_{key}"] = float(perp_markets[f"alone_{key}"].sum())
            row[f"contagion_perp_{key}"] = row[f"perp_{key}"] - row[f"alone_perp_{key}"]
    return row


def run_system_perps_simulation(
    system: SystemModel,
    path,
    oracle,
    perps: Sequence[PerpMarketSim],
    settings: SimSettings | None = None,
    config: Mapping[str, object] | None = None,
    progress: Callable[[int, int], None] | None = None,
    alone: bool = True,
    per_market: Mapping[str, MarketSim] | None = None,
    wrap: Callable = lambda v: v,
) -> Result:
    """The lending and perp markets together along ``path`` and, with ``alone``, the lending
    markets without the perps (the system simulation) and the perps without the lending
    markets (their index: the path's spot venues with only the arbitrage's trades)."""
    nb = len(path.times)
    total = nb * (3 if alone else 1)
    books = {n: SortedBook.of(m) for n, m in system.markets.items()}

    def part(offset: int):
        return None if progress is None else (lambda done, _n: progress(offset + done, total))

    run = run_system_perps(system, path, oracle, perps, settings, None, per_market, part(0), books, wrap)
    lending_alone = perps_alone = None
    if alone:
        lending_alone = run_system(system, path, oracle, settings, None, part(nb), books, per_market).markets
        perps_alone = run_system_perps(system, path, oracle, perps, settings, [], None, part(2 * nb), books, wrap)
    together = run.lending.markets
    markets = market_table(system, {n: r.summary for n, r in together.items()},
                           None if lending_alone is None else {n: r.summary for n, r in lending_alone.items()},
                           SYSTEM_TOTALS, ("cleared", "time_to_clear_s"))
    perp_markets = perp_market_table(perps, run, perps_alone)
    tables = {
        "summary": pd.DataFrame([_summary(markets, perp_markets, nb, float(path.block_seconds))]),
        "markets": markets,
        "perp_markets": perp_markets,
        "steps": stacked({n: r["steps"] for n, r in together.items()}),
        "events": stacked({n: r["events"] for n, r in together.items()}),
        "assets": stacked({n: r["assets"] for n, r in together.items()}),
        "market_summaries": stacked({n: r["summary"] for n, r in together.items()}),
        "trades": stacked({n: r["trades"] for n, r in together.items()}),
        "liquidators": run.lending.liquidators,
        "perp_steps": run.perp_steps,
        "arbitrage": run.arbitrage,
    }
    return Result(KIND, tables, dict(config or {}))
