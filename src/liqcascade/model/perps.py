"""Perpetual-futures books: signed positions in USDC-margined accounts, cross or isolated.

A **margin account** is what a margin engine tests. A *cross* account shares its collateral
among all its positions; an *isolated* account holds at most one position and the margin set
aside for it. (dYdX v4 keeps isolated positions in subaccounts of their own; Hyperliquid and
Binance keep a margin slice per isolated position: both are one isolated margin account
here.) The book is columnar: one row per (account, market) position, sorted by account, with
CSR ``offsets`` as in :class:`~liqcascade.model.PositionBook`; and one record per account.

Valuation, at mark prices ``m`` (per market) and cumulative funding indices ``F`` (quote per
unit of base; a rise is paid by longs to shorts)::

    unrealised PnL   = size · (m − entry_price)
    funding owed     = size · (F − funding_index)
    equity           = collateral + Σ (unrealised PnL − funding owed)
    notional         = |size| · m

Sizes are signed base units (long > 0, short < 0), prices and collateral are quote (USDC).
dYdX v4's quote balance (its USDC asset position) is ``collateral − Σ size · entry_price −
Σ funding owed`` and its total net collateral ``quote balance + Σ size · oracle price``: the
same equity, read at the oracle price (see :meth:`PerpBook.quote_balance`).

Nothing here knows a margin rule: tiers, leverage caps and liquidation live in the margin
engines' folders under ``liqcascade.protocols``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from liqcascade._typing import BoolArray, FloatArray, Int32Array, IntArray
from liqcascade.errors import DataError

__all__ = ["AccountColumns", "PerpBook", "PositionColumns"]

LONG, SHORT, EITHER = 1, -1, 0
"""Values of :attr:`PerpBook.declared_side`: an isolated account declared long or short; a
cross account (which may hold both)."""


@dataclass(frozen=True)
class AccountColumns:
    """Margin accounts as read from a file: one row per account, in any order.

    ``isolated`` is True for an isolated account; ``side`` is +1 (long), -1 (short) or 0
    (not declared) per row and is checked against the isolated position's sign. ``owner`` is
    who holds the account (several accounts may share one; None: each account its own owner).
    """

    ids: Sequence[object] | np.ndarray
    collateral: Sequence[float] | np.ndarray
    isolated: Sequence[bool] | np.ndarray
    side: Sequence[int] | np.ndarray | None = None
    owner: Sequence[object] | np.ndarray | None = None
    source: str = "accounts"


@dataclass(frozen=True)
class PositionColumns:
    """Positions as read from a file: one row per (account, market), in any order.

    ``market`` indexes the book's ``markets``; ``funding_index`` is the cumulative funding
    index the position last settled at (None: zero for every row)."""

    account: Sequence[object] | np.ndarray
    market: Sequence[int] | np.ndarray
    size: Sequence[float] | np.ndarray
    entry_price: Sequence[float] | np.ndarray
    funding_index: Sequence[float] | np.ndarray | None = None
    source: str = "positions"


@dataclass(frozen=True)
class PerpBook:
    """Perp positions and their margin accounts.

    Attributes
    ----------
    account : int64 per position, dense account index ``0..n_accounts-1``, non-decreasing.
    market : int32 per position, index into ``markets``.
    size : float64 per position, signed base units, never zero.
    entry_price : float64 per position, quote per unit of base, > 0.
    funding_index : float64 per position, the funding index last settled at.
    collateral : float64 per account, quote, never negative.
    isolated : bool per account.
    declared_side : int8 per account: +1 / -1 for an isolated account declared long / short, 0 otherwise.
    owner : int64 per account, dense owner index (who bears an account's losses and gains).
    account_ids, owner_ids : the labels the user gave, per account and per owner.
    offsets : int64, ``n_accounts + 1`` segment bounds into the positions.
    markets : the market names ``market`` indexes.
    """

    account: IntArray
    market: Int32Array
    size: FloatArray
    entry_price: FloatArray
    funding_index: FloatArray
    collateral: FloatArray
    isolated: BoolArray
    declared_side: np.ndarray
    owner: IntArray
    account_ids: np.ndarray
    owner_ids: np.ndarray
    offsets: IntArray
    markets: tuple[str, ...]

    # ------------------------------------------------------------------ build
    @classmethod
    def from_rows(cls, accounts: AccountColumns, positions: PositionColumns, markets: Sequence[str]) -> "PerpBook":
        """Build and check a book. Every problem is a :class:`DataError` naming the file (the
        columns' ``source``), the 1-based row and the field; nothing is built on bad input."""
        acc = _AccountRows.read(accounts)
        pos = _PositionRows.read(positions, len(markets))
        where = _account_of_positions(acc, pos, positions)
        order = np.argsort(where, kind="stable")
        account = where[order]
        market = pos.market[order]
        _check_one_row_per_market(account, market, order, positions.source, acc.ids, markets)
        offsets = np.searchsorted(account, np.arange(len(acc.ids) + 1)).astype(np.int64)
        book = cls(
            account=account, market=market.astype(np.int32), size=pos.size[order],
            entry_price=pos.entry_price[order], funding_index=pos.funding_index[order],
            collateral=acc.collateral, isolated=acc.isolated, declared_side=acc.side,
            owner=acc.owner, account_ids=acc.ids, owner_ids=acc.owner_ids, offsets=offsets,
            markets=tuple(str(m) for m in markets),
        )
        _check_isolated(book, order, accounts.source, positions.source)
        return book

    # ------------------------------------------------------------------ shape
    @property
    def n_accounts(self) -> int:
        return int(self.collateral.shape[0])

    @property
    def n_positions(self) -> int:
        return int(self.size.shape[0])

    def subset(self, accounts: IntArray) -> tuple["PerpBook", IntArray]:
        """The book of ``accounts`` (sorted dense indices) alone, and for each of its positions
        the position's index in this book. Arrays are copies; labels and markets are kept."""
        accounts = np.asarray(accounts, dtype=np.int64)
        lo, hi = self.offsets[accounts], self.offsets[accounts + 1]
        counts = hi - lo
        offsets = np.zeros(accounts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        pos = np.repeat(lo - offsets[:-1], counts) + np.arange(offsets[-1], dtype=np.int64)
        sub = PerpBook(
            account=np.repeat(np.arange(accounts.size, dtype=np.int64), counts), market=self.market[pos],
            size=self.size[pos], entry_price=self.entry_price[pos], funding_index=self.funding_index[pos],
            collateral=self.collateral[accounts], isolated=self.isolated[accounts],
            declared_side=self.declared_side[accounts], owner=self.owner[accounts],
            account_ids=self.account_ids[accounts], owner_ids=self.owner_ids, offsets=offsets, markets=self.markets,
        )
        return sub, pos

    # ------------------------------------------------------------------ values
    def notional(self, mark: FloatArray) -> FloatArray:
        """``|size| · mark`` per position (``mark`` per market)."""
        return np.abs(self.size) * np.asarray(mark, dtype=np.float64)[self.market]

    def unrealised_pnl(self, mark: FloatArray) -> FloatArray:
        """``size · (mark − entry_price)`` per position."""
        return self.size * (np.asarray(mark, dtype=np.float64)[self.market] - self.entry_price)

    def funding_owed(self, funding: FloatArray | None) -> FloatArray:
        """``size · (F − funding_index)`` per position (``funding`` per market; None: none accrued)."""
        if funding is None:
            return np.zeros(self.n_positions)
        return self.size * (np.asarray(funding, dtype=np.float64)[self.market] - self.funding_index)

    def per_account(self, per_position: FloatArray) -> FloatArray:
        """The sum of a per-position quantity over each account's positions."""
        return np.bincount(self.account, weights=per_position, minlength=self.n_accounts)

    def equity(self, mark: FloatArray, funding: FloatArray | None = None) -> FloatArray:
        """Per account: collateral + Σ (unrealised PnL − funding owed)."""
        return self.collateral + self.per_account(self.unrealised_pnl(mark) - self.funding_owed(funding))

    def quote_balance(self, funding: FloatArray | None = None) -> FloatArray:
        """Per account, dYdX v4's USDC position: collateral − Σ size · entry_price − Σ funding owed."""
        return self.collateral - self.per_account(self.size * self.entry_price + self.funding_owed(funding))

    def open_interest(self) -> tuple[FloatArray, FloatArray]:
        """Per market, the base units held long and held short (both ≥ 0)."""
        n = len(self.markets)
        long = np.bincount(self.market, weights=np.maximum(self.size, 0.0), minlength=n)
        short = np.bincount(self.market, weights=np.maximum(-self.size, 0.0), minlength=n)
        return long, short


# ---------------------------------------------------------------------- checks
@dataclass(frozen=True)
class _AccountRows:
    ids: np.ndarray
    collateral: FloatArray
    isolated: BoolArray
    side: np.ndarray
    owner: IntArray
    owner_ids: np.ndarray

    @classmethod
    def read(cls, cols: AccountColumns) -> "_AccountRows":
        src = cols.source
        ids = np.asarray(cols.ids)
        n = ids.shape[0]
        coll = _floats(cols.collateral, n, "collateral", src)
        bad = np.flatnonzero(~np.isfinite(coll) | (coll < 0))
        if bad.size:
            raise DataError(src, int(bad[0]) + 1, f"collateral: expected a finite amount ≥ 0, got {coll[bad[0]]!r}")
        isolated = np.asarray(cols.isolated)
        if isolated.shape != (n,) or isolated.dtype != np.bool_:
            raise DataError(src, None, f"isolated: expected {n} true/false values")
        side = np.zeros(n, dtype=np.int8) if cols.side is None else np.asarray(cols.side)
        bad = np.flatnonzero(~np.isin(side, (LONG, SHORT, EITHER)))
        if side.shape != (n,) or bad.size:
            row = int(bad[0]) + 1 if bad.size else None
            raise DataError(src, row, "side: expected +1 (long), -1 (short) or 0 (not declared)")
        bad = np.flatnonzero(~isolated & (side != EITHER))
        if bad.size:
            raise DataError(src, int(bad[0]) + 1, "side: only an isolated account declares a side; a cross account may hold both")
        order = np.argsort(ids, kind="stable")
        dup = np.flatnonzero(ids[order][1:] == ids[order][:-1])
        if dup.size:
            row = int(order[dup[0] + 1]) + 1
            raise DataError(src, row, f"account {ids[order][dup[0]]!r} is listed twice; one row per margin account")
        owner_labels = ids if cols.owner is None else np.asarray(cols.owner)
        if owner_labels.shape != (n,):
            raise DataError(src, None, f"owner: expected {n} values, got {owner_labels.shape[0]}")
        owner_ids, owner = np.unique(owner_labels, return_inverse=True)
        # accounts are kept in sorted label order, so position lookups are one searchsorted
        return cls(ids[order], coll[order], isolated[order], side[order].astype(np.int8),
                   owner.reshape(-1)[order].astype(np.int64), owner_ids)


@dataclass(frozen=True)
class _PositionRows:
    account: np.ndarray
    market: IntArray
    size: FloatArray
    entry_price: FloatArray
    funding_index: FloatArray

    @classmethod
    def read(cls, cols: PositionColumns, n_markets: int) -> "_PositionRows":
        src = cols.source
        account = np.asarray(cols.account)
        n = account.shape[0]
        market = np.asarray(cols.market)
        if market.shape != (n,) or (n and not np.issubdtype(market.dtype, np.integer)):
            raise DataError(src, None, f"market: expected {n} market indices")
        bad = np.flatnonzero((market < 0) | (market >= n_markets))
        if bad.size:
            raise DataError(src, int(bad[0]) + 1, f"market: index {market[bad[0]]} outside 0..{n_markets - 1}")
        size = _floats(cols.size, n, "size", src)
        bad = np.flatnonzero(~np.isfinite(size) | (size == 0))
        if bad.size:
            raise DataError(src, int(bad[0]) + 1, f"size: expected a finite non-zero signed amount, got {size[bad[0]]!r}")
        entry = _floats(cols.entry_price, n, "entry_price", src)
        bad = np.flatnonzero(~np.isfinite(entry) | (entry <= 0))
        if bad.size:
            raise DataError(src, int(bad[0]) + 1, f"entry_price: expected a finite price > 0, got {entry[bad[0]]!r}")
        fund = np.zeros(n) if cols.funding_index is None else _floats(cols.funding_index, n, "funding_index", src)
        bad = np.flatnonzero(~np.isfinite(fund))
        if bad.size:
            raise DataError(src, int(bad[0]) + 1, f"funding_index: expected a finite value, got {fund[bad[0]]!r}")
        return cls(account, market.astype(np.int64), size, entry, fund)


def _floats(values, n: int, name: str, source: str) -> FloatArray:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(source, None, f"{name}: expected numbers ({exc})") from None
    if out.shape != (n,):
        raise DataError(source, None, f"{name}: expected {n} values, got {out.shape[0] if out.ndim else 1}")
    return out


def _account_of_positions(acc: _AccountRows, pos: _PositionRows, cols: PositionColumns) -> IntArray:
    """The dense account index of each position; a position whose account is not listed is an error."""
    if not pos.account.shape[0]:
        return np.zeros(0, dtype=np.int64)
    try:
        where = np.searchsorted(acc.ids, pos.account)
    except TypeError:
        raise DataError(cols.source, None, "account: labels of another type than the accounts file's") from None
    if len(acc.ids):
        clipped = np.minimum(where, len(acc.ids) - 1)
        missing = np.flatnonzero((where >= len(acc.ids)) | (acc.ids[clipped] != pos.account))
    else:
        missing = np.arange(1)
    if missing.size:
        row = int(missing[0])
        raise DataError(cols.source, row + 1, f"account: {pos.account[row]!r} has no margin account in the accounts file")
    return where.astype(np.int64)


def _check_one_row_per_market(account, market, order, source: str, ids, markets) -> None:
    """One row per (account, market): two rows would leave the entry price ambiguous."""
    key = account * (len(markets) + 1) + market
    by_key = np.argsort(key, kind="stable")
    rep = np.flatnonzero(key[by_key][1:] == key[by_key][:-1])
    if rep.size:
        row = int(order[by_key[rep[0] + 1]]) + 1
        acct = ids[account[by_key[rep[0]]]]
        raise DataError(source, row, f"account {acct!r} holds {markets[market[by_key[rep[0]]]]} twice; one row per (account, market)")


def _check_isolated(book: PerpBook, order: IntArray, accounts_source: str, positions_source: str) -> None:
    """An isolated account holds at most one position, of the side it declares."""
    count = np.diff(book.offsets)
    bad = np.flatnonzero(book.isolated & (count > 1))
    if bad.size:
        k = int(bad[0])
        row = int(order[book.offsets[k] + 1]) + 1
        raise DataError(positions_source, row,
                        f"account {book.account_ids[k]!r} is isolated and holds {int(count[k])} positions; "
                        "an isolated margin account holds one")
    side = book.declared_side[book.account]
    wrong = np.flatnonzero((side != EITHER) & (np.sign(book.size) != side))
    if wrong.size:
        j = int(wrong[0])
        k = int(book.account[j])
        declared = "long" if side[j] == LONG else "short"
        raise DataError(positions_source, int(order[j]) + 1,
                        f"size: {book.size[j]!r} on isolated account {book.account_ids[k]!r}, declared {declared} "
                        f"in {accounts_source}")
