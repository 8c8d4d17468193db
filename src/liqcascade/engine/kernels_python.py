"""Engine kernels in plain Python (compiled by numba in ``engine/kernels.py``)."""

from __future__ import annotations

import numpy as np
from numba import prange


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


def flow_hits(flows, live, every, cols, subs, signs, party, code, gate, n_parties, usd_off, account, asset, extra):
    """The parties' non-zero per-account flows, party by party, each in row order and then kind
    order: kind ``j`` (of party ``party[j]``, its code ``code[j]``; kinds listed party by
    party) of a row is ``signs[j] * (flows[r, cols[j]] - flows[r, subs[j]])`` (no subtraction
    when ``subs[j] < 0``), its USD the same at the columns ``+ usd_off``; a kind with
    ``gate[j] >= 0`` has rows only when flows column ``gate[j]`` is non-zero in some row. The rows
    ``r`` are ``live[i]`` (distinct rows; ``every``: ``i`` itself, over all of ``flows``), of account
    ``account[i]`` and asset ``asset[i]``. Two passes over the rows (count, then fill), so the outputs are allocated
    once at their size; the arithmetic is NumPy's (a product by +-1, one subtraction), bit for
    bit. Returns (start, account, asset, kind, amount, usd): party ``p``'s rows are
    ``start[p]:start[p + 1]``, its per-account rows first, then ``extra[p]`` rows left unwritten
    (room for the party's per-asset rows, so that the table's columns need no concatenation)."""
    n = flows.shape[0] if every else live.shape[0]
    k = cols.shape[0]
    start = np.zeros(n_parties + 1, dtype=np.int64)
    counts = np.zeros(k, dtype=np.int64)
    seen = np.zeros(flows.shape[1], dtype=np.bool_)  # the gate columns non-zero in some row
    active = np.ones(k, dtype=np.bool_)
    # the counts do not depend on the order: when ``live`` (distinct rows) is every row, in
    # another order (a book in health order), they are counted in memory order
    in_place = every or n == flows.shape[0]
    out_account = np.empty(0, dtype=np.int64)
    out_asset = np.empty(0, dtype=np.int64)
    out_kind = np.empty(0, dtype=np.int64)
    out_amount = np.empty(0, dtype=np.float64)
    out_usd = np.empty(0, dtype=np.float64)
    at = np.zeros(n_parties, dtype=np.int64)
    # one loop for both passes (count, then fill), so a kind's amount is computed in one place
    for fill in range(2):
        if fill:
            for j in range(k):
                if gate[j] >= 0 and not seen[gate[j]]:
                    active[j] = False
                else:
                    start[party[j] + 1] += counts[j]
            for p in range(n_parties):
                start[p + 1] += start[p] + extra[p]
            count = start[n_parties]
            out_account = np.empty(count, dtype=np.int64)
            out_asset = np.empty(count, dtype=np.int64)
            out_kind = np.empty(count, dtype=np.int64)
            out_amount = np.empty(count, dtype=np.float64)
            out_usd = np.empty(count, dtype=np.float64)
            at = start[:n_parties].copy()
        here = in_place if fill == 0 else every
        for i in range(n):
            r = i if here else live[i]
            for j in range(k):
                if not active[j]:
                    continue
                if fill == 0 and gate[j] >= 0 and flows[r, gate[j]] != 0.0:
                    seen[gate[j]] = True
                v = flows[r, cols[j]]
                if subs[j] >= 0:
                    v = v - flows[r, subs[j]]
                v = v * signs[j]
                if v == 0.0:
                    continue
                if fill == 0:
                    counts[j] += 1
                    continue
                u = flows[r, cols[j] + usd_off]
                if subs[j] >= 0:
                    u = u - flows[r, subs[j] + usd_off]
                h = at[party[j]]
                out_account[h] = account[i]
                out_asset[h] = asset[i]
                out_kind[h] = code[j]
                out_amount[h] = v
                out_usd[h] = u * signs[j]
                at[party[j]] = h + 1
    return start, out_account, out_asset, out_kind, out_amount, out_usd


def gather_rows(rows, asset, key, coll, debt, out_asset, out_key, out_coll, out_debt):
    """A sorting's gather of a book's rows: row ``rows[i]`` of the columns (asset id, parameter
    key, collateral, debt) into row ``i`` of the ``out_*`` columns. Rules whose key is the
    asset column pass that column (and its output) as both.

    One pass over ``rows`` for every column, in its own type (NumPy's ``take`` reads the row
    index once a column and widens it first). Each output row is written by one iteration from
    its own source row, so the result does not depend on the number of threads."""
    for i in prange(rows.shape[0]):
        r = rows[i]
        out_asset[i] = asset[r]
        out_key[i] = key[r]
        out_coll[i] = coll[r]
        out_debt[i] = debt[r]


def row_spans(offsets, accounts, r0, starts, ends):
    """Where the rows of ``accounts`` (in that order) are in a book with these ``offsets``, and
    where they go when written one account after another from row ``r0``: ``starts[i]`` is account
    ``accounts[i]``'s first row, ``ends[i]`` the end of its rows in the output (``r0`` plus its
    and the accounts before it's row counts). Returns the output's end. The counts are read in
    parallel, the running sum is one pass on one thread."""
    for i in prange(accounts.shape[0]):
        a = accounts[i]
        s = offsets[a]
        starts[i] = s
        ends[i] = offsets[a + 1] - s
    total = r0
    for i in range(accounts.shape[0]):
        total += ends[i]
        ends[i] = total
    return total


def row_numbers(starts, ends, r0, rows):
    """The row index of a gather (:func:`row_spans`' spans): ``rows[ends[i - 1] - r0 + j] =
    starts[i] + j`` for each account's ``j``-th row (``ends[-1]`` taken as ``r0``)."""
    for i in prange(starts.shape[0]):
        first = r0 if i == 0 else ends[i - 1]
        s = starts[i]
        for j in range(ends[i] - first):
            rows[first - r0 + j] = s + j


FUNCTIONS = {"_interp": _interp, "greedy_pick": greedy_pick, "flow_hits": flow_hits, "gather_rows": gather_rows,
             "row_spans": row_spans, "row_numbers": row_numbers}
PARALLEL = frozenset({"gather_rows", "row_spans", "row_numbers"})
