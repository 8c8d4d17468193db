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
from liqcascade.engine.perps_kernels import account_affine, account_slack
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
    starts and takes its new place in the ranking (in the head if its room is below
    ``bound``): its bound holds as any other's, and it costs nothing in the steps after.

    Each step passes the prefix through the head's slack as an affine function of the marks
    (:func:`~liqcascade.engine.perps_kernels.account_affine`, kept in ranking order, so one
    contiguous matrix product) and values exactly only the accounts within rounding of zero
    slack or below it."""

    def __init__(self, book: PerpBook, maint_rate: FloatArray, mark: FloatArray, funding: FloatArray,
                 refresh_fraction: float = 0.05) -> None:
        self.maint_rate = np.ascontiguousarray(maint_rate, dtype=np.float64)
        self.refresh_fraction = refresh_fraction
        self.refreshes = 0
        self.valued = 0
        self._pending = np.zeros(book.n_accounts, dtype=bool)
        self._touched: list[IntArray] = []
        self._refresh(book, mark, funding)

    def _refresh(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> None:
        self.mark0 = np.array(mark, dtype=np.float64)
        self.funding0 = np.array(funding, dtype=np.float64)
        room = self._room(book, np.arange(book.n_accounts, dtype=np.int64))
        # one more than the limit is all a step can ask for before the next refresh (k > limit)
        keep = int(self.refresh_fraction * book.n_accounts) + 1
        keep = max(keep, int(np.count_nonzero(room <= 0.0)) + 1)
        if keep < book.n_accounts:
            head = np.argpartition(room, keep - 1)[:keep]  # every account left out has room >= all of these
            self.order = head[np.argsort(room[head], kind="stable")]
            self.bound = float(room[self.order[-1]])
        else:
            self.order = np.argsort(room, kind="stable")
            self.bound = np.inf
        self.room = room[self.order]
        self.coef = self._affine(book, self.order)
        self._pending[:] = False
        self._touched = []
        self.refreshes += 1
        self.valued += book.n_accounts

    def _room(self, book: PerpBook, accounts: IntArray) -> FloatArray:
        """slack / exposure of ``accounts`` at ``m₀``, ``F₀`` (inf for an account without maintenance)."""
        v = value_accounts(book, accounts, self.mark0, self.funding0, self.maint_rate)
        expo = v.exposure
        return np.where(expo > 0.0, (v.equity - v.maintenance) / np.where(expo > 0.0, expo, 1.0), np.inf)

    def _affine(self, book: PerpBook, accounts: IntArray) -> FloatArray:
        out = np.empty((accounts.shape[0], 4 * self.maint_rate.shape[0] + 2))
        account_affine(np.ascontiguousarray(accounts, dtype=np.int64), book.offsets, book.market, book.size,
                       book.entry_price, book.funding_index, book.collateral, self.maint_rate, out)
        return out

    def touch(self, accounts: IntArray) -> None:
        """Accounts whose positions or collateral the step changed: ranked again when the next
        step starts."""
        a = np.asarray(accounts, dtype=np.int64)
        new = a[~self._pending[a]]
        if new.size:
            self._pending[new] = True
            self._touched.append(new)

    def _rerank(self, book: PerpBook) -> None:
        """The touched accounts' rooms at ``m₀``, ``F₀`` replace their old ones in the head
        (inserted in place: the head stays sorted without sorting it again)."""
        touched = np.unique(np.concatenate(self._touched))
        self._touched = []
        stay = ~self._pending[self.order]
        self._pending[touched] = False
        room = self._room(book, touched)
        self.valued += int(touched.size)
        into = np.flatnonzero(room < self.bound)
        into = into[np.argsort(room[into], kind="stable")]
        order, rooms = self.order[stay], self.room[stay]
        at = np.searchsorted(rooms, room[into], side="right")
        self.order = np.insert(order, at, touched[into])
        self.room = np.insert(rooms, at, room[into])
        self.coef = np.insert(self.coef[stay], at, self._affine(book, touched[into]), axis=0)

    def candidates(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> IntArray:
        """The accounts that may be below maintenance at ``mark`` and ``funding`` (sorted)."""
        if self._touched:
            self._rerank(book)
        mark = np.asarray(mark, dtype=np.float64)
        funding = np.asarray(funding, dtype=np.float64)
        move = (np.abs(mark - self.mark0) + np.abs(funding - self.funding0)) / self.mark0
        x = float(move.max()) if move.size else 0.0
        k = int(np.searchsorted(self.room, x, side="right"))
        if k > self.refresh_fraction * book.n_accounts or x >= self.bound:
            self._refresh(book, mark, funding)
            k = int(np.searchsorted(self.room, 0.0, side="right"))
        n_k = mark.shape[0]
        coef = self.coef[:k]
        slack = coef[:, : 2 * n_k + 1] @ np.concatenate(([1.0], mark, -funding))
        size = coef[:, 2 * n_k + 1:] @ np.concatenate(([1.0], mark, np.abs(funding)))
        return np.sort(self.order[:k][slack <= ROUNDING * size])

    def below_maintenance(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> Valuation:
        """The valuation of the accounts below maintenance, in account order."""
        cand = self.candidates(book, mark, funding)
        v = value_accounts(book, cand, mark, funding, self.maint_rate)
        self.valued += int(cand.size)
        keep = v.below
        return Valuation(v.accounts[keep], v.equity[keep], v.maintenance[keep], v.exposure[keep])
