"""How the simulation moves venues: arbitrage with finite capital, re-quoting order books,
and the exit depth a protocol's buyers see."""

from __future__ import annotations

import math


def arbitrage(venue, ref: float, capital: float):
    """Trade ``venue`` toward the marginal sale price ``ref`` with at most ``capital`` USD:
    buy from it when it is below ``ref``, sell into it when above (bisection on the size
    when the full move costs more than the capital)."""
    mid = venue.mid_price()
    if ref > mid:
        spread = venue.buy_price() / mid
        full = venue.amount_to_buy_price(ref * spread)
        cost = lambda a: venue.quote_buy(a)  # noqa: E731
        trade = venue.buy
    else:
        full = venue.amount_to_price(ref)
        cost = lambda a: venue.quote_sell(a)  # noqa: E731
        trade = venue.sell
    if not (full > 0.0) or not math.isfinite(full):
        return venue
    amount = full
    if not (cost(full) <= capital):
        lo, hi = 0.0, full
        for _ in range(60):
            m = 0.5 * (lo + hi)
            if cost(m) <= capital:
                lo = m
            else:
                hi = m
        amount = lo
    if amount <= 0.0:
        return venue
    return trade(amount)[1]


def requote(venue, ref: float, consumed: float):
    """An order book (or impact law) re-quoted around ``ref`` with ``consumed`` tokens of
    its bid depth still taken (negative: ask depth taken)."""
    base = venue.with_mid_price(ref)
    if consumed > 0.0:
        return base.sell(consumed)[1]
    if consumed < 0.0:
        return base.buy(-consumed)[1]
    return base


def exit_depth(venues, market):
    """``depth(asset, price)``: tokens of ``asset`` the venue, as it stands, absorbs before
    its marginal price falls to ``price`` (no venue: all of it at the market price)."""
    def depth(i: int, price: float) -> float:
        v = venues.get(i)
        if v is None:
            return math.inf if float(market[i]) >= price else 0.0
        return float(v.amount_to_price(price))

    return depth
