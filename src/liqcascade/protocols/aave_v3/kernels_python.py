"""Aave v3 over a whole book: plain-Python kernels (the twins of ``kernels.py``).

These loops are the reference and are compiled by numba unchanged (``liqcascade._jit``).
Arrays are the engine's: per-row ``asset``, ``coll``, ``debt`` (token units), per-asset
``prices`` (USD), CSR ``offsets`` per account, and the effective parameters as tables read
through a per-row key (:class:`~liqcascade.protocols.base.ParamTable`, e-mode already applied):
row ``r``'s LT is ``lt[key[r]]``, its bonus ``bonus[key[r]]``, its fee ``fee[key[r]]``. Only
:func:`liquidate_one` and :func:`sweep` mutate, and only ``coll``, ``debt`` and the
accumulators and flags they are given.

A row is collateral (counted and seizable) when its effective LT is above 0; the
version's rule for that (v3.6 lets e-mode make an LT-0 reserve collateral) is applied when
the table is built (``rules.AaveV3Rules.param_table``), so these loops need the
version only for the close factor, the dust rule and the bad-debt burn.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from liqcascade.protocols.aave_v3.fast import (
    largest_allowed_cover,
    leaves_dust,
    liquidation_call,
    max_liquidatable_debt,
)
from liqcascade.protocols.aave_v3.versions import V3_3
from liqcascade.protocols.base import BOUND_COLLATERAL_FLOOR, HF_INF
from liqcascade.protocols.flows import FLOW_FEE, FLOW_REPAID, FLOW_SEIZED, FLOW_WRITTEN_OFF, add_flow

PAIR_LARGEST = 0  # most valuable seizable collateral, most valuable debt
PAIR_MAX_BONUS = 1  # seizable collateral with the highest bonus (ties: more valuable), most valuable debt

SKIP_MARGIN = 1.0 + 1e-12
"""Relative margin on the skipping bounds, so float rounding at the boundary cannot skip
an account whose HF is below 1 by a rounding step."""

NO_COLLATERAL = 2.0 * HF_INF
"""The sweep's bound ``q`` of an account with debt and no seizable collateral at its last read
(skipped like ``HF_INF``, which it keeps for the accounts without debt: so a touched account whose
``q`` is ``HF_INF`` had no debt left, ``Capabilities.debt_free_bound``)."""

CV_FLOOR = BOUND_COLLATERAL_FLOOR
"""Seizable collateral value (USD) below which the sweep and the scan keep ``q = 0`` for an account
with debt (read again next round, a valid bound), ``Capabilities.debt_free_bound``."""


def account_values(s, e, asset, coll, debt, prices, key, lt):
    """Of rows ``s:e`` (one account): LT-weighted collateral, seizable collateral (LT > 0)
    and debt, in USD at ``prices``."""
    w = 0.0
    c = 0.0
    d = 0.0
    for r in range(s, e):
        p = prices[asset[r]]
        t = lt[key[r]]
        if t > 0.0:
            v = coll[r] * p
            c += v
            w += v * t
        d += debt[r] * p
    return w, c, d


def health_pass(accounts, offsets, asset, coll, debt, prices, key, lt, out_hf, out_coll_usd, out_debt_usd):
    """Health factor of each account in ``accounts`` (indexes), written at the same positions.

    HF = sum(coll * price * LT) / sum(debt * price); HF_INF when there is no debt.
    ``out_coll_usd`` is the value of the collateral that counts (LT > 0).
    """
    n = accounts.shape[0]
    for j in prange(n):
        k = accounts[j]
        w, c, d = account_values(offsets[k], offsets[k + 1], asset, coll, debt, prices, key, lt)
        out_coll_usd[j] = c
        out_debt_usd[j] = d
        out_hf[j] = w / d if d > 0.0 else HF_INF


def health_all(offsets, asset, coll, debt, prices, lt, out_hf):
    """Health factor of every account (the full pass the benchmark measures)."""
    n = offsets.shape[0] - 1
    for k in prange(n):
        w = 0.0
        d = 0.0
        for r in range(offsets[k], offsets[k + 1]):
            p = prices[asset[r]]
            w += coll[r] * p * lt[r]
            d += debt[r] * p
        out_hf[k] = w / d if d > 0.0 else HF_INF


INLINE_ROWS = 4
"""Rows of an account that :func:`health_table` reads in a fixed, unrolled block (most accounts
hold at most four assets); the rest, if any, in a loop."""

HF_BLOCK = 256
"""Accounts whose sums :func:`health_table` keeps in a small buffer (a few KB, in L1) before it
divides them in one flat loop."""


def price_pairs(prices, lt_table):
    """``pair[2 t]`` = price x LT and ``pair[2 t + 1]`` = price for ``t = e * n_assets + a``
    (e-mode class ``e``, asset ``a``): :func:`health_table`'s lookup table."""
    n_e = lt_table.shape[0]
    n_a = lt_table.shape[1]
    pair = np.empty(2 * n_e * n_a)
    for e in range(n_e):
        for a in range(n_a):
            pair[2 * (e * n_a + a)] = prices[a] * lt_table[e, a]
            pair[2 * (e * n_a + a) + 1] = prices[a]
    return pair


def health_table(offsets, asset, coll, debt, emode, prices, lt_table, out_hf):
    """Health factor of every account, with the thresholds in a table instead of per row:
    ``lt_table[e, a]`` is asset ``a``'s LT for an account in e-mode class ``e`` (a dense
    index; row 0: no e-mode) and ``emode[k]`` is account ``k``'s class.

    Why it is shaped so (the pass is bound by instructions, not bytes: the 1M-account book's
    51 MB stay in the cache): the products of the table with the prices are formed once per
    call, interleaved with the prices (:func:`price_pairs`), so a row costs one index and two
    neighbouring loads; the loop over the rows reads only ``asset``, ``coll`` and ``debt`` (plus
    ``offsets`` and ``emode`` per account). An account's first :data:`INLINE_ROWS` rows are read
    in a block of fixed length, rows past its end not added (a select, not a branch: a loop
    whose length changes from account to account mispredicts its exit about once an account).
    The sums of :data:`HF_BLOCK` accounts go to a buffer, and one flat loop divides them (a loop
    the compiler turns into vector divisions, ``divpd``: a division an account in the row loop
    cost about a quarter of the pass). The rows are added in order, so the sums are those of a
    plain loop; the HF is :func:`health_all`'s with ``lt[r] = lt_table[emode[k], asset[r]]`` up
    to the rounding of the product's order:
    ``coll * (price * lt)`` here, ``(coll * price) * lt`` there.
    """
    n_a = lt_table.shape[1]
    pair = price_pairs(prices, lt_table)
    n = offsets.shape[0] - 1
    last = coll.shape[0] - 1
    n_blocks = (n + HF_BLOCK - 1) // HF_BLOCK
    for b in prange(n_blocks):
        lo = b * HF_BLOCK
        hi = min(n, lo + HF_BLOCK)
        w_buf = np.empty(HF_BLOCK)
        d_buf = np.empty(HF_BLOCK)
        end = np.int64(offsets[lo])  # an account's start is the previous one's end: one load an account
        for k in range(lo, hi):
            s = end
            end = np.int64(offsets[k + 1])
            cnt = end - s
            base = np.int64(emode[k]) * (2 * n_a)  # int64: so are the sums with the int16 asset ids
            w = 0.0
            d = 0.0
            if last >= 0:
                for i in range(INLINE_ROWS):
                    r = min(s + i, last)  # past the account's rows: a real row, not added
                    t = base + 2 * np.int64(asset[r])
                    x = coll[r] * pair[t]
                    y = debt[r] * pair[t + 1]
                    w += x if i < cnt else 0.0
                    d += y if i < cnt else 0.0
            for r in range(s + INLINE_ROWS, end):
                t = base + 2 * np.int64(asset[r])
                w += coll[r] * pair[t]
                d += debt[r] * pair[t + 1]
            w_buf[k - lo] = w
            d_buf[k - lo] = d
        for i in range(hi - lo):
            d = d_buf[i]
            out_hf[lo + i] = w_buf[i] / d if d > 0.0 else HF_INF


def choose_pair(policy, s, e, asset, coll, debt, prices, key, lt, bonus):
    """The (collateral row, debt row) a liquidator takes on rows ``s:e`` of one account,
    with the account's LT-weighted collateral, seizable collateral and debt in USD.

    ``policy``: PAIR_LARGEST, the most valuable seizable collateral; PAIR_MAX_BONUS, the
    seizable collateral with the highest bonus (ties: the more valuable). Debt: the most
    valuable. A row index is -1 when there is none.
    """
    w = 0.0
    c_total = 0.0
    d_total = 0.0
    rc = -1
    rd = -1
    best_c = -1.0
    best_b = -1.0
    best_d = 0.0
    for r in range(s, e):
        p = prices[asset[r]]
        cv = coll[r] * p
        t = lt[key[r]]
        if t > 0.0 and cv > 0.0:
            c_total += cv
            w += cv * t
            if policy == PAIR_MAX_BONUS:
                b = bonus[key[r]]
                if b > best_b or (b == best_b and cv > best_c):
                    best_b = b
                    best_c = cv
                    rc = r
            elif cv > best_c:
                best_c = cv
                rc = r
        dv = debt[r] * p
        d_total += dv
        if dv > best_d:
            best_d = dv
            rd = r
    return rc, rd, w, c_total, d_total


def liquidate_one(
    version, policy, k, offsets, asset, coll, debt, prices, key, lt, bonus, fee, max_calls, min_repay_usd, caps, j,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, flows,
):
    """Liquidate account ``k`` at fixed ``prices`` until it is healthy; return calls made
    (:func:`liquidate_from` from the account's first pair choice)."""
    rc, rd, w, c_total, d_total = choose_pair(policy, offsets[k], offsets[k + 1], asset, coll, debt, prices, key, lt,
                                              bonus)
    calls, w, c_total, d_total = liquidate_from(
        version, policy, k, offsets, asset, coll, debt, prices, key, lt, bonus, fee, max_calls, min_repay_usd, caps,
        j, seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
        acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, flows,
        (rc, rd, w, c_total, d_total),
    )
    return calls


def liquidate_from(
    version, policy, k, offsets, asset, coll, debt, prices, key, lt, bonus, fee, max_calls, min_repay_usd, caps, j,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, flows, first,
):
    """Liquidate account ``k`` at fixed ``prices`` until it is healthy, starting from its pair
    choice ``first = (rc, rd, w, c_total, d_total)`` (:func:`choose_pair` on its rows as they
    are; one argument, not five: a call of more than 30 arguments is one numba cannot inline);
    return ``(calls, w, c_total, d_total)``: the calls made and the account's sums after them
    (LT-weighted, seizable collateral and debt, USD; ``d_total`` is 0 after a write-off, when
    no debt is left). The sums are :func:`account_values`'s on the rows left, bit for bit: the
    same rows in the same order (the rows :func:`choose_pair` leaves out add zeros), so a sweep
    takes its bound from them without reading the rows again.

    Each pass is one ``liquidationCall`` on the pair chosen by ``policy``, with the
    largest cover the rules allow (close factor; v3.3+ dust rule via
    :func:`largest_allowed_cover`). It stops when HF >= 1, nothing seizable is left, the
    call would be smaller than ``min_repay_usd`` or revert, or after ``max_calls``.

    v3.3+: when a call takes all of the account's collateral, every remaining debt is
    burned into ``deficit_by_asset`` (the reserve deficit). Before v3.3 the debt stays
    on the account. Per-asset token totals (1-D views), per-account USD totals and
    per-row trades (``flows``, the columns of ``protocols.flows``) are
    accumulated into the arrays given.

    When ``j >= 0``, row ``j`` of ``caps`` lists the calls a liquidator's strategy makes
    (``engine/strategies.py``): call ``c`` repays at most ``caps[j, c]`` of debt value (USD; inf:
    the rule's maximum); a 0 or the end of the row stops the calls.
    """
    rc, rd, w, c_total, d_total = first
    s = offsets[k]
    e = offsets[k + 1]
    calls = 0
    for _ in range(max_calls):
        if rd < 0 or rc < 0:
            break
        hf = w / d_total
        if hf >= 1.0:
            break
        pc = prices[asset[rc]]
        pd = prices[asset[rd]]
        cover = largest_allowed_cover(version, hf, coll[rc], pc, debt[rd], pd, d_total, bonus[key[rc]])
        if j >= 0:
            if calls >= caps.shape[1] or caps[j, calls] <= 0.0:
                break
            cover = min(cover, caps[j, calls] / pd)
        if cover <= 0.0:
            acct_blocked[k] += 1
            break
        repaid, seized, fee_amt, revert = liquidation_call(
            version, hf, coll[rc], pc, debt[rd], pd, d_total, bonus[key[rc]], fee[key[rc]], cover
        )
        if revert != 0:
            acct_blocked[k] += 1
            break
        if repaid * pd < min_repay_usd or repaid <= 0.0:
            break
        # Aave v3.3+ burns the remaining debt when the seized collateral is all the
        # collateral the account has (in base currency).
        all_collateral = seized >= coll[rc] and c_total - coll[rc] * pc <= 0.0
        if seized >= coll[rc]:
            coll[rc] = 0.0
        else:
            coll[rc] -= seized
        if repaid >= debt[rd]:
            debt[rd] = 0.0
        else:
            debt[rd] -= repaid
        a_c = asset[rc]
        a_d = asset[rd]
        seized_by_asset[a_c] += seized
        fee_by_asset[a_c] += fee_amt
        repaid_by_asset[a_d] += repaid
        acct_seized_usd[k] += seized * pc
        acct_repaid_usd[k] += repaid * pd
        add_flow(flows, rc, FLOW_SEIZED, seized, pc)
        add_flow(flows, rc, FLOW_FEE, fee_amt, pc)
        add_flow(flows, rd, FLOW_REPAID, repaid, pd)
        acct_calls[k] += 1
        calls += 1
        if version >= V3_3 and all_collateral:
            write_off_rest(k, s, e, asset, debt, prices, deficit_by_asset, acct_bad_debt_usd, flows)
            return calls, w, c_total, 0.0
        rc, rd, w, c_total, d_total = choose_pair(policy, s, e, asset, coll, debt, prices, key, lt, bonus)
    return calls, w, c_total, d_total


def write_off_rest(k, s, e, asset, debt, prices, deficit_by_asset, acct_bad_debt_usd, flows):
    """v3.3+ ``_burnBadDebt``: every debt left on account ``k`` (rows ``s:e``) goes to the
    reserve deficit once the account has no collateral."""
    for r in range(s, e):
        if debt[r] > 0.0:
            deficit_by_asset[asset[r]] += debt[r]
            acct_bad_debt_usd[k] += debt[r] * prices[asset[r]]
            add_flow(flows, r, FLOW_WRITTEN_OFF, debt[r], prices[asset[r]])
            debt[r] = 0.0


N_CHUNKS = 64


def spread_order(n: int) -> np.ndarray:
    """The chunks ``0..n-1`` in bit-reversed order. numba hands each thread one contiguous block
    of a ``prange``, and a book sorted by HF has its eligible accounts (the work) in the first
    chunks: in this order every block holds chunks spread over the whole book, so the threads
    share the work. Each chunk is still summed alone and the chunks added in chunk order, so the
    numbers do not change."""
    bits = max(1, (n - 1).bit_length())
    return np.argsort([int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)]).astype(np.int64)


CHUNK_ORDER = spread_order(N_CHUNKS)


def sweep(
    version, policy, upto, offsets, asset, coll, debt, prices, key, lt, bonus, fee, max_calls, min_repay_usd,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, touched, q, cum_bound, flows,
):
    """One round over accounts ``0..upto-1``: find the eligible ones and liquidate them.

    Eligible: HF < 1, some debt and some seizable collateral (LT > 0) at ``prices``.
    The same as :func:`health_pass` followed by :func:`liquidate_one` on each account of the
    eligible set, in one pass over memory (prices are fixed within a round, so checking
    and liquidating account by account gives the same result). Fixed chunks and a
    chunk-ordered sum of the per-asset accumulators keep it bit-identical on any number
    of threads. Marks liquidated accounts in ``touched``. Returns
    ``(eligible accounts, calls)``.

    ``q[k] / cum_bound`` is a lower bound on account ``k``'s HF now: ``cum_bound`` is the
    product of the rounds' price-move bounds ``max(f)/min(f)``, and ``q[k]`` is the HF
    last computed times the product at that time (HF0 to start with). An account whose
    bound is >= 1 cannot be eligible and is skipped without reading its rows; a checked
    account's ``q`` is refreshed, a liquidated one's from what the liquidation left.
    """
    k_assets = seized_by_asset.shape[0]
    no_caps = np.empty((0, 0))
    acc = np.zeros((4, N_CHUNKS, k_assets))
    calls = np.zeros(N_CHUNKS, dtype=np.int64)
    found = np.zeros(N_CHUNKS, dtype=np.int64)
    size = (upto + N_CHUNKS - 1) // N_CHUNKS
    for i in prange(N_CHUNKS):
        c = CHUNK_ORDER[i]
        lo = c * size
        hi = min(upto, lo + size)
        # this chunk's accumulators, sliced once (a slice per account costs a reference count)
        a_seized = acc[0, c]
        a_fee = acc[1, c]
        a_repaid = acc[2, c]
        a_deficit = acc[3, c]
        for k in range(lo, hi):
            if q[k] >= cum_bound * SKIP_MARGIN:
                continue
            # the pair choice's sums are account_values's, bit for bit (see liquidate_from)
            rc, rd, w, cv_total, d = choose_pair(policy, offsets[k], offsets[k + 1], asset, coll, debt, prices,
                                                 key, lt, bonus)
            if d > 0.0 and cv_total > 0.0 and w < d:
                found[c] += 1
                touched[k] = True
                n, w, cv_total, d = liquidate_from(
                    version, policy, k, offsets, asset, coll, debt, prices, key, lt, bonus, fee, max_calls,
                    min_repay_usd, no_caps, -1, a_seized, a_fee, a_repaid, a_deficit,
                    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, flows,
                    (rc, rd, w, cv_total, d),
                )
                calls[c] += n
                # its bound from what is left (the liquidation's last sums): most liquidated
                # accounts end healthy and need not be read again while prices move less than their HF
                if d > 0.0 and cv_total > 0.0:
                    q[k] = (w / d) * cum_bound if cv_total >= CV_FLOOR else 0.0
                else:
                    q[k] = NO_COLLATERAL if d > 0.0 else HF_INF
            elif d > 0.0 and cv_total > 0.0:
                q[k] = (w / d) * cum_bound if cv_total >= CV_FLOOR else 0.0
            else:
                # no debt, or no seizable collateral whatever the prices: only this account's
                # own liquidation changes its rows, so it cannot become eligible in this cascade
                q[k] = NO_COLLATERAL if d > 0.0 else HF_INF
    for c in range(N_CHUNKS):
        for a in range(k_assets):
            seized_by_asset[a] += acc[0, c, a]
            fee_by_asset[a] += acc[1, c, a]
            repaid_by_asset[a] += acc[2, c, a]
            deficit_by_asset[a] += acc[3, c, a]
    n_found = 0
    n_calls = 0
    for c in range(N_CHUNKS):
        n_found += found[c]
        n_calls += calls[c]
    return n_found, n_calls


def scan(upto, offsets, asset, coll, debt, prices, key, lt, q, cum_bound, out):
    """Write into ``out`` the accounts among ``0..upto-1`` that are eligible at ``prices``
    (HF < 1, some debt, some seizable collateral); return how many.

    Uses and refreshes the same per-account bounds as :func:`sweep` (``q[k] / cum_bound``
    is a lower bound on the HF): an account that cannot be eligible is skipped after
    reading one number. Eligible accounts get ``q = 0`` so they are looked at again.
    Serial and in account order, so the output order is deterministic.
    """
    n = 0
    for k in range(upto):
        if q[k] >= cum_bound * SKIP_MARGIN:
            continue
        w, cv_total, d = account_values(offsets[k], offsets[k + 1], asset, coll, debt, prices, key, lt)
        if d > 0.0 and cv_total > 0.0 and w < d:
            out[n] = k
            n += 1
            q[k] = 0.0
        elif d > 0.0:
            q[k] = (w / d) * cum_bound if cv_total >= CV_FLOOR else 0.0
        else:
            q[k] = HF_INF
    return n


def scan_since(upto, offsets, asset, coll, debt, prices, key, lt, hf, epoch, history, n_epochs, out):
    """:func:`scan` with a tighter skip: ``hf[k]`` is account ``k``'s HF at the prices
    ``history[epoch[k]]`` of the scan that last read it (0 while it is eligible, so it is read
    every time; ``HF_INF``: it can never be eligible). Each price moved by a factor between
    ``lo`` and ``hi`` since that scan, so the HF now is at least ``hf[k] * lo / hi`` (collateral
    at least ``lo`` times, debt at most ``hi`` times what it was): an account whose bound
    reaches 1 is skipped. That is the net move since the account's last look, where
    :func:`scan`'s ``cum_bound`` multiplies every step's spread (a path that goes down and
    back up widens it twice). Accounts read get ``epoch = n_epochs``: the caller stores
    ``prices`` as ``history[n_epochs]``. Writes the eligible into ``out``; returns how many."""
    thr = np.empty(n_epochs)
    for e in range(n_epochs):
        hi = 0.0
        lo = np.inf
        for a in range(prices.shape[0]):
            r = prices[a] / history[e, a]
            hi = max(hi, r)
            lo = min(lo, r)
        thr[e] = hi / lo * SKIP_MARGIN
    n = 0
    for k in range(upto):
        if hf[k] >= thr[epoch[k]]:
            continue
        w, cv_total, d = account_values(offsets[k], offsets[k + 1], asset, coll, debt, prices, key, lt)
        epoch[k] = n_epochs
        if d > 0.0 and cv_total > 0.0 and w < d:
            out[n] = k
            n += 1
            hf[k] = 0.0
        elif d > 0.0:
            hf[k] = w / d
        else:
            hf[k] = HF_INF
    return n


def first_call(version, policy, accounts, offsets, asset, coll, debt, prices, key, lt, bonus, fee,
               out_repaid, out_seized, out_fee, out_coll_asset, out_debt_asset):
    """For each account, what its next ``liquidationCall`` would do at ``prices``, without
    doing it: debt repaid and collateral seized (tokens, fee included), the protocol fee
    (tokens), and the assets of the pair. A call that would not happen (healthy, blocked,
    nothing to seize) has repaid 0. Used to rank liquidations by profit."""
    for j in range(accounts.shape[0]):
        k = accounts[j]
        out_repaid[j] = 0.0
        out_seized[j] = 0.0
        out_fee[j] = 0.0
        out_coll_asset[j] = -1
        out_debt_asset[j] = -1
        rc, rd, w, c_total, d_total = choose_pair(
            policy, offsets[k], offsets[k + 1], asset, coll, debt, prices, key, lt, bonus
        )
        if rd < 0 or rc < 0 or w >= d_total:
            continue
        hf = w / d_total
        pc = prices[asset[rc]]
        pd = prices[asset[rd]]
        cover = largest_allowed_cover(version, hf, coll[rc], pc, debt[rd], pd, d_total, bonus[key[rc]])
        if cover <= 0.0:
            continue
        repaid, seized, fee_amt, revert = liquidation_call(
            version, hf, coll[rc], pc, debt[rd], pd, d_total, bonus[key[rc]], fee[key[rc]], cover
        )
        if revert != 0:
            continue
        out_repaid[j] = repaid
        out_seized[j] = seized
        out_fee[j] = fee_amt
        out_coll_asset[j] = asset[rc]
        out_debt_asset[j] = asset[rd]


def liquidate_list(
    version, policy, accounts, offsets, asset, coll, debt, prices, key, lt, bonus, fee, max_calls, min_repay_usd, caps,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked,
    ev_account, ev_calls, ev_seized_usd, ev_repaid_usd, ev_bad_debt_usd, flows,
):
    """Liquidate the listed accounts in order (serial: the list is already ranked), each
    with up to ``max_calls`` calls (see :func:`liquidate_one`), capped by row ``j`` of
    ``caps`` (USD per call; an empty array: no caps). Per account of the list
    the ``ev_*`` arrays receive what happened to it (one event row per account and
    block). Returns the number of calls."""
    total = 0
    for j in range(accounts.shape[0]):
        k = accounts[j]
        s0 = acct_seized_usd[k]
        r0 = acct_repaid_usd[k]
        b0 = acct_bad_debt_usd[k]
        c = liquidate_one(
            version, policy, k, offsets, asset, coll, debt, prices, key, lt, bonus, fee, max_calls, min_repay_usd,
            caps, j if caps.shape[0] > 0 else -1,
            seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
            acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, flows,
        )
        ev_account[j] = k
        ev_calls[j] = c
        ev_seized_usd[j] = acct_seized_usd[k] - s0
        ev_repaid_usd[j] = acct_repaid_usd[k] - r0
        ev_bad_debt_usd[j] = acct_bad_debt_usd[k] - b0
        total += c
    return total


def bad_debt_pass(accounts, offsets, asset, coll, debt, prices, key, lt, out_bad_usd):
    """Debt (USD) of accounts with debt but no seizable collateral left (per account).

    Before v3.3 such debt stays on the books; no liquidation can ever recover it.
    """
    for j in prange(accounts.shape[0]):
        k = accounts[j]
        c = 0.0
        d = 0.0
        for r in range(offsets[k], offsets[k + 1]):
            p = prices[asset[r]]
            if lt[key[r]] > 0.0:
                c += coll[r] * p
            d += debt[r] * p
        out_bad_usd[j] = d if (c <= 0.0 and d > 0.0) else 0.0


FUNCTIONS = {
    "add_flow": add_flow,
    "account_values": account_values,
    "max_liquidatable_debt": max_liquidatable_debt,
    "choose_pair": choose_pair,
    "largest_allowed_cover": largest_allowed_cover,
    "leaves_dust": leaves_dust,
    "liquidation_call": liquidation_call,
    "write_off_rest": write_off_rest,
    "health_pass": health_pass,
    "health_all": health_all,
    "price_pairs": price_pairs,
    "health_table": health_table,
    "liquidate_one": liquidate_one,
    "liquidate_from": liquidate_from,
    "sweep": sweep,
    "scan": scan,
    "scan_since": scan_since,
    "first_call": first_call,
    "liquidate_list": liquidate_list,
    "bad_debt_pass": bad_debt_pass,
}
PARALLEL = frozenset({"health_pass", "health_all", "health_table", "bad_debt_pass", "sweep"})
INLINE = frozenset({"liquidate_one", "liquidate_from"})
"""Compiled into their callers (numba's ``inline="always"``) rather than called: a call of
:func:`liquidate_one` passes some twenty arrays, each taken and released (a reference count
up and down) per call, which cost about as much as the liquidation itself (the first round at
-80 % on the 1M book, deep venues: 60 ms, 31 ms inlined; docs/benchmarks.md)."""
