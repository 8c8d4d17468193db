"""Constant-product pool (Uniswap v2 math) as a venue for one asset against the numeraire.

The math follows the Uniswap v2 whitepaper (Adams, Zinsmeister, Robinson 2020, §3.2.1)
in float64: a trader who puts ``dx`` of one reserve in gets

    out = y · γ·dx / (x + γ·dx),      γ = 1 − fee,

and the *whole* input ``dx`` (fee included) is added to the reserves, so ``x·y`` grows by
the fee (the v2 rule ``(x + dx − fee·dx)·(y − out) ≥ x·y``). Integer rounding of the
contract (``getAmountOut`` floors, ``getAmountIn`` adds 1 wei) is not modelled.

Conventions (read these before wiring a CPMM into the engine):

* ``reserve_asset`` is in token units, ``reserve_numeraire`` in numeraire (USD).
* ``spot_price()`` is the reserve ratio ``y/x``; ``mid_price()`` is the *marginal sale
  price*, ``γ·y/x``: what the :class:`~liqcascade.markets.base.Venue` interface asks for
  (numeraire per token for an infinitesimal sale). ``from_price_depth`` and
  ``with_mid_price`` therefore take that marginal sale price.
* Because the fee part of an input joins the asset reserve, it lowers the price the next
  seller meets: selling in two chunks yields slightly *less* than selling at once (for
  chunks ``a`` then ``b`` the remaining numeraire reserve is larger by a term of order
  ``γ(1 − γ)·a·b``); with ``fee = 0`` the two agree exactly.
* ``with_mid_price`` models arbitrage as a frictionless move along ``x·y = k`` (the
  arbitrageur's fee is not added to the reserves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

from liqcascade.errors import ConfigError
from liqcascade.markets.base import VenueCapabilities, checked_copy

__all__ = ["ConstantProductPool"]


def _check_amount(amount: float) -> float:
    amount = float(amount)
    if not (amount >= 0.0 and math.isfinite(amount)):
        raise ConfigError("<python>", "amount", "a finite amount >= 0", amount)
    return amount


def _check_price(price: float) -> float:
    price = float(price)
    if not price > 0.0 or math.isnan(price):
        raise ConfigError("<python>", "price", "a price > 0", price)
    return price


@dataclass(frozen=True)
class ConstantProductPool:
    """An x·y=k pool holding ``reserve_asset`` tokens of ``asset`` and ``reserve_numeraire`` USD.

    Build with the field constructor (reserves) or :meth:`from_price_depth`.
    """

    capabilities: ClassVar[VenueCapabilities] = VenueCapabilities(quotes_buy=True, arbitraged=True, quotes_many=True)

    asset: str
    reserve_asset: float
    reserve_numeraire: float
    fee: float = 0.003

    def __post_init__(self) -> None:
        for key in ("reserve_asset", "reserve_numeraire"):
            v = float(getattr(self, key))
            if not (v > 0.0 and math.isfinite(v)):
                raise ConfigError("<python>", f"ConstantProductPool.{key}", "a finite reserve > 0", v)
        if not (0.0 <= float(self.fee) < 1.0):
            raise ConfigError("<python>", "ConstantProductPool.fee", "a fee in [0, 1)", self.fee)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_price_depth(
        cls, asset: str, price: float, depth_usd: float, fee: float = 0.003
    ) -> "ConstantProductPool":
        """Pool whose marginal sale price is ``price`` and whose numeraire reserve is ``depth_usd``.

        ``depth_usd`` is one side of the pool (half its TVL at the spot price); the asset
        reserve follows from the spot ``price / (1 − fee)``.
        """
        price = _check_price(price)
        depth_usd = float(depth_usd)
        if not (depth_usd > 0.0 and math.isfinite(depth_usd)):
            raise ConfigError("<python>", "depth_usd", "a finite depth > 0", depth_usd)
        if not (0.0 <= float(fee) < 1.0):
            raise ConfigError("<python>", "fee", "a fee in [0, 1)", fee)
        spot = price / (1.0 - fee)
        return cls(asset, depth_usd / spot, depth_usd, fee)

    # ----------------------------------------------------------------- prices
    @property
    def gamma(self) -> float:
        """Share of the input that trades, ``1 − fee``."""
        return 1.0 - self.fee

    @property
    def k(self) -> float:
        """The invariant ``x·y`` (token · numeraire)."""
        return self.reserve_asset * self.reserve_numeraire

    def spot_price(self) -> float:
        """Reserve ratio ``y/x``, numeraire per token (no fee)."""
        return self.reserve_numeraire / self.reserve_asset

    def mid_price(self) -> float:
        """Marginal sale price ``γ·y/x``: numeraire per token for an infinitesimal sale."""
        return self.gamma * self.spot_price()

    # ----------------------------------------------------------------- selling
    def quote_sell(self, amount: float) -> float:
        """Numeraire out for ``amount`` tokens in: ``y·γa/(x+γa)``."""
        a = _check_amount(amount)
        ga = self.gamma * a
        return self.reserve_numeraire * ga / (self.reserve_asset + ga)

    def quote_sells(self, amounts: list[float]) -> list[float]:
        """:meth:`quote_sell` of each amount (the same expression, the reserves read once)."""
        x, y, g = self.reserve_asset, self.reserve_numeraire, self.gamma
        out = []
        for amount in amounts:
            ga = g * _check_amount(amount)
            out.append(y * ga / (x + ga))
        return out

    def sell(self, amount: float) -> tuple[float, "ConstantProductPool"]:
        """Sell ``amount`` tokens; the full input (fee included) joins the asset reserve."""
        out = self.quote_sell(amount)
        if amount == 0.0:
            return 0.0, self
        return out, replace(
            self,
            reserve_asset=self.reserve_asset + float(amount),
            reserve_numeraire=self.reserve_numeraire - out,
        )

    # ----------------------------------------------------------------- buying
    def quote_buy(self, amount: float) -> float:
        """Numeraire in to take exactly ``amount`` tokens out: ``y·a / ((x − a)·γ)``; inf if a ≥ x."""
        a = _check_amount(amount)
        if a >= self.reserve_asset:
            return math.inf
        return self.reserve_numeraire * a / ((self.reserve_asset - a) * self.gamma)

    def buy(self, amount: float) -> tuple[float, "ConstantProductPool"]:
        """Buy exactly ``amount`` tokens; the numeraire paid (fee included) joins the reserve."""
        cost = self.quote_buy(amount)
        if math.isinf(cost):
            raise ConfigError("<python>", "amount", f"less than the pool's reserve {self.reserve_asset}", amount)
        if amount == 0.0:
            return 0.0, self
        return cost, replace(
            self,
            reserve_asset=self.reserve_asset - float(amount),
            reserve_numeraire=self.reserve_numeraire + cost,
        )

    # ----------------------------------------------------------------- inverses
    def amount_to_price(self, price: float) -> float:
        """Tokens to sell so that ``mid_price()`` falls to ``price``.

        After selling ``a`` the reserves are ``x + a`` and ``x·y/(x + γa)``, so the new
        marginal price is ``γ·x·y / ((x + a)(x + γa))``. Setting it to ``p`` gives
        ``γa² + (1+γ)x·a + x² − γxy/p = 0``; we take the positive root, written in the
        cancellation-free form ``2c' / (b + √(b² + 4γc'))`` with ``c' = γxy/p − x²``.
        """
        p = float(price)
        if p >= self.mid_price():
            return 0.0
        if p <= 0.0:
            return math.inf
        x, y, g = self.reserve_asset, self.reserve_numeraire, self.gamma
        c = x * (g * y / p - x)  # > 0 because p < γy/x
        b = (1.0 + g) * x
        return 2.0 * c / (b + math.sqrt(b * b + 4.0 * g * c))

    def buy_price(self) -> float:
        """Marginal purchase price ``(y/x)/γ``: numeraire per token for an infinitesimal buy."""
        return self.spot_price() / self.gamma

    def amount_to_buy_price(self, price: float) -> float:
        """Tokens to buy so that ``buy_price()`` rises to ``price`` (``mid_price() = γ²·price``)."""
        return self._amount_to_raise_mid(price * self.gamma**2)

    def _amount_to_raise_mid(self, price: float) -> float:
        """Tokens to buy so that ``mid_price()`` rises to ``price`` (0 if already there).

        After buying ``a`` (``u = x − a`` left) the numeraire reserve is ``y + y·a/(u·γ)``;
        ``γ·(that)/u = p`` gives ``p·u² + (1−γ)·y·u − x·y = 0``.
        """
        p = float(price)
        if p <= self.mid_price():
            return 0.0
        if math.isinf(p):
            return self.reserve_asset
        x, y, g = self.reserve_asset, self.reserve_numeraire, self.gamma
        b = (1.0 - g) * y
        u = 2.0 * x * y / (b + math.sqrt(b * b + 4.0 * p * x * y))
        return max(x - u, 0.0)

    def with_mid_price(self, price: float) -> "ConstantProductPool":
        """The pool after a frictionless arbitrage along ``x·y = k`` to marginal sale price ``price``."""
        p = _check_price(price)
        spot = p / self.gamma
        k = self.k
        x, y = math.sqrt(k / spot), math.sqrt(k * spot)
        if 0.0 < x < math.inf and 0.0 < y < math.inf:  # the reserves' checks; the fee is unchanged
            return checked_copy(self, reserve_asset=x, reserve_numeraire=y)
        return replace(self, reserve_asset=x, reserve_numeraire=y)  # raises, naming the reserve
