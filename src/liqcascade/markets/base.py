"""The venue interface: a place where one asset is sold for (or bought with) the numeraire.

Venues are immutable values. Every operation that trades returns the proceeds (or cost)
and a *new* venue; quotes never change state. Prices are numeraire (USD) per token,
amounts are token units of the venue's ``asset``.

The static cascade prices an asset at its venues' common marginal price after the
cumulative liquidation selling; the router (``markets.router``) keeps several venues of
one asset at a common marginal price.
"""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable


@runtime_checkable
class Venue(Protocol):
    """What every venue implements."""

    asset: str
    """Symbol of the asset sold into this venue."""

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
