"""The perp engine: one step per mark-price update on a :class:`~liqcascade.model.perps.PerpBook`.

Each step (:func:`step`), at the step's mark prices and cumulative funding indices:

1. **screen** -- the accounts below maintenance (:func:`below_maintenance`): a compiled check
   on the accounts the :class:`~liqcascade.engine.perps_screen.MarginScreen` cannot rule
   out, for an engine that declares ``linear_maintenance``; the engine's own ``margin`` and
   ``liquidatable`` over the whole book otherwise;
2. **funding** -- those accounts settle the funding they owe into collateral (as dYdX does
   on every subaccount update; the others keep owing it, which their equity already counts);
3. **orders** -- the margin engine's liquidation orders;
4. **execution** -- each order walks its market's venue (:class:`PerpVenue`) down to its
   worst price, in row order (a venue with a depth profile in one compiled walk per
   market, :func:`execute`); a backstop order fills at the mark;
5. **settle** -- the engine's collateral changes and insurance-fund delta. An account whose
   fills would leave a deficit the fund cannot cover is taken out of the round and the rest
   re-executed (dYdX refuses such a match); an engine declaring ``fund_takeover`` re-executes
   it no worse than its bankruptcy price instead;
6. **the fund takes over** -- for an engine declaring ``fund_holds_positions`` (with a limit
   above 0), what an account left with negative equity still holds goes to the insurance
   fund's own position at its bankruptcy price, within the fund's net notional limit per
   market (:func:`fund_takeover`); the fund sells it on the book in later steps, before the
   screen, at the engine's unwind rate (:func:`unwind_fund`), its PnL going to its balance;
7. **deleveraging** -- an account left with negative equity and open positions (refused,
   or the venue ran out within its worst price) is deleveraged: the ADL policy (default: the margin engine's own, dYdX's
   :class:`~liqcascade.protocols.dydx_v4.rules.DydxDeleveraging`) closes its positions
   against other accounts, outside the venue.

Money is conserved at every step (``tests/engine/test_perps.py``): at the step's marks,
``Δ Σ equity + Δ fund + Δ outside − Δ socialised = 0`` where *outside* is what the venues'
and backstop's counterparties gained against the mark and *socialised* the deficits no
round could place (written off, kept in the record); *fund* counts the fund's own positions
at the mark (:attr:`PerpStepRecord.fund_unrealised`). Those positions pay no funding.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Protocol, Sequence

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.perps_kernels import walk_orders
from liqcascade.engine.perps_screen import MarginScreen
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.dydx_v4.rules import DydxDeleveraging
from liqcascade.protocols.perps_base import (
    BACKSTOP, AdlCloses, AdlPolicy, Fills, LiquidationOrders, MarginEngine,
)
from liqcascade.protocols.perps_fund import FundHolding, FundPosition, fund_trade, takeover_fraction

__all__ = ["PerpVenue", "PerpState", "PerpStepRecord", "PerpRun", "fund_takeover", "step", "run", "start", "unwind_fund"]

MAX_ROUNDS = 3
"""Rounds of re-execution after refusing accounts whose deficit the fund cannot cover."""


class PerpVenue(Protocol):
    """What the perp engine needs of a venue (``markets/orderbook.py``'s OrderBookVenue has
    this shape): immutable, each trade returns the venue after it."""

    def sell(self, amount: float) -> tuple[float, "PerpVenue"]: ...
    def buy(self, amount: float) -> tuple[float, "PerpVenue"]: ...
    def mid_price(self) -> float: ...


@dataclass
class PerpState:
    """The run's state between steps. The book's arrays belong to the run (a closed position
    keeps its row with size 0); everything else is replaced, never shared."""

    book: PerpBook
    funding: FloatArray
    fund: float
    venues: list
    screen: MarginScreen | None = None
    outside: float = 0.0
    socialised: float = 0.0
    step: int = 0
    held: tuple[FundPosition, ...] = ()
    """The insurance fund's own position per market (``fund_holds_positions``)."""
    fund_took: FloatArray | None = None
    """Per position of the book, the size the fund has taken over so far (None until it takes any)."""
    step_seconds: float = 60.0
    """The time a step stands for: the fund's unwind budget per step is its rate per minute times this / 60."""

    def fund_unrealised(self, mark: FloatArray) -> float:
        """The fund's positions' PnL at ``mark`` against their entry prices."""
        return float(sum(h.size * (float(m) - h.entry) for h, m in zip(self.held, mark)))


@dataclass(frozen=True)
class PerpStepRecord:
    """One step's numbers (USD at the step's marks): the notional closed on the venues and
    by deleveraging (the deficit side), the insurance fund after the step, how many
    accounts were below maintenance and how many of those had negative equity, and the
    deficits written off so far."""

    step: int
    liquidated_notional: float
    adl_notional: float
    fund_balance: float
    negative_equity_accounts: int
    accounts_liquidated: int
    socialised: float
    fund_taken_notional: float = 0.0
    """Notional at the mark the fund took over from bankrupt accounts in the step."""
    fund_unwound_notional: float = 0.0
    """Notional at the mark the fund sold (bought back) on the book in the step."""
    fund_position_notional: float = 0.0
    """The fund's positions after the step, Σ |size| · mark."""
    fund_unrealised: float = 0.0
    """Their PnL at the mark against their entry prices (the fund's balance does not count it)."""


@dataclass(frozen=True)
class PerpRun:
    state: PerpState
    records: list[PerpStepRecord] = field(default_factory=list)

    def table(self) -> dict[str, np.ndarray]:
        """The step records as columns."""
        names = PerpStepRecord.__dataclass_fields__
        return {n: np.array([getattr(r, n) for r in self.records]) for n in names}


# ---------------------------------------------------------------------- set-up
def start(book: PerpBook, engine: MarginEngine, mark: FloatArray, venues: Sequence, fund: float = 0.0,
          funding: FloatArray | None = None, step_seconds: float = 60.0) -> PerpState:
    """A run's first state: the run gets its own copy of the book's mutable columns; the fund holds nothing."""
    own = replace(book, size=book.size.copy(), collateral=book.collateral.copy(),
                  funding_index=book.funding_index.copy())
    f = np.zeros(len(book.markets)) if funding is None else np.asarray(funding, dtype=np.float64).copy()
    screen = None
    if engine.capabilities.linear_maintenance:
        screen = MarginScreen(own, engine.maintenance_rate(book.markets), np.asarray(mark, dtype=np.float64), f)
    held = tuple(FundPosition() for _ in book.markets)
    return PerpState(own, f, float(fund), list(venues), screen, held=held, step_seconds=float(step_seconds))


# ---------------------------------------------------------------------- the steps
def below_maintenance(engine: MarginEngine, state: PerpState, mark: FloatArray) -> IntArray:
    """Sorted dense indices of the accounts to liquidate now."""
    if state.screen is not None:
        return state.screen.below_maintenance(state.book, mark, state.funding).accounts
    book = state.book
    return np.flatnonzero(engine.liquidatable(book, engine.margin(book, mark, state.funding)))


def settle_funding(state: PerpState, accounts: IntArray, sub: PerpBook | None = None,
                   pos: IntArray | None = None) -> None:
    """The funding ``accounts`` owe moves into their collateral; their positions' indices
    move to the current ones (their equity is unchanged). ``sub, pos``, if given, are
    ``book.subset(accounts)``: settled the same way, they stay that subset."""
    book = state.book
    mine = sub is not None
    if not mine:
        sub, pos = book.subset(accounts)
    owed = sub.per_account(sub.size * (state.funding[sub.market] - sub.funding_index))
    book.collateral[np.asarray(accounts, dtype=np.int64)] -= owed
    book.funding_index[pos] = state.funding[sub.market]
    if mine:
        sub.collateral[:] = book.collateral[np.asarray(accounts, dtype=np.int64)]
        sub.funding_index[:] = book.funding_index[pos]


def _fill_one(venue, close: float, worst: float) -> tuple[float, float, object]:
    """Fill up to ``close`` (signed, < 0 sells) on ``venue`` with an average price no worse
    than ``worst``; the average falls (sells) or rises (buys) with the amount, so the
    largest acceptable amount is found by bisection. Returns (filled, average, venue)."""
    trade = venue.sell if close < 0 else venue.buy
    sign = -1.0 if close < 0 else 1.0

    def ok(q: float) -> bool:
        avg = trade(q)[0] / q
        return np.isnan(worst) or (avg >= worst if close < 0 else avg <= worst)

    q = abs(close)
    if not ok(q):
        lo, hi = 0.0, q
        for _ in range(30):  # 2^-30 of the order: finer than any venue's lot
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        q = lo
    if q <= 0.0:
        return 0.0, np.nan, venue
    cash, after = trade(q)
    return sign * q, cash / q, after


def execute(orders: LiquidationOrders, book: PerpBook, venues: list, mark: FloatArray) -> tuple[Fills, list]:
    """Execute the orders row by row on their markets' venues (backstop rows at the mark).

    A venue with ``depth_segments()`` and ``with_net_sold(q)`` (``OrderBookVenue``,
    ``PerpOrderBookVenue``) is walked by the compiled :func:`~liqcascade.engine.perps_kernels.walk_orders`
    (:func:`_fill_one`'s rule, except that an order whose first unit is already past its
    bound fills nothing, where the bisection may let a sliver through on rounding); any
    other venue by :func:`_fill_one`, trade by trade. A venue's ``dust_trade_usd`` (the
    execution layer's dust guard) prices the walk's trades below it at the mid. Markets are
    independent, so each is walked on its own, in row order."""
    venues = list(venues)
    close = np.asarray(orders.close, dtype=np.float64)
    filled = np.zeros(close.shape[0])
    price = np.full(close.shape[0], np.nan)
    market = book.market[orders.position]
    backstop = orders.route == BACKSTOP
    filled[backstop], price[backstop] = close[backstop], np.asarray(mark, dtype=np.float64)[market[backstop]]
    for k in np.unique(market[~backstop]):
        rows = np.flatnonzero((market == k) & ~backstop)
        if hasattr(venues[k], "depth_segments") and hasattr(venues[k], "with_net_sold"):
            walked = _walk_profile(venues[k], close[rows], orders.worst_price[rows])
            filled[rows], price[rows], venues[k] = walked
            continue
        for r in rows:
            worst = float(orders.worst_price[r])
            filled[r], price[r], venues[k] = _fill_one(venues[k], float(close[r]), worst)
    return Fills(filled, price), venues


def _walk_profile(venue, close: FloatArray, worst: FloatArray) -> tuple[FloatArray, FloatArray, object]:
    """(filled, average price, venue after) of one market's orders walked by the compiled kernel."""
    d = venue.depth_segments()
    filled, price = np.empty(close.shape[0]), np.empty(close.shape[0])
    net_sold = walk_orders(d.bid_start, d.bid_notional, d.bid_density, d.ask_start, d.ask_notional,
                           d.ask_density, float(d.reference_price), float(d.net_sold), np.ascontiguousarray(close),
                           np.ascontiguousarray(worst, dtype=np.float64), filled, price,
                           float(getattr(venue, "dust_trade_usd", 0.0)))
    return filled, price, (venue if net_sold == d.net_sold else venue.with_net_sold(net_sold))


def _rows_of(orders: LiquidationOrders, keep: np.ndarray) -> LiquidationOrders:
    return LiquidationOrders(orders.position[keep], orders.close[keep], orders.worst_price[keep],
                             orders.bankruptcy_price[keep], orders.route[keep])


@dataclass(frozen=True)
class _Round:
    """One liquidation round on the sub-book of the accounts being liquidated."""

    orders: LiquidationOrders
    fills: Fills
    venues: list
    collateral_change: FloatArray
    fund_delta: float
    left_deficit: FloatArray


def _next_round(engine: MarginEngine, orders: LiquidationOrders, row_account: IntArray, bad: IntArray,
                last: bool) -> LiquidationOrders:
    """The orders without the ``bad`` accounts' rows. An engine that declares
    ``fund_takeover`` keeps a bad account whose rows went beyond its bankruptcy price, bound at
    that price (the fund no longer pays for it; what the venue cannot take there is deleveraged);
    for the ``last`` round it bounds every row so, as the fees feeding the fund change from
    round to round and can leave another account short."""
    hit = np.isin(row_account, bad)
    if not engine.capabilities.fund_takeover:
        return _rows_of(orders, ~hit)
    beyond_row = orders.worst_price != orders.bankruptcy_price
    beyond = np.unique(row_account[hit & beyond_row])
    bound = (hit | beyond_row) if last else hit
    bounded = replace(orders, worst_price=np.where(bound, orders.bankruptcy_price, orders.worst_price))
    return _rows_of(bounded, ~(hit & ~np.isin(row_account, beyond)))


def liquidate(engine: MarginEngine, sub: PerpBook, state: PerpState, mark: FloatArray) -> _Round:
    """Orders, execution and settlement for every account of ``sub``; accounts whose
    deficit the fund cannot cover are refused (or bounded, :func:`_next_round`) and the rest
    re-executed on the untouched venues, at most :data:`MAX_ROUNDS` times."""
    orders = engine.orders(sub, engine.margin(sub, mark, state.funding), mark, np.arange(sub.n_accounts))
    for i in range(MAX_ROUNDS):
        fills, venues = execute(orders, sub, state.venues, mark)
        s = engine.settle(sub, orders, fills, state.fund)
        bad = np.flatnonzero(s.deficit > 0.0)
        if not bad.size or i == MAX_ROUNDS - 1:
            break  # a deficit left after the last round is written off by apply_round
        orders = _next_round(engine, orders, sub.account[orders.position], bad, last=i == MAX_ROUNDS - 2)
    return _Round(orders, fills, venues, s.collateral_change, s.fund_delta, s.deficit)


def apply_round(state: PerpState, accounts: IntArray, pos: IntArray, rnd: _Round, mark: FloatArray) -> float:
    """Book the round (``pos`` maps the sub-book's positions to the book's): sizes,
    collateral, fund, the venues and what the counterparties gained against the mark; a
    deficit left after the last round is written off (socialised). Returns the liquidated
    notional at the mark."""
    book = state.book
    p, f, price = rnd.orders.position, rnd.fills.filled, rnd.fills.average_price
    done = f != 0.0
    np.add.at(book.size, pos[p[done]], f[done])
    left = rnd.left_deficit
    book.collateral[accounts] += rnd.collateral_change + left
    state.socialised += float(left.sum())
    state.fund += rnd.fund_delta
    state.venues = rnd.venues
    m = np.asarray(mark, dtype=np.float64)[book.market[pos[p[done]]]]
    state.outside += float((-f[done] * (m - price[done])).sum())
    return float((np.abs(f[done]) * m).sum())


def _changed(sub: PerpBook, rnd: _Round) -> np.ndarray:
    """Per account of ``sub``: did the round fill any of its orders or move its collateral?"""
    filled = rnd.fills.filled != 0.0
    hit = np.zeros(sub.n_accounts, dtype=bool)
    hit[sub.account[rnd.orders.position[filled]]] = True
    return hit | (rnd.collateral_change != 0.0) | (rnd.left_deficit != 0.0)


def as_closes(result, book: PerpBook, deficit: FloatArray) -> AdlCloses:
    """A policy answers with :class:`AdlCloses` rows (both sides), or, as
    ``protocols/perps_adl.py``'s AdlOutcome, with per-position ``close`` and ``price`` of the
    counterparties only. Then, per market and side, the deficit accounts' positions close
    the matched amount pro rata to their sizes at the counterparties' average price, so the
    rows move money between accounts only; counterparties' closes beyond what the deficit
    side holds (a queue's overshoot) are cut pro rata. Per account, the deficit is then
    covered on average, not exactly: :func:`liqcascade.protocols.perps_adl.policy` returns
    exact :class:`AdlCloses` instead."""
    if isinstance(result, AdlCloses):
        return result
    close = np.array(result.close, dtype=np.float64)  # a copy: an overshoot is cut below
    price = np.asarray(result.price, dtype=np.float64)
    rows = [np.flatnonzero(close != 0.0)]
    extra_close, extra_price = [], []
    bankrupt = (np.asarray(deficit)[book.account] > 0.0) & (book.size != 0.0)
    for k in range(len(book.markets)):
        for sign in (1.0, -1.0):  # bankrupt longs meet counterparties buying (close > 0)
            mine = np.flatnonzero(bankrupt & (book.market == k) & (np.sign(book.size) == sign))
            theirs = np.flatnonzero((book.market == k) & (np.sign(close) == sign) & ~bankrupt)
            matched = float(close[theirs].sum())
            if not mine.size or matched == 0.0:
                continue
            held = float(np.abs(book.size[mine]).sum())
            if abs(matched) > held:  # a queue's overshoot has no bankrupt side to trade with: cut it
                close[theirs] *= held / abs(matched)
                matched = float(close[theirs].sum())
            share = matched / float(book.size[mine].sum())
            rows.append(mine)
            extra_close.append(-book.size[mine] * share)
            extra_price.append(np.full(mine.size, float((close[theirs] * price[theirs]).sum()) / matched))
    pos = np.concatenate(rows)
    base = rows[0]
    return AdlCloses(pos.astype(np.int64), np.concatenate([close[base], *extra_close]),
                     np.concatenate([price[base], *extra_price]))


def deleverage(state: PerpState, policy: AdlPolicy, accounts: IntArray, mark: FloatArray) -> float:
    """dYdX deleverages an account the liquidation left with negative equity and open
    positions: those of ``accounts`` go to ``policy`` with their negative equity as the
    deficit. Returns the notional of the deficit side at the mark."""
    book = state.book
    sub, _ = book.subset(accounts)
    eq = sub.equity(mark, state.funding)
    bad = (eq < 0.0) & (sub.per_account(np.abs(sub.size)) > 0.0)
    if not np.any(bad):
        return 0.0
    deficit = np.zeros(book.n_accounts)
    deficit[np.asarray(accounts)[bad]] = -eq[bad]
    closes = as_closes(policy(book, deficit, mark), book, deficit)
    if not closes.position.size:
        return 0.0
    pos = closes.position
    touched = np.unique(book.account[pos])
    settle_funding(state, touched)
    np.add.at(book.collateral, book.account[pos], -closes.close * (closes.price - book.entry_price[pos]))
    np.add.at(book.size, pos, closes.close)
    if state.screen is not None:
        state.screen.touch(touched)
    m = np.asarray(mark, dtype=np.float64)[book.market[pos]]
    return float((np.abs(closes.close) * m)[deficit[book.account[pos]] > 0.0].sum())


def fund_holding(engine: MarginEngine) -> FundHolding | None:
    """The engine's :class:`FundHolding` if its fund holds positions (declared, with a limit above 0)."""
    caps = engine.capabilities
    if not (caps.fund_holds_positions and caps.fund_takeover):
        return None
    h = engine.fund_holding()
    return h if h.limit > 0 else None


def _fund_pnl(state: PerpState, realised: float) -> None:
    """The fund's realised PnL to its balance; a loss beyond the balance is written off
    (socialised), as a deficit no one covers: the balance never goes below 0."""
    state.fund += realised
    if state.fund < 0.0:
        state.socialised -= state.fund
        state.fund = 0.0


def unwind_fund(state: PerpState, holding: FundHolding, mark: FloatArray) -> float:
    """The fund offloads its positions on the book: per market, at most
    ``unwind_usd_per_minute · step_seconds / 60`` of notional at the mark, at whatever price the
    venue gives (a market order: Binance does not publish its algorithm). Returns the notional
    sold (bought back) at the mark."""
    budget = holding.unwind_usd_per_minute * state.step_seconds / 60.0
    held, venues = list(state.held), list(state.venues)
    total = 0.0
    for k, h in enumerate(held):
        if h.size == 0.0:
            continue
        q = min(abs(h.size), budget / float(mark[k]))
        filled, price, venues[k] = _fill_one(venues[k], float(-np.sign(h.size) * q), np.nan)
        filled, price = float(filled), float(price)
        if filled == 0.0:
            continue
        t = fund_trade(h, filled, price)
        held[k] = t.position
        _fund_pnl(state, t.realised)
        state.outside += -filled * (float(mark[k]) - price)
        total += abs(filled) * float(mark[k])
    state.held, state.venues = tuple(held), venues
    return total


def fund_takeover(state: PerpState, holding: FundHolding, accounts: IntArray, mark: FloatArray) -> float:
    """Binance's fund takes over what an account left with negative equity still holds: each
    position at its bankruptcy price ``mark + d·w / size`` (``d`` the account's deficit, ``w``
    the position's share of its notional, so closing all of them there leaves the account at
    zero), the same fraction of every such position of a market, as much as keeps the fund's
    net notional there within ``limit ×`` its balance (:func:`takeover_fraction`). What is left
    (the same fraction of the deficit) is deleveraged as before. Returns the notional taken at
    the mark."""
    book = state.book
    sub, pos = book.subset(accounts)
    eq = sub.equity(mark, state.funding)
    usd = np.abs(sub.size) * mark[sub.market]
    open_usd = sub.per_account(usd)
    rows = np.flatnonzero(((eq < 0.0) & (open_usd > 0.0))[sub.account] & (sub.size != 0.0))
    if not rows.size:
        return 0.0
    a, k, size = sub.account[rows], sub.market[rows], sub.size[rows]
    price = mark[k] + (-eq[a]) * (usd[rows] / open_usd[a]) / size
    phi = np.ones(rows.size)
    held = list(state.held) or [FundPosition() for _ in book.markets]  # a state not made by start()
    limit = holding.limit * state.fund
    for j in np.unique(k):
        phi[k == j] = takeover_fraction(held[j].size, float(size[k == j].sum()), float(mark[j]), limit)
    take = phi * size
    for j in np.unique(k):
        for side in (take > 0.0, take < 0.0):  # each side at its own average price
            r = (k == j) & side
            if np.any(r):
                t = fund_trade(held[j], float(take[r].sum()), float((take[r] * price[r]).sum() / take[r].sum()))
                held[j] = t.position
                _fund_pnl(state, t.realised)
    state.held = tuple(held)
    bp = pos[rows]
    np.add.at(book.collateral, book.account[bp], take * (price - book.entry_price[bp]))
    np.add.at(book.size, bp, -take)
    if state.fund_took is None:
        state.fund_took = np.zeros(book.n_positions)
    np.add.at(state.fund_took, bp, take)
    if state.screen is not None:
        state.screen.touch(np.unique(np.asarray(accounts)[a]))
    return float((np.abs(take) * mark[k]).sum())


def step(engine: MarginEngine, state: PerpState, mark: FloatArray, funding: FloatArray | None,
         policy: AdlPolicy, recentre: Callable | None = None) -> PerpStepRecord:
    """Advance ``state`` by one step at ``mark`` (and cumulative ``funding``, per market)."""
    mark = np.asarray(mark, dtype=np.float64)
    if funding is not None:
        state.funding = np.asarray(funding, dtype=np.float64).copy()
    if recentre is not None:
        state.venues = [recentre(v, float(m)) for v, m in zip(state.venues, mark)]
    holding = fund_holding(engine)
    unwound = taken = 0.0
    if holding is not None:
        unwound = unwind_fund(state, holding, mark)
    accounts = below_maintenance(engine, state, mark)
    liquidated = adl = 0.0
    n_neg = 0
    if accounts.size:
        sub, pos = state.book.subset(accounts)
        settle_funding(state, accounts, sub, pos)
        negative = sub.equity(mark) < 0.0
        n_neg = int(np.count_nonzero(negative))
        rnd = liquidate(engine, sub, state, mark)
        liquidated = apply_round(state, accounts, pos, rnd, mark)
        # an account the round left as it was (no fill, no money) keeps its equity and its
        # place in the screen: only the others are re-ranked, and deleveraging needs only
        # them and those already below zero (funding settled moves no equity)
        changed = _changed(sub, rnd)
        if state.screen is not None:
            state.screen.touch(accounts[changed])
        if holding is not None:
            taken = fund_takeover(state, holding, accounts[changed | negative], mark)
        adl = deleverage(state, policy, accounts[changed | negative], mark)
    state.step += 1
    held = float(sum(abs(h.size) * float(m) for h, m in zip(state.held, mark)))
    return PerpStepRecord(state.step, liquidated, adl, state.fund, n_neg, int(accounts.size), state.socialised,
                          taken, unwound, held, state.fund_unrealised(mark))


def run(engine: MarginEngine, book: PerpBook, marks: FloatArray, venues: Sequence, *, fund: float = 0.0,
        funding: FloatArray | None = None, policy: AdlPolicy | None = None, seed: int = 0,
        recentre: Callable | None = None, step_seconds: float = 60.0) -> PerpRun:
    """Run ``marks`` (steps × markets) and, optionally, cumulative ``funding`` (same shape).

    ``policy`` defaults to dYdX's deleveraging (at the engine's bankruptcy prices, from a
    start drawn with ``seed``); ``recentre(venue, mark)``, if
    given, re-centres each venue at its market's mark before a step; ``step_seconds`` is the
    time a step stands for (the fund's unwind rate is per minute)."""
    marks = np.atleast_2d(np.asarray(marks, dtype=np.float64))
    f0 = None if funding is None else np.asarray(funding, dtype=np.float64)[0]
    state = start(book, engine, marks[0], venues, fund, f0, step_seconds)
    adl = policy if policy is not None else DydxDeleveraging(engine, seed)
    records = [step(engine, state, marks[t], None if funding is None else funding[t], adl, recentre)
               for t in range(marks.shape[0])]
    return PerpRun(state, records)
