"""The liquidation map: how much notional a margin engine would liquidate at each price level.

For one market of a :class:`~liqcascade.model.perps.PerpBook` and any
:class:`~liqcascade.protocols.perps_base.MarginEngine`, each position's **liquidation price**
is where its account's equity meets its maintenance requirement as that market alone moves
(the other markets held at their marks): equity moves by ``size`` per unit of price, the
requirement by its slope: the engine's ``maintenance_slope`` when it declares one
(:class:`~liqcascade.protocols.perps_base.PerpCapabilities`), else read from two
:meth:`margin` calls at marks bumped either way, so the map
works for any engine and any tier rule. For an isolated position this is the engine's own
liquidation price (Hyperliquid's published formula for its engine, tested); for a cross
account it is the price of this market that liquidates the whole account.

Each position's notional at its liquidation price is binned on a uniform grid, longs and
shorts apart (longs liquidate as the price falls, shorts as it rises) -- the heat map traders
read. Positions already liquidatable, outside the grid or never liquidated by this market
are totalled apart. The slope is exact while a position stays in its tier; a tier boundary
between the mark and the liquidation price moves the true price a little (a documented
approximation of the map, not of the engines).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade._jit import jit_functions
from liqcascade._typing import FloatArray
from liqcascade.engine import liqmap_python as _py
from liqcascade.errors import ConfigError
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.perps_base import MarginEngine, MarginState

__all__ = ["LiquidationMap", "liquidation_map"]

_K = jit_functions(_py.FUNCTIONS)
_BUMP = 1e-6
"""Relative price bump that reads the maintenance slope (exact for a requirement linear in price)."""


@dataclass(frozen=True)
class LiquidationMap:
    """Notional liquidated per price bin of one market.

    ``edges`` (``levels + 1``, ascending); ``long`` and ``short`` per bin (quote, at the
    liquidation price); ``liquidation_price`` per position of the book (nan off this market or
    never liquidated; the mark for one already liquidatable); ``already``, ``outside``,
    ``never``: notional totals not in any bin."""

    market: str
    edges: FloatArray
    long: FloatArray
    short: FloatArray
    liquidation_price: FloatArray
    already: float
    outside: float
    never: float


def liquidation_map(book: PerpBook, engine: MarginEngine, mark: FloatArray, market: str, low: float, high: float,
                    levels: int, funding: FloatArray | None = None, state: MarginState | None = None) -> LiquidationMap:
    """The map of ``market`` over ``levels`` equal bins from ``low`` to ``high``."""
    if market not in book.markets:
        raise ConfigError("<liquidation map>", "market", f"one of {list(book.markets)}", market)
    if not (isinstance(levels, int) and levels >= 1):
        raise ConfigError("<liquidation map>", "levels", "an integer ≥ 1", levels)
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low < high):
        raise ConfigError("<liquidation map>", "low, high", "prices with 0 ≤ low < high", (low, high))
    k = book.markets.index(market)
    m = np.asarray(mark, dtype=np.float64)
    base = state if state is not None else engine.margin(book, m, funding)
    if engine.capabilities.maintenance_slope:
        slope = np.ascontiguousarray(engine.maintenance_slope(book, m), dtype=np.float64)
        slope_long, slope_short, by_account = slope, slope, False
    else:
        slope_long, slope_short = _bumped_slopes(book, engine, m, k, base, funding)
        by_account = True
    long = np.zeros(levels)
    short = np.zeros(levels)
    price = np.empty(book.n_positions)
    totals = _K["bin_liquidations"](k, book.market, book.account, book.size, float(m[k]),
                                    np.ascontiguousarray(base.equity - base.maintenance), slope_long, slope_short,
                                    by_account, float(low), (high - low) / levels, long, short, price)
    return LiquidationMap(market, np.linspace(low, high, levels + 1), long, short, price,
                          float(totals[0]), float(totals[1]), float(totals[2]))


def _bumped_slopes(book: PerpBook, engine: MarginEngine, m: FloatArray, k: int, base: MarginState,
                   funding: FloatArray | None) -> tuple[FloatArray, FloatArray]:
    """Per account, the maintenance's slope in market ``k`` below and above the mark, from two
    bumped margin calls (one position per (account, market): the account's slope is its
    position's). Read on the side the price moves toward, so that a mark on a tier floor
    reads the tier the move goes into."""
    h = m[k] * _BUMP
    out = []
    for direction in (-1.0, 1.0):
        moved = m.copy()
        moved[k] += direction * h
        out.append(direction * (engine.margin(book, moved, funding).maintenance - base.maintenance) / h)
    return np.ascontiguousarray(out[0]), np.ascontiguousarray(out[1])
