"""Split a sale (or purchase) of one asset across its venues at equal marginal prices.

For a sale of ``A`` tokens the router finds the common price ``p`` with

    Σ_i amount_to_price_i(p) = A

(each term is 0 for a venue already at or below ``p``, so such venues get nothing) by
bracketing and bisection on ``log p`` to a relative width of ``rel_tol``, then sells
``amount_to_price_i(p)`` into each venue. Proceeds are maximal among all splits when each
venue's proceeds are concave in the amount (true of every venue in this package): at the
optimum every venue that gets a fill has the same marginal price.

Where the aggregate curve jumps (an order book's empty band, a v3 pool's liquidity gap,
an impact venue with no permanent impact), no price gives exactly ``A``; the router then
takes the fills at the two ends of the final bracket and shares the difference in
proportion to the venues' jumps, so the fills always add up to ``A``.

Purchases mirror this on the *purchase* side: venues that declare
``capabilities.quotes_buy`` (:class:`~liqcascade.markets.base.QuotesBuy`) give ``buy_price()``
(marginal price of an infinitesimal purchase, above ``mid_price()`` by the fee for pools) and
``amount_to_buy_price(p)`` (tokens to buy to lift it to ``p``); the router equalizes those.
A venue that does not declare it is treated as having no spread (``buy_price = mid_price``)
and handled by bisection over its ``buy``, whatever methods it happens to have. The router
is itself a :class:`~liqcascade.markets.base.Venue` that declares ``quotes_buy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

from liqcascade.errors import ConfigError, ConvergenceError
from liqcascade.markets.base import Venue, VenueCapabilities

__all__ = ["Router", "RouteResult"]


def _check_amount(amount: float) -> float:
    amount = float(amount)
    if not (amount >= 0.0 and math.isfinite(amount)):
        raise ConfigError("<python>", "amount", "a finite amount >= 0", amount)
    return amount


@dataclass(frozen=True, eq=False)
class RouteResult:
    """One routed trade: totals, per-venue fills and the router after it."""

    total: float
    """Proceeds of a sale (or cost of a purchase), numeraire."""
    fills: tuple[float, ...]
    """Tokens traded at each venue, in the router's venue order."""
    amounts: tuple[float, ...]
    """Numeraire received (sale) or paid (purchase) at each venue."""
    price: float
    """The common marginal price the venues were brought to."""
    router: "Router"


def _raise_generic(venue: Venue, price: float) -> float:
    """Tokens to buy from ``venue`` until its mid_price reaches ``price`` (bisection on buy)."""
    if venue.mid_price() >= price:
        return 0.0
    lo, hi = 0.0, 1.0
    while True:
        cost = venue.quote_buy(hi)
        if math.isinf(cost) or venue.buy(hi)[1].mid_price() >= price:
            break
        lo, hi = hi, hi * 2.0
        if hi > 1e30:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if math.isinf(venue.quote_buy(mid)) or venue.buy(mid)[1].mid_price() >= price:
            hi = mid
        else:
            lo = mid
    return hi


def _raise(venue: Venue, price: float) -> float:
    if venue.capabilities.quotes_buy:
        return venue.amount_to_buy_price(price)  # type: ignore[attr-defined]  # QuotesBuy, declared
    return _raise_generic(venue, price)


def _buy_price(venue: Venue) -> float:
    if venue.capabilities.quotes_buy:
        return venue.buy_price()  # type: ignore[attr-defined]  # QuotesBuy, declared
    return venue.mid_price()


@dataclass(frozen=True, eq=False)
class Router:
    """Venues of one asset traded as one: equal marginal prices after every trade."""

    capabilities: ClassVar[VenueCapabilities] = VenueCapabilities(quotes_buy=True)

    asset: str
    venues: tuple[Venue, ...]
    rel_tol: float = 1e-13
    """Relative width of the final price bracket."""

    def __post_init__(self) -> None:
        venues = tuple(self.venues)
        object.__setattr__(self, "venues", venues)
        if not venues:
            raise ConfigError("<python>", "Router.venues", "at least one venue", venues)
        for i, v in enumerate(venues):
            if v.asset != self.asset:
                raise ConfigError("<python>", f"Router.venues[{i}].asset", repr(self.asset), v.asset)
        if not (0.0 < self.rel_tol < 1e-3):
            raise ConfigError("<python>", "Router.rel_tol", "a tolerance in (0, 1e-3)", self.rel_tol)

    @classmethod
    def of(cls, venues: Sequence[Venue], rel_tol: float = 1e-13) -> "Router":
        """A router over ``venues`` (all of the same asset)."""
        venues = tuple(venues)
        if not venues:
            raise ConfigError("<python>", "Router.venues", "at least one venue", venues)
        for i, v in enumerate(venues):
            # checked once here, not on every trade: the router reads ``asset`` and ``capabilities``
            if not isinstance(v, Venue):
                raise ConfigError("<python>", f"Router.venues[{i}]", "a Venue (markets/base.py) whose class "
                                  "declares its capabilities", type(v).__name__)
        return cls(venues[0].asset, venues, rel_tol)

    # ----------------------------------------------------------------- prices
    def mid_price(self) -> float:
        """Highest venue mid price (all venues share it after a routed trade)."""
        return max(v.mid_price() for v in self.venues)

    def mid_prices(self) -> tuple[float, ...]:
        return tuple(v.mid_price() for v in self.venues)

    def amount_to_price(self, price: float) -> float:
        """``Σ_i amount_to_price_i(price)``: tokens the router absorbs down to ``price``."""
        return math.fsum(v.amount_to_price(price) for v in self.venues)

    def buy_price(self) -> float:
        """Lowest venue marginal purchase price."""
        return min(_buy_price(v) for v in self.venues)

    def buy_prices(self) -> tuple[float, ...]:
        return tuple(_buy_price(v) for v in self.venues)

    def amount_to_buy_price(self, price: float) -> float:
        """``Σ_i`` tokens to buy to lift every venue's purchase price to ``price``."""
        return math.fsum(_raise(v, price) for v in self.venues)

    # ----------------------------------------------------------------- solver
    def _solve(self, amount: float, selling: bool) -> tuple[float, list[float]]:
        """(common price, fills) for ``amount`` tokens; fills add up to ``amount``."""
        per_venue: Callable[[Venue, float], float] = (
            (lambda v, p: v.amount_to_price(p)) if selling else _raise
        )

        def fills_at(p: float) -> list[float]:
            return [per_venue(v, p) for v in self.venues]

        mids = self.mid_prices() if selling else self.buy_prices()
        # ``near``: the side where the venues absorb less than ``amount``; ``far``: at least it.
        near = max(mids) if selling else min(mids)
        step = 0.5 if selling else 2.0
        far = near * step
        floor_hit = False
        while math.fsum(fills_at(far)) < amount:
            far *= step
            if (selling and far < near * 1e-300) or (not selling and far > near * 1e300):
                floor_hit = True
                break
        if not floor_hit:
            for _ in range(20_000):
                if abs(far / near - 1.0) <= self.rel_tol:
                    break
                mid = math.sqrt(near * far)
                if mid == near or mid == far:
                    break
                if math.fsum(fills_at(mid)) >= amount:
                    far = mid
                else:
                    near = mid
            else:  # pragma: no cover - log bisection halves the bracket each time
                raise ConvergenceError(f"router price bracket [{near}, {far}] did not shrink")
        a_near = fills_at(near)
        a_far = fills_at(far)
        rest = amount - math.fsum(a_near)
        jumps = [max(f - n, 0.0) for n, f in zip(a_near, a_far)]
        infinite = [i for i, j in enumerate(jumps) if math.isinf(j)]
        fills = list(a_near)
        if infinite:
            for i in infinite:
                fills[i] += rest / len(infinite)
        else:
            total_jump = math.fsum(jumps)
            if total_jump > 0.0 and not floor_hit:
                share = min(rest / total_jump, 1.0)
                fills = [n + share * j for n, j in zip(a_near, jumps)]
            else:  # nothing absorbs more even at a price ~0: the largest venue takes the rest
                fills = list(a_far)
                k = max(range(len(fills)), key=lambda i: fills[i])
                fills[k] += amount - math.fsum(fills)
        # exact total, fixing float dust on the largest fill
        fills = [max(f, 0.0) for f in fills]
        k = max(range(len(fills)), key=lambda i: fills[i])
        fills[k] = max(fills[k] + (amount - math.fsum(fills)), 0.0)
        return (near if floor_hit else math.sqrt(near * far)), fills

    # ----------------------------------------------------------------- routed trades
    def route_sell(self, amount: float) -> RouteResult:
        """Sell ``amount`` tokens split at equal marginal prices."""
        a = _check_amount(amount)
        if a == 0.0:
            return RouteResult(0.0, (0.0,) * len(self.venues), (0.0,) * len(self.venues),
                               self.mid_price(), self)
        price, fills = self._solve(a, selling=True)
        new, got = [], []
        for v, f in zip(self.venues, fills):
            if f > 0.0:
                proceeds, v = v.sell(f)
            else:
                proceeds = 0.0
            new.append(v)
            got.append(proceeds)
        router = Router(self.asset, tuple(new), self.rel_tol)
        return RouteResult(math.fsum(got), tuple(fills), tuple(got), price, router)

    def route_buy(self, amount: float) -> RouteResult:
        """Buy ``amount`` tokens split so the venues' marginal prices rise to a common level."""
        a = _check_amount(amount)
        if a == 0.0:
            return RouteResult(0.0, (0.0,) * len(self.venues), (0.0,) * len(self.venues),
                               self.mid_price(), self)
        price, fills = self._solve(a, selling=False)
        new, paid = [], []
        for v, f in zip(self.venues, fills):
            if f > 0.0:
                cost, v = v.buy(f)
            else:
                cost = 0.0
            new.append(v)
            paid.append(cost)
        router = Router(self.asset, tuple(new), self.rel_tol)
        return RouteResult(math.fsum(paid), tuple(fills), tuple(paid), price, router)

    # ----------------------------------------------------------------- Venue
    def quote_sell(self, amount: float) -> float:
        return self.route_sell(amount).total

    def sell(self, amount: float) -> tuple[float, "Router"]:
        r = self.route_sell(amount)
        return r.total, r.router

    def quote_buy(self, amount: float) -> float:
        a = _check_amount(amount)
        try:
            return self.route_buy(a).total
        except ConfigError:
            return math.inf

    def buy(self, amount: float) -> tuple[float, "Router"]:
        r = self.route_buy(amount)
        return r.total, r.router

    def with_mid_price(self, price: float) -> "Router":
        """Every venue moved (by its own rule) to ``price``."""
        return Router(self.asset, tuple(v.with_mid_price(price) for v in self.venues), self.rel_tol)
