"""The book loops shared by every protocol other than Aave: plain-Python twins, assembled
per protocol by :mod:`liqcascade.protocols.mechanisms.kernels`.

The loops here (one account, one round, a ranked list) are protocol-neutral. Each
protocol's folder has a ``kernels_python.py`` with the two functions the loops call by
name, and a named parameter record:

- ``next_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state)``: what the next call
  on the account of rows ``s:e`` would do, without doing it, as a :class:`Call` (``rc < 0``:
  none);
- ``apply_call(k, s, e, call, rows, mp, state, acc)``: carry it out on account ``k`` and add
  it to the accumulators; True when nothing more can happen to the account at these prices
  (absorbed, barked, trove closed, debt written off).

:func:`~liqcascade.protocols.mechanisms.kernels.assemble` binds those names to the
protocol's functions and compiles the loops once per protocol, so a compiled loop calls
its protocol's rule directly (no switch on the protocol inside the hot loop), and adding a
protocol edits no loop here.

Arrays are the engine's (see :mod:`liqcascade.protocols.aave_v3.kernels_python`, whose
health, scan and bad-debt passes are protocol-neutral and reused): tables ``lt`` (the
collateral's liquidation threshold: Compound v2's collateral factor, Comet's liquidate
collateral factor, Maker's ``1 / mat``, Liquity's ``1 / MCR``, Morpho's LLTV, Euler's
liquidation LTV) and ``bonus`` (per protocol), read for row ``r`` at ``key[r]``
(:class:`~liqcascade.protocols.base.ParamTable`), ``mp`` the protocol's parameter record and
``state`` its mutable scalars (Liquity's Stability Pool and system totals, Maker's Dog
room; the layout is below). ``flows`` (rows x :data:`~liqcascade.protocols.flows.N_FLOWS`)
receives each call's signed trades per row (see :class:`~liqcascade.protocols.base.Tallies`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import prange

from liqcascade.protocols.aave_v3.kernels_python import SKIP_MARGIN, account_values, spread_order
from liqcascade.protocols.base import HF_INF
from liqcascade.protocols.flows import FLOW_FEE, FLOW_REPAID, FLOW_SEIZED, FLOW_WRITTEN_OFF, add_flow

# indexes into ``state`` (Liquity)
ST_SP = 0
ST_SYS_COLL = 1
ST_SYS_DEBT = 2
ST_REDIST_DEBT = 3
ST_REDIST_COLL = 4
ST_SURPLUS = 5
ST_TROVES = 6
ST_REDIST_DEBT_TOTAL = 7  # summed over passes (after_pass), for the summary
ST_REDIST_COLL_TOTAL = 8
# Maker with Clipper auctions: the Dog's room, USD of tab that may still go to auction
# (``Hole - Dirt``); each ilk's (one per collateral asset) ``hole - dirt`` is at
# ``state[N_STATE + 2 * asset]`` (inf = no limit) and its ``dust`` (USD, 0 = none) at
# ``state[N_STATE + 2 * asset + 1]``. Compound v2: ``state[N_STATE + a] > 0`` marks asset
# ``a``'s borrow market deprecated.
ST_DOG_ROOM = 9
N_STATE = 10


class Call(NamedTuple):
    """What one liquidation call does (or would do) to an account.

    ``rc``/``rd``: rows of the collateral and the debt (-1: no call). Tokens: ``repaid``
    debt cleared from the account; ``seized`` collateral taken from row ``rc`` (Comet takes
    every collateral row, see its kernel); ``fee`` the part of ``seized`` the protocol or
    the Stability Pool keeps; ``paid``/``received`` what the liquidator pays (debt tokens)
    and receives (collateral tokens) when that is not simply ``repaid`` and ``seized - fee``;
    ``written_off`` debt written off; Liquity's ``redist_debt``/``redist_coll`` to
    redistribute and the owner's ``surplus``. ``reward_usd``: a fixed reward to the liquidator.
    """

    rc: int
    rd: int
    repaid: float
    seized: float
    fee: float
    paid: float
    received: float
    reward_usd: float
    written_off: float
    redist_debt: float
    redist_coll: float
    surplus: float


class Rows(NamedTuple):
    """The book's per-row arrays and its parameter tables as the kernels read them (one
    argument, named fields): row ``r``'s LT is ``lt[key[r]]``, its bonus ``bonus[key[r]]``."""

    asset: np.ndarray
    coll: np.ndarray
    debt: np.ndarray
    prices: np.ndarray
    key: np.ndarray
    lt: np.ndarray
    bonus: np.ndarray


class Acc(NamedTuple):
    """Where calls are added up: per asset (tokens), per account (USD) and per row."""

    seized: np.ndarray
    fee: np.ndarray
    repaid: np.ndarray
    deficit: np.ndarray
    acct_seized_usd: np.ndarray
    acct_repaid_usd: np.ndarray
    acct_bad_debt_usd: np.ndarray
    flows: np.ndarray


class KernelSpec(NamedTuple):
    """A protocol's kernel: its name (compiled loops are cached per name) and its plain
    functions (``next_call``, ``apply_call`` and every helper they call)."""

    name: str
    functions: dict


def no_call():
    """The :class:`Call` of an account on which nothing happens."""
    return Call(-1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def pair_call(rc, rd, repaid, seized, fee):
    """A call in which the liquidator repays ``repaid`` and receives ``seized - fee``."""
    return Call(rc, rd, repaid, seized, fee, repaid, seized - fee, 0.0, 0.0, 0.0, 0.0, 0.0)


def pick_pair(s, e, asset, coll, debt, prices, key, lt):
    """Rows of the most valuable collateral that counts (LT > 0) and the most valuable
    debt of rows ``s:e`` (-1 when none), with the account's LT-weighted collateral,
    counted collateral and debt (USD)."""
    w = 0.0
    c_total = 0.0
    d_total = 0.0
    rc = -1
    rd = -1
    best_c = 0.0
    best_d = 0.0
    for r in range(s, e):
        p = prices[asset[r]]
        cv = coll[r] * p
        t = lt[key[r]]
        if t > 0.0 and cv > 0.0:
            c_total += cv
            w += cv * t
            if cv > best_c:
                best_c = cv
                rc = r
        dv = debt[r] * p
        d_total += dv
        if dv > best_d:
            best_d = dv
            rd = r
    return rc, rd, w, c_total, d_total


def add_seized(k, r, amount, fee, rows, acc):
    """Book ``amount`` tokens of row ``r``'s collateral taken from account ``k``, of which
    the protocol keeps ``fee``."""
    a = rows.asset[r]
    p = rows.prices[a]
    acc.seized[a] += amount
    acc.fee[a] += fee
    acc.acct_seized_usd[k] += amount * p
    add_flow(acc.flows, r, FLOW_SEIZED, amount, p)
    add_flow(acc.flows, r, FLOW_FEE, fee, p)


def add_repaid(k, r, repaid, written_off, rows, acc):
    """Book ``repaid`` tokens of row ``r``'s debt cleared and ``written_off`` written off."""
    a = rows.asset[r]
    p = rows.prices[a]
    acc.repaid[a] += repaid
    acc.deficit[a] += written_off
    acc.acct_repaid_usd[k] += repaid * p
    acc.acct_bad_debt_usd[k] += written_off * p
    add_flow(acc.flows, r, FLOW_REPAID, repaid, p)
    add_flow(acc.flows, r, FLOW_WRITTEN_OFF, written_off, p)


def apply_pair(k, call, rows, acc):
    """Carry out a call on one (collateral, debt) pair: row ``rc`` loses ``seized``, row
    ``rd`` loses ``repaid`` (the rest of its debt stays), and book both."""
    rc = call.rc
    rd = call.rd
    rows.coll[rc] = rows.coll[rc] - call.seized if call.seized < rows.coll[rc] else 0.0
    rows.debt[rd] = rows.debt[rd] - call.repaid if call.repaid < rows.debt[rd] else 0.0
    add_seized(k, rc, call.seized, call.fee, rows, acc)
    add_repaid(k, rd, call.repaid, call.written_off, rows, acc)


def write_off_if_bare(k, s, e, rows, acc):
    """When account ``k`` has no counted collateral left, write off every debt it still
    has (Morpho: the market's suppliers bear it; Euler: socialized to the vault's
    depositors). True when it did."""
    for r in range(s, e):
        if rows.lt[rows.key[r]] > 0.0 and rows.coll[r] > 0.0:
            return False
    for r in range(s, e):
        if rows.debt[r] > 0.0:
            add_repaid(k, r, 0.0, rows.debt[r], rows, acc)
            rows.debt[r] = 0.0
    return True


def liquidate_one(k, offsets, rows, mp, state, max_calls, min_repay_usd, acc, acct_calls, acct_blocked):
    """Liquidate account ``k`` at fixed prices until nothing more can happen (healthy,
    closed, nothing to seize) or ``max_calls``; return the calls made."""
    s = offsets[k]
    e = offsets[k + 1]
    calls = 0
    for _ in range(max_calls):
        call = next_call(s, e, rows.asset, rows.coll, rows.debt, rows.prices, rows.key,  # noqa: F821
                         rows.lt, rows.bonus, mp, state)
        if call.rc < 0 or call.repaid + call.redist_debt <= 0.0:
            break
        if (call.repaid + call.redist_debt) * rows.prices[rows.asset[call.rd]] < min_repay_usd:
            acct_blocked[k] += 1
            break
        done = apply_call(k, s, e, call, rows, mp, state, acc)  # noqa: F821
        acct_calls[k] += 1
        calls += 1
        if done:
            break
    return calls


def capped(call, cap_usd, pd):
    """``call`` with its repayment cut to ``cap_usd`` (USD at the debt's price ``pd``) when it
    repays more: every amount scales with the repayment (the calls of the protocols that declare
    ``capped_calls`` are linear in it at fixed prices) and nothing is written off (collateral
    is left)."""
    if call.repaid * pd <= cap_usd:
        return call
    f = cap_usd / (call.repaid * pd)
    return Call(call.rc, call.rd, call.repaid * f, call.seized * f, call.fee * f, call.paid * f, call.received * f,
                call.reward_usd, 0.0, 0.0, 0.0, 0.0)


def liquidate_capped(k, offsets, rows, mp, state, caps, j, max_calls, min_repay_usd, acc, acct_calls, acct_blocked):
    """:func:`liquidate_one` with a liquidator's strategy: call ``c`` on account ``k`` repays at
    most ``caps[j, c]`` of debt value (USD; inf: the rule's maximum); a 0 or the end of the row
    stops the calls, and ``max_calls`` still bounds them."""
    s = offsets[k]
    e = offsets[k + 1]
    calls = 0
    for c in range(min(caps.shape[1], max_calls)):
        if caps[j, c] <= 0.0:
            break
        call = next_call(s, e, rows.asset, rows.coll, rows.debt, rows.prices, rows.key,  # noqa: F821
                         rows.lt, rows.bonus, mp, state)
        if call.rc < 0 or call.repaid + call.redist_debt <= 0.0:
            break
        pd = rows.prices[rows.asset[call.rd]]
        call = capped(call, caps[j, c], pd)
        if (call.repaid + call.redist_debt) * pd < min_repay_usd:
            acct_blocked[k] += 1
            break
        done = apply_call(k, s, e, call, rows, mp, state, acc)  # noqa: F821
        acct_calls[k] += 1
        calls += 1
        if done:
            break
    return calls


N_CHUNKS = 64
CHUNK_ORDER = spread_order(N_CHUNKS)  # the threads' share of the chunks (see spread_order)


def chunk_acc(acc, parts, c):
    """Account ``c``'s chunk accumulators: per-asset sums in ``parts[:, c]`` (added in
    chunk order afterwards), per-account and per-row arrays shared (chunks own disjoint
    accounts)."""
    return Acc(parts[0, c], parts[1, c], parts[2, c], parts[3, c], acc.acct_seized_usd, acc.acct_repaid_usd,
               acc.acct_bad_debt_usd, acc.flows)


def sweep_chunk(c, size, upto, offsets, rows, mp, state, max_calls, min_repay_usd, acc, counts, scan_bounds):
    """Chunk ``c`` of :func:`sweep`: accounts ``c*size .. min(upto, (c+1)*size) - 1``.
    Returns ``(eligible, calls)``. ``counts`` = (acct_calls, acct_blocked, touched);
    ``scan_bounds`` = (q, cum_bound, hf_cut): ``hf_cut`` is the HF below which an account
    is looked at (1, or TCR / MCR in Liquity's Recovery Mode); the ``q`` bounds are
    relative to 1."""
    acct_calls, acct_blocked, touched = counts
    q, cum_bound, hf_cut = scan_bounds
    lo = c * size
    hi = min(upto, lo + size)
    found = 0
    calls = 0
    for k in range(lo, hi):
        if q[k] >= cum_bound * SKIP_MARGIN * hf_cut:
            continue
        w, cv_total, d = account_values(offsets[k], offsets[k + 1], rows.asset, rows.coll, rows.debt, rows.prices,
                                        rows.key, rows.lt)
        if d > 0.0 and cv_total > 0.0 and w < d * hf_cut:
            n = liquidate_one(k, offsets, rows, mp, state, max_calls, min_repay_usd, acc, acct_calls, acct_blocked)
            if n > 0 or acct_blocked[k] > 0:
                found += 1
                touched[k] = True
            calls += n
            # the bound from what is left, as for a healthy account (see the Aave sweep)
            w, cv_total, d = account_values(offsets[k], offsets[k + 1], rows.asset, rows.coll, rows.debt,
                                            rows.prices, rows.key, rows.lt)
            q[k] = (w / d) * cum_bound if d > 0.0 and cv_total > 0.0 else HF_INF
        elif d > 0.0 and cv_total > 0.0:
            q[k] = (w / d) * cum_bound
        else:  # never eligible in this cascade (see the Aave sweep)
            q[k] = HF_INF
    return found, calls


def sweep(upto, offsets, rows, mp, state, max_calls, min_repay_usd, acc, counts, scan_bounds):
    """One round over accounts ``0..upto-1`` in parallel fixed chunks (protocols without
    shared state); see the Aave kernel's ``sweep`` for the bounds and the bit-identical
    chunk-ordered sums. Returns ``(eligible accounts acted on, calls)``."""
    parts = np.zeros((4, N_CHUNKS, acc.seized.shape[0]))
    found = np.zeros(N_CHUNKS, dtype=np.int64)
    calls = np.zeros(N_CHUNKS, dtype=np.int64)
    size = (upto + N_CHUNKS - 1) // N_CHUNKS
    for i in prange(N_CHUNKS):
        c = CHUNK_ORDER[i]
        found[c], calls[c] = sweep_chunk(c, size, upto, offsets, rows, mp, state, max_calls, min_repay_usd,
                                         chunk_acc(acc, parts, c), counts, scan_bounds)
    return reduce_chunks(parts, found, calls, acc)


def sweep_serial(upto, offsets, rows, mp, state, max_calls, min_repay_usd, acc, counts, scan_bounds):
    """:func:`sweep` in account order on one thread, for protocols with shared state
    (Liquity's Stability Pool and system totals change with every trove)."""
    parts = np.zeros((4, N_CHUNKS, acc.seized.shape[0]))
    found = np.zeros(N_CHUNKS, dtype=np.int64)
    calls = np.zeros(N_CHUNKS, dtype=np.int64)
    size = (upto + N_CHUNKS - 1) // N_CHUNKS
    for c in range(N_CHUNKS):
        found[c], calls[c] = sweep_chunk(c, size, upto, offsets, rows, mp, state, max_calls, min_repay_usd,
                                         chunk_acc(acc, parts, c), counts, scan_bounds)
    return reduce_chunks(parts, found, calls, acc)


def reduce_chunks(parts, found, calls, acc):
    """Add the per-chunk accumulators in chunk order (the same sums on any thread count)."""
    for c in range(parts.shape[1]):
        for a in range(parts.shape[2]):
            acc.seized[a] += parts[0, c, a]
            acc.fee[a] += parts[1, c, a]
            acc.repaid[a] += parts[2, c, a]
            acc.deficit[a] += parts[3, c, a]
    n_found = 0
    n_calls = 0
    for c in range(found.shape[0]):
        n_found += found[c]
        n_calls += calls[c]
    return n_found, n_calls


def scan(upto, offsets, asset, coll, debt, prices, key, lt, q, cum_bound, hf_cut, out):
    """The accounts among ``0..upto-1`` with HF below ``hf_cut`` (some debt and counted
    collateral), written into ``out`` in account order; returns how many."""
    n = 0
    for k in range(upto):
        if q[k] >= cum_bound * SKIP_MARGIN * hf_cut:
            continue
        w, cv_total, d = account_values(offsets[k], offsets[k + 1], asset, coll, debt, prices, key, lt)
        if d > 0.0 and cv_total > 0.0 and w < d * hf_cut:
            out[n] = k
            n += 1
            q[k] = 0.0
        elif d > 0.0:
            q[k] = (w / d) * cum_bound
        else:
            q[k] = HF_INF
    return n


def first_call(accounts, offsets, rows, mp, state, out_repaid, out_seized, out_fee, out_costs, out_assets):
    """For each account, what its next call would do at the prices (see :class:`Call`), for
    ranking by profit; ``out_repaid`` 0 when no call would happen. Liquity's debt to
    redistribute counts as cleared. ``out_costs`` = (paid, received, reward_usd),
    ``out_assets`` = (collateral asset, debt asset)."""
    out_paid, out_received, out_reward_usd = out_costs
    out_coll_asset, out_debt_asset = out_assets
    for j in range(accounts.shape[0]):
        k = accounts[j]
        call = next_call(offsets[k], offsets[k + 1], rows.asset, rows.coll, rows.debt, rows.prices,  # noqa: F821
                         rows.key, rows.lt, rows.bonus, mp, state)
        if call.rc < 0 or call.repaid + call.redist_debt <= 0.0:
            out_repaid[j] = 0.0
            out_seized[j] = 0.0
            out_fee[j] = 0.0
            out_paid[j] = 0.0
            out_received[j] = 0.0
            out_reward_usd[j] = 0.0
            out_coll_asset[j] = -1
            out_debt_asset[j] = -1
            continue
        out_repaid[j] = call.repaid + call.redist_debt
        out_seized[j] = call.seized
        out_fee[j] = call.fee
        out_paid[j] = call.paid
        out_received[j] = call.received
        out_reward_usd[j] = call.reward_usd
        out_coll_asset[j] = rows.asset[call.rc]
        out_debt_asset[j] = rows.asset[call.rd]


def liquidate_list(accounts, offsets, rows, mp, state, max_calls, min_repay_usd, caps, acc, counts, events):
    """Liquidate the listed accounts in order (serial); one event row per account.
    ``caps``: row ``j`` the per-call caps of the ``j``-th account (:func:`liquidate_capped`; an
    empty array: each account up to ``max_calls`` calls at the rule's maximum).
    ``counts`` = (acct_calls, acct_blocked); ``events`` = (account, calls, seized USD,
    repaid USD, bad debt USD) per listed account."""
    acct_calls, acct_blocked = counts
    ev_account, ev_calls, ev_seized_usd, ev_repaid_usd, ev_bad_debt_usd = events
    total = 0
    for j in range(accounts.shape[0]):
        k = accounts[j]
        s0 = acc.acct_seized_usd[k]
        r0 = acc.acct_repaid_usd[k]
        b0 = acc.acct_bad_debt_usd[k]
        if caps.shape[0] > 0:
            c = liquidate_capped(k, offsets, rows, mp, state, caps, j, max_calls, min_repay_usd, acc, acct_calls,
                                 acct_blocked)
        else:
            c = liquidate_one(k, offsets, rows, mp, state, max_calls, min_repay_usd, acc, acct_calls, acct_blocked)
        ev_account[j] = k
        ev_calls[j] = c
        ev_seized_usd[j] = acc.acct_seized_usd[k] - s0
        ev_repaid_usd[j] = acc.acct_repaid_usd[k] - r0
        ev_bad_debt_usd[j] = acc.acct_bad_debt_usd[k] - b0
        total += c
    return total


FUNCTIONS = {
    "add_flow": add_flow,
    "account_values": account_values,
    "no_call": no_call,
    "pair_call": pair_call,
    "pick_pair": pick_pair,
    "add_seized": add_seized,
    "add_repaid": add_repaid,
    "apply_pair": apply_pair,
    "write_off_if_bare": write_off_if_bare,
    "liquidate_one": liquidate_one,
    "capped": capped,
    "liquidate_capped": liquidate_capped,
    "chunk_acc": chunk_acc,
    "sweep_chunk": sweep_chunk,
    "sweep": sweep,
    "sweep_serial": sweep_serial,
    "reduce_chunks": reduce_chunks,
    "scan": scan,
    "first_call": first_call,
    "liquidate_list": liquidate_list,
}
"""The shared loops and helpers; a protocol's ``FUNCTIONS`` adds ``next_call``,
``apply_call`` and its own helpers."""
PARALLEL = frozenset({"sweep"})
