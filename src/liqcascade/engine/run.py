"""One static cascade and the cascade curve, as :class:`Result` tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from liqcascade.engine.curve import curve_points
from liqcascade.engine.result import Result, _clean
from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.engine.trades import static_trades
from liqcascade.errors import ConfigError

if TYPE_CHECKING:
    from liqcascade.engine.system import SystemModel


def run_static(
    model: MarketModel,
    shocks: Mapping[str, float],
    settings: CascadeSettings | None = None,
    config: Mapping[str, object] | None = None,
) -> Result:
    """Run one static cascade from ``shocks`` (asset -> fractional drop).

    Tables: ``summary`` (one row), ``assets`` (per asset: prices, drops, amplification,
    token totals), ``rounds`` (per round and asset), ``accounts`` (per touched account),
    ``trades`` (signed flows per party, account, asset and kind: :mod:`liqcascade.engine.trades`).
    """
    solver = StaticCascade(model, settings)
    out = solver.run(shocks, trades=True)
    summary = solver.summarize(out)
    for a, v in shocks.items():
        summary[f"shock_{a}"] = float(v)
    assets = pd.DataFrame(solver.asset_rows(out))
    coll, debt = model.book.totals_by_asset()
    unheld = [a for a, v in shocks.items() if v and coll[model.assets.index(a)] == 0 and debt[model.assets.index(a)] == 0]
    summary["shocked_assets_not_held"] = ",".join(unheld)
    moved = [a for a, v in shocks.items() if float(v) != 0.0]
    summary["shocked_assets_without_venue"] = ",".join(assets_without_venue(model, moved, solver.settings))
    summary.update(headline_fields(assets, shocks, coll * model.prices, model.assets))
    rounds = pd.DataFrame(out.round_rows, columns=ROUND_COLUMNS)
    accounts = _clean(solver.account_frame(out))
    tables = {"summary": pd.DataFrame([summary]), "assets": assets, "rounds": rounds, "accounts": accounts,
              "trades": static_trades(model, out)}
    return Result("static", tables, dict(config or {}))


def headline_fields(
    assets: pd.DataFrame, shocks: Mapping[str, float], collateral_usd: np.ndarray, symbols: Sequence[str]
) -> dict[str, object]:
    """The headline amplification: of the most-shocked asset (by the shock as given) and,
    among equal shocks, of the asset with the most collateral (USD) in the book(s). Empty
    when nothing was shocked down."""
    given = pd.Series({a: float(v) for a, v in shocks.items() if float(v) > 0}, dtype=float)
    shocked = assets[assets["asset"].isin(given.index)]
    if not len(shocked):
        return {}
    value = pd.Series(collateral_usd, index=list(symbols))
    shocked = shocked.assign(_shock=shocked["asset"].map(given), _value=shocked["asset"].map(value))
    top = shocked.sort_values(["_shock", "_value"], ascending=[False, False]).iloc[0]
    return {
        "headline_asset": top["asset"],
        "initial_drop": float(top["initial_drop"]),
        "final_drop": float(top["final_drop"]),
        "amplification": float(top["amplification"]),
    }


ROUND_COLUMNS = [
    "round", "asset", "eligible_accounts", "liquidation_calls", "price_before", "price_after",
    "collateral_seized", "protocol_fee", "collateral_sold", "collateral_held", "proceeds_usd",
    "debt_repaid", "debt_bought", "debt_bought_cost_usd", "deficit",
]


def assets_without_venue(model: "MarketModel | SystemModel", assets: Sequence[str], settings: CascadeSettings) -> list[str]:
    """Those of ``assets`` (shocked ones) no venue of the market (or system) prices: nothing sold moves their price, so their
    amplification is 1 by construction. Empty when ``settings.impact`` is off (no asset's price
    feeds back then, by choice)."""
    if not settings.impact:
        return []
    return [a for a in assets if a not in model.venues]


MAX_GRID_POINTS = 10_001
"""Most points a shock grid may have (0:1:0.0001 is 10,001): a finer grid is a typo, not a study."""

_GRID = "start:stop:step with finite numbers, step > 0 and stop >= start, or a comma list of numbers"


def parse_shock_range(text: str, file: str = "--shocks", key: str = "shocks") -> np.ndarray:
    """``"start:stop:step"`` (stop inclusive, fractions) or a comma list -> array of shocks.

    At most :data:`MAX_GRID_POINTS` points; the count is computed before any array is made, so
    ``0:0.9:1e-15`` is refused at once. Errors name ``file`` and ``key`` (a scenario's
    ``curve.shocks`` or the ``--shocks`` option)."""
    t = str(text).strip()
    try:
        if ":" in t:
            a, b, c = (float(x) for x in t.split(":"))
            if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(c)) or c <= 0 or b < a:
                raise ValueError
            count = np.floor((b - a) / c + 1e-9) + 1  # a float: inf or 1e300 must not become an int here
            if not count <= MAX_GRID_POINTS:
                raise ConfigError(file, key, f"at most {MAX_GRID_POINTS:,} shock points (a larger step)",
                                  f"{text} ({count:,.0f} points)")
            vals = a + c * np.arange(int(count))
        else:
            parts = [x for x in t.split(",") if x.strip()]
            if len(parts) > MAX_GRID_POINTS:
                raise ConfigError(file, key, f"at most {MAX_GRID_POINTS:,} shock points", f"{len(parts):,} values")
            vals = np.array([float(x) for x in parts])
    except ValueError:
        raise ConfigError(file, key, _GRID, text) from None
    if vals.size == 0 or np.any(~np.isfinite(vals)) or np.any(vals < 0) or np.any(vals >= 1):
        raise ConfigError(file, key, "fractional drops in [0, 1)", text)
    return vals


def cascade_curve(
    model: MarketModel,
    asset: str,
    shocks: Sequence[float] | np.ndarray,
    settings: CascadeSettings | None = None,
    co_move: Sequence[str] = (),
    config: Mapping[str, object] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """The cascade curve: for each initial shock of ``asset``, the fixed point.

    Tables: ``curve`` (one row per shock: final price and drop of ``asset``,
    amplification = final drop / initial drop, liquidated collateral and repaid debt in
    USD, bad debt, rounds) and ``curve_assets`` (per shock and asset: final price,
    collateral seized and debt repaid in tokens and USD at the final price).
    ``other_shocks`` are applied to other assets at every point. ``progress(done, total)`` is
    called after each shock.
    """
    if asset not in model.assets:
        raise ConfigError("--asset", "asset", f"an asset of the market {list(model.assets)}", asset)
    for a in co_move:
        if a not in model.assets:
            raise ConfigError("--co-move", "co_move", f"assets of the market {list(model.assets)}", a)
    solver = StaticCascade(model, settings)
    i = model.assets.index(asset)
    rows, arows = [], []
    no_venue = ",".join(assets_without_venue(model, [asset, *co_move], solver.settings))
    grid = np.asarray(shocks, dtype=np.float64)
    vectors = np.array([model.shock_vector({a: float(s) for a in (asset, *co_move)}) for s in grid])
    points = curve_points(solver, vectors.reshape(len(grid), len(model.assets)), progress=progress)
    for s, pt in zip(grid, points):
        p_final = pt.prices_final
        drop1 = 1.0 - p_final[i] / pt.prices0[i]
        rows.append(
            {
                "shock": float(s),
                "price_reference": float(pt.prices0[i]),
                "price_shocked": float(pt.prices_shocked[i]),
                "price_final": float(p_final[i]),
                "final_drop": float(drop1),
                "amplification": float(drop1 / s) if s > 0 else float("nan"),
                "collateral_seized_usd": pt.collateral_seized_usd,
                "debt_repaid_usd": pt.debt_repaid_usd,
                "bad_debt_usd": pt.bad_debt_usd,
                "accounts_liquidated": pt.accounts_liquidated,
                "rounds": pt.rounds,
                "converged": pt.converged,
                "assets_without_venue": no_venue,
            }
        )
        for j, a in enumerate(model.assets):
            if pt.seized[j] or pt.repaid[j] or p_final[j] != pt.prices0[j]:
                arows.append(
                    {
                        "shock": float(s),
                        "asset": a,
                        "price_final": float(p_final[j]),
                        "collateral_seized": float(pt.seized[j]),
                        "collateral_seized_usd_final": float(pt.seized[j] * p_final[j]),
                        "debt_repaid": float(pt.repaid[j]),
                        "debt_repaid_usd_final": float(pt.repaid[j] * p_final[j]),
                        "deficit": float(pt.deficit[j]),
                    }
                )
    curve = pd.DataFrame(rows)
    curve.insert(0, "asset", asset)
    curve_assets = pd.DataFrame(
        arows,
        columns=["shock", "asset", "price_final", "collateral_seized", "collateral_seized_usd_final",
                 "debt_repaid", "debt_repaid_usd_final", "deficit"],
    )
    return Result("curve", {"curve": curve, "curve_assets": curve_assets}, dict(config or {}))
