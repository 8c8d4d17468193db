"""Basis arbitrage: an arbitrageur with finite capital and speed ties a perp's book to spot venues.

When the perp's marginal sale price exceeds the spot venue's marginal purchase price by more than
the band (``(1 + band)`` times it), the arbitrageur buys ``q`` tokens on spot and sells ``q`` on the
perp (a hedged short-perp/long-spot position); in the opposite case it buys the perp and sells spot.
It trades the ``q`` at which the two marginal prices meet at the band —

    perp sale price after selling q  =  (1 + band) · spot purchase price after buying q

(or the mirror) — unless the buy leg's cost would exceed what it may spend in the step:
``min(capital_usd, max_notional_per_s · dt)``; then it spends exactly that: the size is the
largest float amount whose cost is within it, and the capital drops by the whole budget (the
cost falls short of it by rounding only: ``tests/markets/test_perp_arb.py`` bounds it), so capital
used up is 0, not a rounding rest that buys dust every step after. Both venues move, so a
perp liquidation cascade reaches the spot venue (and every lending market reading it) and spot
selling reaches the perp.

**Capital.** ``capital_usd`` is the notional of buy legs the arbitrageur can still carry (its hedged
positions are held, not unwound, within a run); each trade uses up its buy leg's cost. Margin on the
perp leg and the carry are not modelled beyond the band.

**Band** (:func:`arb_band`): the round trip's fees plus the funding the arbitrageur expects to pay
over its holding period (negative when it expects to receive it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue

__all__ = ["BasisArbitrageur", "BasisTrade", "arb_band", "basis_arbitrage"]


def arb_band(spot_fee: float, perp_fee: float, funding_paid: float = 0.0) -> float:
    """Relative gap below which arbitrage does not pay: ``spot_fee + perp_fee + funding_paid``
    (all fractions of notional; ``funding_paid`` the funding expected over the holding period)."""
    band = float(spot_fee) + float(perp_fee) + float(funding_paid)
    if not (band >= 0.0 and math.isfinite(band)):
        raise ConfigError("<python>", "band", "fees plus funding >= 0 (a finite fraction)", band)
    return band


@dataclass(frozen=True)
class BasisArbitrageur:
    """Capital left (USD of buy legs), speed (USD per second) and band (fraction)."""

    capital_usd: float
    band: float = 0.0
    max_notional_per_s: float = math.inf

    def __post_init__(self) -> None:
        if not (self.capital_usd >= 0.0 and math.isfinite(self.capital_usd)):
            raise ConfigError("<python>", "BasisArbitrageur.capital_usd", "a finite capital >= 0 (USD)",
                              self.capital_usd)
        if not (self.band >= 0.0 and math.isfinite(self.band)):
            raise ConfigError("<python>", "BasisArbitrageur.band", "a finite fraction >= 0", self.band)
        if not self.max_notional_per_s > 0.0:
            raise ConfigError("<python>", "BasisArbitrageur.max_notional_per_s", "a speed > 0 (USD per s)",
                              self.max_notional_per_s)


@dataclass(frozen=True)
class BasisTrade:
    """One step of arbitrage and the state after it."""

    tokens: float
    """Tokens bought on the cheap venue and sold on the rich one (0: no trade)."""
    perp_sold: bool
    """True: perp sold, spot bought (the perp was rich); False: the mirror."""
    buy_cost: float
    """USD paid for the buy leg."""
    sell_proceeds: float
    """USD received for the sell leg."""
    perp: Venue
    spot: Venue
    arbitrageur: BasisArbitrageur

    @property
    def profit(self) -> float:
        """Sale proceeds less purchase cost, before the band's fees and funding."""
        return self.sell_proceeds - self.buy_cost


def _bisect(f, hi: float) -> float:
    """Largest q in [0, hi] with f(q) >= 0, for f decreasing with f(0) >= 0 (to float resolution)."""
    lo = 0.0
    if f(hi) >= 0.0:
        return hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if f(mid) >= 0.0:
            lo = mid
        else:
            hi = mid
    return lo


class _Size(NamedTuple):
    tokens: float
    capped: bool
    """True: the budget, not the prices meeting, set the size."""


def _size(rich: Venue, cheap: Venue, factor: float, budget: float) -> _Size:
    """Tokens to buy on ``cheap`` and sell on ``rich`` until rich's sale price = factor × cheap's
    purchase price, with the purchase cost at most ``budget``."""
    # The size lies below where either price alone reaches the geometric middle of the gap: at the
    # solution rich's price is either >= that middle (so q <= rich's amount to it) or < it (then
    # cheap's purchase price is below middle / factor, so q <= cheap's amount to that).
    middle = math.sqrt(rich.mid_price() * factor * cheap.buy_price())  # type: ignore[attr-defined]
    bounds = [rich.amount_to_price(middle), cheap.amount_to_buy_price(middle / factor)]  # type: ignore[attr-defined]
    hi = max(b for b in bounds if math.isfinite(b)) if any(math.isfinite(b) for b in bounds) else 1e12

    def gap(q: float) -> float:
        return rich.sell(q)[1].mid_price() - factor * cheap.buy(q)[1].buy_price()  # type: ignore[attr-defined]

    def affordable(q: float) -> float:
        return budget - cheap.quote_buy(q)

    q = _bisect(gap, hi)
    if math.isfinite(budget) and cheap.quote_buy(q) > budget:
        return _Size(_bisect(affordable, q), True)
    return _Size(q, False)


def basis_arbitrage(perp: Venue, spot: Venue, arb: BasisArbitrageur, dt_s: float) -> BasisTrade:
    """One arbitrage step of ``dt_s`` seconds between ``perp`` and ``spot`` (both quote purchases)."""
    for name, v in (("perp", perp), ("spot", spot)):
        if not v.capabilities.quotes_buy:
            raise ConfigError("<python>", name, "a venue that quotes purchases (capabilities.quotes_buy)",
                              type(v).__name__)
    if not (dt_s >= 0.0 and math.isfinite(dt_s)):
        raise ConfigError("<python>", "dt_s", "a finite time step >= 0 (seconds)", dt_s)
    budget = min(arb.capital_usd, arb.max_notional_per_s * dt_s)
    factor = 1.0 + arb.band
    perp_rich = perp.mid_price() > factor * spot.buy_price()  # type: ignore[attr-defined]
    spot_rich = spot.mid_price() > factor * perp.buy_price()  # type: ignore[attr-defined]
    if budget <= 0.0 or not (perp_rich or spot_rich):
        return BasisTrade(0.0, perp_rich, 0.0, 0.0, perp, spot, arb)
    rich, cheap = (perp, spot) if perp_rich else (spot, perp)
    q, capped = _size(rich, cheap, factor, budget)
    cost, cheap_after = cheap.buy(q)
    proceeds, rich_after = rich.sell(q)
    perp_after, spot_after = (rich_after, cheap_after) if perp_rich else (cheap_after, rich_after)
    # a capped trade spends the whole budget: what the bisection leaves of it (budget − cost, the
    # cost of the last float of q and the cost's rounding) is no capital, and kept it would buy
    # dust tokens every step after
    spent = budget if capped else cost
    arb_after = replace(arb, capital_usd=max(arb.capital_usd - spent, 0.0))
    return BasisTrade(q, perp_rich, cost, proceeds, perp_after, spot_after, arb_after)
