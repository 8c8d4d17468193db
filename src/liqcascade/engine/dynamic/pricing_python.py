"""The block loop's passes over its candidates in plain Python (compiled by numba in
``pricing.py``): the liquidators' pricing in one pass instead of some twenty NumPy passes (the
same operations in the same order, so the same numbers), and set membership of sorted index
arrays by one merge."""

from __future__ import annotations


def price_into(received, reward_usd, paid, coll_asset, debt_asset, market, gas_usd, elig, eligible_since, b,
               latency_blocks, min_profit, ix, skip, owner, at, out_owner, out_local, out_gross, out_received,
               out_coll, out_repaid_usd):
    """One market's candidates priced at the ``market`` prices: profit = collateral received
    plus reward, minus debt paid and ``gas_usd``. Those that have waited their latency and
    reach ``min_profit`` are written, in order, from position ``at`` of the ``out_*`` arrays:
    the market's position ``owner``, the candidate's index, its profit, the collateral it
    yields, that asset's system index (``ix``) and the debt it repays in USD.

    Candidates marked in ``skip`` (taken already by another population; an empty array: none)
    are left out and counted nowhere.

    Returns ``(how many were written, how many waited but fall below min_profit, how many
    still wait)``. A NaN profit counts in neither of the first two, as with NumPy's comparisons.
    """
    has_skip = skip.shape[0] > 0
    n_ok = 0
    unprofitable = 0
    waiting = 0
    for j in range(received.shape[0]):
        if has_skip and skip[j]:
            continue
        # left to right, as ``received * market[ca] + reward - paid * market[da] - gas``
        repaid_usd = paid[j] * market[debt_asset[j]]
        g = received[j] * market[coll_asset[j]] + reward_usd[j] - repaid_usd - gas_usd
        if b - eligible_since[elig[j]] < latency_blocks:
            waiting += 1
        elif g >= min_profit:
            t = at + n_ok
            out_owner[t] = owner
            out_local[t] = j
            out_gross[t] = g
            out_received[t] = received[j]
            out_coll[t] = ix[coll_asset[j]]
            out_repaid_usd[t] = repaid_usd
            n_ok += 1
        elif g < min_profit:
            unprofitable += 1
    return n_ok, unprofitable, waiting


def idle_counts(received, reward_usd, paid, coll_asset, debt_asset, market, gas_usd, elig, eligible_since, b,
                latency_blocks, min_profit, out_unprofitable, out_waiting, out_some):
    """:func:`price_into`'s counts for each row of ``market`` (block ``b + row``'s prices, gas
    ``gas_usd[row]`` USD), nothing written but whether a candidate would be kept
    (``out_some[row]``): a run of quiet blocks judged in one pass instead of a blocks x
    candidates matrix of NumPy passes (the same expression, in the same order)."""
    for r in range(market.shape[0]):
        unprofitable = 0
        waiting = 0
        some = False
        for j in range(received.shape[0]):
            g = received[j] * market[r, coll_asset[j]] + reward_usd[j] - paid[j] * market[r, debt_asset[j]] - gas_usd[r]
            if b + r - eligible_since[elig[j]] < latency_blocks:
                waiting += 1
            elif g >= min_profit:
                some = True
            elif g < min_profit:
                unprofitable += 1
        out_unprofitable[r] = unprofitable
        out_waiting[r] = waiting
        out_some[r] = some


def mark_members(values, sorted_unique, out):
    """``out[i]``: whether ``values[i]`` is in ``sorted_unique``; both ascending (one merge
    walk, linear in both lengths)."""
    j = 0
    m = sorted_unique.shape[0]
    for i in range(values.shape[0]):
        v = values[i]
        while j < m and sorted_unique[j] < v:
            j += 1
        out[i] = j < m and sorted_unique[j] == v


def restart_clocks(prev, seen, eligible_since, b):
    """Latency clocks of a new eligible set ``seen`` after ``prev`` (both ascending): an account
    of ``prev`` not in ``seen`` has its clock reset (-1), one of ``seen`` without a clock starts
    it at block ``b`` (one merge walk in place of a membership test and three masked passes)."""
    j = 0
    m = seen.shape[0]
    for i in range(prev.shape[0]):
        v = prev[i]
        while j < m and seen[j] < v:
            j += 1
        if not (j < m and seen[j] == v):
            eligible_since[v] = -1
    for j in range(m):
        if eligible_since[seen[j]] < 0:
            eligible_since[seen[j]] = b


def merge_kept(old, keep, new, from_new, out):
    """``out`` = the entries of ``old`` where ``keep``, in order, with the entries of ``new``, in
    order, at the positions where ``from_new`` is set (one pass: a candidate set refreshed
    after a block's liquidations keeps its order without a sort)."""
    i = 0
    j = 0
    for t in range(out.shape[0]):
        if from_new[t]:
            out[t] = new[j]
            j += 1
        else:
            while not keep[i]:
                i += 1
            out[t] = old[i]
            i += 1


FUNCTIONS = {"price_into": price_into, "idle_counts": idle_counts, "mark_members": mark_members, "restart_clocks": restart_clocks, "merge_kept": merge_kept}
