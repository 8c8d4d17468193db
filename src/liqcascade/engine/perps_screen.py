"""Which perp accounts can be liquidatable now, without valuing every account every step.

At a *refresh* the compiled kernel (:func:`~liqcascade.engine.perps_kernels.account_slack`)
values every account at the marks ``m₀`` and funding ``F₀``: its slack (equity −
maintenance) and its exposure ``E``. If since then every market moved by at most a fraction
``x`` of ``m₀`` (price, and funding index, ``x = maxₖ (|m − m₀| + |F − F₀|)/m₀``), an
account's slack moved by at most ``x·E``: only accounts with ``slack/E ≤ x`` can have
reached zero. Their ratios are kept sorted, so each step values just that prefix (one
``searchsorted``) plus the accounts the step changed (``touch``); the screen refreshes when
the prefix or the touched set grows past a fraction of the book. The bound is exact
arithmetic on the same formulas, so the screen never misses an account the full check would
find (``tests/engine/test_perps.py`` checks it against valuing every account).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade._typing import BoolArray, FloatArray, IntArray
from liqcascade.engine.perps_kernels import account_slack
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


class MarginScreen:
    """The accounts a step must value; :meth:`liquidatable` returns those below maintenance.

    ``refresh_fraction``: refresh when the accounts to value exceed this share of the book."""

    def __init__(self, book: PerpBook, maint_rate: FloatArray, mark: FloatArray, funding: FloatArray,
                 refresh_fraction: float = 0.05) -> None:
        self.maint_rate = np.ascontiguousarray(maint_rate, dtype=np.float64)
        self.refresh_fraction = refresh_fraction
        self.refreshes = 0
        self.valued = 0
        self._refresh(book, mark, funding)

    def _refresh(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> None:
        everyone = np.arange(book.n_accounts, dtype=np.int64)
        v = value_accounts(book, everyone, mark, funding, self.maint_rate)
        expo = v.exposure
        room = np.where(expo > 0.0, (v.equity - v.maintenance) / np.where(expo > 0.0, expo, 1.0), np.inf)
        self.order = np.argsort(room, kind="stable")
        self.room = room[self.order]
        self.mark0 = np.array(mark, dtype=np.float64)
        self.funding0 = np.array(funding, dtype=np.float64)
        self.touched = np.zeros(0, dtype=np.int64)  # sorted, unique
        self._mask = np.zeros(book.n_accounts, dtype=bool)
        self.refreshes += 1
        self.valued += book.n_accounts

    def touch(self, accounts: IntArray) -> None:
        """Accounts whose positions or collateral the step changed: valued every step until
        the next refresh."""
        self.touched = np.union1d(self.touched, np.asarray(accounts, dtype=np.int64))

    def candidates(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> IntArray:
        """The accounts that may be below maintenance at ``mark`` and ``funding``."""
        move = (np.abs(np.asarray(mark) - self.mark0) + np.abs(np.asarray(funding) - self.funding0)) / self.mark0
        x = float(move.max()) if move.size else 0.0
        k = int(np.searchsorted(self.room, x, side="right"))
        limit = self.refresh_fraction * book.n_accounts
        if k > limit or self.touched.size > limit:
            self._refresh(book, mark, funding)
            k = int(np.searchsorted(self.room, 0.0, side="right"))
        prefix = self.order[:k]
        if self.touched.size:
            # the touched accounts not in the prefix, by a reusable mask (no set operation)
            self._mask[prefix] = True
            extra = self.touched[~self._mask[self.touched]]
            self._mask[prefix] = False
            prefix = np.concatenate((prefix, extra))
        return np.sort(prefix)

    def below_maintenance(self, book: PerpBook, mark: FloatArray, funding: FloatArray) -> Valuation:
        """The valuation of the accounts below maintenance, in account order."""
        cand = self.candidates(book, mark, funding)
        v = value_accounts(book, cand, mark, funding, self.maint_rate)
        self.valued += int(cand.size)
        keep = v.below
        return Valuation(v.accounts[keep], v.equity[keep], v.maintenance[keep], v.exposure[keep])
