"""Perps and lending in one system: perp markets beside lending markets over the shared spot venues.

A perp market reads its **index** from the shared spot venue of its asset (one venue: the
median of one price is that price, :func:`~liqcascade.markets.perp_prices.index_price`); its
**mark** (:data:`MARK_RULES`, :class:`MarkState`) is either that index (``mark = "index"``, as
the perp replay's mark is its path) or Binance's mark from the perp's own order book
(``mark = "binance"``); its liquidation orders walk
the perp's own order book (:class:`~liqcascade.markets.perp_book.PerpOrderBookVenue`). A
**basis arbitrageur** with finite capital (:func:`~liqcascade.markets.perp_arb.basis_arbitrage`)
trades the gap between the perp's book and the spot venue, moving both: perp liquidations
reach the spot venue, and through it every lending market's oracle; lending liquidators'
sales reach the perps through the index.

**Time.** Lending runs in blocks (``block_seconds``, 12 s on Ethereum), perps in steps of
``step_seconds``, which must divide the block: each block has ``block_seconds / step_seconds``
perp sub-steps. Block ``b`` (:func:`run_block`):

1. the lending markets' block, exactly :func:`~liqcascade.engine.system_dynamic.run_system_block`
   (the shared venues move with the path and impact; oracles; liquidations; sales);
2. then, per perp market (in the run's order), its sub-steps ``s = 0 .. n-1`` at
   ``times[b] + s * step_seconds`` (:func:`perp_substep`):

   a. the perp's book refills its consumed depth over the step and re-sizes to the stress the
      fitted law gives for the index's move (``PerpOrderBookVenue.evolve``), re-centred at the
      index with what is still consumed (as the perp replay does at its marks);
   b. the mark (:meth:`MarkState.quote`): the index, or Binance's ``median(Price 1, Price 2, last
      price)`` with the basis sample ``book mid - index`` taken now (the book of 2a);
   c. the perp engine's step (:func:`liqcascade.engine.perps.step`) at that mark;
   d. basis arbitrage between the perp's book and the spot venue over ``step_seconds``; the spot
      leg's log price move goes ``permanent_fraction`` into the permanent impact and the rest into
      the transient one, as a liquidator's sale does (``impact_on_path = "none"``: the venue
      moves but the path stays the market, as for the sales).

**Binance's mark** (``markets/perp_prices.py`` cites the rule): ``mark = median(Price 1,
Price 2, last price)`` with

- ``Price 1 = index * (1 + last funding rate * time to funding / funding interval)``: the perp
  engine has no funding-rate model (its funding is a given cumulative index, none here), so the
  last funding rate is 0 and Price 1 is the index;
- ``Price 2 = index + the mean of the basis samples (book mid - index) of the last 30 s``
  (Binance's window since 2025-09-18): one sample per sub-step, so the samples taken in
  ``(t - 30 s, t]``, ``ceil(30 / step_seconds)`` of them (30 at 1 s steps; fewer at the start);
- the **last price**: the price of the last trade on the perp's book -- where the last walk on
  it ended, its mid right after it (the book has no spread: the walk's last unit traded there),
  a liquidation round's or the arbitrage's perp leg;
  the book's mid at the start, before any trade; carried through sub-steps without a trade.

With ``mark = "index"`` the run is bit for bit the runner's before the mark rule existed
(tests/engine/test_system_perps.py); the ``basis_usd`` column (Price 2 - index) is recorded
under both rules, with the last price the mark read.

With the arbitrageur's capital 0 nothing a perp does reaches the spot venue: the lending
markets run bit for bit as without the perps, and each perp runs as the perp engine alone on
the index the lending run gives it (tests/engine/test_system_perps.py).

Money across the arbitrage legs (the ``arbitrage`` rows): the tokens bought on one venue are
the tokens sold on the other; the buy legs' cost is what the arbitrageur's capital lost.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from liqcascade.engine import perps as P
from liqcascade.engine.dynamic.settings import SimSettings
from liqcascade.engine.static import SortedBook
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import (
    MarketSim, SharedInputs, SharedPrices, SystemSimulation, finish_system, run_system_block, start_system,
)
from liqcascade.errors import ConfigError
from liqcascade.markets.perp_arb import BasisArbitrageur, basis_arbitrage
from liqcascade.markets.perp_book import PerpOrderBookVenue
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.perps_base import AdlPolicy, MarginEngine

__all__ = ["PerpMarketSim", "PerpMarketRun", "PerpsSystemRun", "ARB_COLUMNS", "PERP_STEP_COLUMNS", "MARK_RULES",
           "BASIS_WINDOW_S", "MarkQuote", "MarkState", "basis_samples", "run_block",
           "perp_substep", "run_system_perps", "start_perp", "substeps"]

MARK_RULES = ("index", "binance")
"""A perp market's mark: its index, or Binance's rule on its own book (module docstring)."""
BASIS_WINDOW_S = 30.0
"""Binance's basis moving average window since 2025-09-18 (``markets/perp_prices.py``)."""

NEGATIVE_USD = -1e-6
"""An account's equity below this counts as negative (float dust of a close at bankruptcy is ~1e-10)."""

PERP_STEP_COLUMNS = ("perp_market", "block", "step", "time", "index_price", "mark_price", "basis_usd", "last_price",
                     "venue_mid", "liquidated_usd", "adl_usd",
                     "fund_usd", "accounts_liquidated", "negative_equity_accounts", "written_off_usd")
ARB_COLUMNS = ("perp_market", "block", "step", "time", "perp_sold", "tokens", "buy_cost_usd", "sell_proceeds_usd",
               "spot_mid_before", "spot_mid_after", "perp_mid_before", "perp_mid_after", "capital_left_usd")
"""One row per sub-step with a trade: ``perp_sold`` True when the perp was rich (the arbitrageur
sold ``tokens`` on the perp and bought them on spot), False for the mirror."""


@dataclass(frozen=True)
class PerpMarketSim:
    """A perp market of the system: its margin engine, book, own order book, insurance fund,
    deleveraging policy, step and the basis arbitrageur tying it to ``asset``'s spot venue."""

    name: str
    asset: str
    """The system asset whose shared venue gives the index (and takes the arbitrage's spot leg)."""
    engine: MarginEngine
    book: PerpBook
    venue: PerpOrderBookVenue
    adl: Callable[[], AdlPolicy]
    """A fresh deleveraging policy for each run (dYdX's draws from its own seeded generator)."""
    step_seconds: float
    arbitrageur: BasisArbitrageur
    fund_usd: float = 0.0
    topped_up: int = 0
    """Synthetic accounts whose collateral was raised to the initial margin at the start (as a perp scenario's)."""
    mark: str = "binance"
    """One of :data:`MARK_RULES` (the default, as ``[[perp_markets]]``'s: the mark from the perp's own book)."""


@dataclass
class PerpMarketRun:
    """A perp market's state in the run: the engine's state, its book between steps, the
    arbitrageur's capital left, the last index and the rows recorded so far."""

    sim: PerpMarketSim
    i: int
    """System index of its asset."""
    state: P.PerpState
    venue: PerpOrderBookVenue
    arb: BasisArbitrageur
    index: float
    policy: AdlPolicy
    mark: MarkState
    steps: int = 0
    rows: list[dict] = field(default_factory=list)
    flows: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class PerpsSystemRun:
    """A finished run: the lending side's tables, the perp markets' final runs, and the
    per-step tables (:data:`PERP_STEP_COLUMNS`, :data:`ARB_COLUMNS`)."""

    lending: SystemSimulation
    perps: dict[str, PerpMarketRun]
    perp_steps: pd.DataFrame
    arbitrage: pd.DataFrame


def substeps(block_seconds: float, step_seconds: float, source: str = "<system>", key: str = "step_seconds") -> int:
    """Perp sub-steps per lending block; ``step_seconds`` must divide the block."""
    n = block_seconds / step_seconds if step_seconds > 0 else math.nan
    if not (math.isfinite(n) and n >= 1 and abs(n - round(n)) < 1e-9):
        raise ConfigError(source, key, f"a step that divides the block of {block_seconds:g} s", step_seconds)
    return int(round(n))


def basis_samples(step_seconds: float) -> int:
    """Basis samples in Binance's window: one per sub-step in ``(t - 30 s, t]``."""
    return max(1, math.ceil(BASIS_WINDOW_S / step_seconds - 1e-9))


@dataclass(frozen=True)
class MarkQuote:
    """A sub-step's mark and what it was made of."""

    mark: float
    basis: float
    """The basis moving average: Price 2 - index."""
    last_price: float
    """The last trade price the mark read."""


@dataclass
class MarkState:
    """A perp market's mark by ``rule`` (:data:`MARK_RULES`), with what Binance's rule carries
    between sub-steps: the window's basis samples and the last trade price."""

    rule: str
    samples: deque
    """Basis samples (book mid - index), oldest first, at most :func:`basis_samples` of them."""
    last_price: float

    @classmethod
    def start(cls, rule: str, step_seconds: float, book_mid: float) -> "MarkState":
        if rule not in MARK_RULES:
            raise ConfigError("<python>", "mark", f"one of {list(MARK_RULES)}", rule)
        return cls(rule, deque(maxlen=basis_samples(step_seconds)), float(book_mid))

    def quote(self, index: float, book_mid: float) -> MarkQuote:
        """The mark now, after taking the basis sample ``book_mid - index``. Binance's Price 1
        is the index: the last funding rate is 0 (module docstring)."""
        self.samples.append(book_mid - index)
        basis = sum(self.samples) / len(self.samples)
        mark = index if self.rule == "index" else sorted((index, index + basis, self.last_price))[1]
        return MarkQuote(mark, basis, self.last_price)

    def traded(self, price: float) -> None:
        """A trade on the perp's book whose last unit went at ``price``."""
        self.last_price = float(price)


def start_perp(system: SystemModel, sp: SharedPrices, sim: PerpMarketSim, wrap: Callable = lambda v: v) -> PerpMarketRun:
    """A perp market at block 0: its book centred at the index (its spot venue's price)."""
    if sim.asset not in system.assets:
        raise ConfigError(system.source, f"perp_markets.{sim.name}.asset", f"an asset of the system {list(system.assets)}",
                          sim.asset)
    i = system.assets.index(sim.asset)
    spot = sp.venues.get(i)
    if spot is None or not spot.capabilities.quotes_buy:
        raise ConfigError(system.source, f"perp_markets.{sim.name}.asset",
                          "an asset with a shared venue that quotes purchases ([[venues]] orderbook or cpmm)", sim.asset)
    index = float(sp.market[i])
    venue = sim.venue.with_mid_price(index)
    state = P.start(sim.book, sim.engine, np.array([index]), [wrap(venue)], sim.fund_usd,
                    step_seconds=float(sim.step_seconds))
    try:
        mark = MarkState.start(sim.mark, float(sim.step_seconds), venue.mid_price())
    except ConfigError as err:
        raise ConfigError(system.source, f"perp_markets.{sim.name}.mark", err.expected, err.got) from None
    return PerpMarketRun(sim, i, state, venue, sim.arbitrageur, index, sim.adl(), mark)


def _spot_leg(shared: SharedInputs, sp: SharedPrices, i: int, after_venue) -> None:
    """The arbitrage's spot trade on the shared venue ``i``: its log move split into permanent
    and transient impact as a sale's (kept only when the run keeps impact on the path)."""
    before = sp.venues[i].mid_price()
    sp.venues[i] = after_venue
    after = after_venue.mid_price()
    if shared.settings.dynamics.impact_on_path != "full" or after == before:
        return
    phi = shared.settings.dynamics.permanent_fraction
    d = math.log(after / before)
    sp.perm[i] += phi * d
    sp.trans[i] += (1.0 - phi) * d
    sp.market[i] = after


def perp_substep(shared: SharedInputs, sp: SharedPrices, pm: PerpMarketRun, time_s: int, b: int,
                 wrap: Callable = lambda v: v) -> None:
    """One perp sub-step (module docstring, 2a-2d); its rows appended to ``pm``."""
    sim, dt = pm.sim, float(pm.sim.step_seconds)
    index = float(sp.market[pm.i])
    venue = pm.venue.evolve(dt, math.log(index / pm.index))
    venue = replace(venue, reference_price=index)  # keeps what is still consumed
    pm.state.venues = [wrap(venue)]
    quote = pm.mark.quote(index, venue.mid_price())
    mark = np.array([quote.mark])
    rec = P.step(sim.engine, pm.state, mark, None, pm.policy)
    before, venue = venue, getattr(pm.state.venues[0], "inner", pm.state.venues[0])
    if venue.net_sold != before.net_sold:  # a liquidation walked the book: its last unit traded at the mid after
        pm.mark.traded(venue.mid_price())
    perp_before, spot_before = venue.mid_price(), sp.venues[pm.i].mid_price()
    trade = basis_arbitrage(venue, sp.venues[pm.i], pm.arb, dt)
    if trade.tokens > 0.0:
        pm.mark.traded(trade.perp.mid_price())  # the perp leg's walk ended there
        _spot_leg(shared, sp, pm.i, trade.spot)
        pm.flows.append({"perp_market": sim.name, "block": b, "step": pm.steps, "time": time_s,
                         "perp_sold": bool(trade.perp_sold), "tokens": trade.tokens, "buy_cost_usd": trade.buy_cost,
                         "sell_proceeds_usd": trade.sell_proceeds, "spot_mid_before": spot_before,
                         "spot_mid_after": trade.spot.mid_price(), "perp_mid_before": perp_before,
                         "perp_mid_after": trade.perp.mid_price(), "capital_left_usd": trade.arbitrageur.capital_usd})
    pm.venue, pm.arb, pm.index = trade.perp, trade.arbitrageur, index
    n_neg = int(np.count_nonzero(pm.state.book.equity(mark) < NEGATIVE_USD))
    pm.rows.append({"perp_market": sim.name, "block": b, "step": pm.steps, "time": time_s, "index_price": index,
                    "mark_price": quote.mark, "basis_usd": quote.basis, "last_price": quote.last_price,
                    "venue_mid": pm.venue.mid_price(), "liquidated_usd": rec.liquidated_notional,
                    "adl_usd": rec.adl_notional, "fund_usd": rec.fund_balance,
                    "accounts_liquidated": rec.accounts_liquidated, "negative_equity_accounts": n_neg,
                    "written_off_usd": rec.socialised})
    pm.steps += 1


def run_block(shared: SharedInputs, sp: SharedPrices, runs: list, perps: Sequence[PerpMarketRun], b: int,
              logs: dict, wrap: Callable = lambda v: v) -> None:
    """Block ``b``: the lending markets' block, then each perp market's sub-steps."""
    run_system_block(shared, sp, runs, b, logs)
    bs = float(shared.path.block_seconds)
    t0 = int(shared.times[b])
    for pm in perps:
        dt = float(pm.sim.step_seconds)
        for s in range(substeps(bs, dt, key=f"perp_markets.{pm.sim.name}.step_seconds")):
            perp_substep(shared, sp, pm, t0 + int(round(s * dt)), b, wrap)


def run_system_perps(
    system: SystemModel,
    path,
    oracle,
    perps: Sequence[PerpMarketSim],
    settings: SimSettings | None = None,
    only: Sequence[str] | None = None,
    per_market: Mapping[str, MarketSim] | None = None,
    progress: Callable[[int, int], None] | None = None,
    sorted_books: Mapping[str, SortedBook] | None = None,
    wrap: Callable = lambda v: v,
) -> PerpsSystemRun:
    """Run the lending markets ``only`` (all when None; ``[]``: none, the perps on the path's
    spot venues alone) of ``system`` and the perp markets ``perps`` together along ``path``.
    ``wrap(venue)`` is what the perp engine trades on (the execution layer's dust guard);
    the book is read back from its ``inner`` attribute when it has one."""
    shared, sp, runs, logs = start_system(system, path, oracle, settings, only, sorted_books, per_market)
    names = [p.name for p in perps]
    if len(set(names)) != len(names):
        raise ConfigError(system.source, "perp_markets", "distinct perp market names", names)
    bs = float(path.block_seconds)
    for p in perps:
        substeps(bs, float(p.step_seconds), system.source, f"perp_markets.{p.name}.step_seconds")
    pms = [start_perp(system, sp, p, wrap) for p in perps]
    nb = shared.n_blocks
    for b in range(nb):
        run_block(shared, sp, runs, pms, b, logs, wrap)
        if progress is not None:
            progress(b + 1, nb)
    steps = pd.DataFrame([r for pm in pms for r in pm.rows], columns=list(PERP_STEP_COLUMNS))
    flows = pd.DataFrame([r for pm in pms for r in pm.flows], columns=list(ARB_COLUMNS))
    return PerpsSystemRun(finish_system(shared, runs, logs), {pm.sim.name: pm for pm in pms}, steps, flows)
