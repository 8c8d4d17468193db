"""Engine kernels in plain Python (compiled by numba in ``engine/kernels.py``)."""

from __future__ import annotations


def greedy_pick(order, qty, asset, gross, mid, grid_q, grid_p, has_grid, repaid_usd, cap, capital, min_profit, out_profit):
    """Liquidators' choice in one block: walk the candidates in ``order`` (best profit at the
    mid price first) and take each one whose profit stays >= ``min_profit`` after the
    *marginal* slippage of adding its sale to what is already taken, until ``cap`` are
    taken. A candidate whose repayment no longer fits in the ``capital`` left is skipped
    (not the end of the walk). Rejected candidates use no capacity.

    Slippage: the proceeds of selling Q tokens of asset ``a`` are interpolated linearly on
    ``grid_q[a]`` / ``grid_p[a]`` (quotes of the venue at this block); an asset without
    a grid sells at ``mid``. Returns how many were taken; their positions in ``order`` are
    written to the front of ``order`` and their profits to ``out_profit``.
    """
    k = grid_q.shape[0]
    sold = [0.0] * k
    taken = 0
    left = capital
    for j in range(order.shape[0]):
        if taken >= cap:
            break
        c = order[j]
        a = asset[c]
        q = qty[c]
        if repaid_usd[c] > left:
            continue
        if has_grid[a]:
            before = _interp(sold[a], grid_q[a], grid_p[a])
            after = _interp(sold[a] + q, grid_q[a], grid_p[a])
            slip = q * mid[a] - (after - before)
        else:
            slip = 0.0
        profit = gross[c] - slip
        if profit < min_profit:
            continue
        sold[a] += q
        left -= repaid_usd[c]
        order[taken] = c
        out_profit[taken] = profit
        taken += 1
    return taken


def _interp(x, xs, ys):
    """Piecewise-linear interpolation, extrapolating the last segment's slope."""
    n = xs.shape[0]
    if x <= xs[0]:
        return ys[0]
    lo = 0
    hi = n - 1
    if x >= xs[hi]:
        lo = n - 2
    else:
        while hi - lo > 1:
            mid_ = (lo + hi) // 2
            if xs[mid_] <= x:
                lo = mid_
            else:
                hi = mid_
        hi = lo + 1
    x0 = xs[lo]
    x1 = xs[lo + 1]
    if x1 <= x0:
        return ys[lo + 1]
    return ys[lo] + (ys[lo + 1] - ys[lo]) * (x - x0) / (x1 - x0)


FUNCTIONS = {"_interp": _interp, "greedy_pick": greedy_pick}
