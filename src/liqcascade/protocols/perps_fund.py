"""The insurance fund's side of a round of perp liquidations, shared by the margin engines.

:func:`settle_with_fund` turns liquidation fills into money, in this order:

1. **Realised PnL** of each fill: ``−filled · (average_price − entry_price)`` (``filled`` is
   the signed trade, opposite to the position).
2. **Backstop takeovers** (:data:`~liqcascade.protocols.perps_base.BACKSTOP` rows): the
   backstop vault takes the positions at the fill price and keeps whatever equity the account
   had left -- Hyperliquid's "maintenance margin is not returned"
   (hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations).
3. **Fees** on market-order fills, ``fee_rate · |filled| · price`` per account, never more
   than the account's collateral left after its realised PnL (a fee never creates a deficit).
   Binance's *insurance clearance fee* goes to its insurance fund
   (www.binance.com/en/support/faq/what-fees-are-generated-in-binance-futures-trading-98488a516eb84e3eb34605683dffd554);
   Hyperliquid charges none.
4. **Deficits**: an account whose positions are all closed by the fills and whose collateral
   is negative is bankrupt; the fund (its balance plus this round's fees and takeovers)
   brings it back toward zero, accounts in index order, and never goes below zero. What it
   cannot cover is the account's ``deficit``, left for deleveraging.
5. **Gaps** (``cover_gaps``, Binance's takeover): the liquidation engine takes a position over
   at its bankruptcy price, so a fill worse than that price costs the fund, not the account,
   ``filled · (average_price − bankruptcy_price)`` -- whether or not the account is closed
   out: the part the venue did not take keeps zero equity at the bankruptcy price, and
   deleveraging it there covers exactly what is left. Such a fill pays no fee (nothing is
   left of its margin). For an account holding several positions the per-position bankruptcy
   prices each assume the whole equity (the orders' simplification), so only a fully closed
   one is covered, as in 4. (Binance: "losses arising from a Bankrupt Position will be funded
   by the relevant Futures Insurance Fund", www.binance.com/en/support/faq/360033525371.)

Conservation (tested): ``Σ collateral_change + fund_delta = Σ realised PnL`` -- fees,
takeovers and cover only move money between the accounts and the fund. Funding accrued since
the positions' last settlement is not part of a fill's money here (the contract's ``settle``
receives no funding index); the perp engine settles it with the book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import DataError
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.perps_base import BACKSTOP, Fills, LiquidationOrders, Settlement

__all__ = [
    "FundHolding", "FundPosition", "FundRound", "FundTrade", "fund_trade", "settle_with_fund", "takeover_fraction",
]

_CLOSED = 1e-12
"""A position whose remaining size is within this fraction of its size is closed (float fills)."""


@dataclass(frozen=True)
class FundRound:
    """A :class:`Settlement` with the parts of its fund delta, per account: realised PnL,
    fees paid, equity taken over by the backstop, deficit covered by the fund."""

    settlement: Settlement
    realised: FloatArray
    fees: FloatArray
    taken: FloatArray
    covered: FloatArray


def settle_with_fund(book: PerpBook, orders: LiquidationOrders, fills: Fills, fund_balance: float,
                     fee_rate: float = 0.0, cover_gaps: bool = False) -> FundRound:
    """Settle ``fills`` of ``orders`` against the book and a fund holding ``fund_balance``
    (``cover_gaps``: the fund pays fills beyond the bankruptcy price, step 5 of the module docstring)."""
    if not (np.isfinite(fund_balance) and fund_balance >= 0):
        raise DataError("<insurance fund>", None, f"balance: expected a finite amount ≥ 0, got {fund_balance!r}")
    pos = np.asarray(orders.position, dtype=np.int64)
    filled = np.asarray(fills.filled, dtype=np.float64)
    price = np.asarray(fills.average_price, dtype=np.float64)
    if filled.shape != pos.shape or price.shape != pos.shape:
        raise DataError("<fills>", None, f"expected one fill per order ({pos.shape[0]}), got {filled.shape[0]}")
    traded = filled != 0
    price = np.where(traded, price, 0.0)
    if np.any(traded & ~(np.isfinite(price) & (price > 0))):
        row = int(np.flatnonzero(traded & ~(price > 0))[0])
        raise DataError("<fills>", row + 1, f"average_price: expected a price > 0 for a fill, got {price[row]!r}")
    acct = book.account[pos]
    n = book.n_accounts
    realised = np.bincount(acct, weights=-filled * (price - book.entry_price[pos]), minlength=n)
    left = book.collateral + realised
    backstop = np.zeros(n, dtype=bool)
    backstop[acct[orders.route == BACKSTOP]] = True
    taken = np.where(backstop, np.maximum(left, 0.0), 0.0)
    gap = _gaps(book, orders, filled, price) if cover_gaps else np.zeros(pos.shape[0])
    market_rows = (orders.route != BACKSTOP) & (gap == 0.0)
    fee_asked = np.bincount(acct[market_rows], weights=fee_rate * np.abs(filled[market_rows]) * price[market_rows],
                            minlength=n)
    fees = np.where(backstop, 0.0, np.minimum(fee_asked, np.maximum(left, 0.0)))
    residual = left - fees - taken
    closed = _all_closed(book, pos, filled)
    need = np.where(closed & (residual < 0), -residual, 0.0)
    if cover_gaps:
        single = (np.diff(book.offsets) == 1) & ~closed & ~backstop
        need = np.where(single, np.bincount(acct, weights=gap, minlength=n), need)
    available = fund_balance + fees.sum() + taken.sum()
    before = np.cumsum(need) - need
    covered = np.clip(available - before, 0.0, need)
    change = realised - fees - taken + covered
    # an exhausted fund ends at exactly 0: summing the cover in another order than the cumsum
    # above can overshoot the balance by a rounding error (−3e-14 on a $1e4 fund)
    delta = max(float(fees.sum() + taken.sum() - covered.sum()), -fund_balance)
    return FundRound(Settlement(change, delta, need - covered), realised, fees, taken, covered)


def _gaps(book: PerpBook, orders: LiquidationOrders, filled: FloatArray, price: FloatArray) -> FloatArray:
    """Per row, what filling worse than the bankruptcy price lost: ``filled · (price − bankruptcy)``
    where > 0 (a sale below it, a purchase above it); 0 for backstop rows and unbounded prices."""
    with np.errstate(invalid="ignore"):
        g = filled * (price - np.asarray(orders.bankruptcy_price, dtype=np.float64))
    return np.where((orders.route != BACKSTOP) & np.isfinite(g) & (g > 0), g, 0.0)


def _all_closed(book: PerpBook, pos: np.ndarray, filled: FloatArray) -> np.ndarray:
    """Per account: every position it holds is closed by these fills."""
    remaining = np.abs(book.size).copy()
    np.add.at(remaining, pos, -np.abs(filled))
    still_open = remaining > _CLOSED * np.abs(book.size)
    open_count = np.bincount(book.account, weights=still_open.astype(np.float64), minlength=book.n_accounts)
    return (open_count == 0) & (np.diff(book.offsets) > 0)


# ---------------------------------------------------------------------- the fund's own positions
@dataclass(frozen=True)
class FundHolding:
    """How an insurance fund that takes bankrupt positions over holds them (the engine's
    ``fund_holding()``, declared by ``fund_holds_positions``): per market, a net notional at
    the mark of at most ``limit`` times the fund's balance; it offloads them on the book at
    ``unwind_usd_per_minute`` of notional at the mark."""

    limit: float
    unwind_usd_per_minute: float


@dataclass(frozen=True)
class FundPosition:
    """The fund's position in one market: signed ``size`` (base units) at the average
    ``entry`` price (0 when flat)."""

    size: float = 0.0
    entry: float = 0.0


@dataclass(frozen=True)
class FundTrade:
    """A trade of the fund's position: the position after, and the PnL it realised (to the
    fund's balance) against the position's average entry price."""

    position: FundPosition
    realised: float


def fund_trade(position: FundPosition, delta: float, price: float) -> FundTrade:
    """The fund buys (``delta`` > 0) or sells ``|delta|`` base units at ``price``. A trade
    against the position closes it first at ``price`` (realising ``closed · (price − entry)``
    per unit, sign of the position), the rest opens at ``price``; a trade with it averages
    the entry."""
    size, entry, delta, price = float(position.size), float(position.entry), float(delta), float(price)
    if delta == 0.0:
        return FundTrade(position, 0.0)
    if size == 0.0 or (size > 0) == (delta > 0):
        new = size + delta
        return FundTrade(FundPosition(new, (size * entry + delta * price) / new), 0.0)
    closed = np.sign(delta) * min(abs(delta), abs(size))
    realised = -closed * (price - entry)
    rest = delta - closed
    left = size + closed
    if abs(left) <= _CLOSED * abs(size):  # float residue of a full close
        left = 0.0
    if rest != 0.0:
        return FundTrade(FundPosition(rest, price), realised)
    return FundTrade(FundPosition(left, entry if left else 0.0), realised)


def takeover_fraction(net: float, add: float, mark: float, limit_usd: float) -> float:
    """The largest fraction ``φ`` in [0, 1] of ``add`` (signed base units) the fund can take
    onto its net position ``net`` keeping ``|net + φ·add|·mark ≤ limit_usd``; a take that
    moves the net toward zero is never refused below what reaches the limit on the other side."""
    if add == 0.0:
        return 1.0
    if abs(net + add) * mark <= limit_usd:
        return 1.0
    phi = (np.sign(add) * limit_usd / mark - net) / add
    return float(min(max(phi, 0.0), 1.0))
