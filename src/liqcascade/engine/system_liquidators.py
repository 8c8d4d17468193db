"""Liquidators with capital and capacity in the static cascade of a system.

Unbounded liquidators (the default, :mod:`liqcascade.engine.static`) liquidate every eligible
account each round. A :class:`StaticLiquidators` population bounds that: per round it makes at
most ``calls_per_round`` liquidation calls and pays at most its **balance** (USD at the round's
prices). The balance starts at ``capital_usd`` and is recycled: after the round's sales it comes
back as the proceeds of the collateral the population sold, so it moves by proceeds − debt repaid
each round (a call whose collateral sells for less than the debt it repaid shrinks it; collateral
held, ``sell_fraction`` < 1, does not come back). This is the simulation's ``capital_usd`` (debt
repayable per block) with a round for a block and the profit kept.

What a call costs is what the liquidator pays, as the simulation prices it: the debt it repays
(Aave, Morpho, Compound v2, Euler: the liquidator keeps the seized collateral and sells it), or the
rules' own costs (:class:`~liqcascade.protocols.base.FirstCallCosts`: a Liquity liquidation costs
the caller nothing, the Stability Pool pays). In those markets the collateral sold is not the
liquidator's, so the capital paid comes back after the round as it was (no profit or loss kept).

Who is served first: each round every eligible account's next call is priced at the round's
prices (collateral received plus reward, minus debt paid: :meth:`first_call`, as the simulation
ranks), accounts sorted by that profit, highest first, ties by market order then original account
index. Dedicated populations (one market each) go first, then the shared one takes what is left in
every market. A population walks the ranking and takes an account when its round (every call the
rules make on it at these prices, up to ``max_calls_per_account``) fits in the calls and the
balance left; an account that does not fit is skipped, not the end of the walk, as in the
simulation -- except in a market whose rules have global effects (Liquity's redistribution), where
the walk stops at the first misfit so that what is liquidated is a prefix of the ranking.

What an account's round costs is known before it is taken: every eligible account is liquidated
once on a scratch copy of the book by the market's own static rule (:func:`_apply`: the rules'
sweep, so Maker's auctions clear and Comet resells as in the unbounded cascade); at fixed prices an
account's calls do not depend on the others', and the chosen accounts are then liquidated for real
the same way. In Liquity (global effects) the other troves do change a trove's outcome, but not
what the population is held to: one call per trove, paid by the Stability Pool. An account the
rules do not act on (Liquity's Recovery Mode with nothing to offset, a blocked dust call) is not a
candidate, nor is a call at a loss at the round's prices (a crvUSD loan worth less than its debt:
the static sweep leaves it too); a soft-liquidating market's AMM trades first each round, as
arbitrageurs do, outside the populations' bounds.

Accounts eligible but not taken stay eligible (they are marked touched, so the accounts table
lists them with no calls); when a round takes nothing, the fixed point stops (``stuck``) with them
left. Their debt above their collateral is the bad debt that follows when capital is short.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from liqcascade._jit import jit_functions
from liqcascade._typing import FloatArray
from liqcascade.engine.static import MarketPass, StaticCascade, VenueRound
from liqcascade.errors import ConfigError
from liqcascade.protocols.base import Tallies

SHARED = "shared"
"""Name of the population every market shares."""


@dataclass(frozen=True)
class StaticLiquidators:
    """A liquidator population of the static system cascade: ``market`` None for the shared one
    (every market), else the one market it is dedicated to."""

    market: str | None = None
    capital_usd: float = math.inf
    """Starting balance (USD) and most debt repayable in one round; inf = flash loans."""
    calls_per_round: float = math.inf
    """Liquidation calls per round at most; inf = unbounded."""

    def __post_init__(self) -> None:
        key = "simulation.liquidators" if self.market is None else f"markets.{self.market}.simulation.liquidators"
        if not (self.capital_usd > 0):
            raise ConfigError("<liquidators>", f"{key}.capital_usd", "a number > 0 (1e300 = flash loans)", self.capital_usd)
        c = self.calls_per_round
        if not (c >= 1 and (math.isinf(c) or float(c).is_integer())):
            raise ConfigError("<liquidators>", f"{key}.calls_per_round", "an integer >= 1 (unset = unbounded)", c)

    @property
    def name(self) -> str:
        return SHARED if self.market is None else self.market

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.capital_usd) or math.isfinite(self.calls_per_round)


@dataclass
class Ledger:
    """One population over one cascade: its balance and what it did (USD at each round's prices)."""

    population: StaticLiquidators
    balance_usd: float
    accounts_taken: int = 0
    """Accounts it liquidated, summed over the rounds (an account of two rounds counts twice)."""
    calls: int = 0
    debt_repaid_usd: float = 0.0
    capital_used_usd: float = 0.0
    """What it paid for its calls, summed over the rounds (the debt it repaid, where it repays it)."""
    proceeds_usd: float = 0.0
    """Of the collateral it sold (markets where it keeps what it seizes)."""
    peak_round_usd: float = 0.0
    rounds_bound: int = 0
    """Rounds in which it left an eligible account for want of calls or balance."""
    calls_left_undone: int = 0
    """Over the rounds: the calls of the accounts it left (as the scratch run priced them)."""
    accounts_left: int = 0
    """Eligible accounts of its markets that nobody took in the last round."""
    debt_left_usd: float = 0.0
    shortfall_left_usd: float = 0.0
    """Of those: debt above the collateral's value (the rules' health view), summed."""
    sold: dict[int, FloatArray] = field(default_factory=dict)
    """This round: collateral sold per market (pass position), market asset order."""
    round_capital_usd: float = 0.0
    round_spent_usd: float = 0.0
    """This round: the capital it paid in markets where it keeps the collateral (the rest comes back as paid)."""


@dataclass
class _Ranked:
    """One market's eligible accounts in ranking order, with the scratch run's price of each."""

    accounts: np.ndarray
    orig: np.ndarray
    profit: FloatArray
    calls: np.ndarray
    repaid_usd: FloatArray
    pays: FloatArray
    """USD the liquidator pays per USD of debt cleared (1 where it repays the debt itself)."""
    taken: np.ndarray
    global_effects: bool
    keeps: bool
    """The liquidator repays and keeps the seized collateral (no separate costs): its sales are its own."""


def _walk_python(market, calls, usd, free, stops, calls_left, left, take):
    """A population's walk down its ranking (the candidates in ranking order): take each free
    candidate whose calls and cost fit in what is left, skip one that does not (in a market of
    ``stops``, stop taking in that market at the first misfit). Writes ``take``; returns
    (calls of the candidates left, how many were left)."""
    stopped = np.zeros(stops.shape[0], dtype=np.bool_)
    undone = np.zeros(2, dtype=np.int64)
    for c in range(market.shape[0]):
        k = market[c]
        if not free[c] or stopped[k]:
            continue
        if calls[c] <= calls_left and usd[c] <= left:
            take[c] = True
            calls_left -= calls[c]
            left -= usd[c]
            continue
        undone[0] += calls[c]
        undone[1] += 1
        if stops[k]:
            stopped[k] = True
    return undone


_walk = jit_functions({"walk": _walk_python})["walk"]


def _keeps(fc, live: np.ndarray) -> bool:
    """True when the liquidator repays the debt and keeps the seized collateral net of the fee
    (no costs of its own, or costs that say just that: Morpho, Compound v2, Euler)."""
    if fc.costs is None or not live.any():
        return True
    c = fc.costs
    return bool(np.allclose(c.paid[live], fc.repaid[live], rtol=1e-12, atol=0.0)
                and np.allclose(c.received[live], (fc.seized - fc.fee)[live], rtol=1e-12, atol=0.0)
                and not np.any(c.reward_usd[live]))


def _apply(rules, arrays, prices: FloatArray, accounts: np.ndarray, tallies: Tallies, limits):
    """Liquidate ``accounts`` at fixed ``prices`` by the static cascade's own rule: the rules'
    ``sweep`` up to the last of them with every other account masked out (its skipping bound set to
    inf); for rules with global effects or soft liquidation, whose sweep reads no bounds,
    ``liquidate_list`` in account order. Returns each account's calls and debt repaid (USD)."""
    calls0, repaid0 = tallies.acct_calls[accounts].copy(), tallies.acct_repaid_usd[accounts].copy()
    if rules.capabilities.global_effects or rules.capabilities.soft_liquidation:
        rules.liquidate_list(arrays, prices, np.sort(accounts), tallies, limits)
    elif accounts.size:
        last = int(accounts.max()) + 1  # the sweep need not look past the last account asked for
        mask = np.full(last, np.inf)
        mask[accounts] = 0.0
        rules.sweep(arrays, prices, last, tallies, limits, np.zeros(arrays.n_accounts, dtype=np.bool_), mask, 1.0)
    return tallies.acct_calls[accounts] - calls0, tallies.acct_repaid_usd[accounts] - repaid0


class BoundedPass(MarketPass):
    """A :class:`MarketPass` whose round is made by the populations of a :class:`LiquidatorRounds`
    (the first pass of the list runs the round for every market; the others only read it)."""

    def __init__(self, solver: StaticCascade, index: np.ndarray, rounds: "LiquidatorRounds", k: int,
                 trades: bool = False) -> None:
        if solver.settings.strategy != "max_close":
            # bounded populations make max closes in their own order (not planned per account)
            raise ConfigError(solver.model.rules.params.source, "liquidators.strategy",
                              "max_close when the system's liquidators are bounded (calls_per_round, capital_usd)",
                              solver.settings.strategy)
        super().__init__(solver, index, trades)
        self.rounds, self.k = rounds, k

    def advance_round(self, prices: FloatArray) -> FloatArray:
        """The bookkeeping of :meth:`MarketPass.sweep` before it liquidates; returns the
        market's prices."""
        caps = self.solver.model.rules.capabilities
        # a soft-liquidating AMM trades every loan whose bands the price entered, wherever it sits:
        # all rows may change, so all are reset for the next run
        p = self.advance(prices, everyone=caps.global_effects or caps.soft_liquidation)
        self.tallies.reset_assets()
        return p

    def sweep(self, prices: FloatArray, venues=None) -> None:
        if self.k == 0:
            self.rounds.serve(prices)


class LiquidatorRounds:
    """The populations' rounds over one system cascade: chooses, liquidates and keeps the ledgers.
    ``after_trade`` (for :func:`~liqcascade.engine.static.solve_fixed_point`) books each round's
    proceeds back into the balances and hands on to ``then`` (the issued coins' purchases)."""

    def __init__(self, populations: tuple[StaticLiquidators, ...], names: list[str], then=None) -> None:
        own = {p.market: p for p in populations if p.market is not None}
        shared = next((p for p in populations if p.market is None), StaticLiquidators())
        # dedicated populations first, in the order of the markets; then the shared one
        self.order = [own[n] for n in names if n in own] + [shared]
        self.ledgers = {p.name: Ledger(p, p.capital_usd) for p in self.order}
        self.names = names
        self.passes: list[BoundedPass] = []
        self.then = then
        self.prices: FloatArray | None = None
        self.left: list[np.ndarray] = []
        self.soft_calls: list[int] = []

    def markets_of(self, pop: StaticLiquidators) -> list[int]:
        return list(range(len(self.names))) if pop.market is None else [self.names.index(pop.market)]

    def serve(self, prices: FloatArray) -> None:
        """One round: rank every market's eligible accounts, let each population take what fits,
        liquidate those for real and set each pass's counts and sales."""
        self.prices = prices
        self.soft_calls = [0] * len(self.passes)
        ranked = [self._rank(part, part.advance_round(prices)) for part in self.passes]
        for led in self.ledgers.values():
            led.sold, led.round_capital_usd, led.round_spent_usd = {}, 0.0, 0.0
        for pop in self.order:
            self._take(pop, ranked)
        for k, (part, rk) in enumerate(zip(self.passes, ranked)):
            part.touched[rk.accounts] = True  # liquidated, or left eligible
            part.eligible, part.calls = rk.accounts.size + self.soft_calls[k], self.soft_calls[k]
        for pop in self.order:
            self._liquidate(pop, ranked)
        for part in self.passes:
            part.sold = (part.tallies.seized - part.tallies.fee) * part.solver.settings.sell_fraction
        self._left(ranked)

    def _rank(self, part: BoundedPass, p: FloatArray) -> _Ranked:
        rules, solver = part.solver.model.rules, part.solver
        if rules.capabilities.soft_liquidation:
            self._soft(part, p)
        elig = rules.scan(part.arrays, p, part.upto, solver._q, part.cum_bound)
        fc = rules.first_call(part.arrays, p, elig)
        if fc.costs is None:  # the liquidator repays and keeps the seized collateral net of the fee
            received, paid, reward = fc.seized - fc.fee, fc.repaid, np.zeros(elig.size)
        else:
            received, paid, reward = fc.costs.received, fc.costs.paid, fc.costs.reward_usd
        ca, da = np.maximum(fc.collateral_asset, 0), np.maximum(fc.debt_asset, 0)
        live = fc.repaid > 0.0
        profit = np.where(live, received * p[ca] + reward - paid * p[da], -np.inf)
        pays = np.divide(paid, fc.repaid, out=np.zeros(elig.size), where=live)
        # the scratch run: what each account's round would be (its calls and the debt they repay)
        scratch = part.arrays.with_amounts(part.arrays.coll.copy(), part.arrays.debt.copy())
        tal = Tallies.zeros(len(p), part.arrays.n_accounts)
        calls, repaid_usd = _apply(rules, scratch, p, elig, tal, solver.settings.limits)
        # an account the rules do not act on now (Liquity's Recovery Mode with no Stability Pool to
        # offset, crvUSD's loan worth less than its debt) is not a candidate, as in the static sweep
        acted = (calls > 0) | (tal.acct_blocked[elig] > 0)
        acted &= ~(live & (profit < 0.0))
        orig = solver._perm[elig]
        order = np.lexsort((_listing(solver, orig), -profit))
        order = order[acted[order]]
        return _Ranked(elig[order], orig[order], profit[order], calls[order], repaid_usd[order], pays[order],
                       np.full(order.size, -1), rules.capabilities.global_effects, _keeps(fc, live))

    def _soft(self, part: BoundedPass, p: FloatArray) -> None:
        """A soft-liquidating market's own AMM trades to the round's prices first (arbitrageurs,
        not the liquidators: no capital, no calls of theirs); what it sells is sold on with the
        round's sales and counts one call per loan, as in the static sweep."""
        before = part.tallies.acct_calls.sum()
        step = part.solver.model.rules.soft_step(part.arrays, p, part.tallies)
        part.touched[step.accounts] = True
        self.soft_calls[self.passes.index(part)] = int(part.tallies.acct_calls.sum() - before)

    def _take(self, pop: StaticLiquidators, ranked: list[_Ranked]) -> None:
        """Mark in ``taken`` the accounts the population takes this round (its position in ``order``)."""
        led, who = self.ledgers[pop.name], self.order.index(pop)
        mine = [k for k in self.markets_of(pop) if ranked[k].accounts.size]
        if not pop.bounded:  # takes everything left
            for k in mine:
                ranked[k].taken[ranked[k].taken < 0] = who
            return
        ks = np.concatenate([np.full(ranked[k].accounts.size, k) for k in mine]) if mine else np.zeros(0, np.int64)
        js = np.concatenate([np.arange(ranked[k].accounts.size) for k in mine]) if mine else ks
        if not ks.size:
            return
        profit = np.concatenate([ranked[k].profit for k in mine])
        orig = np.concatenate([_listing(self.passes[k].solver, ranked[k].orig) for k in mine])
        # one ranking across its markets: profit, then market order, then the book's listing order
        walk = np.lexsort((orig, ks, -profit))
        calls = np.concatenate([ranked[k].calls for k in mine])[walk]
        usd = np.concatenate([ranked[k].repaid_usd * ranked[k].pays for k in mine])[walk]
        free = np.concatenate([ranked[k].taken < 0 for k in mine])[walk]
        stops = np.array([ranked[k].global_effects for k in range(len(ranked))], dtype=np.bool_)
        take = np.zeros(walk.size, dtype=np.bool_)
        undone = _walk(ks[walk], calls.astype(np.int64), usd, free, stops,
                       float(pop.calls_per_round), float(min(led.balance_usd, 1e308)), take)
        hit = walk[take]
        for k in mine:
            mk = hit[ks[hit] == k]
            ranked[k].taken[js[mk]] = who
        led.calls_left_undone += int(undone[0])
        led.rounds_bound += int(undone[1] > 0)

    def _liquidate(self, pop: StaticLiquidators, ranked: list[_Ranked]) -> None:
        """The population's accounts liquidated for real, market by market, in ranking order."""
        led, who = self.ledgers[pop.name], self.order.index(pop)
        p = self.prices
        for k in self.markets_of(pop):
            part, rk = self.passes[k], ranked[k]
            accounts = rk.accounts[rk.taken == who]
            if not accounts.size:
                continue
            t = part.tallies
            before = t.seized - t.fee
            calls, repaid_usd = _apply(part.solver.model.rules, part.arrays, p[part.index], accounts, t,
                                       part.solver.settings.limits)
            capital = float((repaid_usd * rk.pays[rk.taken == who]).sum())
            if rk.keeps:  # its sales are its own: their proceeds come back to it
                led.sold[k] = (t.seized - t.fee - before) * part.solver.settings.sell_fraction
                led.round_spent_usd += capital
            part.calls += int(calls.sum())
            led.calls += int(calls.sum())
            led.accounts_taken += int((calls > 0).sum())
            led.debt_repaid_usd += float(repaid_usd.sum())
            led.round_capital_usd += capital
        led.capital_used_usd += led.round_capital_usd
        led.peak_round_usd = max(led.peak_round_usd, led.round_capital_usd)

    def _left(self, ranked: list[_Ranked]) -> None:
        """Per market, the eligible accounts nobody took this round (the last round's are kept)."""
        self.left = [rk.accounts[rk.taken < 0] for rk in ranked]

    def finish(self) -> None:
        """After the cascade: per population, the accounts of its markets left eligible in the last
        round, their debt and their debt above collateral at that round's prices."""
        per_market = []
        for part, left in zip(self.passes, self.left):
            hv = part.solver.model.rules.health(part.arrays, self.prices[part.index], left)
            per_market.append((left.size, float(hv.debt_usd.sum()),
                               float(np.clip(hv.debt_usd - hv.collateral_usd, 0.0, None).sum())))
        for pop in self.order:
            led = self.ledgers[pop.name]
            mine = [per_market[k] for k in self.markets_of(pop)]
            led.accounts_left = sum(m[0] for m in mine)
            led.debt_left_usd = sum(m[1] for m in mine)
            led.shortfall_left_usd = sum(m[2] for m in mine)

    def __call__(self, live, trade: VenueRound) -> list[VenueRound]:
        """After the round's sales: each population's proceeds (its pro-rata share of each venue's,
        at the round's price where an asset has no venue) come back into its balance."""
        p = self.prices
        with np.errstate(invalid="ignore", divide="ignore"):
            per_token = np.where(trade.has_venue & (trade.sold > 0.0), trade.proceeds / trade.sold, p)
        for led in self.ledgers.values():
            proceeds = sum(float((sold * per_token[self.passes[k].index]).sum()) for k, sold in led.sold.items())
            led.proceeds_usd += proceeds
            led.balance_usd += proceeds - led.round_spent_usd
        if self.then is not None:
            return self.then(live, trade)
        return [trade] * len(self.passes)


LEDGER_COLUMNS = (
    "liquidator", "market", "calls_per_round", "capital_usd", "accounts_taken", "liquidation_calls",
    "debt_repaid_usd", "capital_used_usd", "peak_round_capital_usd", "proceeds_usd", "balance_end_usd",
    "rounds_bound",
    "calls_left_undone", "accounts_left_eligible", "debt_left_eligible_usd", "shortfall_left_usd",
)
"""Columns of the ``liquidators`` table of a static system run."""


def ledger_row(led: Ledger) -> dict[str, object]:
    """One population's row of the ``liquidators`` table (``market`` * for the shared one)."""
    pop = led.population
    return dict(zip(LEDGER_COLUMNS, (
        pop.name, "*" if pop.market is None else pop.market, float(pop.calls_per_round), float(pop.capital_usd),
        led.accounts_taken, led.calls, led.debt_repaid_usd, led.capital_used_usd, led.peak_round_usd,
        led.proceeds_usd, led.balance_usd, led.rounds_bound, led.calls_left_undone,
        led.accounts_left, led.debt_left_usd, led.shortfall_left_usd,
    )))


def _listing(solver, orig: np.ndarray) -> np.ndarray:
    """The accounts ``orig`` (original indexes) as places in the order their book lists them: the
    index itself, or for a book in health order its source's order (``PositionBook.output_rank``),
    so that ties fall as for that book."""
    rank = solver.model.book.output_rank
    return orig if rank is None else rank[orig]
