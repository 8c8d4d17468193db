"""One static cascade of a system of markets, as :class:`Result` tables, with each market
also run alone so that the contagion is a number.

Tables:

- ``summary`` -- one row for the system: totals over the markets, the headline
  amplification, and the same totals summed over the markets run alone;
- ``markets`` -- one row per market: its totals together and alone, and the difference
  (``contagion_*`` = together - alone);
- ``assets`` -- per system asset: reference, shocked and final prices, drops,
  amplification, token totals over all markets;
- ``market_assets`` -- per market and asset: what the market seized, sold into the venue
  (tokens and proceeds USD), repaid and wrote off;
- ``rounds`` / ``accounts`` -- the single-market tables with a leading ``market`` column;
- ``stablecoins`` -- when markets issue coins: per coin, its price and what was repaid
  (burnt) and bought on its venue (:func:`~liqcascade.engine.system_owners.coin_table`), and
  when a coin declares a supply, a PSM or redemptions their totals;
- ``stablecoin_rounds`` -- then, per round and such coin: its supply and the peg arbitrage
  at the round's start (:func:`~liqcascade.engine.system_owners.peg_round_table`);
- ``owners`` -- when accounts are linked to owners: per owner, positions, markets where it
  was liquidated, its loss (:func:`~liqcascade.engine.system_owners.owner_table`);
- ``liquidators`` -- when liquidators are bounded: per population, its calls, capital used,
  balance and what it left eligible (:mod:`~liqcascade.engine.system_liquidators`).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from liqcascade.engine.result import Result, _clean
from liqcascade.engine.run import ROUND_COLUMNS, assets_without_venue, headline_fields
from liqcascade.engine.static import TOTALS, CascadeSettings
from liqcascade.engine.system import SystemCascade, SystemModel, SystemOutcome
from liqcascade.engine.system_liquidators import LEDGER_COLUMNS, ledger_row
from liqcascade.engine.system_owners import coin_table, owner_table, peg_round_table, static_outcomes
from liqcascade.engine.trades import static_trades

MARKET_TOTALS = (
    "accounts", "accounts_liquidated", "liquidation_calls", "collateral_seized_usd", "debt_repaid_usd",
    "liquidator_proceeds_usd", "bad_debt_usd",
)
"""Per-market summary numbers compared together vs alone."""


def run_system(
    system: SystemModel,
    shocks: Mapping[str, float],
    settings: CascadeSettings | None = None,
    market_settings: Mapping[str, CascadeSettings] | None = None,
    config: Mapping[str, object] | None = None,
) -> Result:
    """The system's static cascade from ``shocks`` and every market's alone."""
    solver = SystemCascade(system, settings, market_settings)
    out = solver.run(shocks, trades=True)
    together = {n: solver.summarize(n, o) for n, o in out.markets.items()}
    alone = {n: solver.totals(n, solver.alone(n, shocks, keep_arrays=False)) for n in system.names}
    markets = market_table(system, together, alone)
    assets = system_asset_rows(solver, out)
    coll_usd, _ = system.holdings_usd()
    summary = system_summary(markets, out)
    summary.update({f"shock_{a}": float(v) for a, v in shocks.items()})
    moved = [a for a, v in shocks.items() if float(v) != 0.0]
    summary["shocked_assets_without_venue"] = ",".join(assets_without_venue(system, moved, solver.settings))
    summary.update(headline_fields(assets, shocks, coll_usd, system.assets))
    if out.liquidators:
        summary.update(left_eligible(out))
    tables = {
        "summary": pd.DataFrame([summary]),
        "markets": markets,
        "assets": assets,
        "market_assets": market_asset_rows(system, out),
        "rounds": stacked({n: pd.DataFrame(o.round_rows, columns=ROUND_COLUMNS) for n, o in out.markets.items()}),
        "accounts": stacked({n: _clean(solver.solvers[n].account_frame(o)) for n, o in out.markets.items()}),
        "trades": stacked({n: static_trades(system.markets[n], o) for n, o in out.markets.items()}),
    }
    if system.issued:
        tables["stablecoins"] = coin_table(system, out)
    if any(c.pegged for c in system.issued):
        tables["stablecoin_rounds"] = peg_round_table(out)
    if system.owners:
        tables["owners"] = owner_table(system, static_outcomes(tables["accounts"]))
    if out.liquidators:
        tables["liquidators"] = pd.DataFrame([ledger_row(x) for x in out.liquidators.values()], columns=LEDGER_COLUMNS)
    return Result("system", tables, dict(config or {}))


def market_table(
    system: SystemModel, together: Mapping[str, dict], alone: Mapping[str, dict] | None,
    keys: tuple[str, ...] = MARKET_TOTALS, extra: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One row per market: its ``keys`` (the first, the account count, is not compared) and
    ``extra`` in the system and, unless ``alone`` is None, the same alone and the difference
    (``contagion_*``)."""
    rows = []
    for name in system.names:
        t = together[name]
        facts = system.markets[name].rules.describe()
        row: dict[str, object] = {"market": name, "protocol": facts.get("protocol"), "version": facts.get("version")}
        for key in (*keys, *extra):
            row[key] = t[key]
        if alone is not None:
            for key in keys[1:]:
                row[f"alone_{key}"] = alone[name][key]
                row[f"contagion_{key}"] = t[key] - alone[name][key]
        rows.append(row)
    return pd.DataFrame(rows)


def summed(markets: pd.DataFrame, keys: tuple[str, ...] = MARKET_TOTALS) -> dict[str, object]:
    """``keys`` summed over the markets and, when the table has them, the sums over the markets
    alone and the contagion (together - alone)."""
    s: dict[str, object] = {key: markets[key].sum().item() for key in keys}
    for key in keys[1:]:
        if f"alone_{key}" in markets.columns:
            s[f"alone_{key}"] = markets[f"alone_{key}"].sum().item()
            s[f"contagion_{key}"] = s[key] - s[f"alone_{key}"]
    return s


def system_summary(markets: pd.DataFrame, out: SystemOutcome) -> dict[str, object]:
    """The system's row: rounds and flags of the fixed point, totals over the markets (and,
    when the table has them, the sums over the markets alone and the contagion)."""
    tr = out.trace
    return {"markets": len(markets), "rounds": tr.rounds, "converged": tr.converged, "stuck": tr.stuck,
            **summed(markets)}


def system_asset_rows(solver: SystemCascade, out: SystemOutcome) -> pd.DataFrame:
    sysm, tr = solver.system, out.trace
    totals = {name: np.zeros(len(sysm.assets)) for name in TOTALS}
    for n, o in out.markets.items():
        ix = sysm.index(n)
        for name in TOTALS:
            np.add.at(totals[name], ix, o.totals[name])
    rows = []
    for i, a in enumerate(sysm.assets):
        drop0 = 1.0 - tr.prices_shocked[i] / tr.prices0[i]
        drop1 = 1.0 - tr.prices_final[i] / tr.prices0[i]
        rows.append({
            "asset": a,
            "price_reference": float(tr.prices0[i]),
            "price_shocked": float(tr.prices_shocked[i]),
            "price_final": float(tr.prices_final[i]),
            "initial_drop": float(drop0),
            "final_drop": float(drop1),
            "amplification": float(drop1 / drop0) if drop0 > 0 else float("nan"),
            "has_venue": a in sysm.venues and solver.settings.impact,
            **{name: float(v[i]) for name, v in totals.items()},
        })
    return pd.DataFrame(rows)


def market_asset_rows(system: SystemModel, out: SystemOutcome) -> pd.DataFrame:
    """What each market did in each asset (tokens; proceeds in USD); rows with any activity."""
    rows = []
    for n, o in out.markets.items():
        for j, a in enumerate(system.markets[n].assets):
            if not any(o.totals[name][j] for name in ("seized", "repaid", "deficit")):
                continue
            rows.append({
                "market": n,
                "asset": a,
                "collateral_seized": float(o.totals["seized"][j]),
                "collateral_sold": float(o.totals["sold"][j]),
                "proceeds_usd": float(o.totals["proceeds"][j]),
                "debt_repaid": float(o.totals["repaid"][j]),
                "deficit": float(o.totals["deficit"][j]),
                "collateral_seized_usd_final": float(o.totals["seized"][j] * o.prices_final[j]),
            })
    return pd.DataFrame(rows, columns=["market", "asset", "collateral_seized", "collateral_sold", "proceeds_usd",
                                       "debt_repaid", "deficit", "collateral_seized_usd_final"])


def system_curve(
    system: SystemModel,
    asset: str,
    shocks,
    settings: CascadeSettings | None = None,
    market_settings: Mapping[str, CascadeSettings] | None = None,
    co_move: tuple[str, ...] = (),
    config: Mapping[str, object] | None = None,
    progress=None,
    alone: bool = True,
) -> Result:
    """The contagion curve: for each initial shock of ``asset`` (and ``co_move``), the
    system's fixed point beside the sum of the markets run alone.

    Tables: ``curve`` (per shock: final price, drop and amplification of ``asset`` in the
    system, system totals and the same totals summed over the markets alone, and their
    difference ``contagion_*``) and ``curve_markets`` (per shock and market, together and alone).
    ``alone=False`` runs only the system at each point (one cascade per point instead of one
    plus one per market): the ``alone_*`` and ``contagion_*`` columns are then absent.
    """
    solver = SystemCascade(system, settings, market_settings)
    i = system.assets.index(asset)
    rows, mrows = [], []
    grid = np.asarray(shocks, dtype=np.float64)
    for k, s in enumerate(grid):
        if progress is not None:
            progress(k, len(grid))
        here = {a: float(s) for a in (asset, *co_move)}
        out = solver.run(here, keep_arrays=False)
        together = {n: solver.totals(n, o) for n, o in out.markets.items()}
        apart = {n: solver.totals(n, solver.alone(n, here, keep_arrays=False)) for n in system.names} if alone else None
        markets = market_table(system, together, apart)
        tr = out.trace
        drop1 = 1.0 - tr.prices_final[i] / tr.prices0[i]
        row = {
            "shock": float(s), "price_reference": float(tr.prices0[i]), "price_shocked": float(tr.prices_shocked[i]),
            "price_final": float(tr.prices_final[i]), "final_drop": float(drop1),
            "amplification": float(drop1 / s) if s > 0 else float("nan"), "rounds": tr.rounds,
            "converged": tr.converged,
        }
        row.update({k: v for k, v in system_summary(markets, out).items() if k not in ("markets", "rounds", "converged",
                                                                                        "stuck", "accounts")})
        if out.liquidators:  # bounded liquidators: what they left eligible (all populations' markets)
            row.update(left_eligible(out))
        rows.append(row)
        mrows.append(markets.drop(columns=["protocol", "version", "accounts"]).assign(shock=float(s)))
    curve = pd.DataFrame(rows)
    curve.insert(0, "asset", asset)
    curve["assets_without_venue"] = ",".join(assets_without_venue(system, [asset, *co_move], solver.settings))
    curve_markets = pd.concat(mrows, ignore_index=True)
    curve_markets = curve_markets[["shock", *[c for c in curve_markets.columns if c != "shock"]]]
    return Result("curve", {"curve": curve, "curve_markets": curve_markets}, dict(config or {}))


def left_eligible(out: SystemOutcome) -> dict[str, object]:
    """Accounts the bounded liquidators left eligible at the end, their debt and their debt above
    collateral (the shared population's row covers every market)."""
    led = out.liquidators["shared"]
    return {"stuck": out.trace.stuck, "accounts_left_eligible": led.accounts_left,
            "debt_left_eligible_usd": led.debt_left_usd, "shortfall_left_usd": led.shortfall_left_usd}


def stacked(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The frames one under the other with a leading ``market`` column."""
    parts = [f.assign(market=n)[["market", *f.columns]] for n, f in frames.items() if len(f)]
    if not parts:
        first = next(iter(frames.values()), pd.DataFrame())
        return pd.DataFrame(columns=["market", *first.columns])
    return pd.concat(parts, ignore_index=True)
