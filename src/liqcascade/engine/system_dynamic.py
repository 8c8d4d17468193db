"""A system of markets block by block: the cascade in time across markets that share venues.

One price path over the system's assets moves one set of venues (one price per asset per
venue for everyone; recovery, re-quoting and arbitrage as in the single-market engine,
:func:`~liqcascade.engine.dynamic.steps.move_prices`). Each block:

1. the shared venues move (the path, permanent and decaying transient impact);
2. every market's oracle reads the shared market prices (each market has its own oracle
   *state*; in this first version all markets use the system's ``[simulation].oracle``
   kind), and every market finds its eligible accounts by its own rules;
3. **one** liquidator population ranks the union of all markets' candidates by profit
   after gas (stable order: market order, then the market's own order, among equal
   profits) and takes them most profitable first, net of the marginal slippage of
   everything already taken in the block on each shared venue, within one per-block cap
   on accounts and one capital budget shared across markets;
4. each market's rules liquidate its chosen accounts; its aftermarket (Maker auctions,
   Comet store front) runs as today;
5. every market's liquidators' sales of an asset go through that asset's venue as one
   sale in the block (one price impact); each market gets its pro-rata share of the
   proceeds.

A one-market system is the single-market :func:`~liqcascade.engine.dynamic.simulate` of
that market with the same order of operations, bit for bit (a test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine import kernels as _kernels
from liqcascade.engine.dynamic import steps
from liqcascade.engine.dynamic.candidates import stable_order
from liqcascade.engine.dynamic.pricing import price_into
from liqcascade.engine.dynamic.records import BlockCounts, LiquidatorChoice, SaleGrid
from liqcascade.engine.dynamic.results import build_result
from liqcascade.engine.dynamic.settings import SimSettings
from liqcascade.engine.dynamic.state import EMPTY, RunInputs, SimulationState, initial_state, prepare_inputs
from liqcascade.engine.result import Result
from liqcascade.engine.static import SortedBook
from liqcascade.engine.system import SystemModel
from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue

SYSTEM_TOTALS = (
    "accounts", "accounts_liquidated", "liquidation_calls", "collateral_seized_usd", "debt_repaid_usd",
    "liquidator_proceeds_usd", "bad_debt_written_off_usd", "bad_debt_usd",
)
"""Per-market summary numbers summed into the system's row and compared together vs alone."""


@dataclass(frozen=True)
class SharedInputs:
    """The system's fixed inputs for the shared venues (the attributes of
    :class:`~liqcascade.engine.dynamic.state.RunInputs` that ``move_prices`` reads)."""

    assets: tuple[str, ...]
    settings: SimSettings
    path: object
    path_cols: IntArray
    times: IntArray
    gas_path: FloatArray | None
    gas_idx: int
    decay: float
    depth_decay: float
    depths: Mapping[int, FloatArray]

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def n_blocks(self) -> int:
        return int(self.times.shape[0])

    @property
    def depth_mode(self) -> bool:
        return self.settings.dynamics.depth_half_life_s is not None

    @property
    def finite_arb(self) -> bool:
        return not math.isinf(self.settings.dynamics.arb_capital_usd)


@dataclass
class SharedPrices:
    """The shared venues and prices (system asset order) the block loop mutates."""

    venues: dict[int, Venue]
    perm: FloatArray
    trans: FloatArray
    exo: FloatArray
    market: FloatArray


@dataclass
class MarketRun:
    """One market in the system: its system asset index map, its run inputs and state."""

    name: str
    ix: IntArray
    """System asset index of each of the market's assets."""
    run: RunInputs
    st: SimulationState


@dataclass(frozen=True)
class Pool:
    """The union of the markets' profitable candidates in one block (compact arrays)."""

    owner: IntArray
    """Position of the candidate's market in the run's list."""
    local: IntArray
    """Index into that market's :class:`~liqcascade.engine.dynamic.candidates.Candidates`."""
    gross: FloatArray
    received: FloatArray
    coll_sys: IntArray
    repaid_usd: FloatArray


def _shared_inputs(system: SystemModel, path, settings: SimSettings) -> SharedInputs:
    assets = system.assets
    for a in path.assets:
        if a not in assets:
            raise ConfigError("<path>", "path.assets", f"assets of the system {list(assets)}", a)
    liq = settings.liquidators
    gas_idx = -1
    if liq.gas_asset is not None:
        if liq.gas_asset not in assets:
            raise ConfigError("<liquidators>", "liquidators.gas_asset", f"an asset of the system {list(assets)}",
                              liq.gas_asset)
        gas_idx = assets.index(liq.gas_asset)
    bs = float(path.block_seconds)
    return SharedInputs(
        assets=assets, settings=settings, path=path,
        path_cols=np.array([assets.index(a) for a in path.assets], dtype=np.int64), times=np.asarray(path.times),
        gas_path=None if path.gas_gwei is None else np.asarray(path.gas_gwei, dtype=np.float64), gas_idx=gas_idx,
        decay=settings.dynamics.decay(bs), depth_decay=settings.dynamics.depth_decay(bs), depths={},
    )


def _shared_start(system: SystemModel, shared: SharedInputs) -> SharedPrices:
    """Block 0: venues re-centred at the path's first prices (as the single-market engine)."""
    exo = np.asarray(system.prices, dtype=np.float64).copy()
    exo[shared.path_cols] = shared.path.prices[0]
    venues = {system.assets.index(a): v.with_mid_price(float(exo[system.assets.index(a)]))
              for a, v in system.venues.items()}
    market = exo.copy()
    for i, v in venues.items():
        market[i] = v.mid_price()
    k = len(system.assets)
    return SharedPrices(venues, np.zeros(k), np.zeros(k), exo, market)


def _market_path(path, assets: tuple[str, ...], p0: FloatArray):
    """The system path's columns of the market's assets (an asset held at its reference
    price when the market has none of the path's: a path needs one asset)."""
    from liqcascade.scenarios import PricePath

    cols = [j for j, a in enumerate(path.assets) if a in assets]
    if cols:
        names, prices = tuple(path.assets[j] for j in cols), np.asarray(path.prices)[:, cols]
    else:
        names, prices = (assets[0],), np.full((len(path.times), 1), float(p0[0]))
    return PricePath(path.times, names, prices, path.block_seconds, path.gas_gwei, dict(path.meta))


def _market_run(system: SystemModel, name: str, path, oracle, settings: SimSettings, sorted_book: SortedBook | None,
                sp: SharedPrices) -> MarketRun:
    """A market's inputs and state, its prices and venues taken from the shared ones. Its
    own ``venues`` are ignored (the system's are shared); gas is priced at the system level."""
    model = replace(system.markets[name], venues={})
    liq = settings.liquidators
    own = settings if liq.gas_asset is None or liq.gas_asset in model.assets else replace(
        settings, liquidators=replace(liq, gas_asset=None))
    run = prepare_inputs(model, _market_path(path, model.assets, np.asarray(model.prices)), oracle, own, None, None,
                         sorted_book)
    st = initial_state(run)
    ix = system.index(name)
    mr = MarketRun(name, ix, run, st)
    _sync_in(mr, sp)
    st.ostate = oracle.init(st.market.copy(), int(run.times[0]))
    return mr


def _sync_in(m: MarketRun, sp: SharedPrices) -> None:
    """The market's view of the shared prices and venues (its own asset order)."""
    st, ix = m.st, m.ix
    st.exo[:] = sp.exo[ix]
    st.perm[:] = sp.perm[ix]
    st.trans[:] = sp.trans[ix]
    st.market[:] = sp.market[ix]
    st.venues = {j: sp.venues[int(i)] for j, i in enumerate(ix) if int(i) in sp.venues}


def simulate_system(
    system: SystemModel,
    path,
    oracle,
    settings: SimSettings | None = None,
    only: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    sorted_books: Mapping[str, SortedBook] | None = None,
) -> dict[str, Result]:
    """Run the markets ``only`` (all when None) of ``system`` together block by block along
    ``path`` with ``oracle``; each market's single-market tables (``summary``, ``steps``,
    ``events``, ``assets``), by market name."""
    settings = settings or SimSettings()
    names = list(system.names if only is None else only)
    for n in names:
        if n not in system.markets:
            raise ConfigError(system.source, "markets", f"market names {list(system.names)}", n)
    shared = _shared_inputs(system, path, settings)
    sp = _shared_start(system, shared)
    books = dict(sorted_books or {})
    runs = [_market_run(system, n, path, oracle, settings, books.get(n), sp) for n in names]
    nb = shared.n_blocks
    for b in range(nb):
        run_system_block(shared, sp, runs, b)
        if progress is not None:
            progress(b + 1, nb)
    return {m.name: build_result(m.run, m.st, None) for m in runs}


def run_system_block(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun], b: int) -> None:
    """One block of the system (see the module docstring); per market the same steps, in
    the same order, as :func:`~liqcascade.engine.dynamic.loop.run_block`."""
    steps.move_prices(shared, sp, b)
    gas = float(shared.gas_path[b]) if shared.gas_path is not None else shared.settings.liquidators.gas_gwei
    oracle_prices, shortfalls = [], []
    for m in runs:
        _sync_in(m, sp)
        o = steps.read_oracle(m.run, m.st, b)
        steps.find_candidates(m.run, m.st, b, o)
        steps.start_latency_clocks(m.st, b)
        m.st.tallies.reset_assets()
        m.st.liquidated_last = EMPTY
        shortfalls.append(steps.eligible_shortfall(m.run, m.st, b, o))
        oracle_prices.append(o)
    choices = choose_across(shared, sp, runs, b, gas)
    done = []
    for m, o, choice in zip(runs, oracle_prices, choices):
        calls = n_liq = 0
        if choice.chosen.size:
            calls, n_liq = steps.liquidate(m.run, m.st, b, o, choice)
        if m.st.aftermarket is not None:
            steps.run_aftermarket(m.run, m.st, o, b)
        done.append((calls, n_liq))
    sell_shared(shared, sp, runs)
    for m, o, choice, (calls, n_liq), shortfall in zip(runs, oracle_prices, choices, done, shortfalls):
        st = m.st
        st.market[:] = sp.market[m.ix]
        st.perm[:] = sp.perm[m.ix]
        st.trans[:] = sp.trans[m.ix]
        if m.run.settings.check_conservation:
            steps.check_conservation(m.run, st, b)
        held = st.held.size
        counts = BlockCounts(st.cand.elig.size + held, n_liq, calls, choice.unprofitable, choice.over_capacity,
                             choice.waiting + held)
        steps.record(st, b, o, counts, shortfall, gas)


def _pool(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun], b: int, gas: float):
    """Every market's candidates priced at the market (as ``choose_liquidations``), those
    still waiting or below ``min_profit_usd`` dropped; with per-market counts."""
    liq = shared.settings.liquidators
    unprof, waits = [], []
    total = sum(m.st.cand.elig.size for m in runs)
    out = (np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64), np.empty(total), np.empty(total),
           np.empty(total, dtype=np.int64), np.empty(total))
    at = 0
    for k, m in enumerate(runs):
        st = m.st
        cand, market = st.cand, st.market
        if not cand.elig.size:
            unprof.append(0)
            waits.append(0)
            continue
        # the gas asset priced at the shared venues (the market need not hold it)
        gas_usd = gas * 1e-9 * liq.gas_per_call * (sp.market[shared.gas_idx] if shared.gas_idx >= 0 else 0.0)
        n_ok, n_unprof, n_wait = price_into(
            cand.received, cand.reward_usd, cand.paid, cand.coll_asset, cand.debt_asset, market, float(gas_usd),
            cand.elig, st.eligible_since, b, int(liq.latency_blocks), float(liq.min_profit_usd), m.ix, k, at, *out)
        at += int(n_ok)
        unprof.append(int(n_unprof))
        waits.append(int(n_wait))
    owner, local, gross, received, coll_sys, repaid_usd = (a[:at] for a in out)
    pool = Pool(owner=owner, local=local, gross=gross, received=received, coll_sys=coll_sys, repaid_usd=repaid_usd)
    return pool, unprof, waits


def _sale_grid(shared: SharedInputs, sp: SharedPrices, pool: Pool, order: IntArray) -> SaleGrid:
    """Each shared venue's proceeds curve up to everything the ranked union could sell."""
    k = shared.n_assets
    grid = SaleGrid(np.zeros((k, steps.GRID)), np.zeros((k, steps.GRID)), np.zeros(k, dtype=np.bool_))
    co, ro = pool.coll_sys[order], pool.received[order]  # ranked once, not once per asset
    for i in steps.present(co, k):
        if i in sp.venues:
            qmax = float(ro[co == i].sum())
            if qmax > 0:
                qs = qmax * steps.GRID_SHAPE
                grid.amount[i] = qs
                grid.proceeds[i] = [sp.venues[i].quote_sell(float(x)) for x in qs]
                grid.has_grid[i] = True
    return grid


def choose_across(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun], b: int,
                  gas: float) -> list[LiquidatorChoice]:
    """Step 5 for the system: one population takes the union of the markets' candidates,
    most profitable first, net of the marginal slippage on the shared venues, within one
    cap and one capital budget; the choice split back per market (in pick order)."""
    liq = shared.settings.liquidators
    pool, unprof, waits = _pool(shared, sp, runs, b, gas)
    order = stable_order(-pool.gross)
    cap = len(order) if math.isinf(liq.liquidations_per_block) else int(liq.liquidations_per_block)
    taken = 0
    work = order.copy()
    picked_profit = np.empty(len(order))
    if len(order):
        grid = _sale_grid(shared, sp, pool, order)
        taken = int(_kernels.greedy_pick(
            work, pool.received, pool.coll_sys, pool.gross, sp.market, grid.amount, grid.proceeds, grid.has_grid,
            pool.repaid_usd, cap, liq.capital_usd if not math.isinf(liq.capital_usd) else 1e308, liq.min_profit_usd,
            picked_profit,
        ))
    picks = work[:taken]
    left = np.bincount(pool.owner, minlength=len(runs)) - np.bincount(pool.owner[picks], minlength=len(runs))
    out = []
    for k, m in enumerate(runs):
        mine = pool.owner[picks] == k
        not_taken = int(left[k])
        out.append(LiquidatorChoice(
            chosen=m.st.cand.elig[pool.local[picks[mine]]] if mine.any() else EMPTY,
            profit_usd=picked_profit[:taken][mine],
            unprofitable=unprof[k] + (not_taken if taken < cap else 0),
            over_capacity=not_taken if taken >= cap else 0,
            waiting=waits[k],
        ))
    return out


def sell_shared(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun]) -> None:
    """Step 8 for the system: each market's liquidators sell ``1 / spread_blocks`` of their
    inventory; an asset's sales of all markets go through its venue as one sale (one price
    move, split into permanent and transient as in ``steps.sell``), and each market gets
    its pro-rata share of the proceeds."""
    phi = shared.settings.dynamics.permanent_fraction
    spread = shared.settings.liquidators.spread_blocks
    venues, market = sp.venues, sp.market
    amounts = []
    total = np.zeros(shared.n_assets)
    for m in runs:
        st = m.st
        st.inventory += st.tallies.seized - st.tallies.fee
        amount = st.inventory / spread
        np.add.at(total, m.ix, amount)
        amounts.append(amount)
    proceeds = steps.sell_into_venues(venues, total, market, sp, phi, shared.depth_mode)
    for m, amount in zip(runs, amounts):
        st, tallies, t = m.st, m.st.tallies, m.st.totals
        tot = total[m.ix]
        # pro-rata share of the venue's proceeds (exactly all of it for a market alone: x / x = 1)
        share = np.divide(amount, tot, out=np.zeros_like(amount), where=tot > 0)
        mine = proceeds[m.ix] * share
        st.inventory -= amount
        for acc, arr in ((t.seized, tallies.seized), (t.fee, tallies.fee), (t.sold, amount), (t.proceeds, mine),
                         (t.repaid, tallies.repaid), (t.deficit, tallies.deficit)):
            acc += arr
