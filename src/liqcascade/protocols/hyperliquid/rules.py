"""Hyperliquid's margin and liquidation rules, float form, from its public documentation.

Hyperliquid's clearinghouse is closed source: there are no test vectors, and every rule here
cites the page it comes from (hyperliquid.gitbook.io/hyperliquid-docs/trading/...):

- **Margin tiers** (``margin-tiers``): maintenance margin ``N · mmr − deduction`` with
  ``mmr = 1 / (2 · max leverage)`` of the notional's tier ("half of the initial margin at max
  leverage"); the mainnet BTC, ETH, SOL and XRP tables ship as :data:`MAINNET_TIERS`.
- **Trigger** (``liquidations``): an account (cross) or isolated position whose equity at the
  mark price is below its maintenance margin.
- **Market liquidation** (``liquidations``): market orders for the whole position through the
  book, with no bound on price and no clearance fee; any collateral left stays with the trader.
- **Partial liquidation** (``liquidations``, "Partial liquidations"): a liquidatable position
  of notional above 100,000 USDC sends 20 % of itself; after a block in which any of an
  account's positions was partially liquidated, the account's market liquidation orders are
  for the whole position for 30 seconds.
- **Backstop** (``liquidations``): below two thirds of maintenance the backstop liquidator
  vault (HLP) takes the cross account's positions, or the isolated position, at the mark price,
  and the maintenance margin is not returned.
- **Liquidation price** (``liquidations``, "Computing liquidation price"):
  ``price − side · margin_available / position_size / (1 − l · side)``, ``l`` the maintenance
  rate (:func:`~liqcascade.protocols.perps_tiers.liquidation_price`).
- **ADL** (``auto-deleveraging``): on negative equity the opposite side, ranked by
  ``(mark / entry) · (notional / account value)``, is closed at the previous mark price
  (:func:`~liqcascade.protocols.perps_adl.hyperliquid_score`).

The HLP vault is this engine's fund: takeovers feed it and it covers deficits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liqcascade._typing import BoolArray, FloatArray, IntArray
from liqcascade.errors import ConfigError
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.perps_base import (
    BACKSTOP, MARKET_ORDER, Fills, LiquidationOrders, MarginState, PerpCapabilities, Settlement,
)
from liqcascade.protocols.perps_adl import AdlOutcome, hyperliquid_score, queue
from liqcascade.protocols.perps_fund import FundRound, settle_with_fund
from liqcascade.protocols.perps_tiers import (
    TieredMargin, TierTable, hyperliquid_tiers, liquidation_price, positions_of,
)

__all__ = ["MAINNET_TIERS", "HyperliquidEngine", "HyperliquidSettings"]

_DOCS = "hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers"
MAINNET_TIERS = TierTable({
    "BTC": hyperliquid_tiers([0.0, 150e6], [40, 20], _DOCS, "tiers.BTC"),
    "ETH": hyperliquid_tiers([0.0, 100e6], [25, 15], _DOCS, "tiers.ETH"),
    "SOL": hyperliquid_tiers([0.0, 70e6], [20, 10], _DOCS, "tiers.SOL"),
    "XRP": hyperliquid_tiers([0.0, 40e6], [20, 10], _DOCS, "tiers.XRP"),
}, source=_DOCS)
"""The mainnet margin tables the documentation lists for BTC, ETH, SOL and XRP."""


@dataclass(frozen=True)
class HyperliquidSettings:
    """The documented constants; change them to study the mechanism, not to match the venue."""

    tiers: TierTable = field(default_factory=lambda: MAINNET_TIERS)
    partial_above: float = 100_000.0
    """Notional (USDC) above which a liquidation order is a partial slice."""
    partial_fraction: float = 0.2
    cooldown_seconds: float = 30.0
    backstop_below: float = 2.0 / 3.0
    """The backstop takes over when equity < this × maintenance."""
    source: str = "<hyperliquid>"

    def __post_init__(self) -> None:
        checks = (("partial_above", self.partial_above >= 0, "a notional ≥ 0"),
                  ("partial_fraction", 0 < self.partial_fraction <= 1, "a fraction in (0, 1]"),
                  ("cooldown_seconds", self.cooldown_seconds >= 0, "seconds ≥ 0"),
                  ("backstop_below", 0 <= self.backstop_below <= 1, "a fraction of maintenance in [0, 1]"))
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(self.source, key, expected, getattr(self, key))


@dataclass(frozen=True)
class HyperliquidEngine(TieredMargin):
    """Hyperliquid's margin engine over a :class:`PerpBook` (see the module docstring)."""

    settings: HyperliquidSettings = field(default_factory=HyperliquidSettings)
    name: str = "hyperliquid"
    capabilities: PerpCapabilities = PerpCapabilities(partial_liquidation=True, backstop=True, maintenance_slope=True)

    def backstopped(self, state: MarginState) -> BoolArray:
        """Per account: equity below two thirds of maintenance, so the vault takes it over."""
        return (state.maintenance > 0) & (state.equity < self.settings.backstop_below * state.maintenance)

    def orders(self, book: PerpBook, state: MarginState, mark: FloatArray, accounts: IntArray,
               now: float = 0.0, cooldown_until: FloatArray | None = None) -> LiquidationOrders:
        """Orders for every position of ``accounts``. ``cooldown_until`` (per account, seconds;
        None: no account cools down) is when each account's last partial-liquidation cooldown
        ends; :meth:`next_cooldown` carries it from one round to the next."""
        pos = positions_of(book.offsets, accounts)
        if pos.size == 0:
            return LiquidationOrders.none()
        acct = book.account[pos]
        m = np.asarray(mark, dtype=np.float64)[book.market[pos]]
        size = book.size[pos]
        backstop = self.backstopped(state)[acct]
        cooling = np.zeros(pos.size, dtype=bool) if cooldown_until is None else np.asarray(cooldown_until)[acct] > now
        s = self.settings
        partial = ~backstop & ~cooling & (np.abs(size) * m > s.partial_above)
        close = -size * np.where(partial, s.partial_fraction, 1.0)
        return LiquidationOrders(
            position=pos, close=close,
            worst_price=np.where(backstop, m, np.nan),
            bankruptcy_price=m - state.equity[acct] / size,
            route=np.where(backstop, BACKSTOP, MARKET_ORDER).astype(np.int8),
        )

    def next_cooldown(self, book: PerpBook, orders: LiquidationOrders, now: float,
                      cooldown_until: FloatArray | None = None) -> FloatArray:
        """Per account, when the cooldown ends after ``orders`` were sent at ``now``: an
        account with a partial slice among them cools down until ``now + 30 s``."""
        out = np.full(book.n_accounts, -np.inf) if cooldown_until is None else np.array(cooldown_until, dtype=np.float64)
        partial = (orders.route == MARKET_ORDER) & (np.abs(orders.close) < np.abs(book.size[orders.position]))
        out[book.account[orders.position[partial]]] = now + self.settings.cooldown_seconds
        return out

    def liquidation_price(self, book: PerpBook, state: MarginState, mark: FloatArray) -> FloatArray:
        """Per position, the documented liquidation price (the other markets held still)."""
        m = np.asarray(mark, dtype=np.float64)
        req = self.settings.tiers.per_position(book.market, book.notional(m), book.markets)
        available = (state.equity - state.maintenance)[book.account]
        return liquidation_price(m[book.market], book.size, available, req.maintenance_rate)

    def deleverage(self, book: PerpBook, deficit: FloatArray, mark: FloatArray) -> AdlOutcome:
        """Hyperliquid's ADL: the queue ranked by its sorting index, at the previous mark price
        (pass that price as ``mark``)."""
        return queue(book, deficit, mark, score=hyperliquid_score)

    def settle(self, book: PerpBook, orders: LiquidationOrders, fills: Fills, fund_balance: float) -> Settlement:
        return self.settle_round(book, orders, fills, fund_balance).settlement

    def settle_round(self, book: PerpBook, orders: LiquidationOrders, fills: Fills, fund_balance: float) -> FundRound:
        """:meth:`settle` with its parts: no clearance fee; backstop takeovers feed the vault."""
        return settle_with_fund(book, orders, fills, fund_balance, fee_rate=0.0)
