"""A system of markets block by block: the cascade in time across markets that share venues.

One price path over the system's assets moves one set of venues (one price per asset per
venue for everyone; recovery, re-quoting and arbitrage as in the single-market engine,
:func:`~liqcascade.engine.dynamic.steps.move_prices`). Each block:

0. in every market with owners' behaviour (``MarketSim.behaviour``: the system's
   ``[simulation.behaviour]`` or the market's own), its owners react and new accounts open,
   at the market's oracle prices of the previous block, as in the single-market engine
   (:func:`~liqcascade.engine.dynamic.behaviour.between_blocks`);
1. the shared venues move (the path, permanent and decaying transient impact);
2. every market's oracle reads the shared market prices (each market has its own oracle
   *state* and, with :class:`MarketSim`, its own oracle *kind*: a Chainlink feed for one,
   Maker's OSM for another; default the system's); a market whose rules have their own
   AMM (crvUSD's LLAMMA, ``soft_liquidation``) has arbitrageurs trade it to the shared
   venues' price; and every market finds its eligible accounts by its own rules;
3. liquidators take candidates in two passes, both net of the marginal slippage of
   everything already taken in the block on each shared venue:

   a. each market with a **dedicated** population (``MarketSim.liquidators``) has it rank
      that market's candidates by profit after gas and take the most profitable first,
      within the population's own per-block cap, capital, gas, profit floor and latency
      (markets in the run's order);
   b. then **one shared** population (the system's ``[simulation.liquidators]``) ranks the
      union of what is left of every market's candidates (stable order: market order,
      then the market's own order, among equal profits) and takes them the same way
      within one cap on accounts and one capital budget shared across markets; its
      slippage starts where the dedicated populations' sales left each venue;

4. each market's rules liquidate its chosen accounts (the dedicated population's picks
   first); its aftermarket (Maker auctions, Comet store front) runs as today;
5. every market's liquidators' sales of an asset (whichever population took them) go
   through that asset's venue as one sale in the block (one price impact); each market
   gets its pro-rata share of the proceeds;
6. for each stablecoin a market issues (``SystemModel.issued``), the issuer's liquidators
   buy ``buy_share`` of the debt they repaid in it this block on the coin's venue, as one
   purchase (its price move split into permanent and transient like a sale's): every
   market sees the coin at that venue's price in the next block. A coin with a PSM or
   redemptions then has their arbitrage on its venue (:func:`peg_block`).

A market with a dedicated population uses its table's ``calls_per_account``,
``min_repay_usd`` and ``spread_blocks`` for every call on it and for selling its inventory.
:func:`run_system` also returns each population's totals (the ``liquidators`` table).

A one-market system is the single-market :func:`~liqcascade.engine.dynamic.simulate` of
that market with the same order of operations, bit for bit (a test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine import kernels as _kernels
from liqcascade.engine.dynamic import steps
from liqcascade.engine.dynamic.candidates import stable_order
from liqcascade.engine.dynamic.pricing import price_into
from liqcascade.engine.dynamic.records import BlockCounts, LiquidatorChoice, SaleGrid
from liqcascade.engine.dynamic.plans import MAX_PLAN_CALLS
from liqcascade.engine.dynamic import openings
from liqcascade.engine.dynamic.behaviour import between_blocks
from liqcascade.engine.dynamic.loop import opens, owner_inputs
from liqcascade.engine.dynamic.results import build_result
from liqcascade.engine.dynamic.settings import Liquidators, SimSettings
from liqcascade.engine.dynamic.state import (
    EMPTY, RunInputs, SimulationState, check_strategy, initial_state, prepare_inputs,
)
from liqcascade.engine.result import Result
from liqcascade.engine.static import SortedBook
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_pegs import PegState, PsmSwap, Troves, psm_swap, redeem
from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue
from liqcascade.model.behaviour import BehaviourParams

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
    issued: tuple = ()
    """The system's :class:`~liqcascade.engine.system.IssuedCoin` s (bought in step 6)."""

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
    coin_rows: list = field(default_factory=list)
    """One record per block and issued coin bought (:data:`COIN_BLOCK_COLUMNS`)."""
    pegs: dict = field(default_factory=dict)
    """Per pegged coin, its :class:`~liqcascade.engine.system_pegs.PegState`."""


COIN_BLOCK_COLUMNS = ("block", "asset", "issuer", "debt_repaid", "bought", "bought_cost_usd", "price_before",
                      "price_after")
PEG_BLOCK_COLUMNS = ("supply", "psm_minted", "psm_burnt", "psm_gem", "redeemed")
"""Added to ``stablecoin_blocks`` when a coin declares a supply, a PSM or redemptions (supply
and the PSM's gem after the block, NaN where the coin declares none; coins redeemed)."""


@dataclass(frozen=True)
class MarketSim:
    """A market's own parts in a block-by-block system; None: the system's."""

    oracle: object | None = None
    """The market's oracle (a :class:`~liqcascade.markets.oracle.Oracle`) over the shared prices."""
    liquidators: Liquidators | None = None
    """A population dedicated to this market, beside the shared one (module docstring)."""
    behaviour: BehaviourParams | None = None
    """Owners who react, and new accounts, between the market's blocks (docs/behaviour.md)."""


@dataclass(frozen=True)
class Population:
    """A liquidator population: its settings, the markets whose candidates it takes and
    the system index of the asset pricing its gas (-1: free)."""

    name: str
    """``shared``, or ``dedicated:`` and the market's name."""
    liq: Liquidators
    members: tuple[int, ...]
    """Positions in the run's list of the markets it serves."""
    gas_idx: int


@dataclass
class PopulationLog:
    """What a population took, per block: accounts, capital used (debt repaid, USD at the
    market) and expected profit after slippage and gas."""

    accounts: IntArray
    capital_usd: FloatArray
    profit_usd: FloatArray

    @classmethod
    def empty(cls, n_blocks: int) -> "PopulationLog":
        return cls(np.zeros(n_blocks, dtype=np.int64), np.zeros(n_blocks), np.zeros(n_blocks))


@dataclass
class MarketRun:
    """One market in the system: its system asset index map, its run inputs and state."""

    name: str
    ix: IntArray
    """System asset index of each of the market's assets."""
    run: RunInputs
    st: SimulationState
    own: Population | None = None
    """The market's dedicated liquidator population, if any."""
    unbooked: tuple[FloatArray, FloatArray] | None = None
    """Collateral and debt (tokens per market asset) that left the book outside liquidations:
    redemptions (:func:`peg_block`); the conservation check allows for them."""


@dataclass(frozen=True)
class SystemSimulation:
    """A finished system run: each market's single-market tables and the populations' totals."""

    markets: dict[str, Result]
    liquidators: pd.DataFrame


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
    caps_usd: FloatArray | None = None
    """Per candidate, its strategy's calls (``LiquidationLimits.call_caps_usd``); None: max close."""


def _shared_inputs(system: SystemModel, path, settings: SimSettings) -> SharedInputs:
    assets = system.assets
    if settings.dynamics.impact_on_path == "excess":
        # the shared venues have no baseline of the path's own selling to subtract
        raise ConfigError("<system>", "simulation.impact_on_path", "full or none in a system scenario", "excess")
    for a in path.assets:
        if a not in assets:
            raise ConfigError("<path>", "path.assets", f"assets of the system {list(assets)}", a)
    gas_idx = _gas_index(assets, settings.liquidators, "liquidators.gas_asset")
    bs = float(path.block_seconds)
    return SharedInputs(
        assets=assets, settings=settings, path=path,
        path_cols=np.array([assets.index(a) for a in path.assets], dtype=np.int64), times=np.asarray(path.times),
        gas_path=None if path.gas_gwei is None else np.asarray(path.gas_gwei, dtype=np.float64), gas_idx=gas_idx,
        decay=settings.dynamics.decay(bs), depth_decay=settings.dynamics.depth_decay(bs), depths={},
        issued=tuple(system.issued),
    )


def _gas_index(assets: tuple[str, ...], liq: Liquidators, key: str) -> int:
    """System index of the asset pricing a population's gas (-1: gas is free)."""
    if liq.gas_asset is None:
        return -1
    if liq.gas_asset not in assets:
        raise ConfigError("<liquidators>", key, f"an asset of the system {list(assets)}", liq.gas_asset)
    return assets.index(liq.gas_asset)


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
    pegs = {c.asset: PegState.start(c.supply, c.psm, c.redemptions) for c in system.issued if c.pegged}
    return SharedPrices(venues, np.zeros(k), np.zeros(k), exo, market, pegs=pegs)


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
                sp: SharedPrices, sim: MarketSim | None = None, stream: int = 0) -> MarketRun:
    """A market's inputs and state, its prices and venues taken from the shared ones. Its
    own ``venues`` are ignored (the system's are shared); gas is priced at the system level.
    ``sim`` may give it its own oracle, a dedicated liquidator population and owners'
    behaviour (drawn on stream ``stream * markets + the market's index``: the same draws
    together and alone, independent across markets and Monte Carlo paths)."""
    model = replace(system.markets[name], venues={})
    sim = sim or MarketSim()
    beh = sim.behaviour
    mpath = _market_path(path, model.assets, np.asarray(model.prices))
    k = stream * len(system.names) + list(system.names).index(name)
    plan = None
    if opens(beh):
        plan = openings.plan_openings(beh.opening, model, mpath, beh.seed, k)
        model = openings.reserve_accounts(model, plan)
        sorted_book = None  # the book has the new accounts' rows
    oracle = sim.oracle if sim.oracle is not None else oracle
    if sim.liquidators is not None:
        settings = replace(settings, liquidators=sim.liquidators)
    liq = settings.liquidators
    own = settings if liq.gas_asset is None or liq.gas_asset in model.assets else replace(
        settings, liquidators=replace(liq, gas_asset=None))
    run = prepare_inputs(model, mpath, oracle, own, None, None, sorted_book)
    st = initial_state(run)
    if beh is not None:
        st.owners = owner_inputs(model, run, None, (), beh, k, plan)
    ix = system.index(name)
    mr = MarketRun(name, ix, run, st)
    if sim.liquidators is not None:
        key = f"markets.{name}.liquidators.gas_asset"
        mr.own = Population(f"dedicated:{name}", sim.liquidators, (), _gas_index(system.assets, sim.liquidators, key))
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
    per_market: Mapping[str, MarketSim] | None = None,
    coin_rows: list | None = None,
    behaviour_stream: int = 0,
) -> dict[str, Result]:
    """Run the markets ``only`` (all when None) of ``system`` together block by block along
    ``path`` with ``oracle``; each market's single-market tables (``summary``, ``steps``,
    ``events``, ``assets``), by market name. ``per_market`` gives markets their own oracle
    or liquidators (:class:`MarketSim`). ``coin_rows``, when given, receives the issued
    coins' purchases (one dict per block and coin bought, :data:`COIN_BLOCK_COLUMNS`)."""
    return run_system(system, path, oracle, settings, only, progress, sorted_books, per_market, coin_rows,
                      behaviour_stream).markets


def run_system(
    system: SystemModel,
    path,
    oracle,
    settings: SimSettings | None = None,
    only: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    sorted_books: Mapping[str, SortedBook] | None = None,
    per_market: Mapping[str, MarketSim] | None = None,
    coin_rows: list | None = None,
    behaviour_stream: int = 0,
) -> SystemSimulation:
    """As :func:`simulate_system`, with the liquidator populations' totals (``liquidators``).
    ``behaviour_stream``: the owners' random stream (Monte Carlo path index)."""
    shared, sp, runs, logs = start_system(system, path, oracle, settings, only, sorted_books, per_market,
                                          behaviour_stream)
    nb = shared.n_blocks
    for b in range(nb):
        run_system_block(shared, sp, runs, b, logs)
        if progress is not None:
            progress(b + 1, nb)
    if coin_rows is not None:
        coin_rows.extend(sp.coin_rows)
    return finish_system(shared, runs, logs)


def finish_system(shared: SharedInputs, runs: list[MarketRun], logs: dict[str, PopulationLog]) -> SystemSimulation:
    """Each market's single-market tables and the populations' totals, after the last block."""
    return SystemSimulation({m.name: build_result(m.run, m.st, None) for m in runs},
                            liquidators_table(_populations(shared, runs), logs))


def start_system(
    system: SystemModel,
    path,
    oracle,
    settings: SimSettings | None = None,
    only: Sequence[str] | None = None,
    sorted_books: Mapping[str, SortedBook] | None = None,
    per_market: Mapping[str, MarketSim] | None = None,
    behaviour_stream: int = 0,
) -> tuple[SharedInputs, SharedPrices, list[MarketRun], dict[str, PopulationLog]]:
    """The state before block 0 of :func:`run_system` (arguments as there): the shared
    inputs and prices, each market's run and the populations' logs. A runner that adds
    its own steps to each block (engine/system_perps.py) starts here."""
    settings = settings or SimSettings()
    names = list(system.names if only is None else only)
    for n in names:
        if n not in system.markets:
            raise ConfigError(system.source, "markets", f"market names {list(system.names)}", n)
    own = dict(per_market or {})
    for n in own:
        if n not in system.markets:
            raise ConfigError(system.source, f"markets.{n}", f"market names {list(system.names)}", n)
    shared = _shared_inputs(system, path, settings)
    sp = _shared_start(system, shared)
    books = dict(sorted_books or {})
    runs = [_market_run(system, n, path, oracle, settings, books.get(n), sp, own.get(n), behaviour_stream)
            for n in names]
    for m in runs:  # the shared population may take any market's accounts
        check_strategy(m.run.model.rules, shared.settings.liquidators)
    for k, m in enumerate(runs):
        if m.own is not None:
            m.own = replace(m.own, members=(k,))
    logs = {p.name: PopulationLog.empty(shared.n_blocks) for p in _populations(shared, runs)}
    return shared, sp, runs, logs


def run_system_block(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun], b: int,
                     logs: dict[str, PopulationLog] | None = None) -> None:
    """One block of the system (see the module docstring); per market the same steps, in
    the same order, as :func:`~liqcascade.engine.dynamic.loop.run_block`."""
    for m in runs:  # owners act at the oracle's prices of the previous block, before prices move
        between_blocks(m.run, m.st, b)
    steps.move_prices(shared, sp, b)
    gas = float(shared.gas_path[b]) if shared.gas_path is not None else shared.settings.liquidators.gas_gwei
    oracle_prices, shortfalls, softs = [], [], []
    for m in runs:
        _sync_in(m, sp)
        o = steps.read_oracle(m.run, m.st, b)
        m.st.tallies.reset_assets()
        softs.append(steps.soft_liquidate(m.run, m.st, b) if m.run.capabilities.soft_liquidation else 0)
        steps.find_candidates(m.run, m.st, b, o)
        steps.start_latency_clocks(m.st, b)
        m.st.liquidated_last = EMPTY
        shortfalls.append(steps.eligible_shortfall(m.run, m.st, b, o))
        oracle_prices.append(o)
    choices = choose_across(shared, sp, runs, b, gas, logs)
    done = []
    for m, o, choice in zip(runs, oracle_prices, choices):
        calls = n_liq = 0
        if choice.chosen.size:
            calls, n_liq = steps.liquidate(m.run, m.st, b, o, choice)
        if m.st.aftermarket is not None:
            steps.run_aftermarket(m.run, m.st, o, b)
        done.append((calls, n_liq))
    sell_shared(shared, sp, runs)
    if shared.issued:
        buy_issued(shared, sp, runs, b)
    for m, o, choice, (calls, n_liq), shortfall, soft in zip(runs, oracle_prices, choices, done, shortfalls, softs):
        st = m.st
        st.market[:] = sp.market[m.ix]
        st.perm[:] = sp.perm[m.ix]
        st.trans[:] = sp.trans[m.ix]
        if m.run.settings.check_conservation:
            steps.check_conservation(m.run if m.unbooked is None else _booked(m), st, b)
        held = st.held.size
        counts = BlockCounts(st.cand.elig.size + held, n_liq + soft, calls + soft, choice.unprofitable,
                             choice.over_capacity, choice.waiting + held)
        steps.record(st, b, o, counts, shortfall, gas)


_NO_SKIP = np.zeros(0, dtype=np.bool_)
"""No candidate skipped (``price_into``'s empty mask)."""


def _pool(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun], b: int, gas: float,
          pop: Population | None = None, skip: Mapping[int, np.ndarray] | None = None):
    """The candidates of the markets ``pop`` serves (all, for the shared population)
    priced at the market (as ``choose_liquidations``), those still waiting or below the
    population's ``min_profit_usd`` dropped, and those ``skip`` marks (taken already by a
    dedicated population) left out; with per-market counts."""
    liq = shared.settings.liquidators if pop is None else pop.liq
    gas_idx = shared.gas_idx if pop is None else pop.gas_idx
    members = range(len(runs)) if pop is None else pop.members
    skip = skip or {}
    unprof, waits = [0] * len(runs), [0] * len(runs)
    total = sum(runs[k].st.cand.elig.size for k in members)
    out = (np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64), np.empty(total), np.empty(total),
           np.empty(total, dtype=np.int64), np.empty(total))
    at = 0
    cap_parts: list[FloatArray] = []
    for k in members:
        st = runs[k].st
        cand, market = st.cand, st.market
        if not cand.elig.size:
            continue
        # the gas asset priced at the shared venues (the market need not hold it)
        gas_usd = gas * 1e-9 * liq.gas_per_call * (sp.market[gas_idx] if gas_idx >= 0 else 0.0)
        received, paid, reward, caps = steps.strategy_terms(liq, st, st.o_prev, gas_usd, runs[k].run.model.rules)
        n_ok, n_unprof, n_wait = price_into(
            received, reward, paid, cand.coll_asset, cand.debt_asset, market, float(gas_usd),
            cand.elig, st.eligible_since, b, int(liq.latency_blocks), float(steps.profit_floor(liq)), runs[k].ix,
            skip.get(k, _NO_SKIP), k, at, *out)
        if caps is not None:
            cap_parts.append(caps[out[1][at:at + int(n_ok)]])
        at += int(n_ok)
        unprof[k] = int(n_unprof)
        waits[k] = int(n_wait)
    owner, local, gross, received, coll_sys, repaid_usd = (a[:at] for a in out)
    pool = Pool(owner=owner, local=local, gross=gross, received=received, coll_sys=coll_sys, repaid_usd=repaid_usd,
                caps_usd=None if liq.strategy == "max_close" else (
                    np.concatenate(cap_parts) if cap_parts else np.zeros((0, MAX_PLAN_CALLS))))
    return pool, unprof, waits


def _caps(pool: Pool, at: IntArray, calls_each: int) -> FloatArray:
    """The pool's per-call caps of the candidates ``at``, as wide as the longest plan or the
    market's ``calls_per_account``: a max close population's rows are uncapped calls."""
    out = np.zeros((at.size, max(MAX_PLAN_CALLS, calls_each)))
    if pool.caps_usd is None:
        out[:, :calls_each] = np.inf
    else:
        out[:, :MAX_PLAN_CALLS] = pool.caps_usd[at]
    return out


def _sale_grid(shared: SharedInputs, sp: SharedPrices, pool: Pool, order: IntArray,
               pre: FloatArray | None = None) -> SaleGrid:
    """Each shared venue's proceeds curve up to everything the ranked union could sell,
    after ``pre`` (tokens per asset) already taken this block by other populations."""
    k = shared.n_assets
    grid = SaleGrid(np.zeros((k, steps.GRID)), np.zeros((k, steps.GRID)), np.zeros(k, dtype=np.bool_))
    co, ro = pool.coll_sys[order], pool.received[order]  # ranked once, not once per asset
    for i in steps.present(co, k):
        if i in sp.venues:
            qmax = float(ro[co == i].sum())
            if qmax > 0:
                qs = qmax * steps.GRID_SHAPE
                v = sp.venues[i]
                grid.amount[i] = qs
                if pre is not None and pre[i] > 0:
                    # the marginal proceeds beyond what the dedicated populations sell
                    base = v.quote_sell(float(pre[i]))
                    grid.proceeds[i] = [v.quote_sell(float(pre[i] + x)) - base for x in qs]
                else:
                    grid.proceeds[i] = [v.quote_sell(float(x)) for x in qs]
                grid.has_grid[i] = True
    return grid


@dataclass(frozen=True)
class Picks:
    """A population's choice from a :class:`Pool`, in pick order."""

    at: IntArray
    """Positions in the pool."""
    profit_usd: FloatArray
    cap: int
    """The population's cap on accounts this block."""


def _pick(shared: SharedInputs, sp: SharedPrices, pool: Pool, liq: Liquidators, pre: FloatArray | None) -> Picks:
    """The population's greedy choice (most profitable first, net of marginal slippage,
    within its cap and capital)."""
    order = stable_order(-pool.gross)
    cap = len(order) if math.isinf(liq.liquidations_per_block) else int(liq.liquidations_per_block)
    taken = 0
    work = order.copy()
    picked_profit = np.empty(len(order))
    if len(order):
        grid = _sale_grid(shared, sp, pool, order, pre)
        taken = int(_kernels.greedy_pick(
            work, pool.received, pool.coll_sys, pool.gross, sp.market, grid.amount, grid.proceeds, grid.has_grid,
            pool.repaid_usd, cap, liq.capital_usd if not math.isinf(liq.capital_usd) else 1e308, liq.min_profit_usd,
            picked_profit,
        ))
    return Picks(work[:taken], picked_profit[:taken], cap)


def _log(logs: dict[str, PopulationLog] | None, name: str, b: int, pool: Pool, picks: Picks) -> None:
    if logs is not None and picks.at.size:
        log = logs[name]
        log.accounts[b] += picks.at.size
        log.capital_usd[b] += float(pool.repaid_usd[picks.at].sum())
        log.profit_usd[b] += float(picks.profit_usd.sum())


def _populations(shared: SharedInputs, runs: list[MarketRun]) -> list[Population]:
    """The shared population, then each market's dedicated one (run order)."""
    pops = [Population("shared", shared.settings.liquidators, tuple(range(len(runs))), shared.gas_idx)]
    return pops + [m.own for m in runs if m.own is not None]


def choose_across(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun], b: int,
                  gas: float, logs: dict[str, PopulationLog] | None = None) -> list[LiquidatorChoice]:
    """Step 5 for the system: each market's dedicated population takes from its market's
    candidates, then the shared population takes the union of what is left, most
    profitable first, net of the marginal slippage on the shared venues, within one cap
    and one capital budget; the choice split back per market (in pick order). Counts of
    accounts left (unprofitable, over capacity, waiting) are the shared population's."""
    pre = np.zeros(shared.n_assets)
    own: dict[int, Picks] = {}
    own_pools: dict[int, Pool] = {}
    skip: dict[int, np.ndarray] = {}
    for k, m in enumerate(runs):
        if m.own is None or not m.st.cand.elig.size:
            continue
        g = float(shared.gas_path[b]) if shared.gas_path is not None else m.own.liq.gas_gwei
        opool, _, _ = _pool(shared, sp, runs, b, g, m.own)
        own[k], own_pools[k] = _pick(shared, sp, opool, m.own.liq, pre), opool
        _log(logs, m.own.name, b, opool, own[k])
        skip[k] = np.zeros(m.st.cand.elig.size, dtype=np.bool_)
        skip[k][opool.local[own[k].at]] = True
        np.add.at(pre, opool.coll_sys[own[k].at], opool.received[own[k].at])
    pool, unprof, waits = _pool(shared, sp, runs, b, gas, None, skip)
    picks = _pick(shared, sp, pool, shared.settings.liquidators, pre if own else None)
    _log(logs, "shared", b, pool, picks)
    taken, cap = picks.at.size, picks.cap
    left = np.bincount(pool.owner, minlength=len(runs)) - np.bincount(pool.owner[picks.at], minlength=len(runs))
    out = []
    for k, m in enumerate(runs):
        mine = pool.owner[picks.at] == k
        local, profit = pool.local[picks.at[mine]], picks.profit_usd[mine]
        strategic = pool.caps_usd is not None or (k in own and own_pools[k].caps_usd is not None)
        caps = _caps(pool, picks.at[mine], m.run.limits.max_calls_per_account) if strategic else None
        if k in own:
            local = np.concatenate([own_pools[k].local[own[k].at], local])
            profit = np.concatenate([own[k].profit_usd, profit])
            if strategic:
                caps = np.concatenate([_caps(own_pools[k], own[k].at, m.run.limits.max_calls_per_account), caps])
        not_taken = int(left[k])
        out.append(LiquidatorChoice(
            chosen=m.st.cand.elig[local] if local.size else EMPTY,
            profit_usd=profit,
            unprofitable=unprof[k] + (not_taken if taken < cap else 0),
            over_capacity=not_taken if taken >= cap else 0,
            waiting=waits[k],
            caps_usd=caps,
        ))
    return out


def liquidators_table(pops: list[Population], logs: Mapping[str, PopulationLog]) -> pd.DataFrame:
    """One row per population: what it took over the run (accounts, debt repaid with its
    capital, expected profit), its busiest block and its limits (inf: unbounded)."""
    rows = []
    for p in pops:
        log = logs[p.name]
        rows.append({
            "population": p.name.split(":", 1)[0],
            "market": "*" if p.name == "shared" else p.name.split(":", 1)[1],
            "accounts_taken": int(log.accounts.sum()), "capital_used_usd": float(log.capital_usd.sum()),
            "expected_profit_usd": float(log.profit_usd.sum()),
            "max_accounts_in_a_block": int(log.accounts.max(initial=0)),
            "max_capital_in_a_block_usd": float(log.capital_usd.max(initial=0.0)),
            "liquidations_per_block": float(p.liq.liquidations_per_block), "capital_usd": float(p.liq.capital_usd),
        })
    return pd.DataFrame(rows)


def sell_shared(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun]) -> None:
    """Step 8 for the system: each market's liquidators sell ``1 / spread_blocks`` of their
    inventory; an asset's sales of all markets go through its venue as one sale (one price
    move, split into permanent and transient as in ``steps.sell``), and each market gets
    its pro-rata share of the proceeds."""
    phi = shared.settings.dynamics.permanent_fraction
    venues, market = sp.venues, sp.market
    amounts = []
    total = np.zeros(shared.n_assets)
    for m in runs:
        st = m.st
        st.inventory += st.tallies.seized - st.tallies.fee
        # a market with a dedicated population sells at its table's pace
        amount = st.inventory / m.run.settings.liquidators.spread_blocks
        np.add.at(total, m.ix, amount)
        amounts.append(amount)
    # impact_on_path = none: the sales get the venue's slippage but the path stays the market
    # (as steps.sell); without this a system replay's prices drifted from its path
    keep = shared.settings.dynamics.impact_on_path == "full"
    proceeds = steps.sell_into_venues(venues, total, market, sp, phi, shared.depth_mode, keep)
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


def buy_issued(shared: SharedInputs, sp: SharedPrices, runs: list[MarketRun], b: int) -> None:
    """Step 6: each issued coin whose issuer runs is bought on its venue: ``buy_share`` of
    the debt the issuer's liquidations repaid in it this block, one purchase per coin (the
    part the pool cannot sell is taken to come from outside it); the log price move goes
    ``permanent_fraction`` into the permanent impact and the rest into the transient one,
    as a sale's does."""
    from liqcascade.engine.static import _buyable

    phi = shared.settings.dynamics.permanent_fraction
    by_name = {m.name: m for m in runs}
    for coin in shared.issued:
        m = by_name.get(coin.issuer)
        i = shared.assets.index(coin.asset)
        if m is None or i not in sp.venues:
            continue
        repaid = float(m.st.tallies.repaid[list(m.run.assets).index(coin.asset)])
        if coin.asset in sp.pegs:
            peg_block(shared, sp, coin, i, repaid, b, m)
            continue
        if repaid <= 0.0:
            continue
        amount = repaid * float(coin.buy_share)
        amount = _buyable(sp.venues[i], amount) if amount > 0.0 else 0.0
        before = after = sp.venues[i].mid_price()
        cost = 0.0
        if amount > 0.0:
            cost, sp.venues[i] = sp.venues[i].buy(amount)
            after = sp.venues[i].mid_price()
            d = math.log(after / before)
            sp.perm[i] += phi * d
            sp.trans[i] += (1.0 - phi) * d
            sp.market[i] = after
        sp.coin_rows.append({"block": b, "asset": coin.asset, "issuer": coin.issuer, "debt_repaid": repaid,
                             "bought": amount, "bought_cost_usd": cost, "price_before": before, "price_after": after})


def peg_block(shared: SharedInputs, sp: SharedPrices, coin, i: int, repaid: float, b: int, m: MarketRun) -> None:
    """Step 6 for a pegged coin (:mod:`liqcascade.engine.system_pegs`): its purchase, its
    supply burnt by ``repaid``, then its PSM's arbitrage and its redemptions against the
    issuer ``m``'s troves (at the collateral's market price); each venue move split into
    permanent and transient impact as a sale's. A row when anything happened."""
    from liqcascade.engine.static import _buyable

    st = sp.pegs[coin.asset]
    phi = shared.settings.dynamics.permanent_fraction
    before = sp.venues[i].mid_price()
    amount = repaid * float(coin.buy_share)
    amount = _buyable(sp.venues[i], amount) if amount > 0.0 else 0.0
    cost = 0.0
    if amount > 0.0:
        cost, sp.venues[i] = sp.venues[i].buy(amount)
    st.supply -= repaid
    swap = PsmSwap()
    if coin.psm is not None:
        swap, sp.venues[i] = psm_swap(sp.venues[i], coin.psm, st)
    redeemed = 0.0
    if coin.redemptions is not None:
        redeemed = _redeem_block(shared, sp, coin, i, b, m)
    after = sp.venues[i].mid_price()
    if after != before:
        d = math.log(after / before)
        sp.perm[i] += phi * d
        sp.trans[i] += (1.0 - phi) * d
        sp.market[i] = after
    if repaid > 0.0 or swap.minted > 0.0 or swap.burnt > 0.0 or redeemed > 0.0:
        sp.coin_rows.append({"block": b, "asset": coin.asset, "issuer": coin.issuer, "debt_repaid": repaid,
                             "bought": amount, "bought_cost_usd": cost, "price_before": before, "price_after": after,
                             "supply": st.supply, "psm_minted": swap.minted, "psm_burnt": swap.burnt,
                             "psm_gem": st.gem if coin.psm is not None else math.nan, "redeemed": redeemed})


def _redeem_block(shared: SharedInputs, sp: SharedPrices, coin, i: int, b: int, m: MarketRun) -> float:
    """The block's redemption of ``coin`` against ``m``'s troves; the coins redeemed. What
    left the book is added to ``m.unbooked``."""
    st = sp.pegs[coin.asset]
    now = int(shared.times[b])
    if st.last_fee_time is None:
        st.last_fee_time = int(shared.times[0])  # the run starts at a fee operation
    rules, arrays, assets = m.run.model.rules, m.st.arrays, list(m.run.assets)
    c, j = assets.index(rules.collateral), assets.index(coin.asset)
    troves = Troves(arrays.coll, arrays.debt, np.flatnonzero(arrays.asset == c), np.flatnonzero(arrays.asset == j),
                    rules.mcr)
    coll0, debt0 = float(arrays.coll[troves.coll_rows].sum()), float(arrays.debt[troves.debt_rows].sum())
    price = float(sp.market[shared.assets.index(rules.collateral)])
    done, _, sp.venues[i] = redeem(sp.venues[i], coin.redemptions, st, troves, price, now)
    if done.redeemed > 0.0:
        if m.unbooked is None:
            m.unbooked = (np.zeros(len(assets)), np.zeros(len(assets)))
        m.unbooked[0][c] += coll0 - float(arrays.coll[troves.coll_rows].sum())
        m.unbooked[1][j] += debt0 - float(arrays.debt[troves.debt_rows].sum())
    return done.redeemed


def _booked(m: MarketRun) -> RunInputs:
    """``m``'s inputs with a base book whose totals are less what redemptions took (each
    asset's rows scaled by one factor): what the conservation check compares with."""
    book = m.run.model.book
    coll0, debt0 = book.totals_by_asset()
    take_c, take_d = m.unbooked
    fc = np.divide(coll0 - take_c, coll0, out=np.ones_like(coll0), where=coll0 > 0)
    fd = np.divide(debt0 - take_d, debt0, out=np.ones_like(debt0), where=debt0 > 0)
    book = replace(book, collateral=book.collateral * fc[book.asset], debt=book.debt * fd[book.asset])
    return replace(m.run, model=replace(m.run.model, book=book))
