"""The position book: one row per (account, asset) holding, columnar and sorted by account.

Per-account quantities are segment reductions over ``offsets`` (CSR layout): the rows of
account ``k`` are ``offsets[k]:offsets[k+1]``. There is never one Python object per
account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from liqcascade._typing import FloatArray, Int32Array, IntArray
from liqcascade.errors import DataError


@dataclass(frozen=True, eq=False)
class HealthOrder:
    """The marker of a book whose accounts are in health order: the order the engine's stable
    sort of the health factors at ``prices`` gives them (ties in ``rank`` order). An engine
    given such a book at these same prices checks it (one pass: the HFs it computes anyway are
    non-decreasing) and then works on the book's own columns instead of a sorted copy.

    Attributes
    ----------
    prices : the USD prices (indexed like the book's ``assets``) the book is in order at; empty
        when its amounts have changed since (:meth:`PositionBook.with_amounts`).
    rank : per account, its position in the order the tables list accounts in (the order of
        the book it was made from: by label for a book read from a file), so that every table
        is the same as for that book; int32 while the accounts fit (:func:`account_dtype`).
    """

    prices: tuple[float, ...]
    rank: IntArray

    def __post_init__(self) -> None:
        if not _is_permutation(self.rank):
            raise DataError("HealthOrder", None, "rank must be a permutation of 0..n_accounts-1")
        rank = np.asarray(self.rank)
        object.__setattr__(self, "rank", _narrow(rank, rank.shape[0]))

    def at(self, prices: FloatArray) -> bool:
        """The book is marked as in order at exactly these prices (bit for bit)."""
        p = np.asarray(prices, dtype=np.float64)
        return p.shape == (len(self.prices),) and bool(np.array_equal(p, np.asarray(self.prices, dtype=np.float64)))


@dataclass(frozen=True)
class PositionBook:
    """Holdings in token units.

    Attributes
    ----------
    account : per row, dense account index ``0..n_accounts-1``, non-decreasing; int32 while the
        accounts fit (:func:`account_dtype`; any integer column given is stored so).
    asset : per row, index into ``assets``; int16 while the assets fit (:func:`asset_dtype`; any
        integer column given is stored so).
    collateral, debt : float64 per row, token units, never negative.
    assets : the asset symbols that ``asset`` indexes (usually a market's ``RiskParams.symbols``).
    account_ids : per account, the label the user gave (string or integer).
    emode : int16 per account, the e-mode category the account is in (0 = none).
    offsets : int64, ``n_accounts + 1`` segment bounds into the rows.
    health_order : set when the accounts are in health order (:meth:`in_health_order`);
        None: the accounts are in the order the tables list them in (by label when built by
        :meth:`from_rows` or read from a file).
    """

    account: IntArray
    asset: Int32Array
    collateral: FloatArray
    debt: FloatArray
    assets: tuple[str, ...]
    account_ids: np.ndarray
    emode: np.ndarray
    offsets: IntArray
    health_order: HealthOrder | None = None

    def __post_init__(self) -> None:
        # half the width of int64 is 4 B of every holding a book keeps (100 MB at 10M accounts)
        object.__setattr__(self, "account", _narrow(np.asarray(self.account), self.offsets.shape[0] - 1))
        # and int16 asset ids 2 B of every holding (and of a sorted copy's, and of an e-mode key: its type)
        asset = np.asarray(self.asset)
        if asset.dtype.kind in "iu":
            object.__setattr__(self, "asset", asset.astype(asset_dtype(len(self.assets)), copy=False))

    # ------------------------------------------------------------------ build
    @classmethod
    def from_rows(
        cls,
        account_ids: Sequence[object] | np.ndarray,
        asset_index: Sequence[int] | np.ndarray,
        collateral: Sequence[float] | np.ndarray,
        debt: Sequence[float] | np.ndarray,
        assets: Sequence[str],
        emode: dict[object, int] | np.ndarray | None = None,
        source: str = "PositionBook.from_rows",
    ) -> "PositionBook":
        """Build a book from long-format rows in any order.

        Rows of one account may be scattered; they are gathered (stable sort). Two rows
        for the same (account, asset) are summed. Negative or non-finite amounts raise
        :class:`DataError` naming the 1-based row.

        ``emode`` is either a mapping from account label to category or an array aligned
        with the rows (all rows of an account must agree).
        """
        labels = np.asarray(account_ids)
        a_idx = np.asarray(asset_index, dtype=np.int64)
        coll = np.asarray(collateral, dtype=np.float64)
        dbt = np.asarray(debt, dtype=np.float64)
        n = labels.shape[0]
        if not (a_idx.shape[0] == coll.shape[0] == dbt.shape[0] == n):
            raise DataError(source, None, "account, asset, collateral and debt columns differ in length")
        _check_amounts(coll, "collateral", source)
        _check_amounts(dbt, "debt", source)
        if n and (a_idx.min() < 0 or a_idx.max() >= len(assets)):
            bad = int(np.flatnonzero((a_idx < 0) | (a_idx >= len(assets)))[0])
            raise DataError(source, bad + 1, f"asset index {a_idx[bad]} outside 0..{len(assets) - 1}")

        uniq, acct = np.unique(labels, return_inverse=True)
        acct = acct.astype(np.int64).reshape(-1)  # widened: the (account, asset) key below
        if emode is None:
            em = np.zeros(len(uniq), dtype=np.int16)
        elif isinstance(emode, dict):
            em = np.array([int(emode.get(u, 0)) for u in uniq.tolist()], dtype=np.int16)
        else:
            row_em = np.asarray(emode, dtype=np.int64)
            if row_em.shape[0] != n:
                raise DataError(source, None, "emode column differs in length from the rows")
            em = np.zeros(len(uniq), dtype=np.int16)
            em[acct] = row_em
            mismatch = np.flatnonzero(em[acct] != row_em)
            if mismatch.size:
                r = int(mismatch[0])
                raise DataError(source, r + 1, f"account {labels[r]!r} has rows with different e-mode categories")

        # merge duplicate (account, asset) rows, then sort by (account, asset)
        key = acct * np.int64(len(assets)) + a_idx
        ukey, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        coll_m = np.bincount(inv, weights=coll, minlength=len(ukey))
        debt_m = np.bincount(inv, weights=dbt, minlength=len(ukey))
        acct_m = (ukey // len(assets)).astype(account_dtype(len(uniq)))
        asset_m = (ukey % len(assets)).astype(asset_dtype(len(assets)))
        offsets = np.zeros(len(uniq) + 1, dtype=np.int64)
        np.cumsum(np.bincount(acct_m, minlength=len(uniq)), out=offsets[1:])
        return cls(acct_m, asset_m, coll_m, debt_m, tuple(assets), uniq, em, offsets)

    # --------------------------------------------------------------- queries
    @property
    def n_accounts(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_rows(self) -> int:
        return int(self.account.shape[0])

    def segment_sum(self, per_row: FloatArray) -> FloatArray:
        """Sum a per-row array over each account's rows."""
        return np.bincount(self.account, weights=per_row, minlength=self.n_accounts)

    def collateral_value(self, prices: FloatArray) -> FloatArray:
        """Per-account collateral value at ``prices`` (indexed like ``assets``)."""
        return self.segment_sum(self.collateral * prices[self.asset])

    def debt_value(self, prices: FloatArray) -> FloatArray:
        return self.segment_sum(self.debt * prices[self.asset])

    def totals_by_asset(self) -> tuple[FloatArray, FloatArray]:
        """Total collateral and total debt per asset, token units."""
        k = len(self.assets)
        return (
            np.bincount(self.asset, weights=self.collateral, minlength=k),
            np.bincount(self.asset, weights=self.debt, minlength=k),
        )

    def with_amounts(self, collateral: FloatArray, debt: FloatArray) -> "PositionBook":
        """The same layout with new amounts (used for end-of-run books). New amounts mean new
        health factors: a book in health order keeps its accounts' order and ranks, but its
        marker no longer names prices (no engine takes it as in order)."""
        marker = None if self.health_order is None else HealthOrder((), self.health_order.rank)
        return PositionBook(
            self.account, self.asset, collateral, debt, self.assets, self.account_ids, self.emode, self.offsets,
            marker,
        )

    @property
    def output_rank(self) -> IntArray | None:
        """Per account, its position in the order tables list accounts in; None when that is
        the book's own account order."""
        return None if self.health_order is None else self.health_order.rank

    def in_health_order(self, rules: Any, prices: FloatArray) -> "PositionBook":
        """This book with its accounts (and their rows) in health order at ``prices`` (indexed
        like ``assets``): ascending HF as ``rules`` compute it (``rules.prepare`` then
        ``rules.health``, the engine's own reference-price pass), ties in the order the tables
        list accounts in; marked with :class:`HealthOrder`. An engine at these prices then
        needs no sorted copy of the book (``engine/static.py``, ``SortedBook``)."""
        p = np.asarray(prices, dtype=np.float64)
        if p.shape != (len(self.assets),):
            raise DataError("PositionBook.in_health_order", None,
                            f"one price per asset ({len(self.assets)}), got shape {p.shape}")
        hf = np.asarray(rules.health(rules.prepare(self), p).hf, dtype=np.float64)
        rank = self.output_rank
        rank = np.arange(self.n_accounts, dtype=account_dtype(self.n_accounts)) if rank is None else rank
        order = np.lexsort((rank, hf))  # NaN last, as the engine's sort puts it
        return self.permuted(order, HealthOrder(tuple(float(x) for x in p), rank[order]))

    def permuted(self, order: IntArray, health_order: HealthOrder | None) -> "PositionBook":
        """The book with account ``order[k]`` as its account ``k`` (each account's rows kept
        together and in their order), marked with ``health_order``."""
        order = np.asarray(order)
        if order.shape != (self.n_accounts,) or not _is_permutation(order):
            raise DataError("PositionBook.permuted", None, f"order must be a permutation of 0..{self.n_accounts - 1}")
        order = order.astype(np.int64, copy=False)
        counts = np.diff(self.offsets)[order]
        offsets = np.zeros(order.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        # each new row's old row: its account's old start plus its place among the account's rows
        account = np.repeat(np.arange(order.shape[0], dtype=account_dtype(order.shape[0])), counts)
        rows = self.offsets[order][account] + (np.arange(offsets[-1], dtype=np.int64) - offsets[account])
        return PositionBook(
            account, self.asset[rows], self.collateral[rows], self.debt[rows], self.assets,
            self.account_ids[order], self.emode[order], offsets, health_order,
        )

    def reindex_assets(self, symbols: Sequence[str], source: str = "PositionBook.reindex_assets") -> "PositionBook":
        """Re-express the asset index in another symbol order (e.g. a market's params)."""
        pos = {s: i for i, s in enumerate(symbols)}
        missing = [s for s in self.assets if s not in pos]
        if missing:
            rows = np.flatnonzero(np.isin(self.asset, [self.assets.index(m) for m in missing]))
            raise DataError(source, int(rows[0]) + 1 if rows.size else None,
                            f"asset {missing[0]!r} has no parameters; known assets: {list(symbols)}")
        remap = np.array([pos[s] for s in self.assets], dtype=asset_dtype(len(symbols)))
        new_asset = remap[self.asset] if self.n_rows else self.asset
        order = np.lexsort((new_asset, self.account))
        # the accounts keep their order, but the marker's prices are in the old asset order
        marker = self.health_order
        if marker is not None and marker.prices:
            px = np.full(len(symbols), np.nan)  # an asset the marker has no price for matches no run
            px[remap] = marker.prices
            marker = HealthOrder(tuple(float(x) for x in px), marker.rank)
        return PositionBook(
            self.account[order], new_asset[order], self.collateral[order], self.debt[order],
            tuple(symbols), self.account_ids, self.emode, self.offsets, marker,
        )

    def to_frame(self):
        """Long-format pandas DataFrame: account_id, asset, collateral, debt, emode."""
        import pandas as pd

        return pd.DataFrame(
            {
                "account_id": self.account_ids[self.account],
                "asset": np.asarray(self.assets, dtype=object)[self.asset],
                "collateral": self.collateral,
                "debt": self.debt,
                "emode": self.emode[self.account].astype(np.int64),
            }
        )


def account_dtype(n_accounts: int) -> np.dtype:
    """The type of a book's per-row account index and of a health order's rank: int32 while every
    index of ``n_accounts`` accounts fits in it, int64 otherwise (NumPy indexes with either)."""
    return np.dtype(np.int32 if n_accounts <= np.iinfo(np.int32).max else np.int64)


def asset_dtype(n_assets: int) -> np.dtype:
    """The type of a book's per-row asset ids: int16 while ``n_assets`` ids fit in it, int32
    otherwise. One type for every book of a few thousand assets or fewer, so that each kernel
    reading the ids has one compiled signature (``liqcascade warm`` prepares it)."""
    return np.dtype(np.int16 if n_assets <= np.iinfo(np.int16).max else np.int32)


def _narrow(x: np.ndarray, n_accounts: int) -> np.ndarray:
    """An integer index column ``x`` (values below ``n_accounts``) in :func:`account_dtype`: itself
    when it already is, else a converted copy."""
    return x.astype(account_dtype(n_accounts), copy=False) if x.dtype.kind in "iu" else x


def _is_permutation(x: np.ndarray) -> bool:
    """``x`` holds each of ``0..len(x)-1`` once (one pass and a count)."""
    x = np.asarray(x)
    n = x.shape[0] if x.ndim == 1 else -1
    if n < 0 or x.dtype.kind not in "iu":
        return False
    return n == 0 or bool(x.min() >= 0 and x.max() < n and np.bincount(x, minlength=n).max() == 1)


def _check_amounts(x: FloatArray, name: str, source: str) -> None:
    bad = np.flatnonzero(~np.isfinite(x) | (x < 0))
    if bad.size:
        r = int(bad[0])
        raise DataError(source, r + 1, f"{name} must be a finite number >= 0, got {x[r]!r}")
