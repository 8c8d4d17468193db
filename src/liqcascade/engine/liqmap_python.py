"""Plain-Python kernel of the liquidation map (the numba twin is built in :mod:`.liqmap`)."""

from __future__ import annotations

import numpy as np


def bin_liquidations(mark: float, size: np.ndarray, available: np.ndarray, slope: np.ndarray,
                     lo: float, step: float, out_long: np.ndarray, out_short: np.ndarray,
                     liq_price: np.ndarray) -> np.ndarray:
    """Each position's liquidation price and its notional binned on a uniform grid.

    ``liq_price[j] = mark − available[j] / (size[j] − slope[j])``: where the account's equity
    (slope ``size``) meets its maintenance (slope ``slope``) as this market alone moves. Its
    notional ``|size| · price`` is added to ``out_long`` or ``out_short`` at bin
    ``⌊(price − lo) / step⌋``. Returns three sums: notional already liquidatable
    (``available < 0``), outside the grid, and never liquidated by this market (no positive
    price, or equity and maintenance moving together)."""
    n_levels = out_long.shape[0]
    totals = np.zeros(3)
    for j in range(size.shape[0]):
        s = size[j]
        if available[j] < 0.0:
            totals[0] += abs(s) * mark
            liq_price[j] = mark
            continue
        denom = s - slope[j]
        if denom == 0.0:
            liq_price[j] = np.nan
            totals[2] += abs(s) * mark
            continue
        p = mark - available[j] / denom
        if not p > 0.0:
            liq_price[j] = np.nan
            totals[2] += abs(s) * mark
            continue
        liq_price[j] = p
        k = int(np.floor((p - lo) / step))
        if k < 0 or k >= n_levels:
            totals[1] += abs(s) * p
        elif s > 0:
            out_long[k] += s * p
        else:
            out_short[k] -= s * p
    return totals


FUNCTIONS = {"bin_liquidations": bin_liquidations}
