"""Plain-Python kernel of the tiered margin pass (the numba twin is built in :mod:`.perps_tiers`).

Why a kernel: the NumPy form of a margin pass makes about fifteen temporary arrays of a
million positions (notional, tier, rate, deduction, requirements, PnL, funding, three
segment sums); one loop over the positions reads each input once.
"""

from __future__ import annotations

import numpy as np


def tiered_margin(account: np.ndarray, market: np.ndarray, size: np.ndarray, entry: np.ndarray,
                  funding_index: np.ndarray, funding: np.ndarray, mark: np.ndarray, collateral: np.ndarray,
                  tier_start: np.ndarray, floor: np.ndarray, rate: np.ndarray, deduction: np.ndarray,
                  max_leverage: np.ndarray, equity: np.ndarray, maintenance: np.ndarray,
                  initial: np.ndarray, notional: np.ndarray) -> None:
    """Per account: equity, maintenance, initial margin and notional held (see
    :class:`~liqcascade.protocols.perps_tiers.MarginTiers` for the tier rule).

    Market ``k``'s tiers are rows ``tier_start[k] .. tier_start[k + 1] − 1`` of ``floor``,
    ``rate``, ``deduction`` and ``max_leverage``; a notional on a floor belongs to the tier
    below it. ``funding`` per market is the cumulative index (zeros: none accrued)."""
    for a in range(collateral.shape[0]):
        equity[a] = collateral[a]
        maintenance[a] = 0.0
        initial[a] = 0.0
        notional[a] = 0.0
    for j in range(size.shape[0]):
        k = market[j]
        a = account[j]
        m = mark[k]
        s = size[j]
        n = abs(s) * m
        t = tier_start[k]
        while t + 1 < tier_start[k + 1] and n > floor[t + 1]:
            t += 1
        equity[a] += s * (m - entry[j]) - s * (funding[k] - funding_index[j])
        maintenance[a] += n * rate[t] - deduction[t]
        initial[a] += n / max_leverage[t]
        notional[a] += n


def tier_slope(market: np.ndarray, size: np.ndarray, mark: np.ndarray, tier_start: np.ndarray, floor: np.ndarray,
               rate: np.ndarray, slope: np.ndarray) -> None:
    """Per position, ``|size| · rate`` of the tier its notional moves into on the way to
    liquidation: a long's notional falls, so a floor it sits on is left for the tier below
    (the floor's own tier); a short's rises, so a floor it sits on is the next tier's start."""
    for j in range(size.shape[0]):
        k = market[j]
        s = size[j]
        n = abs(s) * mark[k]
        t = tier_start[k]
        if s > 0:
            while t + 1 < tier_start[k + 1] and n > floor[t + 1]:
                t += 1
        else:
            while t + 1 < tier_start[k + 1] and n >= floor[t + 1]:
                t += 1
        slope[j] = abs(s) * rate[t]


FUNCTIONS = {"tiered_margin": tiered_margin, "tier_slope": tier_slope}
