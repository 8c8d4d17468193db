"""Liquidation walls: the collateral that becomes liquidatable at each price of one asset.

The view DefiLlama calls "liquidation levels": for each price of the chosen asset (and the
assets that move with it), the accounts the protocol would find below health factor 1 at
that price, and the collateral they hold. Nothing is sold and no price moves (no feedback);
the cascade curve (:func:`liqcascade.api.curve`) says what is actually liquidated once the
selling feeds back, and the report shows the two side by side.

Health is the protocol's own (``rules.health``: HF = sum(collateral x price x LT) / sum(debt x
price), e-mode applied), so an account counts at the first grid level where its HF is below 1.
An account whose HF *rises* as the asset falls (debt in the asset, stable collateral) leaves
the set; the per-level ``new`` columns count only accounts below 1 at that level that were not
below 1 at the level before, so a wall is never negative.

The table is stored as a run of kind ``walls`` (run id: the hash of the scenario, the asset,
the grid and the co-moving assets, as for a curve), so every figure drawn from it names a
stored table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.engine.run import parse_shock_range
from liqcascade.engine.static import MarketModel
from liqcascade.errors import ConfigError
from liqcascade.io import scenario as _scenario
from liqcascade.io.store import ResultsStore, run_id as _run_id

WALLS_COLUMNS = [
    "shock", "price", "accounts_liquidatable", "collateral_liquidatable_usd", "asset_collateral_liquidatable",
    "asset_collateral_liquidatable_usd", "debt_liquidatable_usd", "accounts_new", "collateral_new_usd",
]
DEFAULT_STEP = 0.005
"""Grid step of the walls (0.5 % of the asset's price): finer than a curve, since it costs one
health pass per level and no cascade."""


def liquidation_walls(
    model: MarketModel, asset: str, shocks: Sequence[float] | np.ndarray, co_move: Sequence[str] = ()
) -> pd.DataFrame:
    """Per initial drop ``s`` of ``asset`` (``co_move`` assets drop by the same ``s``), with
    every other price at its reference: the accounts below HF 1 and what they hold.

    Columns (USD at that level's prices): ``shock``; ``price`` of ``asset``;
    ``accounts_liquidatable``; ``collateral_liquidatable_usd`` (their collateral that counts,
    LT > 0); ``asset_collateral_liquidatable`` and ``..._usd`` (their ``asset`` and co-moving
    collateral, tokens and USD); ``debt_liquidatable_usd``; ``accounts_new`` and
    ``collateral_new_usd`` (only the accounts that crossed 1 since the previous level: the
    wall at this price step).
    """
    grid = _check_grid(model, asset, shocks, co_move)
    book, rules = model.book, model.rules
    arrays = rules.prepare(book)
    moved = np.zeros(len(model.assets), dtype=bool)
    for a in (asset, *co_move):
        moved[model.assets.index(a)] = True
    moved_tokens = book.segment_sum(np.where(moved[book.asset], book.collateral, 0.0))
    moved_value0 = book.segment_sum(np.where(moved[book.asset], book.collateral * model.prices[book.asset], 0.0))
    i = model.assets.index(asset)
    rows = []
    before = np.zeros(book.n_accounts, dtype=bool)
    for s in grid:
        prices = np.where(moved, model.prices * (1.0 - s), model.prices)
        h = rules.health(arrays, prices)
        below = (h.debt_usd > 0) & (h.hf < 1.0)
        new = below & ~before
        before = below
        rows.append(
            {
                "shock": float(s),
                "price": float(prices[i]),
                "accounts_liquidatable": int(below.sum()),
                "collateral_liquidatable_usd": float(h.collateral_usd[below].sum()),
                "asset_collateral_liquidatable": float(moved_tokens[below].sum()),
                "asset_collateral_liquidatable_usd": float(moved_value0[below].sum() * (1.0 - s)),
                "debt_liquidatable_usd": float(h.debt_usd[below].sum()),
                "accounts_new": int(new.sum()),
                "collateral_new_usd": float(h.collateral_usd[new].sum()),
            }
        )
    out = pd.DataFrame(rows, columns=WALLS_COLUMNS)
    out.insert(0, "asset", asset)
    return out


def _check_grid(model: MarketModel, asset: str, shocks, co_move: Sequence[str]) -> np.ndarray:
    for key, a in [("asset", asset)] + [("co_move", x) for x in co_move]:
        if a not in model.assets:
            raise ConfigError("--asset" if key == "asset" else "--co-move", key, f"an asset of the market {list(model.assets)}", a)
    grid = np.asarray(shocks, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0) or np.any(grid >= 1):
        raise ConfigError("--shocks", "shocks", "a non-empty list of fractional drops in [0, 1)", shocks)
    if np.any(np.diff(grid) <= 0):
        raise ConfigError("--shocks", "shocks", "drops in increasing order", shocks)
    return grid


def default_grid(curve_shocks: Sequence[float] | np.ndarray, step: float = DEFAULT_STEP) -> np.ndarray:
    """0 to the curve's deepest shock in ``step`` steps (the walls of the range the curve spans)."""
    top = float(np.max(curve_shocks)) if len(curve_shocks) else 0.0
    n = int(np.floor(top / step + 1e-9)) + 1
    return np.round(step * np.arange(n), 12)


def walls(
    scenario: str | Path | _scenario.Scenario,
    store: ResultsStore | str | Path | None,
    asset: str | None = None,
    shocks: str | Sequence[float] | None = None,
    co_move: Sequence[str] | None = None,
) -> Result:
    """The liquidation walls of ``asset`` (defaults from the scenario's ``[curve]`` table; the
    grid: 0 to the curve's deepest shock in 0.5 % steps), stored as a run of kind ``walls``
    with one table, ``walls``. Running it again finds the stored run."""
    from liqcascade.execution.runs import hashed, load_scenario, save, stored

    sc = load_scenario(scenario)
    cur = sc.config.curve
    if asset is None:
        if cur is None:
            raise ConfigError(sc.source, "curve", "a [curve] table, or an asset for the walls")
        asset = cur.asset
    if shocks is None:
        shocks = default_grid(parse_shock_range(cur.shocks) if cur is not None else [0.6])
    grid = parse_shock_range(shocks) if isinstance(shocks, str) else np.asarray(shocks, dtype=np.float64)
    if co_move is None:
        co_move = list(cur.co_move) if cur is not None and cur.asset == asset else []
    co_move = [a for a in co_move if a != asset]
    cfg = sc.resolved()
    rid = _run_id(
        {"kind": "walls", "config": hashed(cfg, ("curve", "shock")), "asset": asset, "shocks": grid.tolist(),
         "co_move": co_move},
        __version__,
    )
    if (found := stored(store, rid, "walls")) is not None:
        return found
    table = liquidation_walls(sc.model, asset, grid, co_move)
    res = Result("walls", {"walls": table}, cfg)
    save(store, rid, "walls", cfg, res, {"source": sc.source, "asset": asset, "co_move": co_move})
    return res.with_run_id(rid)
