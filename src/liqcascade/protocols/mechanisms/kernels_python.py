"""Book kernels for the protocols other than Aave: plain-Python twins of ``kernels.py``.

One set of loops serves every mechanism; ``mech`` picks the per-account rule (the float
forms in each protocol's ``fast.py``). Arrays are the engine's (see
:mod:`liqcascade.protocols.aave_v3.kernels_python`, whose health, scan and bad-debt
passes are protocol-neutral and reused): per-row ``lt`` (the collateral's liquidation
threshold: Compound v2's collateral factor, Comet's liquidate collateral factor, Maker's
``1 / mat``, Liquity's ``1 / MCR``, Morpho's LLTV, Euler's liquidation LTV) and ``bonus``
(per mechanism, below), ``mp`` the mechanism's scalar parameters and ``state`` its mutable
scalars (Liquity's Stability Pool and system totals).

Per mechanism:

- ``MECH_COMPOUND_V2``: ``bonus`` = incentive - 1; ``mp = [close factor, seize share]``;
  ``state[N_STATE + a]`` > 0 marks asset ``a``'s borrow market deprecated (the close factor
  does not apply to its borrows). Calls on the most valuable (collateral, debt) pair until
  the account is healthy.
- ``MECH_MORPHO``: ``bonus`` = LIF - 1. One call takes the whole debt or all the collateral;
  debt left without collateral is written off (socialized to the market's suppliers).
- ``MECH_EULER``: ``mp = [max discount]``. Calls per collateral with the health-scaled
  discount; debt left when no collateral remains is socialized.
- ``MECH_COMET``: ``bonus`` = 1 - liquidation factor; ``mp = [store-front factor, resale]``.
  ``absorb`` takes every collateral and the debt; the shortfall comes out of reserves. With
  resale 1 the collateral is sold on (``buyCollateral``); 0 keeps it (reserves at target).
- ``MECH_MAKER``: ``bonus`` = chop - 1; ``mp = [keeper margin]``. ``bark`` and an auction
  taken at ``price * (1 - margin)``; collateral beyond the tab returns to the vault.
  ``MECH_MAKER_BARK``: ``bark`` alone (``mp = [-, tip, chip]``); the protocol keeps the lot
  and the debt for the auctions the dynamic engine runs (``maker/clipper.py``). The tab is
  capped by the Dog's room in ``state`` (``ST_DOG_ROOM``, and each ilk's at ``N_STATE +
  2 a`` for collateral asset ``a``), which each bark lowers; a capped bark is partial, with
  the ilk's ``dust`` (USD, ``state[N_STATE + 2 a + 1]``) as in ``dog.sol``: a vault it
  would leave dusty is barked whole, a partial auction that would itself be dusty is not
  made (``maker/fast.py`` ``dog_bark``).
- ``MECH_LIQUITY_V1`` / ``MECH_LIQUITY_V2``: ``mp = [MCR, CCR, gas share, gas cap, SP
  penalty, redistribution penalty, SP sell share, SP floor]``; ``state = [SP deposits,
  system collateral, system debt, debt to redistribute, collateral to redistribute,
  surplus, open troves, -]``. Troves are offset against the Stability Pool in order; what the pool
  cannot take is collected in ``state`` for the caller to redistribute after the pass (as
  ``liquidateTroves`` redistributes a batch once). These mutate shared state: run serially.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from liqcascade.protocols.aave_v3.kernels_python import SKIP_MARGIN, account_values, spread_order
from liqcascade.protocols.base import HF_INF
from liqcascade.protocols.compound_v2.fast import liquidate_call as compound_v2_call
from liqcascade.protocols.compound_v3.fast import absorb_values, store_front_price
from liqcascade.protocols.euler_v2.fast import discount_factor as euler_discount_factor
from liqcascade.protocols.euler_v2.fast import liquidate_call as euler_call
from liqcascade.protocols.liquity_v1.fast import MODE_NONE
from liqcascade.protocols.liquity_v1.fast import liquidate_trove as liquity_v1_trove
from liqcascade.protocols.liquity_v2.fast import liquidate_trove as liquity_v2_trove
from liqcascade.protocols.liquity_v2.fast import penalty_cap
from liqcascade.protocols.maker.fast import BARK_DUSTY_PARTIAL, BARK_NONE, BARK_PARTIAL, dog_bark, instant_take
from liqcascade.protocols.morpho_blue.fast import liquidate_all as morpho_call

MECH_COMPOUND_V2 = 1
MECH_MORPHO = 2
MECH_EULER = 3
MECH_COMET = 4
MECH_MAKER = 5
MECH_LIQUITY_V1 = 6
MECH_LIQUITY_V2 = 7
MECH_MAKER_BARK = 8

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
# ``state[N_STATE + 2 * asset + 1]``.
ST_DOG_ROOM = 9
N_STATE = 10


def pick_pair(s, e, asset, coll, debt, prices, lt):
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
        if lt[r] > 0.0 and cv > 0.0:
            c_total += cv
            w += cv * lt[r]
            if cv > best_c:
                best_c = cv
                rc = r
        dv = debt[r] * p
        d_total += dv
        if dv > best_d:
            best_d = dv
            rd = r
    return rc, rd, w, c_total, d_total


def next_call(mech, s, e, asset, coll, debt, prices, lt, bonus, mp, state):
    """What the next call on the account of rows ``s:e`` would do, without doing it.

    Returns ``(rc, rd, repaid, seized, fee, paid, received, reward_usd, written_off,
    redist_debt, redist_coll, surplus)``: rows of the pair; debt cleared and collateral
    taken from the account (tokens, ``seized`` is the chosen row's: Comet takes every
    collateral, see :func:`apply_call`); the part of ``seized`` the protocol or the
    Stability Pool keeps; what the liquidator pays (debt tokens) and receives (collateral
    tokens) and a fixed reward (USD); debt written off (tokens); Liquity's debt and
    collateral to redistribute and the owner's surplus (tokens). ``rc < 0`` or
    ``repaid + redist_debt <= 0``: no call.
    """
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0:
        return -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    pc = prices[asset[rc]]
    pd = prices[asset[rd]]
    if mech == MECH_LIQUITY_V1 or mech == MECH_LIQUITY_V2:
        return liquity_call(mech, rc, rd, coll[rc], debt[rd], pc, pd, mp, state)
    if w >= d_total:
        return -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    if mech == MECH_COMPOUND_V2:
        # state[N_STATE + a] > 0: the borrow market of asset a is deprecated (no close factor)
        deprecated = state.shape[0] > N_STATE + asset[rd] and state[N_STATE + asset[rd]] > 0.0
        rep, sz, share = compound_v2_call(coll[rc], pc, debt[rd], pd, 1.0 + bonus[rc], mp[0], mp[1], deprecated)
        return rc, rd, rep, sz, share, rep, sz - share, 0.0, 0.0, 0.0, 0.0, 0.0
    if mech == MECH_MORPHO:
        # the debt left with no collateral is written off by apply_call
        rep, sz, bad = morpho_call(coll[rc], pc, debt[rd], pd, 1.0 + bonus[rc])
        return rc, rd, rep, sz, 0.0, rep, sz, 0.0, 0.0, 0.0, 0.0, 0.0
    if mech == MECH_EULER:
        df = euler_discount_factor(w / d_total, mp[0])
        rep, sz = euler_call(coll[rc], pc, debt[rd], pd, df)
        return rc, rd, rep, sz, 0.0, rep, sz, 0.0, 0.0, 0.0, 0.0, 0.0
    if mech == MECH_COMET:
        lf_value = 0.0
        coll_value = 0.0  # every collateral at the oracle, USD
        store_value = 0.0  # what buyers pay for all of it at the store front, USD
        for r in range(s, e):
            if lt[r] > 0.0 and coll[r] > 0.0:
                pr = prices[asset[r]]
                lf_value += coll[r] * pr * (1.0 - bonus[r])
                coll_value += coll[r] * pr
                store_value += coll[r] * store_front_price(pr, 1.0 - bonus[r], mp[0])
        covered, shortfall, surplus = absorb_values(lf_value, d_total)
        kept = coll[rc] if mp[1] == 0.0 else 0.0
        # resale: buyers take every collateral the absorb took; what they receive is counted
        # in tokens of the pair's collateral (all of it at the oracle over that price), what
        # they pay at each collateral's own store-front price
        received = 0.0 if mp[1] == 0.0 else coll_value / pc
        paid = 0.0 if mp[1] == 0.0 else store_value / pd
        return rc, rd, covered / pd, coll[rc], kept, paid, received, 0.0, shortfall / pd, 0.0, 0.0, 0.0
    if mech == MECH_MAKER_BARK:
        # bark only: the lot and the debt go to an auction the caller runs over time; the
        # keeper who barks earns tip + chip * tab (mp[1], mp[2]). The Dog puts up at most
        # its room (min(Hole - Dirt, hole - dirt)) as tab: a partial bark takes the same
        # share of the debt and the collateral (dart = room / (rate * chop), dink = ink * dart / art),
        # with the ilk's dust rules (dog_bark)
        j = N_STATE + 2 * asset[rc]
        tab = debt[rd] * pd * (1.0 + bonus[rc])
        room = min(state[ST_DOG_ROOM], state[j])
        case, f = dog_bark(tab, 1.0 + bonus[rc], room, state[j + 1])
        if case == BARK_NONE or case == BARK_DUSTY_PARTIAL:
            return -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        if case != BARK_PARTIAL:
            return rc, rd, debt[rd], coll[rc], coll[rc], 0.0, 0.0, mp[1] + mp[2] * tab, 0.0, 0.0, 0.0, 0.0
        sz = coll[rc] * f
        return rc, rd, debt[rd] * f, sz, sz, 0.0, 0.0, mp[1] + mp[2] * room, 0.0, 0.0, 0.0, 0.0
    # Maker, auction taken at once
    debt_usd = debt[rd] * pd
    sold, raised, returned, shortfall = instant_take(coll[rc], pc, debt_usd, 1.0 + bonus[rc], mp[0])
    covered = raised if raised < debt_usd else debt_usd
    return rc, rd, covered / pd, sold, 0.0, raised / pd, sold, 0.0, shortfall / pd, 0.0, 0.0, 0.0


def liquity_call(mech, rc, rd, coll, debt, pc, pd, mp, state):
    """:func:`next_call` for a Liquity trove (one collateral row ``rc``, one debt row ``rd``).

    ICR is the trove's collateral ratio, TCR the system's from ``state`` (v1 Recovery Mode
    when TCR < CCR). The liquidator receives the collateral gas compensation and a fixed
    reward (v1: 200 LUSD, ``mp[8]`` debt tokens; v2: 0.0375 WETH, ``mp[9]``, valued at the
    collateral's price); the Stability Pool keeps ``1 - mp[6]`` of its collateral gain.
    """
    if state[ST_TROVES] <= 1.0:
        # Liquity never liquidates the last trove (``_requireMoreThanOneTroveInSystem``)
        return -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    icr = coll * pc / (debt * pd)
    if mech == MECH_LIQUITY_V1:
        sys_debt = state[ST_SYS_DEBT]
        tcr = state[ST_SYS_COLL] * pc / (sys_debt * pd) if sys_debt > 0.0 else HF_INF
        mode, off, to_sp, gas, rdebt, rcoll, surplus = liquity_v1_trove(
            debt, coll, icr, tcr, state[ST_SP], mp[0], mp[1], mp[2]
        )
        if mode == MODE_NONE:
            return -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    else:
        if icr >= mp[0]:
            return -1, -1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        off, to_sp, gas, rdebt, rcoll, surplus = liquity_v2_trove(
            debt, coll, state[ST_SP], pc, pd, mp[2], mp[3], mp[4], mp[5], mp[7]
        )
    kept = to_sp * (1.0 - mp[6])
    reward = mp[8] * pd + mp[9] * pc
    return rc, rd, off, to_sp + gas, kept, 0.0, to_sp + gas - kept, reward, 0.0, rdebt, rcoll, surplus


def use_room(state, j, tab):
    """Lower the Dog's room ``state[j]`` by a bark's ``tab`` (left at inf when unlimited;
    a rounding remainder below 1e-9 of it is none)."""
    r = state[j]
    if np.isinf(r):
        return
    left = r - tab
    state[j] = left if left > 1e-9 * r else 0.0


def apply_call(
    mech, k, s, e, rc, rd, repaid, seized, fee, written_off, redist_debt, redist_coll, surplus, bonus_rc,
    asset, coll, debt, prices, lt, mp, state,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd,
):
    """Carry out on account ``k`` the call :func:`next_call` described and add it to the
    accumulators. Returns True when nothing more can happen to the account at these
    prices (absorbed, barked, trove closed, debt written off)."""
    pc = prices[asset[rc]]
    pd = prices[asset[rd]]
    a_c = asset[rc]
    a_d = asset[rd]
    if mech == MECH_COMET:
        # absorb: every collateral row and the whole debt
        for r in range(s, e):
            if lt[r] > 0.0 and coll[r] > 0.0:
                x = coll[r]
                seized_by_asset[asset[r]] += x
                if mp[1] == 0.0:
                    fee_by_asset[asset[r]] += x
                acct_seized_usd[k] += x * prices[asset[r]]
                coll[r] = 0.0
        debt[rd] = 0.0
    elif mech == MECH_LIQUITY_V1 or mech == MECH_LIQUITY_V2:
        # the SP and the liquidator take ``seized``; the redistributed part stays in the
        # book (the caller adds it to the other troves); the surplus stays with the owner
        state[ST_SP] -= repaid
        state[ST_REDIST_DEBT] += redist_debt
        state[ST_REDIST_COLL] += redist_coll
        state[ST_SURPLUS] += surplus
        state[ST_SYS_COLL] -= seized + surplus
        state[ST_SYS_DEBT] -= repaid
        state[ST_TROVES] -= 1.0
        coll[rc] = surplus
        debt[rd] = 0.0
        seized_by_asset[a_c] += seized
        fee_by_asset[a_c] += fee
        acct_seized_usd[k] += seized * pc
    else:
        # Maker: the rest of the vault's collateral stays with it; the debt is gone
        coll[rc] = coll[rc] - seized if seized < coll[rc] else 0.0
        if mech == MECH_MAKER or repaid >= debt[rd]:
            debt[rd] = 0.0
        else:
            debt[rd] -= repaid  # a partial bark (the Dog's room) or a partial call
        if mech == MECH_MAKER_BARK:
            tab = repaid * pd * (1.0 + bonus_rc)
            use_room(state, ST_DOG_ROOM, tab)
            use_room(state, N_STATE + 2 * a_c, tab)
        seized_by_asset[a_c] += seized
        fee_by_asset[a_c] += fee
        acct_seized_usd[k] += seized * pc
    repaid_by_asset[a_d] += repaid
    deficit_by_asset[a_d] += written_off
    acct_repaid_usd[k] += repaid * pd
    acct_bad_debt_usd[k] += written_off * pd
    if mech != MECH_COMPOUND_V2 and mech != MECH_MORPHO and mech != MECH_EULER:
        return True
    if mech == MECH_MORPHO or mech == MECH_EULER:
        # debt left with no collateral is written off (Morpho: the market's suppliers bear
        # it; Euler: socialized to the vault's depositors)
        left = 0.0
        for r in range(s, e):
            if lt[r] > 0.0:
                left += coll[r]
        if left <= 0.0:
            for r in range(s, e):
                if debt[r] > 0.0:
                    deficit_by_asset[asset[r]] += debt[r]
                    acct_bad_debt_usd[k] += debt[r] * prices[asset[r]]
                    debt[r] = 0.0
            return True
    return False


def liquidate_one(
    mech, k, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked,
):
    """Liquidate account ``k`` at fixed ``prices`` until nothing more can happen (healthy,
    closed, nothing to seize) or ``max_calls``; return the calls made."""
    s = offsets[k]
    e = offsets[k + 1]
    calls = 0
    for _ in range(max_calls):
        rc, rd, repaid, seized, fee, paid, received, reward, written_off, rdebt, rcoll, surplus = next_call(
            mech, s, e, asset, coll, debt, prices, lt, bonus, mp, state
        )
        if rc < 0 or repaid + rdebt <= 0.0:
            break
        if (repaid + rdebt) * prices[asset[rd]] < min_repay_usd:
            acct_blocked[k] += 1
            break
        done = apply_call(
            mech, k, s, e, rc, rd, repaid, seized, fee, written_off, rdebt, rcoll, surplus, bonus[rc],
            asset, coll, debt, prices, lt, mp, state,
            seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
            acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd,
        )
        acct_calls[k] += 1
        calls += 1
        if done:
            break
    return calls


N_CHUNKS = 64
CHUNK_ORDER = spread_order(N_CHUNKS)  # the threads' share of the chunks (see spread_order)


def sweep_chunk(
    c, size, upto, mech, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd, acc,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, touched, q, cum_bound, hf_cut,
):
    """Chunk ``c`` of :func:`sweep`: accounts ``c*size .. min(upto, (c+1)*size) - 1``.
    Returns ``(eligible, calls)``. ``hf_cut`` is the HF below which an account is looked
    at (1, or TCR / MCR in Liquity's Recovery Mode); the ``q`` bounds are relative to 1."""
    lo = c * size
    hi = min(upto, lo + size)
    found = 0
    calls = 0
    for k in range(lo, hi):
        if q[k] >= cum_bound * SKIP_MARGIN * hf_cut:
            continue
        w, cv_total, d = account_values(offsets[k], offsets[k + 1], asset, coll, debt, prices, lt)
        if d > 0.0 and cv_total > 0.0 and w < d * hf_cut:
            n = liquidate_one(
                mech, k, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd,
                acc[0, c], acc[1, c], acc[2, c], acc[3, c],
                acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked,
            )
            if n > 0 or acct_blocked[k] > 0:
                found += 1
                touched[k] = True
            calls += n
            # the bound from what is left, as for a healthy account (see the Aave sweep)
            w, cv_total, d = account_values(offsets[k], offsets[k + 1], asset, coll, debt, prices, lt)
            q[k] = (w / d) * cum_bound if d > 0.0 and cv_total > 0.0 else HF_INF
        elif d > 0.0 and cv_total > 0.0:
            q[k] = (w / d) * cum_bound
        else:  # never eligible in this cascade (see the Aave sweep)
            q[k] = HF_INF
    return found, calls


def sweep(
    mech, upto, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, touched, q, cum_bound, hf_cut,
):
    """One round over accounts ``0..upto-1`` in parallel fixed chunks (mechanisms without
    shared state); see the Aave kernel's ``sweep`` for the bounds and the bit-identical
    chunk-ordered sums. Returns ``(eligible accounts acted on, calls)``."""
    k_assets = seized_by_asset.shape[0]
    acc = np.zeros((4, N_CHUNKS, k_assets))
    found = np.zeros(N_CHUNKS, dtype=np.int64)
    calls = np.zeros(N_CHUNKS, dtype=np.int64)
    size = (upto + N_CHUNKS - 1) // N_CHUNKS
    for i in prange(N_CHUNKS):
        c = CHUNK_ORDER[i]
        found[c], calls[c] = sweep_chunk(
            c, size, upto, mech, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd,
            acc, acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, touched, q,
            cum_bound, hf_cut,
        )
    return reduce_chunks(acc, found, calls, seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset)


def sweep_serial(
    mech, upto, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, touched, q, cum_bound, hf_cut,
):
    """:func:`sweep` in account order on one thread, for mechanisms with shared state
    (Liquity's Stability Pool and system totals change with every trove)."""
    k_assets = seized_by_asset.shape[0]
    acc = np.zeros((4, N_CHUNKS, k_assets))
    found = np.zeros(N_CHUNKS, dtype=np.int64)
    calls = np.zeros(N_CHUNKS, dtype=np.int64)
    size = (upto + N_CHUNKS - 1) // N_CHUNKS
    for c in range(N_CHUNKS):
        found[c], calls[c] = sweep_chunk(
            c, size, upto, mech, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd,
            acc, acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked, touched, q,
            cum_bound, hf_cut,
        )
    return reduce_chunks(acc, found, calls, seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset)


def reduce_chunks(acc, found, calls, seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset):
    """Add the per-chunk accumulators in chunk order (the same sums on any thread count)."""
    for c in range(acc.shape[1]):
        for a in range(acc.shape[2]):
            seized_by_asset[a] += acc[0, c, a]
            fee_by_asset[a] += acc[1, c, a]
            repaid_by_asset[a] += acc[2, c, a]
            deficit_by_asset[a] += acc[3, c, a]
    n_found = 0
    n_calls = 0
    for c in range(found.shape[0]):
        n_found += found[c]
        n_calls += calls[c]
    return n_found, n_calls


def scan(upto, offsets, asset, coll, debt, prices, lt, q, cum_bound, hf_cut, out):
    """The accounts among ``0..upto-1`` with HF below ``hf_cut`` (some debt and counted
    collateral), written into ``out`` in account order; returns how many."""
    n = 0
    for k in range(upto):
        if q[k] >= cum_bound * SKIP_MARGIN * hf_cut:
            continue
        w, cv_total, d = account_values(offsets[k], offsets[k + 1], asset, coll, debt, prices, lt)
        if d > 0.0 and cv_total > 0.0 and w < d * hf_cut:
            out[n] = k
            n += 1
            q[k] = 0.0
        elif d > 0.0:
            q[k] = (w / d) * cum_bound
        else:
            q[k] = HF_INF
    return n


def first_call(mech, accounts, offsets, asset, coll, debt, prices, lt, bonus, mp, state,
               out_repaid, out_seized, out_fee, out_paid, out_received, out_reward_usd,
               out_coll_asset, out_debt_asset):
    """For each account, what its next call would do at ``prices`` (see :func:`next_call`),
    for ranking by profit; ``out_repaid`` 0 when no call would happen. Liquity's debt to
    redistribute counts as cleared."""
    for j in range(accounts.shape[0]):
        k = accounts[j]
        rc, rd, repaid, seized, fee, paid, received, reward, written_off, rdebt, rcoll, surplus = next_call(
            mech, offsets[k], offsets[k + 1], asset, coll, debt, prices, lt, bonus, mp, state
        )
        if rc < 0 or repaid + rdebt <= 0.0:
            out_repaid[j] = 0.0
            out_seized[j] = 0.0
            out_fee[j] = 0.0
            out_paid[j] = 0.0
            out_received[j] = 0.0
            out_reward_usd[j] = 0.0
            out_coll_asset[j] = -1
            out_debt_asset[j] = -1
            continue
        out_repaid[j] = repaid + rdebt
        out_seized[j] = seized
        out_fee[j] = fee
        out_paid[j] = paid
        out_received[j] = received
        out_reward_usd[j] = reward
        out_coll_asset[j] = asset[rc]
        out_debt_asset[j] = asset[rd]


def liquidate_list(
    mech, accounts, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd,
    seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
    acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked,
    ev_account, ev_calls, ev_seized_usd, ev_repaid_usd, ev_bad_debt_usd,
):
    """Liquidate the listed accounts in order (serial); one event row per account."""
    total = 0
    for j in range(accounts.shape[0]):
        k = accounts[j]
        s0 = acct_seized_usd[k]
        r0 = acct_repaid_usd[k]
        b0 = acct_bad_debt_usd[k]
        c = liquidate_one(
            mech, k, offsets, asset, coll, debt, prices, lt, bonus, mp, state, max_calls, min_repay_usd,
            seized_by_asset, fee_by_asset, repaid_by_asset, deficit_by_asset,
            acct_seized_usd, acct_repaid_usd, acct_bad_debt_usd, acct_calls, acct_blocked,
        )
        ev_account[j] = k
        ev_calls[j] = c
        ev_seized_usd[j] = acct_seized_usd[k] - s0
        ev_repaid_usd[j] = acct_repaid_usd[k] - r0
        ev_bad_debt_usd[j] = acct_bad_debt_usd[k] - b0
        total += c
    return total


FUNCTIONS = {
    "account_values": account_values,
    "pick_pair": pick_pair,
    "compound_v2_call": compound_v2_call,
    "absorb_values": absorb_values,
    "store_front_price": store_front_price,
    "euler_discount_factor": euler_discount_factor,
    "euler_call": euler_call,
    "liquity_v1_trove": liquity_v1_trove,
    "liquity_v2_trove": liquity_v2_trove,
    "penalty_cap": penalty_cap,
    "instant_take": instant_take,
    "dog_bark": dog_bark,
    "morpho_call": morpho_call,
    "next_call": next_call,
    "liquity_call": liquity_call,
    "use_room": use_room,
    "apply_call": apply_call,
    "liquidate_one": liquidate_one,
    "sweep_chunk": sweep_chunk,
    "sweep": sweep,
    "sweep_serial": sweep_serial,
    "reduce_chunks": reduce_chunks,
    "scan": scan,
    "first_call": first_call,
    "liquidate_list": liquidate_list,
}
PARALLEL = frozenset({"sweep"})
