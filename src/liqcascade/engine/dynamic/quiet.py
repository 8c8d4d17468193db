"""Quiet blocks skipped as a whole, exactly.

A block is *quiet* when nothing in it can act on the book: no owner, keeper or behaviour
step, no protocol aftermarket or soft liquidation, no account held by the protocol's limits,
nothing liquidated last block, nothing left to sell, the oracle opens no round, and no
eligible account is one a liquidator would take (each still in its latency or below
``min_profit_usd`` at the block's market prices and gas, under max close). The oracle's
prices then equal last block's, so the protocol's view of every account is unchanged and
the eligible set is the same (:func:`~.steps.find_candidates` would only re-read last
block's liquidated accounts: none). What still moves is the price side: the path, the
decay of the transient impact, the venues re-centred on the reference, the oracle's
clock, and the block's record. :func:`advance` computes those for a run of quiet blocks
at once (NumPy over the run; the venues' re-centring one call per block, as the loop
does, since each starts from the last) and writes the records of the whole run, giving
what :func:`~.loop.run_block` gives block by block, bit for bit
(``tests/engine/dynamic/test_quiet.py`` compares the two)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.engine.dynamic import steps
from liqcascade.engine.dynamic.pricing import idle_counts
from liqcascade.engine.dynamic.records import BlockCounts, BlockUsd
from liqcascade.engine.dynamic.state import EMPTY, RunInputs, SimulationState

MIN_WINDOW = 1
"""An attempt after one the oracle cut short looks this far at least: on a 5-minute Monte Carlo
path most attempts fail at their first block, and each block looked at re-centres every venue
(1 rather than 4: 2.6 % less CPU a path of the Monte Carlo benchmark, measured in one process)."""
MAX_WINDOW = 256
CELLS = 1 << 20
"""At most this many (block, eligible account) pairs are priced at once."""


@dataclass(frozen=True)
class Primed:
    """Block ``block``'s prices as an attempt that found it not quiet computed them: what
    :func:`~.steps.move_prices` gives for that block (the same expressions: the path, the decay
    of the transient impact, the venues re-centred), so the loop does not compute them again."""

    block: int
    exo: np.ndarray
    trans: np.ndarray
    market: np.ndarray
    venues: dict


@dataclass
class Window:
    """How many blocks the next attempt looks ahead: doubles after a run that was quiet to
    its end, falls back after one the oracle cut short (a busy path wastes little). ``primed``:
    the last attempt's first block's prices when that block was not quiet (else None)."""

    blocks: int = MIN_WINDOW
    primed: Primed | None = None

    def update(self, looked: int, quiet: int) -> None:
        self.blocks = min(MAX_WINDOW, 2 * looked) if quiet == looked else max(MIN_WINDOW, 2 * quiet)


def applies(run: RunInputs) -> bool:
    """Whether the run's setup allows quiet runs at all (the rest is checked per block):
    an oracle that can tell its quiet blocks, venues that only re-centre, sales whose
    impact is the whole sale, nothing acting on the book between blocks."""
    dyn = run.settings.dynamics
    caps = run.capabilities
    return (run.settings.skip_quiet_blocks and hasattr(run.oracle, "quiet_blocks") and not run.depth_mode
            and not run.finite_arb and dyn.impact_on_path != "excess" and not caps.soft_liquidation
            and not caps.global_effects and not caps.aftermarket)


def at_rest(st: SimulationState) -> bool:
    """Whether after the last block nothing is pending: no held account, none liquidated last
    block, no inventory, no owners' state (eligible accounts are judged per block)."""
    return (st.owners is None and st.aftermarket is None and st.cand is not None and st.held.size == 0
            and st.liquidated_last.size == 0 and not st.inventory.any())


def advance(run: RunInputs, st: SimulationState, b: int, window: Window) -> int:
    """Advance over the quiet blocks from ``b`` (at most ``window.blocks``); return how many
    (0: block ``b`` is not quiet, or the state is not at rest; ``window.primed`` then holds
    block ``b``'s prices when they were computed)."""
    window.primed = None
    if b == 0 or not at_rest(st) or (st.cand.elig.size and run.settings.liquidators.strategy != "max_close"):
        return 0
    # a window of blocks x candidates stays small
    w = _depth_cut(run, b, min(window.blocks, run.n_blocks - b, max(1, CELLS // max(1, st.cand.elig.size))))
    if w == 0:
        return 0
    exo, trans, market, venues = _prices(run, st, b, w)
    seen = market.copy()
    for i, arr in run.feeds.items():
        seen[:, i] = arr[b:b + w]
    n_oracle, ostate = run.oracle.quiet_blocks(st.ostate, run.times[b:b + w], seen)
    if n_oracle == 0:  # the oracle opens a round at block b (most failed attempts)
        window.update(w, 0)
        window.primed = Primed(b, exo[0], trans[0], market[0], venues[0])
        return 0
    gas = (run.gas_path[b:b + n_oracle] if run.gas_path is not None
           else np.full(n_oracle, float(run.settings.liquidators.gas_gwei)))
    n, idle = _untaken(run, st, b, market[:n_oracle], gas, venues)
    window.update(w, n)
    if n == 0:
        window.primed = Primed(b, exo[0], trans[0], market[0], venues[0])
        return 0
    if n < n_oracle:  # a liquidator takes an account at block b + n: the oracle's clock stops before it
        _, ostate = run.oracle.quiet_blocks(st.ostate, run.times[b:b + n], seen[:n])
    st.exo, st.trans, st.market = exo[n - 1].copy(), trans[n - 1].copy(), market[n - 1].copy()
    st.venues = venues[n - 1]
    st.ostate = ostate
    _book_side(run, st, b, n)
    _record(run, st, b, n, exo, market, gas[:n], idle)
    return n


def move_prices(st: SimulationState, primed: Primed) -> None:
    """:func:`~.steps.move_prices` of block ``primed.block`` from what an attempt computed."""
    st.exo[:] = primed.exo
    st.trans[:] = primed.trans
    st.market[:] = primed.market
    st.venues = dict(primed.venues)


def _untaken(run: RunInputs, st: SimulationState, b: int, market, gas, venues):
    """How many of the blocks from ``b`` (rows of ``market`` and ``gas``; ``venues`` after each)
    leave every eligible account untaken, with their counts (:class:`Idle`). A block in which
    no account is worth a call at the market price (or all wait their latency) is judged by
    :func:`~.steps.choose_liquidations`' own expressions (:func:`~.pricing_python.idle_counts`,
    all blocks in one pass); one in which some is, by that function itself at the block's prices and venues (slippage may still leave
    them all). Stops before the first block in which a liquidator takes an account."""
    n = market.shape[0]
    cand, liq = st.cand, run.settings.liquidators
    idle = Idle(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    if cand.elig.size == 0 or n == 0:
        return n, idle
    gas_usd = gas * 1e-9 * liq.gas_per_call * (market[:, run.gas_idx] if run.gas_idx >= 0 else 0.0)
    some = np.empty(n, dtype=np.bool_)  # a block in which some account is worth a call
    idle_counts(cand.received, cand.reward_usd, cand.paid, cand.coll_asset, cand.debt_asset, market,
                np.asarray(gas_usd, dtype=np.float64), cand.elig, st.eligible_since, b, int(liq.latency_blocks),
                steps.profit_floor(liq), idle.unprofitable, idle.waiting, some)
    market_now, venues_now = st.market, st.venues
    try:
        for j in np.flatnonzero(some).tolist():
            st.market, st.venues = market[j], venues[j]
            choice = steps.choose_liquidations(run, st, b + j, steps.gas_price(run, b + j))
            if choice.chosen.size:
                n = j
                break
            idle.unprofitable[j], idle.over_capacity[j], idle.waiting[j] = (choice.unprofitable,
                                                                          choice.over_capacity, choice.waiting)
    finally:
        st.market, st.venues = market_now, venues_now
    return n, Idle(idle.unprofitable[:n], idle.waiting[:n], idle.over_capacity[:n])


@dataclass(frozen=True)
class Idle:
    """Per quiet block: eligible accounts counted unprofitable, waiting, and over capacity."""

    unprofitable: np.ndarray
    waiting: np.ndarray
    over_capacity: np.ndarray


def _depth_cut(run: RunInputs, b: int, w: int) -> int:
    """``w`` cut before the first block whose ``venue_depth`` changes (the pool is rebuilt there)."""
    for arr in run.depths.values():
        changed = np.flatnonzero(arr[b:b + w] != arr[b - 1:b + w - 1])
        if changed.size:
            w = int(changed[0])
    return w


def _prices(run: RunInputs, st: SimulationState, b: int, w: int):
    """Per block of the window (rows): the reference path, the transient impact, the venue
    prices, and the venues after each block, as :func:`~.steps.move_prices` gives them."""
    exo = np.empty((w, run.n_assets))
    exo[:] = st.exo
    exo[:, run.path_cols] = run.path.prices[b:b + w]
    if w == 1:  # most attempts: the running product below is this one multiply
        trans = (st.trans * run.decay)[None, :]
    else:  # trans *= decay once a block: a running product, in the same order
        factors = np.full((w + 1, run.n_assets), run.decay)
        factors[0] = st.trans
        trans = np.cumprod(factors, axis=0)[1:]
    target = exo * np.exp(st.perm + trans)
    market = target.copy()
    venues: list[dict] = []
    current = dict(st.venues)
    items = sorted(current)
    if not items:
        return exo, trans, market, [dict(current) for _ in range(w)]
    # Python floats (the same doubles): a block's few venue prices cost less than as NumPy scalars
    rows = target[:, items].tolist()
    # each venue's mid price as of the last block (a venue not re-centred keeps its own)
    mid_row = [current[i].mid_price() for i in items]
    mids = []
    for row in rows:
        for j, (i, p) in enumerate(zip(items, row)):
            if abs(p / mid_row[j] - 1.0) > 1e-12:
                v = current[i].with_mid_price(p)
                current[i] = v
                mid_row[j] = v.mid_price()
        mids.append(list(mid_row))
        venues.append(dict(current))
    market[:, items] = mids
    return exo, trans, market, venues


def _book_side(run: RunInputs, st: SimulationState, b: int, n: int) -> None:
    """The book's steps of ``n`` quiet blocks, each idempotent after its first: nothing
    seized, no candidate (refreshed with no account changed: the same set), latency clocks
    as they were, and no sale: nothing is held (:func:`at_rest`) and nothing was seized, so
    :func:`~.steps.sell` would sell nothing and add +0.0 to totals and inventory, which changes
    no value (they start at +0.0 and only ever add, so none is -0.0)."""
    st.tallies.reset_assets()
    st.cand = st.cand.refresh(run.model.rules, st.arrays, st.o_prev, EMPTY)
    steps.start_latency_clocks(st, b)
    st.liquidated_last = EMPTY
    if run.settings.check_conservation:
        steps.check_conservation(run, st, b + n - 1)


def _record(run: RunInputs, st: SimulationState, b: int, n: int, exo, market, gas, idle: Idle) -> None:
    """The records of blocks ``b`` to ``b + n - 1`` (:func:`~.steps.record`'s rows)."""
    o = st.o_prev
    usd = BlockUsd(float((st.tallies.seized * o).sum()), float((st.tallies.repaid * o).sum()), st.written_off,
                   st.cand.shortfall, gas)
    counts = BlockCounts(st.cand.elig.size, 0, 0, idle.unprofitable, idle.over_capacity, idle.waiting)
    st.records.write(slice(b, b + n), exo[:n] * np.exp(st.perm), market[:n], o, counts, usd)
