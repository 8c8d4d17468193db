"""One function per step of a block, in the order :func:`~.loop.simulate` calls them:
reference prices and venues -> oracle -> the protocol's AMM (soft liquidation, if the rules
have one) -> candidates (and latency clocks) -> liquidator choice -> liquidation ->
aftermarket -> sales -> record. Each reads the run's fixed
inputs and mutates the :class:`~.state.SimulationState`."""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.engine import kernels as _kernels
from liqcascade.engine.dynamic.baseline import split_sales
from liqcascade.engine.dynamic.candidates import Candidates, lots, snapshot, stable_order
from liqcascade.engine.dynamic.plans import plan_candidates
from liqcascade.engine.dynamic.pricing import price_into as _price_into
from liqcascade.engine.dynamic.pricing import restart_clocks
from liqcascade.engine.dynamic.records import BlockCounts, BlockUsd, EventBatch, LiquidatorChoice, SaleGrid
from liqcascade.engine.dynamic.settings import ConservationError
from liqcascade.engine.dynamic.state import POOL_FEE, RunInputs, SimulationState
from liqcascade.engine.dynamic.venues import arbitrage, exit_depth, requote
from liqcascade.protocols.base import HoldsByLimits, SoftLiquidates
from liqcascade.protocols.flows import FLOW_RETURNED, FLOW_USD

GRID = 33
GRID_SHAPE = np.linspace(0.0, 1.0, GRID) ** 2  # denser at small sizes, where most picks sit


def move_prices(run: RunInputs, st: SimulationState, b: int) -> None:
    """Steps 1-2: the reference moves with the path (times the permanent impact); each venue
    follows it by its kind (re-centred, rebuilt at a new depth, re-quoted with consumed
    depth, or traded toward it by arbitrage capital)."""
    from liqcascade.markets.cpmm import ConstantProductPool

    assets = run.assets
    dyn = run.settings.dynamics
    exo, perm, trans, market = st.exo, st.perm, st.trans, st.market
    exo[run.path_cols] = run.path.prices[b]
    trans *= run.decay
    target = exo * np.exp(perm + trans)
    for i, v in st.venues.items():
        mid = v.mid_price()
        if i in run.depths and b > 0 and run.depths[i][b] != run.depths[i][b - 1]:
            v = ConstantProductPool.from_price_depth(assets[i], float(target[i]), float(run.depths[i][b]), POOL_FEE)
            st.venues[i] = v
        elif run.depth_mode and v.capabilities.requotes:
            ref_i = exo[i] * math.exp(perm[i])
            v = requote(v, ref_i, v.net_sold * run.depth_decay)
            st.venues[i] = v
            trans[i] = math.log(v.mid_price() / ref_i)
        elif run.finite_arb and v.capabilities.arbitraged:
            ref_i = exo[i] * math.exp(perm[i])
            if abs(ref_i / mid - 1.0) > 1e-12:
                v = arbitrage(v, ref_i, dyn.arb_capital_usd)
                st.venues[i] = v
            trans[i] = math.log(v.mid_price() / ref_i)
        elif abs(target[i] / mid - 1.0) > 1e-12:
            v = v.with_mid_price(float(target[i]))
            st.venues[i] = v
        market[i] = v.mid_price()
    free = np.ones(run.n_assets, dtype=np.bool_)
    free[list(st.venues)] = False
    market[free] = target[free]


def read_oracle(run: RunInputs, st: SimulationState, b: int) -> FloatArray:
    """Step 3: the protocol's prices: the oracle reads the market (or its own feed)."""
    seen = st.market.copy()
    for i, arr in run.feeds.items():
        seen[i] = arr[b]
    if b == 0:
        o = run.oracle.read(st.ostate)  # init already took block 0's price
    else:
        st.ostate, o = run.oracle.step(st.ostate, int(run.times[b]), seen)
    return np.asarray(o, dtype=np.float64)


def soft_liquidate(run: RunInputs, st: SimulationState, b: int) -> int:
    """Step 3b (rules with ``capabilities.soft_liquidation``): arbitrageurs trade the
    protocol's AMM to the venues' price; the collateral it sells joins this block's seized
    collateral (sold on in step 8), the stablecoin they pay into the accounts' rows is
    counted as ``returned`` (collateral put back on the book), and the accounts touched
    are re-read by step 4 even when the oracle did not move. Each account whose bands sold
    is one event (one call, nothing repaid, expected profit 0: no liquidator chose it).
    Returns how many."""
    rules: SoftLiquidates = run.model.rules
    soft = rules.soft_step(st.arrays, st.market, st.tallies)
    st.totals.returned += soft.paid_in
    n = int(soft.accounts.size)
    if n:
        st.liquidated_last = np.union1d(st.liquidated_last, soft.accounts)
        st.last_liquidation_block = b
        zeros = np.zeros(n)
        st.events.append(EventBatch(b, soft.accounts, np.ones(n, dtype=np.int64), soft.seized_usd, zeros, zeros,
                                    zeros))
    return n


def gas_price(run: RunInputs, b: int) -> float:
    """The block's gas price (gwei): the path's, else the liquidators' setting."""
    return float(run.gas_path[b]) if run.gas_path is not None else run.settings.liquidators.gas_gwei


def find_candidates(run: RunInputs, st: SimulationState, b: int, o: FloatArray) -> None:
    """Step 4: the eligible accounts at the oracle's prices. A full scan (of the HF0-sorted
    prefix that can have crossed 1) when a price moved, the rules have global effects or
    the protocol's limits freed room; otherwise only last block's liquidated accounts are
    re-read."""
    rules = run.model.rules
    global_effects = run.capabilities.global_effects
    held_by_limits = run.capabilities.held_by_limits and st.aftermarket is not None
    # the protocol's limits on liquidations in progress (Maker's Dog: room for more
    # auctions); room freed since last block lets accounts that waited be picked again
    limits_freed = st.aftermarket is not None and st.aftermarket.sync_limits(st.arrays.state)
    moved = st.owners is not None and st.owners.rescan  # owners' actions or debt accrual this block
    # different bytes are different prices (or a 0.0 of the other sign: then a full scan, which
    # finds the same set); equal bytes are checked as values, so that a NaN price is never "the same"
    same = o.tobytes() == st.o_prev.tobytes() and np.array_equal(o, st.o_prev)
    if b == 0 or not same or global_effects or limits_freed or moved:
        ratio0 = o / run.p0
        st.bound = max(st.bound, float(ratio0.max() / ratio0.min()))
        everyone = global_effects or st.owners is not None  # a moving book is not sorted by health
        upto = run.model.book.n_accounts if everyone else run.book.prefix_len(st.bound)
        scanned = _scan(rules, st, o, upto, since=st.since is not None and not everyone)
        st.cand = Candidates.build(rules, st.arrays, o, scanned, run.shortfall)
        if held_by_limits:
            st.held = _held(rules, st, o, np.setdiff1d(scanned, st.cand.elig, assume_unique=True))
    else:
        # same oracle prices: only the accounts liquidated last block can have changed
        st.cand = st.cand.refresh(rules, st.arrays, o, st.liquidated_last, run.shortfall)
        if held_by_limits and (st.held.size or st.liquidated_last.size):
            # a bark may have left a vault waiting; returned collateral may have made one safe
            pool = np.union1d(st.held, st.liquidated_last)
            st.held = _held(rules, st, o, np.setdiff1d(pool, st.cand.elig, assume_unique=True))
    st.o_prev = o


def _scan(rules, st: SimulationState, o: FloatArray, upto: int, since: bool) -> np.ndarray:
    """The eligible accounts among ``0..upto-1`` at ``o``: by the bounds since each account's last
    read (``since``: :class:`~liqcascade.protocols.base.ScansSince`), else by ``q / cum_bound``."""
    if since:
        sb = st.since
        sb.make_room(o)
        scanned = rules.scan_since(st.arrays, o, upto, sb.hf, sb.epoch, sb.history, sb.n)
        sb.keep(o)
        return scanned
    step = o / st.o_prev
    st.cum_bound *= float(step.max() / step.min())
    if st.cum_bound > 1e100:
        # keep the product finite over long runs: rescale every bound (q / cum is what counts)
        st.q /= st.cum_bound
        st.cum_bound = 1.0
    return rules.scan(st.arrays, o, upto, st.q, st.cum_bound)


def _held(rules: HoldsByLimits, st: SimulationState, o: FloatArray, accounts) -> np.ndarray:
    return rules.held_by_limits(st.arrays, o, accounts)


def start_latency_clocks(st: SimulationState, b: int) -> None:
    """Latency clocks start for new candidates and reset for those that left; a vault
    waiting for the protocol's room keeps its clock (liquidators have seen it) and is
    picked the block the room frees if it has waited its latency."""
    seen = st.cand.elig if not st.held.size else np.union1d(st.cand.elig, st.held)
    if seen is not st.prev_elig:
        restart_clocks(st.prev_elig, seen, st.eligible_since, b)  # both ascending
        st.prev_elig = seen


def eligible_shortfall(run: RunInputs, st: SimulationState, b: int, o: FloatArray) -> float:
    """Debt above collateral (USD) of the eligible accounts and of those held back; marks
    the first block anything was eligible (0 when ``run.shortfall`` is off)."""
    shortfall = st.cand.shortfall
    if st.held.size:
        if st.first_eligible_block < 0:
            st.first_eligible_block = b
        if run.shortfall:
            hv = run.model.rules.health(st.arrays, o, st.held)
            shortfall += float(np.clip(hv.debt_usd - hv.collateral_usd, 0.0, None).sum())
    if st.cand.elig.size and st.first_eligible_block < 0:
        st.first_eligible_block = b
    return shortfall


def sale_grid(run: RunInputs, st: SimulationState, co: np.ndarray, ro: FloatArray) -> SaleGrid:
    """The proceeds curve of each venue asset at this block: quotes on a grid up to
    everything the ranked candidates could sell (``co``: their collateral assets, ``ro``:
    the amounts, both in rank order, so that each asset's total is summed in that order)."""
    k = run.n_assets
    grid = SaleGrid(np.zeros((k, GRID)), np.zeros((k, GRID)), np.zeros(k, dtype=np.bool_))
    for i in present(co, k):
        if i in st.venues:
            qmax = float(ro[co == i].sum())
            if qmax > 0:
                qs = qmax * GRID_SHAPE
                grid.amount[i] = qs
                v = st.venues[i]
                amounts = qs.tolist()
                grid.proceeds[i] = (v.quote_sells(amounts) if v.capabilities.quotes_many
                                    else [v.quote_sell(x) for x in amounts])
                grid.has_grid[i] = True
    return grid


def strategy_terms(liq, st: SimulationState, o: FloatArray, gas_usd: float, rules=None):
    """What each candidate's calls receive and pay (tokens), its reward (USD) less the gas of
    its calls beyond the first (the first call's gas is charged as for max close, so the sums
    run in the same order everywhere), and the per-call caps for the kernel (None: max close,
    the protocol's next call as it stands). A candidate with no call planned (profit_max
    found none profitable) has the reward -inf: never picked, counted unprofitable."""
    cand = st.cand
    if liq.strategy == "max_close":
        return cand.received, cand.paid, cand.reward_usd, None
    plans = plan_candidates(liq.strategy, st.arrays, cand, o, st.market, st.venues, gas_usd, rules)
    reward = np.where(plans.calls > 0, cand.reward_usd * plans.scale - gas_usd * np.maximum(plans.calls - 1, 0),
                      -np.inf)
    return plans.received, plans.paid, reward, plans.caps_usd


def profit_floor(liq) -> float:
    """``min_profit_usd``, with -inf raised to the lowest float so that a candidate whose
    strategy plans no call (profit -inf) stays below it."""
    return max(liq.min_profit_usd, _LOWEST)


_LOWEST = float(-np.finfo(np.float64).max)  # np.finfo is a lookup of microseconds, asked twice a block


def present(assets: np.ndarray, k: int) -> list[int]:
    """The distinct values of ``assets`` (asset indexes below ``k``), ascending (``np.unique``
    by counting: a handful of assets, up to a million candidates)."""
    return np.flatnonzero(np.bincount(assets, minlength=k)).tolist()


def choose_liquidations(run: RunInputs, st: SimulationState, b: int, gas: float) -> LiquidatorChoice:
    """Step 5: liquidators price each candidate's calls at the market (collateral received
    plus reward, minus debt paid and gas): the protocol's next call under max close, the
    strategy's calls otherwise (:mod:`~.plans`); drop those still in their latency or below
    ``min_profit_usd``, and pick the most profitable first net of this block's slippage per
    asset, within the accounts-per-block cap and the capital."""
    liq = run.settings.liquidators
    cand, market, elig = st.cand, st.market, st.cand.elig
    ca, da = cand.coll_asset, cand.debt_asset
    # profit at the market price, then net of this block's slippage per asset
    gas_usd = gas * 1e-9 * liq.gas_per_call * (market[run.gas_idx] if run.gas_idx >= 0 else 0.0)
    # the calls happen at the oracle's prices the candidates were found at (step 4's)
    received, paid, reward, caps = strategy_terms(liq, st, st.o_prev, gas_usd, run.model.rules)
    # one compiled pass prices them (the same expressions as NumPy's, in the same order) and
    # keeps those that have waited their latency and reach the floor, in index order
    n = elig.shape[0]
    (owner, local, coll), (gross, qty, rep_usd) = np.empty((3, n), dtype=np.int64), np.empty((3, n))
    n_ok, n_unprof, n_wait = _price_into(received, reward, paid, ca, da, market, float(gas_usd), elig,
                                         st.eligible_since, b, int(liq.latency_blocks), profit_floor(liq),
                                         _identity(run.n_assets), _NO_SKIP, 0, 0, owner, local, gross, qty, coll,
                                         rep_usd)
    n_ok = int(n_ok)
    if n_ok == 0:  # nobody worth a call (most blocks with candidates): no grid, no pick
        return LiquidatorChoice(chosen=elig[:0], profit_usd=np.empty(0), unprofitable=int(n_unprof), over_capacity=0,
                                waiting=int(n_wait), caps_usd=None if caps is None else caps[:0])
    # positions among the kept, most profitable first (ties in index order)
    work = stable_order(-gross[:n_ok])
    grid = sale_grid(run, st, coll[work], qty[work])
    cap = n_ok if math.isinf(liq.liquidations_per_block) else int(liq.liquidations_per_block)
    picked_profit = np.empty(n_ok)
    taken = int(_kernels.greedy_pick(
        work, qty, coll, gross, market, grid.amount, grid.proceeds, grid.has_grid, rep_usd, cap,
        liq.capital_usd if not math.isinf(liq.capital_usd) else 1e308, liq.min_profit_usd, picked_profit,
    ))
    picked = local[work[:taken]]
    return LiquidatorChoice(
        chosen=elig[picked],
        profit_usd=picked_profit[:taken],
        unprofitable=int(n_unprof) + (n_ok - taken if taken < cap else 0),
        over_capacity=n_ok - taken if taken >= cap else 0,
        waiting=int(n_wait),
        caps_usd=None if caps is None else caps[picked],
    )


_NO_SKIP = np.zeros(0, dtype=np.bool_)
"""No candidate skipped (``price_into``'s empty mask)."""


@functools.lru_cache(maxsize=None)
def _identity(k: int) -> np.ndarray:
    """``price_into``'s asset map for one market: each asset is its own index."""
    return np.arange(k, dtype=np.int64)  # only read


def liquidate(run: RunInputs, st: SimulationState, b: int, o: FloatArray, choice: LiquidatorChoice) -> tuple[int, int]:
    """Step 6: the protocol's rules liquidate the chosen accounts at the oracle's prices; what
    the protocol itself takes goes to its aftermarket. Returns (calls, accounts liquidated)."""
    rules = run.model.rules
    snap = snapshot(st.arrays, o, choice.chosen) if st.aftermarket is not None else None
    limits = run.limits
    if choice.caps_usd is not None:
        # a strategy's plan is the account's calls this block (two_step: both in this block)
        limits = replace(limits, max_calls_per_account=max(limits.max_calls_per_account, choice.caps_usd.shape[1]),
                         call_caps_usd=choice.caps_usd)
    calls, ev = rules.liquidate_list(st.arrays, o, choice.chosen, st.tallies, limits)
    if snap is not None:
        st.aftermarket.receive(int(run.times[b]), lots(st.arrays, snap), o)
    st.liquidated_last = np.sort(choice.chosen)
    did = ev.calls > 0
    n_liq = int(did.sum())
    if n_liq:
        st.last_liquidation_block = b
        st.events.append(EventBatch(b, ev.account[did], ev.calls[did], ev.seized_usd[did], ev.repaid_usd[did],
                                    ev.bad_debt_usd[did], choice.profit_usd[did]))
        st.written_off += float(ev.bad_debt_usd.sum())
    return calls, n_liq


def run_aftermarket(run: RunInputs, st: SimulationState, o: FloatArray, b: int) -> None:
    """Step 7: the protocol's own sales: keepers and buyers take collateral and sell it on."""
    if run.capabilities.aftermarket_gas:
        st.aftermarket.see_gas(gas_price(run, b), float(st.market[run.gas_idx]) if run.gas_idx >= 0 else 0.0)
    am = st.aftermarket.step(int(run.times[b]), o, exit_depth(st.venues, st.market))
    st.inventory += am.sold
    st.totals.protocol_sold += am.sold
    st.totals.protocol_proceeds += am.proceeds_usd
    if am.returned_rows.size:
        np.add.at(st.arrays.coll, am.returned_rows, am.returned_amount)
        np.add.at(st.totals.returned, st.arrays.asset[am.returned_rows], am.returned_amount)
        # the account's side of the trade, valued at the oracle like the calls (engine/trades.py)
        np.add.at(st.tallies.flows[:, FLOW_RETURNED], am.returned_rows, am.returned_amount)
        np.add.at(st.tallies.flows[:, FLOW_USD + FLOW_RETURNED], am.returned_rows,
                  am.returned_amount * o[st.arrays.asset[am.returned_rows]])
    st.written_off += am.bad_debt_usd


def sell_into_venues(venues: dict, amount: np.ndarray, market: np.ndarray, prices, phi: float,
                     depth_mode: bool, keep_impact: bool = True) -> np.ndarray:
    """Sell ``amount`` (tokens per asset) into the venues; return the proceeds (USD per asset).
    ``prices`` holds ``exo``, ``perm`` and ``trans``: each sale's log price move goes ``phi`` into
    ``perm`` and the rest into ``trans``; an asset without a venue sells at ``market``, without
    impact. ``venues`` and ``market`` are updated. ``keep_impact`` False: the proceeds are the
    curve's, but no price move is kept (next block the venues return to the path)."""
    proceeds = np.zeros(market.shape[0])
    for i in np.flatnonzero(amount > 0):
        if i in venues:
            before = venues[i].mid_price()
            proceeds[i], venues[i] = venues[i].sell(float(amount[i]))
            after = venues[i].mid_price()
            if not keep_impact:
                continue
            d = math.log(after / before) if after > 0 else -50.0
            prices.perm[i] += phi * d
            prices.trans[i] += (1.0 - phi) * d
            if depth_mode and venues[i].capabilities.requotes:
                # the permanent share moves the quotes; only the rest stays as consumed depth
                ref_i = prices.exo[i] * math.exp(prices.perm[i])
                base = venues[i].with_mid_price(ref_i)
                venues[i] = requote(base, ref_i, base.amount_to_price(after) if after < ref_i else 0.0)
            market[i] = after
        else:
            proceeds[i] = amount[i] * market[i]
    return proceeds


def sell(run: RunInputs, st: SimulationState, taken: bool = True) -> None:
    """Step 8: liquidators sell ``1 / spread_blocks`` of their inventory into the venues; each
    sale's price move splits into the permanent part (into the reference) and the
    transient part (decaying). ``taken`` False: nothing added to this block's tallies since
    they were reset (no call, no soft liquidation, no aftermarket), so they are not read."""
    phi = run.settings.dynamics.permanent_fraction
    tallies, venues, market = st.tallies, st.venues, st.market
    mode = run.settings.dynamics.impact_on_path
    if mode != "excess" and not (st.inventory.any() or (taken and (tallies.seized.any() or tallies.fee.any()
                                                                   or tallies.repaid.any() or tallies.deficit.any()))):
        # nothing held or taken (most blocks): the sale is empty and every total would add
        # +0.0, which changes none (they start at +0.0 and only add: none is -0.0)
        return
    st.inventory += tallies.seized - tallies.fee
    amount = st.inventory / run.settings.liquidators.spread_blocks
    if mode == "excess":  # what the path's own liquidations sold moves nothing again
        covered, excess = split_sales(st.baseline, amount)
        proceeds = sell_into_venues(venues, covered, market, st, phi, run.depth_mode, False)
        proceeds += sell_into_venues(venues, excess, market, st, phi, run.depth_mode, True)
    else:
        proceeds = sell_into_venues(venues, amount, market, st, phi, run.depth_mode, mode == "full")
    st.inventory -= amount
    t = st.totals
    for total, arr in ((t.seized, tallies.seized), (t.fee, tallies.fee), (t.sold, amount), (t.proceeds, proceeds),
                       (t.repaid, tallies.repaid), (t.deficit, tallies.deficit)):
        total += arr


def record(st: SimulationState, b: int, o: FloatArray, counts: BlockCounts, shortfall: float, gas: float) -> None:
    """Step 9: the block's row of the records."""
    usd = BlockUsd(float((st.tallies.seized * o).sum()), float((st.tallies.repaid * o).sum()), st.written_off,
                   shortfall, gas)
    st.records.write(b, st.exo * np.exp(st.perm), st.market, o, counts, usd)


def check_conservation(run: RunInputs, st: SimulationState, b: int) -> None:
    """Raise :class:`ConservationError` when an identity fails: collateral removed = seized -
    returned; seized + protocol sold = sold + held + fee; protocol holdings = kept - sold
    on - returned; debt removed = repaid + written off; no negative balance."""
    arrays, totals, inventory, after = st.arrays, st.totals, st.inventory, st.aftermarket
    if (arrays.coll < 0).any() or (arrays.debt < 0).any():
        raise ConservationError(f"block {b}: a negative balance")
    coll0, debt0 = run.model.book.totals_by_asset()
    if st.owners is not None:  # what owners added and the accumulators grew
        coll0 = coll0 + st.owners.coll_in
        debt0 = debt0 + st.owners.debt_in + st.owners.accrued
    k = run.n_assets
    coll1 = np.bincount(arrays.asset, weights=arrays.coll, minlength=k)
    debt1 = np.bincount(arrays.asset, weights=arrays.debt, minlength=k)
    scale = np.maximum(1.0, coll0)
    if not np.allclose((coll0 - coll1) / scale, (totals.seized - totals.returned) / scale, rtol=1e-9, atol=1e-9):
        raise ConservationError(f"block {b}: collateral removed from the book != collateral seized - returned")
    if not np.allclose(totals.seized + totals.protocol_sold, totals.sold + inventory + totals.fee,
                       rtol=1e-9, atol=1e-9):
        raise ConservationError(f"block {b}: seized != sold + held + protocol fee")
    if after is not None and not np.allclose(  # a difference of flows: judged on the book's scale, as above
        after.holdings() / scale, (totals.fee - totals.protocol_sold - totals.returned) / scale, rtol=1e-9, atol=1e-9
    ):
        raise ConservationError(f"block {b}: protocol holdings != kept - sold on - returned")
    dscale = np.maximum(1.0, debt0)
    if not np.allclose((debt0 - debt1) / dscale, (totals.repaid + totals.deficit) / dscale, rtol=1e-9, atol=1e-9):
        raise ConservationError(f"block {b}: debt removed != repaid + written off")

