"""What a perpetual-futures margin engine provides to the engines (issue 13).

A margin engine is one folder under ``liqcascade/protocols/`` (``dydx_v4``, ``hyperliquid``,
``cex_perp``) whose ``plugin.py`` defines ``PERP_SPEC`` (a :class:`PerpSpec`); naming the folder
in :data:`liqcascade.protocols.perps_registry.BUILTIN_PERPS` registers it. Engines read the
declared :class:`PerpCapabilities`, never probe.

The contract, per step of a perp engine, on a :class:`~liqcascade.model.perps.PerpBook`:

1. :meth:`MarginEngine.margin` values every account at the mark (or oracle) prices: equity and
   its maintenance and initial requirements (:class:`MarginState`).
2. :meth:`MarginEngine.liquidatable` says which accounts the engine liquidates now.
3. :meth:`MarginEngine.orders` says, for those accounts, what to close and at which worst price
   (:class:`LiquidationOrders`); the perp engine executes them on the venue.
4. :meth:`MarginEngine.settle` turns the fills into the accounts' collateral changes, the
   insurance fund's delta and the deficit left for deleveraging (:class:`Settlement`).

Amounts are float64 quote (USDC) and signed base units, as in the book. A folder may also
carry an integer-exact form of its rules for conformance (dYdX v4's quantums), tied to the
float form by property tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from liqcascade._typing import BoolArray, FloatArray, IntArray
from liqcascade.model.perps import PerpBook

__all__ = [
    "AdlCloses", "AdlPolicy", "Fills", "LiquidationOrders", "MarginEngine", "MarginState", "PerpCapabilities",
    "Settlement",
]

MARKET_ORDER, BACKSTOP = 0, 1
"""Values of :attr:`LiquidationOrders.route`: through the venue's book, or taken over by the
protocol's backstop (Hyperliquid's HLP vault) at the mark price without touching the book."""


@dataclass(frozen=True)
class PerpCapabilities:
    """The optional parts a margin engine provides, declared by the engine."""

    partial_liquidation: bool = False
    """Large positions are closed a slice at a time with a cooldown (Hyperliquid)."""
    backstop: bool = False
    """Some orders are routed to a backstop vault instead of the book (:data:`BACKSTOP`)."""
    insurance_fund: bool = True
    """Liquidation surpluses feed, and deficits draw on, an insurance fund."""
    deleveraging: bool = True
    """A deficit the fund cannot cover is closed against opposite positions (ADL)."""
    fund_takeover: bool = False
    """The engine's orders may fill beyond the bankruptcy price, the insurance fund paying the
    gap (Binance's liquidation engine takes the position over at that price). An account
    whose gap the fund cannot pay is re-executed no worse than its bankruptcy price instead
    of being refused, and what the venue cannot take there is deleveraged."""
    fund_holds_positions: bool = False
    """With ``fund_takeover``: what the book cannot take of a bankrupt account's positions the
    insurance fund takes over at their bankruptcy prices into its own position per market,
    within a net notional limit, and unwinds on the book later; only what is beyond the limit is
    deleveraged. The engine then has ``fund_holding() -> perps_fund.FundHolding`` (Binance:
    www.binance.com/en/support/faq/360033525371)."""
    linear_maintenance: bool = False
    """The maintenance requirement is ``Σ |size|·mark·rate`` with one rate per market and
    :meth:`MarginEngine.liquidatable` is ``maintenance > 0 and equity < maintenance``; the
    engine then has ``maintenance_rate(markets) -> rate per market``, and the perp engine
    may screen accounts with its compiled check instead of valuing the whole book."""
    maintenance_slope: bool = False
    """The engine has ``maintenance_slope(book, mark) -> FloatArray``: per position, the change of
    its account's maintenance requirement per unit of its market's price as that price moves
    toward the position's liquidation (down for a long, up for a short). The liquidation map
    (``engine/liqmap.py``) uses it instead of two bumped :meth:`MarginEngine.margin` calls."""


@dataclass(frozen=True)
class MarginState:
    """Per account at one set of prices: equity (collateral + unrealised PnL − funding owed),
    the maintenance and initial requirements (quote, ≥ 0) and the notional held."""

    equity: FloatArray
    maintenance: FloatArray
    initial: FloatArray
    notional: FloatArray


@dataclass(frozen=True)
class LiquidationOrders:
    """What to close now: one row per position touched.

    ``position`` indexes the book's positions; ``close`` is the signed base amount traded
    (opposite in sign to the position: ``-size`` closes it fully); ``worst_price`` the least
    favourable average fill the engine accepts (a sell's floor, a buy's cap; ``nan`` for no
    bound); ``bankruptcy_price`` the price at which closing leaves the account's equity at
    zero; ``route`` :data:`MARKET_ORDER` or :data:`BACKSTOP`."""

    position: IntArray
    close: FloatArray
    worst_price: FloatArray
    bankruptcy_price: FloatArray
    route: np.ndarray

    @classmethod
    def none(cls) -> "LiquidationOrders":
        empty = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), empty, empty, empty, np.zeros(0, dtype=np.int8))


@dataclass(frozen=True)
class Fills:
    """How the perp engine executed :class:`LiquidationOrders`, row for row: the base amount
    filled (signed like ``close``; may be less than asked when the book ran out within the
    worst price) and its average price."""

    filled: FloatArray
    average_price: FloatArray


@dataclass(frozen=True)
class Settlement:
    """The money of one round of liquidations.

    ``collateral_change`` per account (realised PnL of the closed amounts minus fees);
    ``fund_delta`` the insurance fund's change (fees kept, minus deficits it covers);
    ``deficit`` per account, the negative equity left that the fund did *not* cover (for
    deleveraging; with ``fund_takeover``, also a fill's loss beyond the bankruptcy price).
    Conservation: Σ collateral_change + fund_delta + the counterparties' PnL = 0, which the
    engines' tests check."""

    collateral_change: FloatArray
    fund_delta: float
    deficit: FloatArray


@dataclass(frozen=True)
class AdlCloses:
    """What deleveraging closes: one row per (position, price) traded, outside the venue.

    ``position`` indexes the book's positions (a position may appear in several rows);
    ``close`` is the signed base amount traded (opposite in sign to the position);
    ``price`` the price of that row. A policy pairs deficit positions with opposite ones
    at one price per pair, so per market Σ close = 0 and Σ close · price = 0: deleveraging
    moves money between accounts only."""

    position: IntArray
    close: FloatArray
    price: FloatArray

    @classmethod
    def none(cls) -> "AdlCloses":
        empty = np.zeros(0)
        return cls(np.zeros(0, dtype=np.int64), empty, empty)


AdlPolicy = Callable[[PerpBook, FloatArray, FloatArray], AdlCloses]
"""The deleveraging hook of the perp engine: ``(book, deficit per account, mark per
market) -> AdlCloses``. ``deficit`` is > 0 for an account whose negative equity the
insurance fund does not cover (that much must come from other accounts) and 0 elsewhere.
The book is the run's current book: a closed position keeps its row with size 0."""


@runtime_checkable
class MarginEngine(Protocol):
    """One perp venue's margin and liquidation rules."""

    name: str
    capabilities: PerpCapabilities

    def margin(self, book: PerpBook, mark: FloatArray, funding: FloatArray | None) -> MarginState:
        """Equity and requirements per account at ``mark`` (per market)."""
        ...

    def liquidatable(self, book: PerpBook, state: MarginState) -> BoolArray:
        """Per account: does the engine liquidate it now."""
        ...

    def orders(self, book: PerpBook, state: MarginState, mark: FloatArray, accounts: IntArray) -> LiquidationOrders:
        """The orders that liquidate ``accounts`` (dense indices) at ``mark``."""
        ...

    def settle(self, book: PerpBook, orders: LiquidationOrders, fills: Fills, fund_balance: float) -> Settlement:
        """The collateral changes, fund delta and uncovered deficits of ``fills``."""
        ...
