"""The block loop: a few lines calling the steps of :mod:`.steps` in order."""

from __future__ import annotations

import dataclasses
from typing import Callable, Collection, Mapping, NamedTuple

from liqcascade._typing import FloatArray
from liqcascade.engine.dynamic import owners, quiet, steps
from liqcascade.engine.dynamic.baseline import baseline_state
from liqcascade.engine.dynamic import openings
from liqcascade.engine.dynamic.behaviour import between_blocks, react_state
from liqcascade.engine.dynamic.keepers import keeper_state
from liqcascade.engine.dynamic.records import BlockCounts
from liqcascade.engine.dynamic.results import build_result
from liqcascade.engine.dynamic.settings import SimSettings
from liqcascade.engine.dynamic.state import EMPTY, RunInputs, SimulationState, initial_state, prepare_inputs
from liqcascade.engine.result import Result
from liqcascade.engine.static import MarketModel, SortedBook
from liqcascade.errors import ConfigError
from liqcascade.model.behaviour import BehaviourParams
from liqcascade.model.keepers import KeeperBook


def simulate(
    model: MarketModel,
    path,
    oracle,
    settings: SimSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
    config: Mapping[str, object] | None = None,
    oracle_input: Mapping[str, FloatArray] | None = None,
    venue_depth: Mapping[str, FloatArray] | None = None,
    sorted_book: SortedBook | None = None,
    owner_actions: owners.OwnerActions | None = None,
    accrual: tuple[owners.DebtAccrual, ...] = (),
    impact_baseline: Mapping[str, FloatArray] | None = None,
    behaviour: BehaviourParams | None = None,
    behaviour_stream: int = 0,
    keepers: KeeperBook | None = None,
    tables: Collection[str] | None = None,
) -> Result:
    """Run ``model`` block by block along ``path`` (a :class:`~liqcascade.scenarios.PricePath`)
    with ``oracle`` (a :class:`~liqcascade.markets.oracle.Oracle`).

    Tables (:mod:`~liqcascade.engine.dynamic.schema`): ``steps`` (per block and asset:
    reference, venue and oracle price; per block: eligible, liquidated, left undone as
    unprofitable or beyond capacity, USD seized and repaid, bad debt so far, shortfall of
    eligible accounts), ``events`` (per liquidated account and block), ``summary`` (one
    row) and ``assets``.

    ``oracle_input`` (asset -> a price per block) replaces the market price the oracle
    reads for those assets: an oracle on another venue than the one liquidators sell
    into (the USDe replay's on-chain pool while the exchange price depegs).

    ``venue_depth`` (asset -> USD per side, per block) makes that asset's venue a
    constant-product pool (fee 0.3 %) whose depth follows the series: whenever the depth
    changes the pool is rebuilt at the current market price with the new depth (a
    replay's real pool reserves, e.g. Uniswap v2 ETH/DAI every 10 minutes on 2021-05-19).

    ``sorted_book`` (``SortedBook.of(model)``, prepared once) saves re-sorting the book when
    the same model runs many paths (Monte Carlo); it is only read.

    ``owner_actions`` (owners' actions between blocks) and ``accrual`` (debt assets'
    accumulators per block) make the book move in time (:mod:`.owners`); the result then
    has a ``conflicts`` table. ``impact_baseline`` (asset -> tokens the path's own
    liquidations sold, per block) is what ``impact_on_path = "excess"`` subtracts. ``behaviour``:
    owners react between blocks (:mod:`.behaviour`), on stream ``behaviour_stream`` of its seed;
    with an opening pair, new accounts open during the run (:mod:`.openings`). ``keepers``:
    keeper-managed owners repay on the OSM's next price (:mod:`.keepers`). ``tables`` (names
    among :data:`~.results.TABLES`): only those are built (None: all).
    """
    inputs = SimInputs(settings, oracle_input, venue_depth, sorted_book, owner_actions, tuple(accrual), impact_baseline,
                       behaviour, behaviour_stream, keepers, trades=tables is None or "trades" in tables,
                       shortfall=tables is None or "steps" in tables)
    fin = simulate_state(model, path, oracle, inputs, progress)
    return build_result(fin.run, fin.state, config, tables)


@dataclasses.dataclass(frozen=True)
class SimInputs:
    """What a run takes besides the model, the path and the oracle: :func:`simulate`'s keywords
    (documented there), and what :func:`simulate_state` alone is asked (``trades`` False: no
    per-row flows kept; ``shortfall`` False: the records' ``shortfall_usd`` is not computed, see
    :attr:`.state.RunInputs.shortfall`)."""

    settings: SimSettings | None = None
    oracle_input: Mapping[str, FloatArray] | None = None
    venue_depth: Mapping[str, FloatArray] | None = None
    sorted_book: SortedBook | None = None
    owner_actions: owners.OwnerActions | None = None
    accrual: tuple[owners.DebtAccrual, ...] = ()
    impact_baseline: Mapping[str, FloatArray] | None = None
    behaviour: BehaviourParams | None = None
    behaviour_stream: int = 0
    keepers: KeeperBook | None = None
    trades: bool = True
    shortfall: bool = True

    @property
    def moving(self) -> bool:
        """Whether the book moves in time (owners' actions, accrual, reactions or keepers)."""
        return (self.owner_actions is not None or bool(self.accrual) or self.behaviour is not None
                or self.keepers is not None)


class Finished(NamedTuple):
    """A run's fixed inputs and its state after the last block (what the tables are built from)."""

    run: RunInputs
    state: SimulationState


def simulate_state(model: MarketModel, path, oracle, inputs: SimInputs = SimInputs(),
                   progress: Callable[[int, int], None] | None = None) -> Finished:
    """:func:`simulate`'s run without its tables (its keywords as one :class:`SimInputs`): a
    Monte Carlo path reads a few numbers of the state."""
    x = inputs
    model, sorted_book, plan = _grown(model, x.sorted_book, path, x.owner_actions, x.behaviour, x.behaviour_stream)
    run = prepare_inputs(model, path, oracle, x.settings, x.oracle_input, x.venue_depth, sorted_book)
    if not x.shortfall:
        run = dataclasses.replace(run, shortfall=False)
    st = initial_state(run, trades=x.trades)
    if run.settings.dynamics.impact_on_path == "excess":
        st.baseline = _baseline(run, x.impact_baseline)
    if x.moving:
        st.owners = owner_inputs(model, run, x.owner_actions, tuple(x.accrual), x.behaviour, x.behaviour_stream, plan,
                                 x.keepers)
    run_blocks(run, st, progress)
    return Finished(run, st)


def run_blocks(run: RunInputs, st: SimulationState, progress: Callable[[int, int], None] | None = None) -> None:
    """Every block of the run in order: a run of quiet blocks at once (:mod:`.quiet`, the same
    result bit for bit), any other block by :func:`run_block`."""
    nb = run.n_blocks
    skipping = quiet.applies(run)
    window = quiet.Window()
    b = 0
    while b < nb:
        n = quiet.advance(run, st, b, window) if skipping else 0
        if n == 0:
            run_block(run, st, b, window.primed if skipping else None)
            n = 1
        if progress is not None:
            for done in range(b + 1, b + n + 1):
                progress(done, nb)
        b += n


def _grown(model: MarketModel, sorted_book: SortedBook | None, path, actions, behaviour, stream: int):
    """(model, sorted book, openings plan): the book with a row for every (account, asset) an
    owner's action names and an empty account per planned opening; the prepared sorted book
    is dropped when rows were added (it lacks them)."""
    if actions is not None:
        model = owners.extend_model(model, actions)
        sorted_book = None
    plan = None
    if opens(behaviour):
        plan = openings.plan_openings(behaviour.opening, model, path, behaviour.seed, stream)
        model = openings.reserve_accounts(model, plan)
        sorted_book = None
    return model, sorted_book, plan


def opens(behaviour: BehaviourParams | None) -> bool:
    """Whether ``behaviour`` opens new accounts (an opening process with its pair)."""
    return behaviour is not None and behaviour.opening is not None and behaviour.opening.pair is not None


def owner_inputs(model: MarketModel, run: RunInputs, actions, accrual, behaviour, stream: int,
            plan: openings.OpenPlan | None = None, keepers: KeeperBook | None = None) -> owners.OwnerState:
    """The owners' state of a moving book: recorded actions, accrual, modelled reactions,
    new accounts and keeper-managed owners."""
    owners.check_owner_inputs(actions, run.n_blocks)
    ow = owners.owner_state(model, run.book, run.times, actions, accrual)
    if behaviour is not None:
        ow.react = react_state(behaviour, tuple(model.assets), stream, run)
    if plan is not None:
        if run.capabilities.soft_liquidation:
            raise ConfigError("<behaviour>", "simulation.behaviour.open_pair", "a protocol without soft liquidation "
                              "(a new account's bands are not modelled)")
        ow.opening = openings.open_state(model, run.book, plan, run.n_blocks)
    if keepers is not None:
        ow.keepers = keeper_state(model, run.book, keepers)
    return ow


def _baseline(run: RunInputs, series: Mapping[str, FloatArray] | None):
    if series is None:
        raise ConfigError("<simulation>", "simulation.impact_baseline", "the path's own liquidation selling "
                          "for impact_on_path = excess")
    return baseline_state(run.assets, run.n_blocks, series)


def run_block(run: RunInputs, st: SimulationState, b: int, primed: quiet.Primed | None = None) -> None:
    """One block, step by step (see the package docstring); ``primed``: the block's prices
    as a quiet-run attempt computed them (:class:`.quiet.Primed`), the same as step 1-2's."""
    between_blocks(run, st, b)
    if primed is not None and primed.block == b:
        quiet.move_prices(st, primed)
    else:
        steps.move_prices(run, st, b)
    o = steps.read_oracle(run, st, b)
    gas = steps.gas_price(run, b)
    st.tallies.reset_assets()
    soft = steps.soft_liquidate(run, st, b) if run.capabilities.soft_liquidation else 0
    steps.find_candidates(run, st, b, o)
    steps.start_latency_clocks(st, b)
    st.liquidated_last = EMPTY
    shortfall = steps.eligible_shortfall(run, st, b, o)
    calls = n_liq = n_unprof = n_cap = n_wait = 0
    choice_made = False
    if st.cand.elig.size:
        choice = steps.choose_liquidations(run, st, b, gas)
        n_unprof, n_cap, n_wait = choice.unprofitable, choice.over_capacity, choice.waiting
        if choice.chosen.size:
            calls, n_liq = steps.liquidate(run, st, b, o, choice)
            choice_made = True
    if st.aftermarket is not None:
        steps.run_aftermarket(run, st, o, b)
    # the tallies were reset above; only these steps add to them
    taken = run.capabilities.soft_liquidation or st.aftermarket is not None or choice_made
    steps.sell(run, st, taken=taken)
    if run.settings.check_conservation:
        steps.check_conservation(run, st, b)
    held = st.held.size
    counts = BlockCounts(st.cand.elig.size + held, n_liq + soft, calls + soft, n_unprof, n_cap, n_wait + held)
    steps.record(st, b, o, counts, shortfall, gas)
