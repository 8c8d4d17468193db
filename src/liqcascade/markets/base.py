"""The venue interface: a place where one asset is sold for (or bought with) the numeraire.

Venues are immutable values. Every operation that trades returns the proceeds (or cost)
and a *new* venue; quotes never change state. Prices are numeraire (USD) per token,
amounts are token units of the venue's ``asset``.

The static cascade prices an asset at its venues' common marginal price after the
cumulative liquidation selling; the router (``markets.router``) keeps several venues of
one asset at a common marginal price.

What a venue offers beyond :class:`Venue` it *declares* in its class attribute
``capabilities`` (a :class:`VenueCapabilities`); the router and the engines read the
declaration, never probe for methods, so a method present but undeclared is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, TypeVar, runtime_checkable

_V = TypeVar("_V")


def checked_copy(venue: _V, **changes: Any) -> _V:
    """``dataclasses.replace(venue, **changes)`` for fields the caller has already checked: the
    same value without re-running every ``__post_init__`` check (a simulation re-centres each
    venue once a block, and ``replace`` was a fifth of a Monte Carlo path's time)."""
    out = object.__new__(type(venue))
    out.__dict__.update(venue.__dict__)
    out.__dict__.update(changes)
    return out


@dataclass(frozen=True)
class VenueCapabilities:
    """The optional parts of the venue contract a venue provides."""

    quotes_buy: bool = False
    """It implements :class:`QuotesBuy` (a marginal purchase price above ``mid_price()`` by its
    spread, and the tokens to buy to lift it): the router equalises purchases on it. Without
    it the router treats the venue as spread-free (``mid_price()``) and bisects over ``buy``."""
    arbitraged: bool = False
    """A pool: in a simulation, arbitrageurs trade it back toward the reference price (with
    finite capital when ``dynamics.arb_capital_usd`` is set); they buy at its purchase price,
    so it needs ``quotes_buy``."""
    requotes: bool = False
    """An order book or impact law (:class:`Requotes`): in a simulation it is re-quoted around
    the reference price while its consumed depth ``net_sold`` refills
    (``dynamics.depth_half_life_s``)."""
    quotes_many: bool = False
    """It implements :class:`QuotesMany`: the sale quotes of many amounts at once, each equal bit
    for bit to its ``quote_sell`` (the block loop prices a grid of 33 sizes per asset a block)."""

    def __post_init__(self) -> None:
        if self.arbitraged and not self.quotes_buy:
            raise ValueError("an arbitraged venue must declare quotes_buy (arbitrageurs buy at its purchase price)")
        if self.arbitraged and self.requotes:
            raise ValueError("a venue is either arbitraged back (a pool) or re-quoted (a book), not both")


class QuotesMany(Protocol):
    """A venue that quotes many sale amounts in one call (``capabilities.quotes_many``)."""

    def quote_sells(self, amounts: list[float]) -> list[float]:
        """``[quote_sell(a) for a in amounts]``, the same floats, with the venue's constants
        computed once."""
        ...


@runtime_checkable
class Venue(Protocol):
    """What every venue implements."""

    asset: str
    """Symbol of the asset sold into this venue."""

    capabilities: ClassVar[VenueCapabilities]
    """What the venue offers beyond this protocol (declared by its class)."""

    def mid_price(self) -> float:
        """The marginal price now: numeraire per token for an infinitesimal sale."""
        ...

    def quote_sell(self, amount: float) -> float:
        """Numeraire received for selling ``amount`` tokens now (no state change)."""
        ...

    def sell(self, amount: float) -> tuple[float, Self]:
        """Sell ``amount`` tokens: (proceeds, venue after the sale)."""
        ...

    def quote_buy(self, amount: float) -> float:
        """Numeraire paid to buy exactly ``amount`` tokens now (inf if the venue cannot)."""
        ...

    def buy(self, amount: float) -> tuple[float, Self]:
        """Buy exactly ``amount`` tokens: (cost, venue after the purchase)."""
        ...

    def amount_to_price(self, price: float) -> float:
        """Tokens to sell to bring the marginal price down to ``price``.

        0 when ``price >= mid_price()``; may be ``inf`` when the venue cannot reach it.
        """
        ...

    def with_mid_price(self, price: float) -> Self:
        """The venue after arbitrage has moved its marginal price to ``price``.

        Used to apply an exogenous (initial) shock before liquidations start.
        """
        ...


@runtime_checkable
class QuotesBuy(Protocol):
    """Venues with ``capabilities.quotes_buy``: the purchase side quoted at the margin."""

    def buy_price(self) -> float:
        """Marginal price of an infinitesimal purchase (>= ``mid_price()``)."""
        ...

    def amount_to_buy_price(self, price: float) -> float:
        """Tokens to buy to lift ``buy_price()`` to ``price`` (0 when already there; may be inf)."""
        ...


@runtime_checkable
class Requotes(Protocol):
    """Venues with ``capabilities.requotes``: depth quoted around a reference, with state."""

    net_sold: float
    """Tokens sold into the quotes since they were centred (negative after net buying)."""
