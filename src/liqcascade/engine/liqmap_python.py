"""Plain-Python kernel of the liquidation map (the numba twin is built in :mod:`.liqmap`)."""

from __future__ import annotations

import numpy as np


def bin_liquidations(k: int, market: np.ndarray, account: np.ndarray, size: np.ndarray, mark: float,
                     available: np.ndarray, slope_long: np.ndarray, slope_short: np.ndarray, by_account: bool,
                     lo: float, step: float, out_long: np.ndarray, out_short: np.ndarray,
                     liq_price: np.ndarray) -> np.ndarray:
    """Each position of market ``k``: its liquidation price, and its notional binned on a
    uniform grid; one pass over the book, nothing gathered beforehand.

    ``available`` per account is equity − maintenance at ``mark``. The maintenance's slope
    toward liquidation (a long's read below the mark, a short's above) is ``slope_long`` /
    ``slope_short`` per account when ``by_account``, else per position. The liquidation price is
    ``mark − available / (size − slope)`` and its notional ``|size| · price`` goes to bin
    ``⌊(price − lo) / step⌋`` of ``out_long`` or ``out_short``. Returns the notional already
    liquidatable (``available < 0``, at the mark), outside the grid, and never liquidated by
    this market (no positive price)."""
    n_levels = out_long.shape[0]
    per_step = 1.0 / step
    totals = np.zeros(3)
    for j in range(size.shape[0]):
        if market[j] != k:
            liq_price[j] = np.nan
            continue
        a = account[j]
        s = size[j]
        if available[a] < 0.0:
            totals[0] += abs(s) * mark
            liq_price[j] = mark
            continue
        i = a if by_account else j
        slope = slope_long[i] if s > 0 else slope_short[i]
        denom = s - slope
        p = mark - available[a] / denom if denom != 0.0 else -1.0
        if not p > 0.0:
            liq_price[j] = np.nan
            totals[2] += abs(s) * mark
            continue
        liq_price[j] = p
        x = (p - lo) * per_step
        if not (0.0 <= x < n_levels):
            totals[1] += abs(s) * p
            continue
        b = int(x)  # x ≥ 0: truncation is the floor
        if s > 0:
            out_long[b] += s * p
        else:
            out_short[b] -= s * p
    return totals


FUNCTIONS = {"bin_liquidations": bin_liquidations}
