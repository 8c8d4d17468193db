"""Which perp accounts can be liquidatable now, without valuing every account every step.

At a *refresh* the compiled kernel (:func:`~liqcascade.engine.perps_kernels.account_slack`)
values every account at the marks ``m₀`` and funding ``F₀``: its slack (equity −
maintenance) and its exposure ``E``. If since then every market moved by at most a fraction
``x`` of ``m₀`` (price, and funding index, ``x = maxₖ (|m − m₀| + |F − F₀|)/m₀``), an
account's slack moved by at most ``x·E``: only accounts with ``slack/E ≤ x`` can have
reached zero. The lowest ratios are kept sorted, so each step values just that prefix (one
``searchsorted``); an account the step changed (``touch``) is valued again at ``m₀`` and
``F₀`` and re-ranked. The screen refreshes when the prefix grows past a fraction of the book
or the move passes the least ratio it did not rank. The bound is exact
arithmetic on the same formulas, so the screen never misses an account the full check would
find (``tests/engine/test_perps.py`` checks it against valuing every account).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade._typing import BoolArray, FloatArray, IntArray
from liqcascade.engine.perps_kernels import account_affine, account_slack, affine_pass
from liqcascade.model.perps import PerpBook

__all__ = ["MarginScreen", "Valuation", "value_accounts"]


@dataclass(frozen=True)
class Valuation:
    """Equity, maintenance requirement and exposure of ``accounts`` (kernel docstring)."""

    accounts: IntArray
    equity: FloatArray
    maintenance: FloatArray
    exposure: FloatArray

    @property
    def below(self) -> BoolArray:
        """Below maintenance: the dYdX / linear-maintenance liquidation test."""
        return (self.maintenance > 0.0) & (self.equity < self.maintenance)


def value_accounts(book: PerpBook, accounts: IntArray, mark: FloatArray, funding: FloatArray,
                   maint_rate: FloatArray, kernel=account_slack) -> Valuation:
    """Value ``accounts`` with the compiled kernel (``kernel``: its plain twin in tests)."""
    accounts = np.ascontiguousarray(accounts, dtype=np.int64)
    eq, mm, expo = (np.empty(accounts.shape[0]) for _ in range(3))
    kernel(accounts, book.offsets, book.market, book.size, book.entry_price, book.funding_index,
           book.collateral, np.ascontiguousarray(mark, dtype=np.float64),
           np.ascontiguousarray(funding, dtype=np.float64), maint_rate, eq, mm, expo)
    return Valuation(accounts, eq, mm, expo)


@dataclass(frozen=True)
class _Rows:
    """The screen's extra rows: accounts re-ranked since the head was built, unsorted."""

    accounts: IntArray
    room: FloatArray
    signed: FloatArray
    size: FloatArray
    valid: BoolArray

    @classmethod
    def empty(cls, width: int) -> "_Rows":
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros((0, width)), np.zeros((0, width)),
                   np.zeros(0, dtype=bool))

    def plus(self, accounts: IntArray, room: FloatArray, signed: FloatArray, size: FloatArray) -> "_Rows":
        return _Rows(np.concatenate((self.accounts, accounts)), np.concatenate((self.room, room)),
                     np.concatenate((self.signed, signed)), np.concatenate((self.size, size)),
                     np.concatenate((self.valid, np.ones(accounts.size, dtype=bool))))


ROUNDING = 1e-10
"""The quick affine pass keeps every account whose slack is below this share of the size of
its terms: far above float64 rounding of either form of the sum (a few ulps per term), so no
account the exact check would find is dropped."""


class MarginScreen:
    """The accounts a step must value; :meth:`below_maintenance` returns those below maintenance.

    ``refresh_fraction``: refresh when the accounts to value exceed this share of the book.
    Only the accounts a step can value before that refresh are kept ranked (the *head*): the
    ``refresh_fraction`` share of the book with the least room, found by a partition rather
    than a sort of the whole book, and every account already below maintenance; every
    account outside the head has room ``>= bound``, so a move ``x < bound`` needs no one
    outside it. A touched account is valued again at ``m₀`` and ``F₀`` when the next step
    starts: its old row is struck out and, if its room is below ``bound``, a new one joins
    the *extra* rows (unsorted, merged into the head once they are a quarter of it). Its
    bound holds as any other's, and it costs nothing in the steps after.

    Each step passes the rows whose room is at most the move through the accounts' slack as
    an affine function of the marks (:func:`~liqcascade.engine.perps_kernels.account_affine`,
    kept in ranking order: one contiguous matrix product) and values exactly only the
    accounts within rounding of zero slack or below it."""

    def __init__(self, book: PerpBook, maint_rate: FloatArray, mark: FloatArray, funding: FloatArray,
                 refresh_fraction: float = 0.05) -> None:
        self.maint_rate = np.ascontiguousarray(maint_rate, dtype=np.float64)
        self.refresh_fraction = refresh_fraction
        self.refreshes = 0
        self.valued = 0
        self._pending = np.zeros(book.n_accounts, dtype=bool)
        self._row_of = np.full(book.n_accounts, -1, dtype=np.int64)
        self._touched: list[IntArray] = []
        self._refresh(book, mark, funding)

    # ------------------------------------------------------------------ the ranking
    def _refresh(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> None:
        self.mark0 = np.array(mark, dtype=np.float64)
        self.funding0 = np.array(funding, dtype=np.float64)
        room = self._room(book, np.arange(book.n_accounts, dtype=np.int64))
        # one more than the limit is all a step can ask for before the next refresh (k > limit)
        keep = int(self.refresh_fraction * book.n_accounts) + int(np.count_nonzero(room <= 0.0)) + 1
        if keep < book.n_accounts:
            head = np.argpartition(room, keep - 1)[:keep]  # every account left out has room >= all of these
            order = head[np.argsort(room[head], kind="stable")]
            self.bound = float(room[order[-1]])
        else:
            order = np.argsort(room, kind="stable")
            self.bound = np.inf
        # accounts already below maintenance are valued every step until a round changes them
        # (they are being liquidated): a refresh cannot take them out of the prefix, so they
        # do not count toward the limit that calls for one
        self._below = int(np.count_nonzero(room <= 0.0))
        self._row_of[:] = -1
        self._set_head(book, order, room[order], *self._affine(book, order))
        self._pending[:] = False
        self._touched = []
        self.refreshes += 1
        self.valued += book.n_accounts

    def _set_head(self, book: PerpBook, order: IntArray, room: FloatArray, signed: FloatArray,
                  size: FloatArray) -> None:
        """The head (sorted by room) and no extra rows."""
        self.order, self.room, self._signed, self._size = order, room, signed, size
        self._valid = np.ones(order.size, dtype=bool)
        self._row_of[order] = np.arange(order.size)
        self._extra = _Rows.empty(signed.shape[1])

    def _room(self, book: PerpBook, accounts: IntArray) -> FloatArray:
        """slack / exposure of ``accounts`` at ``m₀``, ``F₀`` (inf for an account without maintenance)."""
        v = value_accounts(book, accounts, self.mark0, self.funding0, self.maint_rate)
        expo = v.exposure
        return np.where(expo > 0.0, (v.equity - v.maintenance) / np.where(expo > 0.0, expo, 1.0), np.inf)

    def _affine(self, book: PerpBook, accounts: IntArray) -> tuple[FloatArray, FloatArray]:
        """``account_affine``'s rows for ``accounts``: the signed coefficients and the sizes, apart."""
        n_k = self.maint_rate.shape[0]
        out = np.empty((accounts.shape[0], 4 * n_k + 2))
        account_affine(np.ascontiguousarray(accounts, dtype=np.int64), book.offsets, book.market, book.size,
                       book.entry_price, book.funding_index, book.collateral, self.maint_rate, out)
        return np.ascontiguousarray(out[:, : 2 * n_k + 1]), np.ascontiguousarray(out[:, 2 * n_k + 1:])

    def touch(self, accounts: IntArray) -> None:
        """Accounts whose positions or collateral the step changed: ranked again when the next
        step starts."""
        a = np.asarray(accounts, dtype=np.int64)
        new = a[~self._pending[a]]
        if new.size:
            self._pending[new] = True
            self._touched.append(new)

    def _rerank(self, book: PerpBook) -> None:
        """Strike out the touched accounts' rows; those whose room at ``m₀``, ``F₀`` is below
        ``bound`` get new extra rows."""
        touched = np.unique(np.concatenate(self._touched))
        self._touched = []
        self._pending[touched] = False
        rows = self._row_of[touched]
        n_head = self.order.size
        self._valid[rows[(rows >= 0) & (rows < n_head)]] = False
        self._extra.valid[rows[rows >= n_head] - n_head] = False
        room = self._room(book, touched)
        self.valued += int(touched.size)
        into = room < self.bound
        self._row_of[touched] = -1
        new = touched[into]
        self._row_of[new] = n_head + self._extra.accounts.size + np.arange(new.size)
        self._extra = self._extra.plus(new, room[into], *self._affine(book, new))
        if self._extra.accounts.size > max(1024, n_head // 4):
            self._merge(book)

    def _merge(self, book: PerpBook) -> None:
        """The head's and the extra rows that still count, in one sorted head."""
        e = self._extra
        order = np.concatenate((self.order[self._valid], e.accounts[e.valid]))
        room = np.concatenate((self.room[self._valid], e.room[e.valid]))
        signed = np.concatenate((self._signed[self._valid], e.signed[e.valid]))
        size = np.concatenate((self._size[self._valid], e.size[e.valid]))
        rank = np.argsort(room, kind="stable")
        self._row_of[self.order] = -1
        self._row_of[e.accounts] = -1
        self._set_head(book, order[rank], room[rank], signed[rank], size[rank])

    # ------------------------------------------------------------------ a step
    def candidates(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> IntArray:
        """The accounts that may be below maintenance at ``mark`` and ``funding`` (sorted)."""
        if self._touched:
            self._rerank(book)
        mark = np.asarray(mark, dtype=np.float64)
        funding = np.asarray(funding, dtype=np.float64)
        move = (np.abs(mark - self.mark0) + np.abs(funding - self.funding0)) / self.mark0
        x = float(move.max()) if move.size else 0.0
        k = int(np.searchsorted(self.room, x, side="right"))
        extra = np.flatnonzero(self._extra.valid & (self._extra.room <= x))
        if k + extra.size > self.refresh_fraction * book.n_accounts + self._below or x >= self.bound:
            self._refresh(book, mark, funding)
            k = int(np.searchsorted(self.room, 0.0, side="right"))
            extra = extra[:0]
        at = np.concatenate(([1.0], mark, -funding))
        scale = np.concatenate(([1.0], mark, np.abs(funding)))
        e = self._extra
        out = np.empty(k + e.accounts.size, dtype=np.int64)
        n = affine_pass(self._signed, self._size, self._valid, self.order, self.room, k, x, at, scale, ROUNDING,
                        out)
        if extra.size:
            n += affine_pass(e.signed, e.size, e.valid, e.accounts, e.room, e.accounts.size, x, at, scale,
                             ROUNDING, out[n:])
        return np.sort(out[:n])

    def below_maintenance(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> Valuation:
        """The valuation of the accounts below maintenance, in account order."""
        cand = self.candidates(book, mark, funding)
        v = value_accounts(book, cand, mark, funding, self.maint_rate)
        self.valued += int(cand.size)
        keep = v.below
        return Valuation(v.accounts[keep], v.equity[keep], v.maintenance[keep], v.exposure[keep])
