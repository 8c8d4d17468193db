"""A centralised exchange's USDⓈ-margined perp engine, Binance-like, float form.

From Binance's public rules pages:

- **Maintenance margin** ``N · mmr − maintenance amount`` at the notional's tier, the
  amount making the requirement continuous in ``N``
  (www.binance.com/en/futures/trading-rules/perpetual/portfolio-margin/notional-limit). The
  shipped BTCUSDT table is :data:`BTCUSDT_2021_03_18`.
- **Liquidation** when the margin balance (equity) falls below maintenance: every position of
  the account (cross) or the isolated position is closed by an immediate-or-cancel order
  (www.binance.com/en/support/faq/360033525271, "all liquidation orders are Immediate or
  Cancel orders"). The **bankruptcy price** is the price at which the account's equity is
  zero. With :attr:`CexSettings.market_take_bound` at 0 (the default) the order goes no
  worse than it (positions "closed out at the bankruptcy price", faq/360033525471). Above 0,
  the liquidation engine takes the position over at the bankruptcy price and sells it on the
  book down to ``mark · (1 − bound)`` (buys up to ``mark · (1 + bound)``), or to the
  bankruptcy price where that is further; the **insurance fund** pays what a fill worse than
  the bankruptcy price loses and keeps what a better one leaves ("To the extent possible,
  the Futures Insurance Funds will take over Bankrupt Positions. Any losses arising from a
  Bankrupt Position will be funded by the relevant Futures Insurance Fund",
  www.binance.com/en/support/faq/360033525371). Binance publishes ``marketTakeBound`` per
  symbol, "the max price difference rate (from mark price) a market order can make"
  (developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information);
  that its liquidation orders keep to it is this package's assumption.
- **Counterparty liquidation (ADL)** only when the fund cannot pay: "the final step taken only
  when the Insurance Fund cannot accept the bankrupt client's positions"
  (faq/360033525471). The engine declares ``fund_takeover``: the perp engine re-executes an
  account whose gap the fund cannot pay no worse than its bankruptcy price, and deleverages
  what the book cannot take there.
- **The fund holds what it takes over** (``fund_holds_positions``), with
  :attr:`CexSettings.fund_position_limit` above 0: Binance will "use the Insurance Fund to
  take over the positions and offload them onto the market gradually", within "a maximum net
  notional position check ... by default, this is 100% the size of the insurance fund"; "any
  position that would increase beyond the max notional" is deleveraged
  (www.binance.com/en/support/faq/introduction-to-insurance-funds-360033525371). The perp
  engine gives the fund what the book left of a bankrupt account at its bankruptcy prices and
  sells it on the book at :attr:`CexSettings.fund_unwind_usd_per_minute`.
- **Insurance clearance fee** on the liquidated notional, paid to the insurance fund out of
  what is left of the margin (www.binance.com/en/support/faq/what-fees-are-generated-in-binance-futures-trading-98488a516eb84e3eb34605683dffd554).
  Binance does not publish one rate for it; :attr:`CexSettings.clearance_fee_rate`'s default
  of 0.5 % is this package's assumption, to be set per study.
- **ADL** ranks the opposite side by PnL % × effective leverage
  (www.binance.com/en/support/faq/360033525471; :func:`~liqcascade.protocols.perps_adl.cex_score`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.perps_base import (
    MARKET_ORDER, Fills, LiquidationOrders, MarginState, PerpCapabilities, Settlement,
)
from liqcascade.protocols.perps_adl import AdlOutcome, cex_score, queue
from liqcascade.protocols.perps_fund import FundHolding, FundRound, settle_with_fund
from liqcascade.protocols.perps_tiers import MarginTiers, TieredMargin, TierTable, liquidation_price, positions_of

__all__ = ["BTCUSDT_2021_03_18", "BTCUSDT_SOURCE", "CexEngine", "CexSettings"]

_DUST_USD = 1e-6
"""A position worth less than this at the mark is float residue: the engine sends no order for it."""

BTCUSDT_SOURCE = ("www.binance.com/tr/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6 "
                  "(Updates to Leverage and Margin Tiers of Binance Futures Contracts, 2021-03-18)")
_BTCUSDT_ROWS = (
    # floor (USDT notional), max leverage, maintenance margin rate
    (0.0, 125, 0.004),
    (50_000.0, 100, 0.005),
    (250_000.0, 50, 0.01),
    (1_000_000.0, 20, 0.025),
    (10_000_000.0, 10, 0.05),
    (20_000_000.0, 5, 0.10),
    (50_000_000.0, 4, 0.125),
    (100_000_000.0, 3, 0.15),
    (200_000_000.0, 2, 0.25),
    (300_000_000.0, 1, 0.50),
)
BTCUSDT_2021_03_18 = MarginTiers.build(*zip(*_BTCUSDT_ROWS), source=BTCUSDT_SOURCE, key="tiers.BTCUSDT")
"""Binance's BTCUSDT perpetual tiers from 2021-03-18 (the announcement's table)."""


def _default_tiers() -> TierTable:
    # one table under both names a book may use for the market
    return TierTable({"BTCUSDT": BTCUSDT_2021_03_18, "BTC": BTCUSDT_2021_03_18}, source=BTCUSDT_SOURCE)


@dataclass(frozen=True)
class CexSettings:
    tiers: TierTable = field(default_factory=_default_tiers)
    clearance_fee_rate: float = 0.005
    """Fee on the liquidated notional, to the insurance fund (an assumption; see the module docstring)."""
    market_take_bound: float = 0.0
    """How far from the mark (a fraction) a liquidation order may fill, beyond the bankruptcy
    price, the fund paying the gap; 0: no worse than the bankruptcy price (see the module docstring)."""
    fund_position_limit: float = 0.0
    """The net notional (at the mark, per market) of bankrupt positions the insurance fund may
    hold, as a multiple of its balance; 0 (the default): it holds none and what the book cannot
    take is deleveraged. Binance: "by default, this is 100% the size of the insurance fund" (1.0;
    www.binance.com/en/support/faq/introduction-to-insurance-funds-360033525371; its 2019 API
    documentation said 20 %)."""
    fund_unwind_usd_per_minute: float = 10e6
    """How fast the fund sells what it holds on the book, in notional at the mark per minute:
    $10M, an assumption (Binance: "according to a preset algorithm", not published)."""
    source: str = "<cex_perp>"

    def __post_init__(self) -> None:
        for key in ("clearance_fee_rate", "market_take_bound"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and np.isfinite(v) and 0 <= v < 1):
                raise ConfigError(self.source, key, "a fraction in [0, 1)", v)
        for key, low in (("fund_position_limit", "≥ 0"), ("fund_unwind_usd_per_minute", "> 0")):
            v = getattr(self, key)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
            if not (ok and (v >= 0 if low == "≥ 0" else v > 0)):
                raise ConfigError(self.source, key, f"a finite number {low}", v)


@dataclass(frozen=True)
class CexEngine(TieredMargin):
    """The Binance-like margin engine over a :class:`PerpBook` (see the module docstring)."""

    settings: CexSettings = field(default_factory=CexSettings)
    name: str = "cex_perp"
    capabilities: PerpCapabilities = PerpCapabilities(maintenance_slope=True, fund_takeover=True,
                                                      fund_holds_positions=True)

    def fund_holding(self) -> FundHolding:
        """The fund's limit and unwind rate (:class:`CexSettings`)."""
        return FundHolding(self.settings.fund_position_limit, self.settings.fund_unwind_usd_per_minute)

    def orders(self, book: PerpBook, state: MarginState, mark: FloatArray, accounts: IntArray) -> LiquidationOrders:
        """Close every position of ``accounts``; its bankruptcy price is ``mark − equity / size``
        (the other positions held at mark). The worst price is the bankruptcy price, or with a
        ``market_take_bound`` the mark that far away where that is further (sells below,
        buys above)."""
        pos = positions_of(book.offsets, accounts)
        # a position closed earlier in the run keeps its row with size 0, and pro-rata
        # deleveraging can leave float dust (1e-15 BTC) that a venue quotes at a price of 0
        pos = pos[np.abs(book.size[pos]) * np.asarray(mark, dtype=np.float64)[book.market[pos]] > _DUST_USD]
        if pos.size == 0:
            return LiquidationOrders.none()
        m = np.asarray(mark, dtype=np.float64)[book.market[pos]]
        size = book.size[pos]
        bankrupt = m - state.equity[book.account[pos]] / size
        worst = bankrupt
        bound = self.settings.market_take_bound
        if bound > 0:
            # a long's sale may go down to mark·(1 − bound), a short's purchase up to mark·(1 + bound)
            worst = np.where(size > 0, np.minimum(bankrupt, m * (1.0 - bound)), np.maximum(bankrupt, m * (1.0 + bound)))
        return LiquidationOrders(position=pos, close=-size, worst_price=worst, bankruptcy_price=bankrupt,
                                 route=np.full(pos.size, MARKET_ORDER, dtype=np.int8))

    def liquidation_price(self, book: PerpBook, state: MarginState, mark: FloatArray) -> FloatArray:
        """Per position, the price at which its account's margin balance meets maintenance."""
        m = np.asarray(mark, dtype=np.float64)
        req = self.settings.tiers.per_position(book.market, book.notional(m), book.markets)
        available = (state.equity - state.maintenance)[book.account]
        return liquidation_price(m[book.market], book.size, available, req.maintenance_rate)

    def deleverage(self, book: PerpBook, deficit: FloatArray, mark: FloatArray) -> AdlOutcome:
        """Binance's ADL: the queue ranked by PnL % × effective leverage, closing at the
        bankrupt positions' bankruptcy price."""
        return queue(book, deficit, mark, score=cex_score)

    def settle(self, book: PerpBook, orders: LiquidationOrders, fills: Fills, fund_balance: float) -> Settlement:
        return self.settle_round(book, orders, fills, fund_balance).settlement

    def settle_round(self, book: PerpBook, orders: LiquidationOrders, fills: Fills, fund_balance: float) -> FundRound:
        """:meth:`settle` with its parts: the clearance fee feeds the insurance fund, which
        (with a ``market_take_bound``) pays what fills beyond the bankruptcy price lose."""
        return settle_with_fund(book, orders, fills, fund_balance, fee_rate=self.settings.clearance_fee_rate,
                                cover_gaps=self.settings.market_take_bound > 0)
