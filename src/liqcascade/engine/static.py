"""The static cascade: the liquidation loop collapsed to one instant.

From an initial shock, repeat: find the accounts below HF 1 at current prices,
liquidate them under the protocol's rules (unbounded liquidators, oracle = market),
sell what the liquidators received through each asset's venue, and take the venue's
marginal price after the sale as the new price. Stop when no account is eligible (the
fixed point). The fixed point over a range of shocks is the cascade curve
(:func:`liqcascade.engine.run.cascade_curve`).

Only accounts that can be below HF 1 are looked at. With prices at ``f_a`` times the
reference prices, an account's HF is at least ``HF0 * min(f) / max(f)`` (HF0 at the
reference prices): every collateral term scales by at least ``min(f)`` and every debt
term by at most ``max(f)``. The solver therefore keeps its working copy of the book
sorted by HF0, and each round looks only at the prefix with ``HF0 < max(f) / min(f)``.
The bound is taken as a running maximum, so the prefix only grows and every account
ever liquidated stays inside it, whichever way prices move (a rising debt price with
``buy_debt``, a negative shock). Within the prefix, the same bound applied round to round
(from the prices at which an account was last checked) lets the sweep skip an account
after reading one number instead of its rows. Both skip only accounts that cannot be
eligible (with a 1e-12 relative margin so float rounding at the boundary cannot skip
one): they are exact, not heuristics, and a property test checks them against a
brute-force run that skips nothing.

A solver sorts only what its runs can reach: the accounts with HF0 below a round's bound (and a
margin, ``SORT_AHEAD``), more of them when a later bound passes that. Only the sorted accounts'
rows are gathered into the working book, after the prefix it has; the others stay in the
prepared book, in their order, until a bound reaches them (:class:`SortedBook`, :class:`RowRoom`).
The sorted accounts are the front of the full stable sort, rows and all, so the numbers are those
of a book sorted at once, bit for bit (tested).
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.engine.flow_replay import order_of_distinct
from liqcascade.engine.kernels import gather_rows, row_numbers, row_spans
from liqcascade.engine.strategies import STRATEGIES
from liqcascade.errors import ConfigError, DataError
from liqcascade.markets.base import Venue
from liqcascade.model import PositionBook, account_dtype
from liqcascade.protocols.base import BookArrays, HealthView, LiquidationLimits, LiquidationRules, Tallies
from liqcascade.protocols.flows import N_FLOWS

if TYPE_CHECKING:  # pandas only for the accounts table: a run that asks for no table does not load it
    import pandas as pd

SKIP_MARGIN = 1.0 + 1e-12
SORT_AHEAD = 1.05
"""A solver's sorting goes this factor beyond the bound that asked for it, so that a cascade whose
prices fall a little further than the shock stays inside what was sorted. A sorting gathers only
the accounts it adds, so a small step costs what it sorts plus a pass over the per-account order
(on the core benchmark's 1M-account book, -30 % deep: 59 % of the accounts sorted for the 57 % the
cascade reaches, against 71 % with 1.25)."""


@dataclass(frozen=True)
class CascadeSettings:
    """Knobs of the static solver (defaults are what the CLI uses)."""

    max_rounds: int = 1000
    limits: LiquidationLimits = LiquidationLimits()
    sell_fraction: float = 1.0
    """Share of the collateral a liquidator receives that it sells at once (the rest it holds)."""
    buy_debt: bool = False
    """Liquidators buy the debt they repay through the debt asset's venue (moves its price up)."""
    impact: bool = True
    """False: venues are ignored and prices stay at the shocked level (the no-feedback case)."""
    strategy: str = "max_close"
    """The liquidators' strategy (``engine/strategies.py``): ``max_close`` the most the protocol
    allows, until the account is healthy (the rules' fused sweep); ``two_step`` and ``profit_max``
    plan each eligible account's calls at the round's prices (:meth:`MarketPass.sweep`). They need
    rules whose liquidator chooses the amount (``capabilities.capped_calls``)."""


@dataclass(frozen=True)
class MarketModel:
    """Everything the static engine needs about one lending market."""

    book: PositionBook
    rules: LiquidationRules
    prices: FloatArray
    """Reference (pre-shock) USD prices, indexed like ``book.assets``."""
    venues: Mapping[str, Venue] = field(default_factory=dict)
    """Venue (or router) per asset symbol; an asset without one has no price impact."""

    def __post_init__(self) -> None:
        p = np.asarray(self.prices, dtype=np.float64)
        if p.shape != (len(self.book.assets),):
            raise ConfigError("<market>", "prices", f"one price per asset ({len(self.book.assets)})", p.shape)
        bad = np.flatnonzero(~np.isfinite(p) | (p <= 0))
        if bad.size:
            raise ConfigError("<market>", f"prices.{self.book.assets[bad[0]]}", "a finite price > 0", float(p[bad[0]]))
        for a in self.venues:
            if a not in self.book.assets:
                raise ConfigError("<market>", f"venues.{a}", f"an asset of the market {list(self.book.assets)}", a)
        b = self.book
        with np.errstate(over="ignore", invalid="ignore"):
            value = (b.collateral + b.debt) * p[b.asset]
        bad_rows = np.flatnonzero(~np.isfinite(value))
        if bad_rows.size:
            r = int(bad_rows[0])
            raise DataError(
                "MarketModel.book", r + 1,  # a book built in Python (files are checked at their rows on loading)
                f"account {b.account_ids[b.account[r]]!r}, asset {b.assets[b.asset[r]]}: amount times price is not "
                "a finite USD value (amount too large?)",
            )

    @property
    def assets(self) -> tuple[str, ...]:
        return self.book.assets

    def shock_vector(self, shocks: Mapping[str, float], source: str = "<shock>") -> FloatArray:
        """Per-asset fractional drops (0.3 = -30 %) as an array; unknown assets are errors."""
        return shock_vector(self.assets, shocks, source)


def shock_vector(assets: tuple[str, ...], shocks: Mapping[str, float], source: str = "<shock>") -> FloatArray:
    """Per-asset fractional drops over ``assets`` (0.3 = -30 %; negative = rise) as an
    array; an unknown asset or a drop outside (-10, 1) is an error naming ``source``."""
    s = np.zeros(len(assets))
    for a, v in shocks.items():
        if a not in assets:
            raise ConfigError(source, f"shock.{a}", f"an asset of the market {list(assets)}", a)
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise ConfigError(source, f"shock.{a}", "a number", v) from None
        if not np.isfinite(v) or not (-10.0 < v < 1.0):
            raise ConfigError(source, f"shock.{a}", "a fractional drop below 1 (0.3 = -30 %; negative = rise)", v)
        s[assets.index(a)] = v
    return s


@dataclass(frozen=True)
class CascadeOutcome:
    """Raw end state of one cascade (arrays; :class:`CascadeResult` turns it into tables)."""

    shocks: FloatArray
    prices0: FloatArray
    prices_shocked: FloatArray
    prices_final: FloatArray
    rounds: int
    converged: bool
    stuck: bool
    totals: dict[str, FloatArray]
    round_rows: list[dict[str, object]]
    working: BookArrays
    """The end-of-run working book: the rows of the accounts the solver had sorted, the first
    ``working.n_accounts`` working positions (every account a round looked at); the others are
    untouched. :attr:`arrays` is the whole book."""
    tallies: Tallies
    touched: np.ndarray
    bad_debt_before_usd: float
    account_order: np.ndarray
    """Working order of accounts: position ``j`` of ``arrays``/``tallies``/``touched`` is
    original account ``account_order[j]`` (the solver sorts accounts by pre-shock HF)."""
    flow_rows: np.ndarray | None = None
    """When the cascade kept flows only for the rows of the accounts it liquidated, the working
    row of each row of ``tallies.flows`` (in the order the tables list accounts in: the book's, or
    for a book in health order its source's, ``PositionBook.output_rank``); None: one row of flows
    per working row."""
    flow_accounts: np.ndarray | None = None
    """With ``flow_rows``, the original account of each of those rows."""
    book: "SortedBook | None" = None
    """The solver's sorted book at the end of the run, whose other accounts' rows complete
    ``working`` into :attr:`arrays` (None: ``working`` is the whole book)."""

    @cached_property
    def arrays(self) -> BookArrays:
        """The end-of-run book in working order, every account's rows: ``working``'s, then the
        accounts no round looked at with their rows as the book has them. Made when first asked
        (the tables read ``working``): a gather of the others' rows, shared by the outcomes of one
        sorting (:attr:`SortedBook.whole`)."""
        w = self.working
        if self.book is None or w.n_accounts == self.account_order.shape[0]:
            return w
        whole, r = self.book.whole, w.coll.shape[0]
        coll, debt = np.empty_like(whole.coll), np.empty_like(whole.debt)
        coll[:r], coll[r:] = w.coll, whole.coll[r:]
        debt[:r], debt[r:] = w.debt, whole.debt[r:]
        return BookArrays(whole.offsets, whole.asset, coll, debt, whole.params, whole.aux, w.state)

    def liquidated_accounts(self) -> np.ndarray:
        """Original indexes of the accounts with at least one liquidation call, ascending."""
        return np.sort(self.account_order[self.tallies.acct_calls > 0])

    def per_account(self, values: np.ndarray) -> np.ndarray:
        """A per-account array in working order, returned in original account order."""
        out = np.empty_like(values)
        out[self.account_order] = values
        return out


@dataclass(frozen=True)
class SortedBook:
    """A market's book prepared for an engine: parameter tables built and accounts
    sorted by their health at the reference prices (ascending), so that the accounts
    that can be eligible after any price move form a prefix (see the module docstring).
    :meth:`of` sorts all of them; :meth:`partial` only those below a bound (the first
    ``n_sorted`` positions), the others following in their original order.

    Only the sorted accounts' rows are gathered: ``base`` holds the rows of the first
    ``n_sorted`` accounts (its ``n_accounts`` is ``n_sorted``); the others' rows stay where they
    are, in ``source`` (the prepared book in original order), until a sorting takes them into
    ``room`` after the prefix. The per-account arrays (``perm``, ``hf0_sorted``) cover every
    account."""

    base: BookArrays
    perm: np.ndarray
    """Working position -> original account index (int32 while the accounts fit: :func:`account_index`)."""
    hf0_sorted: FloatArray
    """HF at the reference prices, by working position."""
    bad_before_usd: float

    sorted_below: float
    """Every account whose HF0 is below this is in the sorted prefix (``n_sorted`` accounts);
    the accounts after it are in their original order (:meth:`partial`)."""
    n_sorted: int
    source: BookArrays | None = None
    """The prepared book in original order, where the rows of the accounts not yet sorted are
    read from; None once every account is sorted."""
    room: "RowRoom | None" = None
    """The columns ``base`` is the front of, with room for every row (None once all are sorted)."""

    @classmethod
    def of(cls, model: MarketModel) -> "SortedBook":
        return cls.partial(model, np.inf)

    @classmethod
    def partial(cls, model: MarketModel, below: float, amounts: tuple[FloatArray, FloatArray] | None = None,
                ) -> "SortedBook":
        """The book with only the accounts whose HF0 is below ``below`` sorted (at the front,
        in the order a full stable sort gives them, their rows gathered); the others follow in
        their original order, their rows left in the prepared book. ``below = inf`` is the full
        sort. :meth:`sort_below` sorts more of it later.

        ``amounts`` (collateral and debt, float64, room for every row of the book): the columns a
        sorting gathers the amounts into, when the book's amounts are the prepared ones (the rules
        only copy them) and a sorting is needed; ``base.coll`` and ``base.debt`` are then their
        front, and whoever passed them may write into them (:class:`StaticCascade` works in them,
        with no sorted copy of the amounts besides). Otherwise they are left unused."""
        rules = model.rules
        # the book's own amount columns where the rules' copies equal them: a sorting gathers new
        # columns from them anyway, and a book in health order is the sorted book
        base = _own_amounts(rules.prepare(model.book), model.book)
        if amounts is not None and not _amounts_of_book(base, model.book, amounts):
            amounts = None
        n = model.book.n_accounts
        everyone = np.arange(n, dtype=np.int64)
        hf0 = rules.health(base, model.prices, everyone)
        if rules.capabilities.unrecoverable_from_health:  # the same numbers, without a second pass
            gone = (hf0.collateral_usd <= 0.0) & (hf0.debt_usd > 0.0)
            bad = float(np.where(gone, hf0.debt_usd, 0.0).sum())
        else:
            bad = float(rules.unrecoverable_debt(base, model.prices, everyone).sum())
        del everyone  # the order below is the narrowest index type that holds every account
        if in_health_order(model.book, model.prices, hf0.hf):  # the stable sort is the identity
            return cls(base, account_index(n), hf0.hf, bad, np.inf, n)
        rank = model.book.output_rank
        if rank is None:
            perm, hf = account_index(n), hf0.hf
        else:
            # a book in health order at other prices: ties in HF0 must fall in the order of the book
            # it was made from (the tables' order), as for that book, so its accounts go in that order
            perm = np.empty(n, dtype=account_index(0, n).dtype)
            perm[rank] = account_index(n)
            hf = hf0.hf[perm]
        room = RowRoom.like(base, amounts)
        return cls(room.front(base, 0), perm, hf, bad, 0.0, 0, base, room).sort_below(below)

    def sort_below(self, below: float) -> "SortedBook":
        """This book with every account whose HF0 is below ``below`` in the sorted prefix.
        The prefix it has keeps its positions (and rows); the accounts after it keep their
        order, and only the newly sorted accounts' rows are gathered (after the prefix's, in
        ``room``): the cost is that of what is sorted, not of the book."""
        return self.ordered_below(below).gathered()

    def ordered_below(self, below: float) -> "SortedBook":
        """The first step of :meth:`sort_below`: the new order and HF0s, with ``base`` still the
        old prefix's rows (:meth:`gathered` adds the new accounts' rows). Apart so that a holder of
        this book can let go of the old order and HF0s before the rows are gathered (a solver:
        120 MB at 10M accounts at its peak)."""
        if below <= self.sorted_below:
            return self
        m, n = self.n_sorted, self.perm.shape[0]
        if m == n:
            return replace(self, sorted_below=below)
        perm, hf0_sorted, n_sorted = _sort_tail(self.perm, self.hf0_sorted, m, below)
        return replace(self, perm=perm, hf0_sorted=hf0_sorted, sorted_below=below, n_sorted=n_sorted)

    def gathered(self) -> "SortedBook":
        """This book with the rows of its sorted accounts that ``base`` lacks gathered into it
        (after :meth:`ordered_below`)."""
        m, n_sorted = self.base.n_accounts, self.n_sorted
        if m == n_sorted:
            return self
        base = self.room.fill(self.source, self.perm[m:n_sorted], m)
        done = n_sorted == self.perm.shape[0]
        return replace(self, base=base, source=None if done else self.source, room=None if done else self.room)

    @cached_property
    def whole(self) -> BookArrays:
        """The book in working order with every account's rows: the sorted accounts' (``base``),
        then the others' in their order, read from ``source`` (one gather of those rows, made when
        first asked; ``base`` itself when every account is sorted). The front's amounts are
        ``base``'s as they are when first asked: the working amounts, when the room's are the
        solver's (an outcome's ``arrays`` writes its own over them)."""
        if self.source is None:
            return self.base
        m, src = self.n_sorted, self.source
        rest = self.perm[m:]
        starts = src.offsets[:-1][rest]
        counts = src.offsets[1:][rest] - starts
        r0 = int(self.base.offsets[m])
        offsets = np.empty(self.perm.shape[0] + 1, dtype=np.int64)
        offsets[: m + 1] = self.base.offsets
        np.cumsum(counts, out=offsets[m + 1 :])
        offsets[m + 1 :] += r0
        rows = _row_index(starts, counts, _row_type(src))
        cols: dict[str, np.ndarray | None] = {}
        for name in self.room.columns:
            front = _column(self.base, name)
            cols[name] = None if front is None else np.empty(r0 + rows.shape[0], dtype=front.dtype)
            if front is not None:
                cols[name][:r0] = front
        _gather(src, rows, {name: None if x is None else x[r0:] for name, x in cols.items()})
        key = cols.pop("key") if "key" in cols else cols["asset"]
        return BookArrays(offsets=offsets, state=self.base.state, params=replace(self.base.params, key=key), **cols)

    def prefix_len(self, bound: float) -> int:
        """How many accounts (from the front) can be eligible when prices have moved by at
        most ``bound = max(f) / min(f)`` from the reference prices (a fully sorted book)."""
        return int(np.searchsorted(self.hf0_sorted[: self.n_sorted], bound * SKIP_MARGIN, side="left"))

    def fresh(self) -> BookArrays:
        b = self.base
        return b.with_amounts(b.coll.copy(), b.debt.copy())


def account_index(n: int, n_accounts: int | None = None) -> np.ndarray:
    """``arange(n)`` as int32 when every index of a book of ``n_accounts`` (default ``n``)
    accounts fits in it, int64 otherwise: a solver's working order (``SortedBook.perm``) is one
    entry an account, and half the width is 40 MB at 10M accounts; NumPy indexes with either."""
    return np.arange(n, dtype=account_dtype(n if n_accounts is None else n_accounts))


def in_health_order(book: PositionBook, prices: FloatArray, hf0: FloatArray) -> bool:
    """``book`` is marked as in health order at ``prices`` (``PositionBook.in_health_order``)
    and is: its accounts' HFs there, ``hf0``, are non-decreasing (one pass; a NaN fails it). A
    stable sort of them is then the identity, so the book's own layout is the sorted book."""
    marker = book.health_order
    if marker is None or not marker.at(prices):
        return False
    return bool(hf0.shape[0] < 2 or np.all(hf0[1:] >= hf0[:-1]))


def _own_amounts(base: BookArrays, book: PositionBook) -> BookArrays:
    """``base`` holding the book's own amount columns where its copies are equal to them (the
    rules that only copy them): until a sorting replaces them (with gathered columns of its
    own), and for good on a book in health order (the sorted book), the copies would be a
    second book's worth of amounts. Nothing writes into the model's columns (a run writes its
    working amounts: a copy of its own, or the columns a sorting gathers into, ``RowRoom``), so
    sharing them is safe."""
    b = book
    for name, own in (("coll", b.collateral), ("debt", b.debt)):
        if getattr(base, name).shape == own.shape and np.array_equal(getattr(base, name), own):
            setattr(base, name, own)
    return base


class StaticCascade:
    """A reusable solver for one market: row parameters are prepared and the book is
    sorted by pre-shock health once, then any number of shocks can be run (the curve
    runs many)."""

    def __init__(self, model: MarketModel, settings: CascadeSettings | None = None) -> None:
        self.model = model
        self.settings = settings or CascadeSettings()
        if not (0.0 <= self.settings.sell_fraction <= 1.0):
            raise ConfigError("<settings>", "liquidators.sell_fraction", "a fraction in [0, 1]", self.settings.sell_fraction)
        check_static_strategy(model.rules, self.settings.strategy)
        caps = model.rules.capabilities
        # Sorting is paid as the runs need it: a run's prefix holds the accounts with HF0 below
        # its bound, and sorting and gathering only those (and what a later run adds) spares a
        # one-shot run most of the sort. Rules whose rounds look at every account sort at once.
        # working amounts, reused across runs; rows below ``_dirty`` differ from the book's. Room for
        # every row. A sorting gathers the sorted accounts' amounts straight into them (``_in_room``:
        # no sorted copy of the amounts beside them; the book's own columns are the reference the
        # rows are reset from, :meth:`_kept_base`); a book in health order is copied into them
        rows = model.book.n_rows
        self._coll, self._debt = np.empty(rows), np.empty(rows)
        wb = SortedBook.partial(model, np.inf if caps.global_effects or caps.soft_liquidation else 0.0,
                                amounts=(self._coll, self._debt))
        self._book = wb
        self._perm = wb.perm  # sorted position -> original account index
        self._base = wb.base
        """The sorted accounts' rows (layout, parameters; amounts as the book has them unless
        ``_in_room``, where they are the working amounts: :meth:`_kept_base` has the book's)."""
        self._hf0_sorted = wb.hf0_sorted
        self._bad_before = wb.bad_before_usd
        self._layout = 0  # bumped when more of the book is sorted (the passes re-read the arrays)
        self._in_room = wb.base.coll.base is self._coll
        self._kept: BookArrays | None = None
        if not self._in_room:
            src = wb.base if wb.source is None else wb.source
            if src.coll.shape[0] != rows:
                self._coll, self._debt = np.empty(src.coll.shape[0]), np.empty(src.coll.shape[0])
            r = self._base.coll.shape[0]
            self._coll[:r] = self._base.coll
            self._debt[:r] = self._base.debt
        self._dirty = 0
        # per-account HF lower bounds (see the rules' sweep), reset per run like the rows. The
        # first run writes them into the HF0 array itself (8 B an account fewer for a one-shot
        # run; see _own_bounds): only its first ``_q_dirty`` entries are then bounds, not HF0s
        self._q = self._hf0_sorted
        self._q_shared = True
        self._q_dirty = 0
        # per-account tallies and marks, reused across runs like the rows (fresh ones per run
        # cost page faults on millions of accounts); only accounts below ``_q_dirty`` are written
        n = model.book.n_accounts
        self._acct = Tallies.zeros(0, n)
        self._touched = np.zeros(n, dtype=np.bool_)
        self._ended: weakref.ref | None = None  # the outcome whose end-of-run passes ``_end_memo`` holds
        self._end_memo: dict[str, object] = {}

    @property
    def hf_before(self) -> HealthView:
        """Health of every account at the reference (pre-shock) prices, original order
        (computed when asked: a solver keeps only the HF, by working position; the whole book
        is sorted first, so that every account's rows are in the working book)."""
        self.sort_all()
        m = self.model
        v = m.rules.health(self._kept_base(), np.asarray(m.prices, dtype=np.float64), np.arange(m.book.n_accounts))
        back = np.empty_like(self._perm)
        back[self._perm] = np.arange(self._perm.shape[0])
        return HealthView(np.arange(m.book.n_accounts), v.hf[back], v.collateral_usd[back], v.debt_usd[back])

    @property
    def book_arrays(self) -> BookArrays:
        """The prepared book in working order, as the runs start from it (read only); the
        whole book is sorted first."""
        self.sort_all()
        return self._kept_base(own=True)

    def _kept_base(self, own: bool = False) -> BookArrays:
        """``_base`` with the amounts as the book has them: ``_base`` itself unless the working
        amounts are its amounts (``_in_room``) and a run has changed some of them (or ``own``: a
        caller that keeps it); then the sorted accounts' rows gathered from the model's book,
        once, kept until the book is sorted further (then extended)."""
        if not self._in_room or (self._dirty == 0 and not own):
            return self._base
        if self._kept is None:
            b, book = self._base, self.model.book
            rows = rows_of(book.offsets, self._perm[: b.n_accounts])
            coll, debt = np.empty(rows.shape[0]), np.empty(rows.shape[0])
            _take_into(book.collateral, rows, coll)
            _take_into(book.debt, rows, debt)
            self._kept = BookArrays(b.offsets, b.asset, coll, debt, b.params, b.aux, b.state)
        return self._kept

    @property
    def hf0_working(self) -> FloatArray:
        """Each account's HF at the reference prices, by working position (read only; the
        positions of the accounts sorted so far). A first run's bounds written into the HF0 array
        are replaced by HF0 again first (:meth:`_own_bounds`)."""
        self._own_bounds()
        return self._hf0_sorted

    @property
    def hf_bounds(self) -> FloatArray:
        """The sweeps' per-account bounds ``q`` by working position, as the last run left them in
        the accounts it looked at (read only; ``q / cum_bound`` bounds the HF from below; after a
        first run they may share the HF0 array, see :meth:`_own_bounds`)."""
        return self._q

    def _own_bounds(self) -> None:
        """Give the HF bounds an array of their own (see ``__init__``); where a run has written
        bounds into the HF0 array, those entries of HF0 are computed again first (the
        reference-price health of those accounts: the very numbers of the pass that sorted them,
        each account's sums not depending on which others are asked). A solver runs a second
        time (the curve), makes a twin or replays flows only after this."""
        if not self._q_shared:
            return
        a = self._q_dirty
        if a:
            m = self.model
            accounts = np.arange(a, dtype=np.int64)
            self._hf0_sorted[:a] = m.rules.health(self._kept_base(), np.asarray(m.prices, dtype=np.float64),
                                                  accounts).hf
        self._q, self._q_shared = self._hf0_sorted.copy(), False

    def _fresh_arrays(self) -> BookArrays:
        """The working arrays reset to the base book, the per-account tallies and marks to
        zero. Only accounts inside the largest prefix the previous run looked at can have
        changed, so only their rows and entries are reset."""
        if self._q_dirty:  # a run before this one: the bounds need an array of their own
            self._own_bounds()
        b = self._base
        d = self._dirty
        kept = self._kept_base()
        self._coll[:d] = kept.coll[:d]
        self._debt[:d] = kept.debt[:d]
        self._dirty = 0
        a = self._q_dirty
        self._q[:a] = self._hf0_sorted[:a]
        t = self._acct
        for arr in (t.acct_seized_usd, t.acct_repaid_usd, t.acct_bad_debt_usd, t.acct_calls, t.acct_blocked,
                    self._touched):
            arr[:a] = 0
        self._q_dirty = 0
        r = b.coll.shape[0]  # the rows of the sorted accounts
        return b.with_amounts(self._coll[:r], self._debt[:r])

    def _prefix_len(self, bound: float) -> int:
        # the margin keeps an account whose HF0 equals the bound up to rounding inside
        x = bound * SKIP_MARGIN
        if not x <= self._book.sorted_below:
            # a little beyond the bound: a sorting gathers only the accounts it adds (the rest of the
            # book stays where it is), so sorting in steps as the prices move costs what is sorted
            self._sort_below(x * SORT_AHEAD)
        # bounds in the HF0 array (a first run) fill its first ``_q_dirty`` entries only, and the
        # prefix never shrinks within a run: the search starts past them
        lo = self._q_dirty if self._q_shared else 0
        return lo + int(np.searchsorted(self._hf0_sorted[lo: self._book.n_sorted], x, side="left"))

    def _sort_below(self, below: float) -> None:
        """Sort every account with HF0 below ``below`` into the prefix. Accounts after the
        largest prefix a run looked at are clean (their rows, bounds, tallies and marks are the
        base book's), so moving them changes nothing a run has done."""
        old = self._book
        m, r0 = old.n_sorted, int(old.base.offsets[old.n_sorted])
        step = old.ordered_below(below if np.isfinite(below) else np.inf)
        del old
        # the old order and HF0s let go of before the rows are gathered (unless an outcome keeps them)
        self._book, self._perm, self._hf0_sorted = step, step.perm, step.hf0_sorted
        if self._q_shared:  # the gathered HF0 array holds the bounds where the old one did (order[:m] stays)
            self._q = step.hf0_sorted
        else:
            self._q[m:] = step.hf0_sorted[m:]
        wb = step.gathered()
        del step
        r1 = wb.base.coll.shape[0]
        if not self._in_room:
            self._coll[r0:r1] = wb.base.coll[r0:]
            self._debt[r0:r1] = wb.base.debt[r0:]
        elif self._kept is not None:  # the rows just gathered are the book's: the kept amounts take them too
            kept = self._kept
            self._kept = wb.base.with_amounts(np.concatenate([kept.coll, self._coll[r0:r1]]),
                                              np.concatenate([kept.debt, self._debt[r0:r1]]))
        self._book, self._base = wb, wb.base
        self._layout += 1

    def sort_all(self) -> None:
        """Sort the whole book now (a run that looks at every account needs it sorted); once
        sorted, nothing is touched (a curve's threads make twins while others run): the HF
        bounds get an array of their own here too, so that no run writes into the HF0 array the
        twins copy. (In a run's round, for rules whose rounds look at every account, that is
        at most a copy, or HF0 put back in place of tighter first-round bounds: valid bounds.)"""
        if self._book.sorted_below != np.inf:
            self._sort_below(np.inf)
        self._own_bounds()

    def twin(self) -> "StaticCascade":
        """A solver over this one's book, fully sorted, with working buffers of its own: the two
        can run cascades at the same time (the curve's threads) and give the numbers either
        would alone. This solver's book is sorted in full first, so neither sorts it later."""
        self.sort_all()  # and the HF bounds an array of their own: the twins share the HF0 array
        other = copy.copy(self)
        n = self.model.book.n_accounts
        base = other._base = self._kept_base(own=True)  # not this one's working amounts
        other._in_room, other._kept = False, None
        other._coll, other._debt, other._dirty = base.coll.copy(), base.debt.copy(), 0
        other._q, other._q_dirty = self._hf0_sorted.copy(), 0
        other._acct, other._touched = Tallies.zeros(0, n), np.zeros(n, dtype=np.bool_)
        other._ended, other._end_memo = None, {}
        return other

    def run(
        self, shocks: Mapping[str, float] | FloatArray, keep_arrays: bool = True, trades: bool = False,
        replay_ok: bool = True,
        first_bounds: Callable[[int, float, FloatArray], None] | None = None,
        later_bounds: Callable[[int, FloatArray, float, float, FloatArray, np.ndarray], None] | None = None,
    ) -> CascadeOutcome:
        """One cascade from ``shocks`` (asset -> fractional drop, or an array by asset).

        ``keep_arrays=False`` leaves the end-of-run book, the per-account tallies and the
        touched marks in the solver's working buffers (the next run overwrites them): the
        curve uses that, having read what it needs.
        ``trades=True`` (with ``keep_arrays``) keeps the per-row flows that
        :func:`~liqcascade.engine.trades.static_trades` reads; off by default because
        only the ``trades`` table needs them. Where the rules allow it
        (:func:`~liqcascade.engine.flow_replay.replayable`) they are kept only for the rows of
        the liquidated accounts, replayed after the cascade (``CascadeOutcome.flow_rows``);
        otherwise the cascade records them for every row of the book (as it does with
        ``replay_ok=False``, what the replay is tested against).
        Recording them costs about a third of a cascade that liquidates half of a 1M-account
        book (their memory traffic).
        ``first_bounds(upto, c1, q)`` (the curve's, :mod:`liqcascade.engine.curve`) may raise the
        HF bounds ``q[:upto]`` of the accounts the first round looks at (``c1``: that round's
        price-move bound, the factor ``q`` carries) to tighter lower bounds at the shocked prices:
        the round then skips, without reading their rows, accounts HF0 alone could not rule out.
        ``later_bounds(upto, prices, step, cum_bound, q, touched)`` (the curve's too) may do the
        same before each later round (``step``: its price-move bound from the round before), for
        the accounts no liquidation has touched.
        This is the fixed point of :func:`solve_fixed_point` with this one market.
        """
        from liqcascade.engine.flow_replay import replay_flows, replayable

        m = self.model
        shock = m.shock_vector(shocks) if isinstance(shocks, Mapping) else np.asarray(shocks, dtype=np.float64)
        p0 = np.asarray(m.prices, dtype=np.float64)
        if self._q_dirty:  # a run before this one wrote bounds into HF0: the prefix below reads it
            self._own_bounds()
        if first_bounds is not None:  # the prefix first (it may sort more of the book), then the reset
            step = (p0 * (1.0 - shock)) / p0  # as the first round's advance takes it
            c1 = float(step.max() / step.min())
            upto = self._prefix_len(c1)
        replay = trades and keep_arrays and replay_ok and replayable(m.rules, self._kept_base(), self.settings.strategy)
        if replay:  # it reads HF0 after the cascade has written its bounds
            self._own_bounds()
        part = self.start(np.arange(len(m.assets), dtype=np.int64), trades=trades and keep_arrays and not replay)
        if replay:
            part.swept = []
        part.later_bounds = later_bounds
        if first_bounds is not None:
            first_bounds(upto, c1, self._q)
            self._q_dirty = max(self._q_dirty, upto)  # the next run resets them
        venues = {m.assets.index(sym): v for sym, v in m.venues.items()}
        trace = solve_fixed_point([part], p0, shock, venues, self.settings)
        out = part.outcome(trace, shock, keep_arrays)
        if not replay:
            return out
        kept = replay_flows(m.rules, self._kept_base(), out.working, out.tallies, out.touched, out.account_order,
                            self._hf0_sorted, part.swept, self.settings.limits, _row_index, m.book.output_rank)
        if kept is None:  # the replay did not end where the cascade did: record flows for every row
            return self.run(shocks, keep_arrays, trades, replay_ok=False, first_bounds=first_bounds,
                            later_bounds=later_bounds)
        return replace(out, tallies=replace(out.tallies, flows=kept.flows), flow_rows=kept.rows,
                       flow_accounts=kept.accounts)

    def start(self, index: np.ndarray, trades: bool = False) -> "MarketPass":
        """A fresh pass of this market over one cascade; ``index`` maps the market's
        assets to the system's (``arange`` when the market is the whole system).
        ``trades``: keep the per-row trades (``Tallies.flows``)."""
        self._ended, self._end_memo = None, {}  # a pass may overwrite the last outcome's working book
        return MarketPass(self, np.asarray(index, dtype=np.int64), trades)

    # --------------------------------------------------------------- summary
    def _at_end(self, out: CascadeOutcome, name: str):
        """A pass over the accounts ``out`` touched at its final prices (``name``: "touched", their
        working positions ascending; "health"; "unrecoverable"), computed once per outcome: the
        summary, the totals and the accounts table ask for the same ones. Forgotten when a pass
        starts (:meth:`start`), since it may overwrite the working book ``out`` reads."""
        if self._ended is None or self._ended() is not out:
            self._ended, self._end_memo = weakref.ref(out), {"touched": np.flatnonzero(out.touched)}
        memo = self._end_memo
        if name not in memo:
            rules, idx = self.model.rules, memo["touched"]
            if name == "health":
                memo[name] = rules.health(out.working, out.prices_final, idx)
            elif name == "unrecoverable":
                memo[name] = rules.unrecoverable_debt(out.working, out.prices_final, idx)
            else:
                raise KeyError(name)
        return memo[name]

    def totals(self, out: CascadeOutcome) -> dict[str, object]:
        """The counts and USD totals of one cascade (no per-protocol facts, no health pass):
        what the system's together/alone comparisons and curves need."""
        t = out.tallies
        bad_written_off = float(t.acct_bad_debt_usd.sum())
        bad_remaining = float(self._at_end(out, "unrecoverable").sum())
        return {
            "accounts": self.model.book.n_accounts,
            "accounts_liquidated": int((t.acct_calls > 0).sum()),
            "liquidation_calls": int(t.acct_calls.sum()),
            "collateral_seized_usd": float(t.acct_seized_usd.sum()),
            "debt_repaid_usd": float(t.acct_repaid_usd.sum()),
            "liquidator_proceeds_usd": float(out.totals["proceeds"].sum()),
            "bad_debt_written_off_usd": bad_written_off,
            "bad_debt_unrecoverable_usd": bad_remaining,
            "bad_debt_usd": bad_written_off + bad_remaining,
        }

    def summarize(self, out: CascadeOutcome) -> dict[str, object]:
        """Headline numbers of one cascade (USD unless named otherwise)."""
        m, rules = self.model, self.model.rules
        end = self._at_end(out, "health")
        # accounts left insolvent with collateral still on them (blocked, stuck, or cut
        # off by max_rounds): their shortfall is not yet bad debt, but it is at risk
        gap = np.where(end.collateral_usd > 0.0, end.debt_usd - end.collateral_usd, 0.0)
        shortfall = float(np.clip(gap, 0.0, None).sum())
        t = out.tallies
        tot = self.totals(out)
        return {
            **rules.describe(),
            **rules.outcome_facts(out.working, out.prices_final),
            "accounts": m.book.n_accounts,
            "holdings": m.book.n_rows,
            "rounds": out.rounds,
            "converged": out.converged,
            "stuck": out.stuck,
            "accounts_liquidated": tot["accounts_liquidated"],
            "liquidation_calls": tot["liquidation_calls"],
            "accounts_blocked": int((t.acct_blocked > 0).sum()),
            "collateral_seized_usd": tot["collateral_seized_usd"],
            "debt_repaid_usd": tot["debt_repaid_usd"],
            "liquidator_proceeds_usd": tot["liquidator_proceeds_usd"],
            "protocol_fee_usd": float(out.totals["fee_usd"].sum()),
            "bad_debt_written_off_usd": tot["bad_debt_written_off_usd"],
            "bad_debt_unrecoverable_usd": tot["bad_debt_unrecoverable_usd"],
            "bad_debt_usd": tot["bad_debt_usd"],
            "bad_debt_before_usd": out.bad_debt_before_usd,
            "insolvent_shortfall_usd": shortfall,
        }

    def asset_rows(self, out: CascadeOutcome) -> list[dict[str, object]]:
        rows = []
        for i, a in enumerate(self.model.assets):
            drop0 = 1.0 - out.prices_shocked[i] / out.prices0[i]
            drop1 = 1.0 - out.prices_final[i] / out.prices0[i]
            rows.append(
                {
                    "asset": a,
                    "price_reference": float(out.prices0[i]),
                    "price_shocked": float(out.prices_shocked[i]),
                    "price_final": float(out.prices_final[i]),
                    "initial_drop": float(drop0),
                    "final_drop": float(drop1),
                    "amplification": float(drop1 / drop0) if drop0 > 0 else float("nan"),
                    "has_venue": a in self.model.venues and self.settings.impact,
                    **{f"{name}": float(v[i]) for name, v in out.totals.items()},
                }
            )
        return rows

    def account_frame(self, out: CascadeOutcome) -> pd.DataFrame:
        """One row per account the cascade touched (liquidated, blocked or left with bad debt),
        in the book's account order (a book in health order: its source's, ``output_rank``)."""
        import pandas as pd

        rules = self.model.rules
        t = out.tallies
        idx = self._at_end(out, "touched")
        orig = out.account_order[idx]
        rank = self.model.book.output_rank  # a book in health order lists its accounts as its source did
        sort = order_of_distinct(orig if rank is None else rank[orig], self.model.book.n_accounts)
        # the pre-shock health of these accounts again rather than kept for every account; the
        # passes go through the working rows in their order (ascending ``idx``: one sweep through
        # memory), and their results are put in the table's order after
        base = self._kept_base()
        before = rules.health(base, out.prices0, idx)
        shocked = rules.health(base, out.prices_shocked, idx)
        after = self._at_end(out, "health")
        unrec = self._at_end(out, "unrecoverable")
        idx, orig = idx[sort], orig[sort]
        return pd.DataFrame(
            {
                "account_id": self.model.book.account_ids[orig],
                "hf_before": before.hf[sort],
                "hf_shocked": shocked.hf[sort],
                "hf_after": after.hf[sort],
                "collateral_usd_before": before.collateral_usd[sort],
                "debt_usd_before": before.debt_usd[sort],
                "collateral_usd_after": after.collateral_usd[sort],
                "debt_usd_after": after.debt_usd[sort],
                "collateral_seized_usd": t.acct_seized_usd[idx],
                "debt_repaid_usd": t.acct_repaid_usd[idx],
                "bad_debt_usd": t.acct_bad_debt_usd[idx] + unrec[sort],
                "liquidation_calls": t.acct_calls[idx].astype(np.int64),  # the tables' type (the tallies' is int32)
                "blocked_calls": t.acct_blocked[idx].astype(np.int64),
            }
        )


ACCOUNT_TALLIES = ("acct_seized_usd", "acct_repaid_usd", "acct_bad_debt_usd", "acct_calls", "acct_blocked")

TOTALS = ("seized", "fee", "fee_usd", "sold", "held", "proceeds", "repaid", "bought", "bought_cost", "deficit")
"""Per-asset token totals of a cascade (``fee_usd``, ``proceeds``, ``bought_cost`` in USD)."""


@dataclass(frozen=True)
class FixedPointTrace:
    """The system-wide course of one cascade: prices over every market's assets."""

    prices0: FloatArray
    prices_shocked: FloatArray
    prices_final: FloatArray
    rounds: int
    converged: bool
    stuck: bool


class MarketPass:
    """One market's working state through one cascade: its book, tallies, skipping
    bounds and per-asset totals, in the market's own asset order. ``index[j]`` is the
    system asset of the market's asset ``j``."""

    def __init__(self, solver: StaticCascade, index: np.ndarray, trades: bool = False) -> None:
        m = solver.model
        k, n = len(m.assets), m.book.n_accounts
        self.solver = solver
        self.index = index
        self.arrays = solver._fresh_arrays()
        self.layout = solver._layout
        t = solver._acct
        flows = np.zeros((m.book.n_rows if trades else 0, N_FLOWS))  # fresh: an outcome keeps it
        self.tallies = Tallies(np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k), t.acct_seized_usd,
                               t.acct_repaid_usd, t.acct_bad_debt_usd, t.acct_calls, t.acct_blocked, flows)
        self.touched = solver._touched
        self.totals = {name: np.zeros(k) for name in TOTALS}
        self.round_rows: list[dict[str, object]] = []
        self.p0 = np.asarray(m.prices, dtype=np.float64)
        self.p_prev = self.p0
        self.bound = 0.0
        self.upto = 0
        self.cum_bound = 1.0
        self.step_bound = 1.0
        self.eligible = 0
        self.calls = 0
        self.sold = np.zeros(k)
        self.swept: list[tuple[FloatArray, float]] | None = None
        """The market's prices and ``cum_bound`` of each sweep, in order, when a replay of the flows
        needs them."""
        self.later_bounds: Callable[[int, FloatArray, float, float, FloatArray, np.ndarray], None] | None = None
        """Called before each sweep after the first to tighten the skipping bounds (``StaticCascade.run``)."""
        self.sweeps = 0

    def advance(self, prices: FloatArray, everyone: bool) -> FloatArray:
        """Move the pass to the system's ``prices``: the price-ratio bounds, the prefix of the
        sorted book that can have become eligible (all of it when ``everyone``), and the rows
        marked dirty for the next run; returns the market's prices."""
        solver = self.solver
        p = prices[self.index]
        ratio = p / self.p0
        self.bound = max(self.bound, float(ratio.max() / ratio.min()))
        step = p / self.p_prev
        self.step_bound = float(step.max() / step.min())
        self.cum_bound *= self.step_bound
        self.p_prev = p
        n = self.arrays.n_accounts
        # the pass lets go of the book's layout while the solver may sort more of it, so that
        # each old column can be freed as its sorted copy is made (its amounts are the solver's)
        held = self.arrays
        self.arrays = None  # type: ignore[assignment]
        coll, debt, state = held.coll, held.debt, held.state
        del held
        if everyone:
            solver.sort_all()  # the same order as a full sort: the same sums, bit for bit
        upto = n if everyone else solver._prefix_len(self.bound)
        b = solver._base  # more of the book may have been sorted: its rows added after the prefix
        r = b.coll.shape[0]
        if coll.shape[0] != r:  # the solver's working amounts (``_fresh_arrays``), as far as the rows go
            coll, debt = solver._coll[:r], solver._debt[:r]
        self.arrays = BookArrays(b.offsets, b.asset, coll, debt, b.params, b.aux, state)
        self.layout = solver._layout
        self.upto = max(self.upto, upto)
        solver._dirty = max(solver._dirty, int(self.arrays.offsets[self.upto]))
        solver._q_dirty = max(solver._q_dirty, self.upto)
        return p

    def sweep(self, prices: FloatArray, venues: Mapping[int, Venue] | None = None) -> None:
        """Liquidate every eligible account at the system's ``prices`` (one round); ``venues``
        (system asset -> the live venue) are where profit_max sizes its calls."""
        solver, rules = self.solver, self.solver.model.rules
        # rules whose liquidations move other accounts (Liquity's redistribution) see all
        p = self.advance(prices, everyone=rules.capabilities.global_effects)
        if self.swept is not None:
            self.swept.append((p, self.cum_bound))
        self.sweeps += 1
        if self.later_bounds is not None and self.sweeps > 1:
            self.later_bounds(self.upto, p, self.step_bound, self.cum_bound, solver._q, self.touched)
        self.tallies.reset_assets()
        if solver.settings.strategy == "max_close":
            self.eligible, self.calls = rules.sweep(
                self.arrays, p, self.upto, self.tallies, solver.settings.limits, self.touched, solver._q, self.cum_bound
            )
        else:
            self.eligible, self.calls = self._planned(p, venues or {})
        received = self.tallies.seized - self.tallies.fee
        self.sold = received * solver.settings.sell_fraction

    def _planned(self, p: FloatArray, venues: Mapping[int, Venue]) -> tuple[int, int]:
        """One round under a strategy other than max close: the eligible accounts (the rules'
        scan, same skipping bounds as the sweep), each one's calls planned at the round's prices
        (the oracle is the market here) by ``engine/dynamic/plans.py`` -- profit_max selling into
        the collateral's live venue, without gas -- and made by the protocol's kernel with each
        call capped at the plan's (``LiquidationLimits.call_caps_usd``). Returns (eligible, calls):
        an eligible account with no call planned (profit_max: none profitable) leaves the round
        without a call, so a round of only those ends the cascade, as blocked calls do."""
        # engine.dynamic imports this module: import its planner here
        from liqcascade.engine.dynamic.candidates import Candidates
        from liqcascade.engine.dynamic.plans import MAX_PLAN_CALLS, plan_candidates

        solver, rules = self.solver, self.solver.model.rules
        soft = 0
        if rules.capabilities.soft_liquidation:  # LLAMMA's own sales come first, as in its sweep
            moved = rules.soft_step(self.arrays, p, self.tallies).accounts
            self.touched[moved] = True
            soft = int(moved.size)
        found = rules.scan(self.arrays, p, self.upto, solver._q, self.cum_bound)
        cand = Candidates.build(rules, self.arrays, p, found)
        local = {j: venues[int(i)] for j, i in enumerate(self.index) if int(i) in venues}
        plans = plan_candidates(solver.settings.strategy, self.arrays, cand, p, p, local, 0.0, rules)
        go = plans.calls > 0
        if not go.any():
            return int(found.size) + soft, soft
        limits = replace(solver.settings.limits, call_caps_usd=plans.caps_usd[go],
                         max_calls_per_account=max(solver.settings.limits.max_calls_per_account, MAX_PLAN_CALLS))
        chosen = cand.elig[go]
        calls, _ = rules.liquidate_list(self.arrays, p, chosen, self.tallies, limits)
        self.touched[chosen] = True
        return int(found.size) + soft, int(calls) + soft

    def settle(self, r: int, trade: "VenueRound", prices: FloatArray) -> None:
        """Book this round's share of the venues' trades into the totals and round rows."""
        t, ix = self.tallies, self.index
        p, p_new = prices[ix], trade.prices_after[ix]
        received = t.seized - t.fee
        held = received - self.sold
        proceeds = trade.share(trade.proceeds, self.sold, trade.sold, ix)
        no_venue = ~trade.has_venue[ix] & (self.sold > 0.0)
        proceeds[no_venue] = self.sold[no_venue] * p[no_venue]  # sold at the prevailing price, no impact
        bought = trade.share(trade.bought, t.repaid, trade.repaid, ix)
        bought_cost = trade.share(trade.bought_cost, t.repaid, trade.repaid, ix)
        for name, arr in (
            ("seized", t.seized), ("fee", t.fee), ("fee_usd", t.fee * p), ("sold", self.sold), ("held", held),
            ("proceeds", proceeds), ("repaid", t.repaid), ("bought", bought), ("bought_cost", bought_cost),
            ("deficit", t.deficit),
        ):
            self.totals[name] += arr
        assets = self.solver.model.assets
        for i in range(len(assets)):
            if t.seized[i] or t.repaid[i] or t.deficit[i] or p_new[i] != p[i]:
                self.round_rows.append(
                    {
                        "round": r, "asset": assets[i], "eligible_accounts": int(self.eligible),
                        "liquidation_calls": int(self.calls), "price_before": float(p[i]),
                        "price_after": float(p_new[i]), "collateral_seized": float(t.seized[i]),
                        "protocol_fee": float(t.fee[i]), "collateral_sold": float(self.sold[i]),
                        "collateral_held": float(held[i]), "proceeds_usd": float(proceeds[i]),
                        "debt_repaid": float(t.repaid[i]), "debt_bought": float(bought[i]),
                        "debt_bought_cost_usd": float(bought_cost[i]), "deficit": float(t.deficit[i]),
                    }
                )

    def outcome(self, trace: FixedPointTrace, shock: FloatArray, keep_arrays: bool) -> CascadeOutcome:
        """This market's end state, prices in its own asset order."""
        arrays, tallies, touched = self.arrays, self.tallies, self.touched
        if keep_arrays:  # copies of the solver's working buffers, which the next run reuses
            arrays = arrays.with_amounts(arrays.coll.copy(), arrays.debt.copy())
            tallies = replace(tallies, **{f: getattr(tallies, f).copy() for f in ACCOUNT_TALLIES})
            touched = touched.copy()
        ix = self.index
        return CascadeOutcome(
            shocks=shock[ix],
            prices0=self.p0,
            prices_shocked=trace.prices_shocked[ix],
            prices_final=trace.prices_final[ix],
            rounds=trace.rounds,
            converged=trace.converged,
            stuck=trace.stuck,
            totals=self.totals,
            round_rows=self.round_rows,
            working=arrays,
            tallies=tallies,
            touched=touched,
            bad_debt_before_usd=self.solver._bad_before,
            account_order=self.solver._perm,
            book=self.solver._book,
        )


@dataclass(frozen=True)
class VenueRound:
    """One round of trades in the shared venues, per system asset: everyone's sales
    (and debt purchases) go through the asset's venue together, at one price."""

    sold: FloatArray
    proceeds: FloatArray
    repaid: FloatArray
    bought: FloatArray
    bought_cost: FloatArray
    prices_after: FloatArray
    has_venue: np.ndarray

    @staticmethod
    def share(total: FloatArray, part: FloatArray, whole: FloatArray, index: np.ndarray) -> FloatArray:
        """A market's share of ``total`` (system assets), pro rata to ``part`` of ``whole``."""
        w = whole[index]
        out = np.zeros(index.shape[0])
        hit = w > 0.0
        out[hit] = total[index][hit] * (part[hit] / w[hit])
        return out


def trade_round(
    venues: dict[int, Venue], passes: list[MarketPass], prices: FloatArray, buy_debt: bool
) -> VenueRound:
    """Sell every market's collateral of this round through the shared venues (and buy
    the repaid debt when ``buy_debt``); ``venues`` is updated to the venues after."""
    k = prices.shape[0]
    sold, repaid = np.zeros(k), np.zeros(k)
    for part in passes:
        np.add.at(sold, part.index, part.sold)
        np.add.at(repaid, part.index, part.tallies.repaid)
    proceeds, bought, bought_cost = np.zeros(k), np.zeros(k), np.zeros(k)
    p_new = prices.copy()
    has_venue = np.zeros(k, dtype=np.bool_)
    for i, venue in venues.items():
        has_venue[i] = True
        if sold[i] > 0.0:
            proceeds[i], venue = venue.sell(float(sold[i]))
        if buy_debt and repaid[i] > 0.0:
            bought[i] = _buyable(venue, float(repaid[i]))
            if bought[i] > 0.0:
                bought_cost[i], venue = venue.buy(float(bought[i]))
        venues[i] = venue
        p_new[i] = venue.mid_price()
    return VenueRound(sold, proceeds, repaid, bought, bought_cost, p_new, has_venue)


def solve_fixed_point(
    passes: list[MarketPass],
    prices0: FloatArray,
    shock: FloatArray,
    venues: Mapping[int, Venue],
    settings: CascadeSettings,
    after_trade: Callable[[dict[int, Venue], VenueRound], list[VenueRound]] | None = None,
    before_round: Callable[[dict[int, Venue], FloatArray], FloatArray] | None = None,
) -> FixedPointTrace:
    """The static cascade of a system of markets from ``shock`` (per system asset):
    each round every market liquidates what is eligible at the common prices, all the
    sales go through the shared venues at once, and the venues' marginal prices are the
    next round's prices; until no market has an eligible account. ``after_trade`` (the
    system's purchases of the stablecoins its markets issue, :mod:`liqcascade.engine.system`)
    trades further on the live venues after the round's sales and gives each pass its trades;
    ``before_round`` (arbitrage that holds an issued coin to its peg) trades on them at the start
    of every round and gives the prices the markets then see."""
    p = prices0 * (1.0 - shock)
    live = {i: v.with_mid_price(float(p[i])) for i, v in venues.items()} if settings.impact else {}
    p_start = p.copy()
    converged = stuck = False
    rounds = 0
    for r in range(1, settings.max_rounds + 1):
        if before_round is not None:
            p = before_round(live, p)
        for part in passes:
            part.sweep(p, live)
        if sum(part.eligible for part in passes) == 0:
            converged = True
            break
        rounds = r
        trade = trade_round(live, passes, p, settings.buy_debt)
        own = None if after_trade is None else after_trade(live, trade)
        for k, part in enumerate(passes):
            part.settle(r, trade if own is None else own[k], p)
        p = trade.prices_after if own is None else own[0].prices_after
        if sum(part.calls for part in passes) == 0:
            # every eligible account is blocked (dust rule, minimum size): nothing will change
            stuck = converged = True
            break
    return FixedPointTrace(prices0, p_start, p, rounds, converged, stuck)


def check_static_strategy(rules: LiquidationRules, strategy: str, source: str = "<settings>") -> None:
    """A strategy other than max close needs rules whose liquidator chooses the amount of a call
    (``capabilities.capped_calls``, declared by the protocol); a :class:`ConfigError` naming the
    protocol and ``liquidators.strategy`` otherwise."""
    if strategy not in STRATEGIES:
        raise ConfigError(source, "liquidators.strategy", f"one of {list(STRATEGIES)}", strategy)
    if strategy != "max_close" and not rules.capabilities.capped_calls:
        raise ConfigError(source, "liquidators.strategy",
                          f"max_close for {rules.name} (the protocol decides what a liquidation takes; two_step "
                          "and profit_max need one where the liquidator does: aave_v3 (Aave v2 included), "
                          "compound_v2, morpho_blue, euler_v2, crvusd)", strategy)


def _buyable(venue: Venue, amount: float) -> float:
    """The most of ``amount`` (tokens) the venue can sell to a buyer: all of it, or the
    largest part with a finite quote (bisection). The rest is taken to come from outside
    the modelled venues (it is reported as debt repaid but not bought)."""
    if np.isfinite(venue.quote_buy(amount)):
        return amount
    lo, hi = 0.0, amount
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if np.isfinite(venue.quote_buy(mid)):
            lo = mid
        else:
            hi = mid
    return lo * (1.0 - 1e-9)


def stable_argsort(x: FloatArray) -> np.ndarray:
    """``np.argsort(x, kind="stable")``, computed as NumPy's quicksort (vectorised, several times
    faster on a million floats) followed by putting each run of equal values in index order."""
    order = np.argsort(x, kind="quicksort")
    n = order.shape[0]
    if n < 2:
        return order
    xs = x[order]
    same = (xs[1:] == xs[:-1]) | (np.isnan(xs[1:]) & np.isnan(xs[:-1]))
    del xs  # the temporaries below are one bool array or the size of the tied positions
    if not same.any():
        return order
    tied = np.zeros(n, dtype=np.bool_)
    tied[1:] = same
    tied[:-1] |= same
    at = np.flatnonzero(tied)
    del tied
    # a tied position starts a run of equal values unless it equals the one before; numbering
    # the starts along the tied positions numbers the runs in their order
    starts = np.ones(at.shape[0], dtype=np.int64)
    inner = at[at > 0]
    starts[at.shape[0] - inner.shape[0]:] = ~same[inner - 1]
    del same, inner
    key = np.cumsum(starts, out=starts)
    # within a run the values are equal: order its indices ascending (runs stay in place)
    key *= np.int64(n)
    key += order[at]
    key.sort()
    order[at] = key % n
    return order


def _sort_tail(perm: np.ndarray, hf0_sorted: FloatArray, m: int, below: float) -> tuple[np.ndarray, FloatArray, int]:
    """The working order and HF0 of a book whose first ``m`` accounts are sorted (they stay),
    with every account after them whose HF0 is below ``below`` sorted in after them (the others
    after those, in the order they had); and the new count of sorted accounts. New arrays (an
    outcome may hold the old ones): the first ``m`` entries copied, the tail's gathered once,
    each temporary dropped as soon as it is read (the largest sorting is a large book's peak)."""
    tail = hf0_sorted[m:]
    if below == np.inf:
        local = stable_argsort(tail)
        new_hf = np.empty_like(hf0_sorted)
        new_hf[:m] = hf0_sorted[:m]
        np.take(tail, local, out=new_hf[m:])
        new_perm = np.empty_like(perm)
        new_perm[:m] = perm[:m]
        np.take(perm[m:], local, out=new_perm[m:])
        return new_perm, new_hf, hf0_sorted.shape[0]
    low = tail < below
    pick = np.flatnonzero(low)
    k = pick.shape[0]
    # the tail is in original order, so a stable sort of its part puts those accounts in the
    # order a stable sort of the whole book does
    keys = tail[pick]
    local = stable_argsort(keys)
    new_hf = np.empty_like(hf0_sorted)
    new_hf[:m] = hf0_sorted[:m]
    np.take(keys, local, out=new_hf[m : m + k])
    del keys
    pick = pick[local]  # tail positions, in sorted order
    del local
    new_perm = np.empty_like(perm)
    new_perm[:m] = perm[:m]
    np.take(perm[m:], pick, out=new_perm[m : m + k])
    del pick
    np.logical_not(low, out=low)  # the others, in the order they had
    np.compress(low, perm[m:], out=new_perm[m + k :])
    np.compress(low, tail, out=new_hf[m + k :])
    return new_perm, new_hf, m + k


def _row_index(starts: np.ndarray, counts: np.ndarray, dtype: type = np.int64) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, built as the running
    sum of its steps (1 within an account, a jump between accounts) in one row-sized array of
    ``dtype`` (int32 halves it; every row index and every running sum must fit)."""
    keep = counts > 0
    if not keep.all():  # an account with no rows takes no step
        starts, counts = starts[keep], counts[keep]
    del keep
    rows = np.ones(int(counts.sum()), dtype=dtype)
    if rows.shape[0]:
        # temporaries of one account-sized array each, in place where they can be
        ends = np.cumsum(counts)  # where each account's rows end (the next one's begin)
        jump = np.subtract(starts[1:], starts[:-1])
        jump -= counts[:-1]
        jump += 1
        rows[0] = starts[0]
        rows[ends[:-1]] = jump
        del ends, jump
        np.cumsum(rows, dtype=dtype, out=rows)
    return rows


GATHER_CHUNK = 1 << 20
"""Rows gathered per ``take`` when a sorting moves a column the compiled gather does not (``aux``):
a few MB of widened indices at a time."""
ROW_COLUMNS = ("asset", "coll", "debt", "aux")
"""The per-row columns a sorting moves; and the parameters' key when it is not the asset column."""


@dataclass(frozen=True)
class RowRoom:
    """Columns with room for every row of a book (``np.empty``: a page is committed when a row is
    written to it), filled an account's rows at a time as the book is sorted: a sorted book's
    ``base`` is their front. A row's asset and key, once written, are not written again, so a
    front keeps them while rows are added after it. The amounts' room may be a solver's working
    amounts (:meth:`like` with ``amounts``): its runs then write a front's amounts, and the book's
    own are gathered from the model when asked (:meth:`StaticCascade._kept_base`)."""

    offsets: np.ndarray
    columns: dict[str, np.ndarray | None]
    """The per-row columns (:data:`ROW_COLUMNS`, and ``key`` when the parameters have a key of
    their own rather than the asset column)."""

    @classmethod
    def like(cls, b: BookArrays, amounts: tuple[FloatArray, FloatArray] | None = None) -> "RowRoom":
        """Room for the rows of ``b`` in its columns' types; the amounts' room is ``amounts``
        (collateral, debt) when given (:meth:`SortedBook.partial`)."""
        names = ROW_COLUMNS + (("key",) if b.params.key is not b.asset else ())
        cols = {name: _column(b, name) for name in names}
        room = {name: None if x is None else np.empty_like(x) if amounts is None or name not in ("coll", "debt")
                else amounts[name == "debt"] for name, x in cols.items()}
        return cls(np.zeros(b.n_accounts + 1, dtype=np.int64), room)

    def front(self, like: BookArrays, m: int) -> BookArrays:
        """The first ``m`` accounts written, as a book with ``like``'s parameter tables and state."""
        r = int(self.offsets[m])
        cols = {name: None if x is None else x[:r] for name, x in self.columns.items()}
        key = cols.pop("key") if "key" in cols else cols["asset"]
        return BookArrays(offsets=self.offsets[: m + 1], state=like.state, params=replace(like.params, key=key), **cols)

    def fill(self, source: BookArrays, accounts: np.ndarray, m: int) -> BookArrays:
        """Write the rows of ``accounts`` (of ``source``, in that order) after the first ``m``
        accounts' rows, and return the front up to them. One gather of those rows for every
        column (:func:`_gather`)."""
        k = accounts.shape[0]
        r0 = int(self.offsets[m])
        row_type = _row_type(source)  # every row number (a start too) fits it
        starts, ends = np.empty(k, dtype=row_type), self.offsets[m + 1 : m + 1 + k]
        r1 = int(row_spans(source.offsets, accounts, r0, starts, ends))
        rows = np.empty(r1 - r0, dtype=row_type)
        row_numbers(starts, ends, r0, rows)
        del starts
        _gather(source, rows, {name: None if x is None else x[r0:r1] for name, x in self.columns.items()})
        return self.front(source, m + k)


def rows_of(offsets: np.ndarray, accounts: np.ndarray, ends: np.ndarray | None = None) -> np.ndarray:
    """The row numbers of ``accounts`` (in that order) in a book with these ``offsets``, in the
    narrowest type that holds them (:func:`_row_type`); ``ends`` (one an account), when given,
    gets where each account's rows end among them."""
    starts = offsets[:-1][accounts]
    counts = offsets[1:][accounts] - starts
    if ends is not None:
        np.cumsum(counts, out=ends)
    return _row_index(starts, counts, _offsets_row_type(offsets))


def _amounts_of_book(base: BookArrays, book: PositionBook, amounts: tuple[FloatArray, FloatArray]) -> bool:
    """``base``'s amounts are ``book``'s own columns, in its layout, and ``amounts`` have room for
    them: a solver's working amounts can be gathered into from the book and reset from it."""
    rows = base.coll.shape[0]
    return (base.coll is book.collateral and base.debt is book.debt
            and (base.offsets is book.offsets or np.array_equal(base.offsets, book.offsets))
            and all(a.dtype == np.float64 and a.shape == (rows,) for a in amounts))


def _column(b: BookArrays, name: str) -> np.ndarray | None:
    return b.params.key if name == "key" else getattr(b, name)


def _row_type(b: BookArrays) -> type:
    """int32 row numbers while the book's rows fit: a row index is the largest temporary of a sorting."""
    return _offsets_row_type(b.offsets)


def _offsets_row_type(offsets: np.ndarray) -> type:
    return np.int32 if int(offsets[-1]) < np.iinfo(np.int32).max else np.int64


def _gather(source: BookArrays, rows: np.ndarray, out: dict[str, np.ndarray | None]) -> None:
    """``out[name][:] = column[rows]`` for each of ``source``'s per-row columns (``out``'s names,
    :data:`ROW_COLUMNS` and ``key``; None: the book has no such column): one compiled pass over
    the row index for the asset ids, the key and the amounts
    (:func:`~liqcascade.engine.kernels.gather_rows`), a ``take`` for ``aux``."""
    asset, key = out["asset"], out.get("key")
    src_key = source.asset if key is None else source.params.key
    gather_rows(rows, source.asset, src_key, source.coll, source.debt, asset, asset if key is None else key,
                out["coll"], out["debt"])
    if out.get("aux") is not None:
        _take_into(source.aux, rows, out["aux"])


def _take_into(x: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """``out[:] = x[rows]``, a chunk of rows at a time (NumPy widens each chunk's indices, not all)."""
    for i in range(0, rows.shape[0], GATHER_CHUNK):
        j = min(i + GATHER_CHUNK, rows.shape[0])
        np.take(x, rows[i:j], axis=0, out=out[i:j])
