"""Named records of a simulation: what one block did, what the run keeps per block, per
liquidated account and per asset (the rows of the tables in :mod:`.schema`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator, NamedTuple

import numpy as np

from liqcascade._typing import FloatArray, IntArray


class BlockCounts(NamedTuple):
    """Accounts and calls of one block (the ``steps`` table's counts)."""

    eligible: int
    """Eligible accounts, those the protocol's limits hold back included."""
    liquidated: int
    calls: int
    unprofitable: int
    """Left undone: not worth it after slippage and gas (or not reached below the cap)."""
    over_capacity: int
    """Left undone: beyond the liquidators' accounts per block or capital."""
    waiting: int
    """Eligible for fewer than ``latency_blocks``, or held back by the protocol's limits."""


class BlockUsd(NamedTuple):
    """USD figures of one block (the ``steps`` table's amounts)."""

    seized_usd: float
    repaid_usd: float
    written_off_usd: float
    """Bad debt written off so far (cumulative)."""
    shortfall_usd: float
    """Debt above collateral of the eligible accounts."""
    gas_gwei: float


class LiquidatorChoice(NamedTuple):
    """The accounts liquidators take in one block, and what they leave."""

    chosen: IntArray
    """Working indexes, in the order liquidated (most profitable first)."""
    profit_usd: FloatArray
    """Expected profit of each chosen account's call after slippage and gas."""
    unprofitable: int
    over_capacity: int
    waiting: int
    caps_usd: FloatArray | None = None
    """Per chosen account, its strategy's calls (``LiquidationLimits.call_caps_usd``); None: max close."""


class SaleGrid(NamedTuple):
    """Each venue asset's proceeds curve at this block: ``proceeds[i]`` (USD) for selling
    ``amount[i]`` (tokens) on a grid, for marginal slippage per pick."""

    amount: FloatArray
    proceeds: FloatArray
    has_grid: np.ndarray


class EventBatch(NamedTuple):
    """The accounts liquidated in one block (rows of the ``events`` table)."""

    block: int
    account: IntArray
    """Working indexes (the sorted book's order)."""
    calls: IntArray
    seized_usd: FloatArray
    repaid_usd: FloatArray
    bad_debt_usd: FloatArray
    expected_profit_usd: FloatArray


@dataclass
class AssetTotals:
    """Per asset (tokens, or USD where named), summed over the run (the ``assets`` table's
    totals, in this column order)."""

    seized: FloatArray
    """Collateral seized from accounts (protocol fee included)."""
    fee: FloatArray
    """The protocol's fee out of the seized collateral (or what it kept to sell itself)."""
    sold: FloatArray
    """Sold into the venues by liquidators (and by the protocol's buyers)."""
    proceeds: FloatArray
    """USD those sales raised."""
    repaid: FloatArray
    deficit: FloatArray
    """Debt written off."""
    protocol_sold: FloatArray
    """Sold by the protocol's own sales (auctions, store front) to buyers."""
    protocol_proceeds: FloatArray
    """USD the protocol's buyers paid."""
    returned: FloatArray
    """Collateral the protocol's sales handed back to the accounts."""

    @classmethod
    def zeros(cls, n_assets: int) -> "AssetTotals":
        return cls(*(np.zeros(n_assets) for _ in fields(cls)))

    def items(self) -> Iterator[tuple[str, FloatArray]]:
        for f in fields(self):
            yield f.name, getattr(self, f.name)


@dataclass
class BlockRecords:
    """Per block records, preallocated (no Python object per block): prices per block and
    asset, then :class:`BlockCounts` and :class:`BlockUsd` as one array per field."""

    reference: FloatArray
    market: FloatArray
    oracle: FloatArray
    eligible: IntArray
    liquidated: IntArray
    calls: IntArray
    unprofitable: IntArray
    over_capacity: IntArray
    waiting: IntArray
    seized_usd: FloatArray
    repaid_usd: FloatArray
    written_off_usd: FloatArray
    shortfall_usd: FloatArray
    gas_gwei: FloatArray

    @classmethod
    def empty(cls, n_blocks: int, n_assets: int) -> "BlockRecords":
        prices = [np.empty((n_blocks, n_assets)) for _ in range(3)]
        counts = [np.zeros(n_blocks, dtype=np.int64) for _ in BlockCounts._fields]
        usd = [np.zeros(n_blocks) for _ in BlockUsd._fields]
        return cls(*prices, *counts, *usd)

    def write(self, b: int, reference: FloatArray, market: FloatArray, oracle: FloatArray, counts: BlockCounts,
              usd: BlockUsd) -> None:
        self.reference[b] = reference
        self.market[b] = market
        self.oracle[b] = oracle
        for name, value in zip(BlockCounts._fields, counts):
            getattr(self, name)[b] = value
        for name, value in zip(BlockUsd._fields, usd):
            getattr(self, name)[b] = value
