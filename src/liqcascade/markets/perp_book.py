"""The perp's own order book: depth that moves in time, consumed depth that refills.

A :class:`PerpOrderBookVenue` is an :class:`~liqcascade.markets.orderbook.OrderBookVenue` whose
profile is :meth:`DepthDynamics.profile` at its current depth ``stress`` (see
:mod:`liqcascade.markets.perp_depth`) and whose mid is the perp's mark-relevant mid-of-book.
Liquidation sales walk down the bids and move the mid; buys walk up the asks. Within one instant
it is exactly the order-book walk (path-independent, no spread; selling then buying back the
same amount restores the mid at zero net cost beyond what the walk charged).

In time, :meth:`PerpOrderBookVenue.advance`:

1. **refills**: consumed depth ``net_sold`` decays by ``2^(-dt / refill_half_life_s)``, so the
   mid relaxes back toward ``reference_price`` (resilience, as in Obizhaeva and Wang's model of
   a limit order book, J. Financial Markets 16 (2013)); by default the refill half-life is the
   fitted recovery half-life of depth on 2025-10-10 — the only refill rate that data identifies
   (the ``bookDepth`` feed shows depth, not which orders refilled it);
2. **re-sizes the book**: the new stress gives a new profile; the venue keeps its mid, and
   ``net_sold`` becomes the amount that puts the new profile at that mid (market makers re-quote
   thinner or thicker depth around the price they see, they do not move it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

from liqcascade.errors import ConfigError
from liqcascade.markets.base import VenueCapabilities
from liqcascade.markets.orderbook import DepthSegments, OrderBookVenue
from liqcascade.markets.perp_depth import DepthDynamics

__all__ = ["PerpOrderBookVenue"]


@dataclass(frozen=True)
class PerpOrderBookVenue:
    """A perp's book: ``dynamics`` at ``stress``, centred at ``reference_price``, ``net_sold`` consumed."""

    capabilities: ClassVar[VenueCapabilities] = VenueCapabilities(quotes_buy=True, requotes=True)

    asset: str
    reference_price: float
    dynamics: DepthDynamics
    stress: float = 0.0
    scale: float = 1.0
    net_sold: float = 0.0
    refill_half_life_s: float | None = None
    """Half-life of consumed depth (s); None: the dynamics' fitted recovery half-life."""
    _book: OrderBookVenue = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        h = self.refill_half_life_s
        if h is not None and not (h > 0.0 and math.isfinite(h)):
            raise ConfigError("<python>", "PerpOrderBookVenue.refill_half_life_s", "a finite half-life > 0 (s)", h)
        bids, asks = self.dynamics.profile(self.stress)
        object.__setattr__(
            self, "_book", OrderBookVenue(self.asset, self.reference_price, bids, asks, self.scale, self.net_sold)
        )

    def _with_book(self, book: OrderBookVenue) -> "PerpOrderBookVenue":
        return replace(self, reference_price=book.reference_price, net_sold=book.net_sold)

    # ----------------------------------------------------------------- Venue
    def mid_price(self) -> float:
        return self._book.mid_price()

    def quote_sell(self, amount: float) -> float:
        return self._book.quote_sell(amount)

    def sell(self, amount: float) -> tuple[float, "PerpOrderBookVenue"]:
        proceeds, book = self._book.sell(amount)
        return proceeds, self._with_book(book)

    def quote_buy(self, amount: float) -> float:
        return self._book.quote_buy(amount)

    def buy(self, amount: float) -> tuple[float, "PerpOrderBookVenue"]:
        cost, book = self._book.buy(amount)
        return cost, self._with_book(book)

    def amount_to_price(self, price: float) -> float:
        return self._book.amount_to_price(price)

    def buy_price(self) -> float:
        return self._book.buy_price()

    def amount_to_buy_price(self, price: float) -> float:
        return self._book.amount_to_buy_price(price)

    def depth_segments(self) -> DepthSegments:
        """The current book as arrays, for compiled walks (``OrderBookVenue.depth_segments``)."""
        return self._book.depth_segments()

    def with_net_sold(self, net_sold: float) -> "PerpOrderBookVenue":
        """The same book with ``net_sold`` tokens consumed (``OrderBookVenue.with_net_sold``)."""
        return replace(self, net_sold=float(net_sold))

    def with_mid_price(self, price: float) -> "PerpOrderBookVenue":
        """The full profile (at the current stress) re-centred at ``price``, nothing consumed."""
        return self._with_book(self._book.with_mid_price(price))

    # ----------------------------------------------------------------- time
    @property
    def refill_half_life(self) -> float:
        """The refill half-life in use (s)."""
        return self.dynamics.half_life_s if self.refill_half_life_s is None else self.refill_half_life_s

    def with_stress(self, stress: float) -> "PerpOrderBookVenue":
        """The book re-sized to ``stress`` at the same mid (see the module docstring)."""
        mid = self.mid_price()
        fresh = replace(self, stress=float(stress), net_sold=0.0)
        if mid < self.reference_price:
            return replace(fresh, net_sold=fresh.amount_to_price(mid))
        if mid > self.reference_price:
            return replace(fresh, net_sold=-fresh.amount_to_buy_price(mid))
        return fresh

    def advance(self, dt_s: float, stress: float | None = None) -> "PerpOrderBookVenue":
        """``dt_s`` seconds later: consumed depth refilled, then the book re-sized to ``stress``
        (None: unchanged)."""
        dt = float(dt_s)
        if not (dt >= 0.0 and math.isfinite(dt)):
            raise ConfigError("<python>", "dt_s", "a finite time step >= 0 (seconds)", dt)
        refilled = replace(self, net_sold=self.net_sold * 2.0 ** (-dt / self.refill_half_life))
        return refilled if stress is None else refilled.with_stress(stress)

    def evolve(self, dt_s: float, log_return: float) -> "PerpOrderBookVenue":
        """:meth:`advance` by ``dt_s`` with the stress the fitted law gives for a price move of
        ``log_return`` over the step (:meth:`DepthDynamics.step`; the fit read the move of the
        BTC price kline, so pass the index's or the path's move, not the book's own)."""
        return self.advance(dt_s, self.dynamics.step(self.stress, dt_s, log_return))
