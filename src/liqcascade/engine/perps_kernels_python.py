"""The perp engine's hot loops in plain Python (compiled by numba in ``engine/perps_kernels.py``):
the margin check, and the walk of a depth profile by a step's liquidation orders."""

from __future__ import annotations

import math

LOG_DOUBLE_MAX = 709.782712893384
"""ln of the largest double: ``exp`` beyond it overflows (Python raises, numba gives inf)."""


def account_slack(accounts, offsets, market, size, entry, funding_index, collateral, mark, funding,
                  maint_rate, out_equity, out_maint, out_exposure):
    """For each account in ``accounts``: its equity, maintenance requirement and exposure
    ``Σ |size|·mark·(2 + maint_rate)`` at ``mark`` and cumulative ``funding`` (per market).

    Equity is collateral + Σ size·(mark − entry) − Σ size·(funding − funding_index); the
    maintenance requirement Σ |size|·mark·maint_rate (the rate per market). An account is
    liquidatable iff its maintenance is > 0 and its slack < 0 (an account without
    maintenance gets exposure 0). A price move of at most a fraction ``x`` of ``mark`` in every
    market (and funding moves of at most ``x·mark``) changes the slack by at most
    ``x·exposure``: the screen in ``engine/perps_screen.py`` relies on this bound.
    Results are written to ``out_equity[i]``, ``out_maint[i]``, ``out_exposure[i]`` for
    ``accounts[i]``; the slack is ``equity − maintenance``.
    """
    for i in range(accounts.shape[0]):
        a = accounts[i]
        eq = collateral[a]
        mm = 0.0
        expo = 0.0
        for j in range(offsets[a], offsets[a + 1]):
            s = size[j]
            k = market[j]
            m = mark[k]
            eq += s * (m - entry[j]) - s * (funding[k] - funding_index[j])
            n = abs(s) * m
            mm += n * maint_rate[k]
            expo += n * (1.0 + maint_rate[k]) + abs(s) * m
        out_equity[i] = eq
        out_maint[i] = mm
        # a maintenance of zero can never be breached: infinite room
        out_exposure[i] = expo if mm > 0.0 else 0.0
    return 0


def account_affine(accounts, offsets, market, size, entry, funding_index, collateral, maint_rate, out):
    """Each account's slack as an affine function of the marks ``m`` and funding indices ``F``
    (``K`` markets), for the screen's quick pass over its ranked accounts:

    ``slack(m, F) = C + Σₖ Aₖ·mₖ − Σₖ Bₖ·Fₖ`` with ``C = collateral − Σ size·entry + Σ
    size·funding_index``, ``Aₖ = Σ (size − |size|·rateₖ)`` and ``Bₖ = Σ size`` over the
    account's positions in market ``k`` (:func:`account_slack`'s formulas, regrouped). Row
    ``i`` of ``out`` (``4K + 2`` columns) is ``C, A₀…A_{K−1}, B₀…B_{K−1}`` for ``accounts[i]``,
    then the same sums of absolute values (``Σ|terms|`` of C, ``Σ |size|·(1 + rateₖ)``,
    ``Σ |size|``): with ``1, m, |F|`` they bound the size of the terms, so of the rounding."""
    n_k = maint_rate.shape[0]
    for i in range(accounts.shape[0]):
        a = accounts[i]
        for c in range(out.shape[1]):
            out[i, c] = 0.0
        out[i, 0] = collateral[a]
        out[i, 2 * n_k + 1] = abs(collateral[a])
        for j in range(offsets[a], offsets[a + 1]):
            s = size[j]
            k = market[j]
            out[i, 0] += s * funding_index[j] - s * entry[j]
            out[i, 1 + k] += s - abs(s) * maint_rate[k]
            out[i, 1 + n_k + k] += s
            out[i, 2 * n_k + 1] += abs(s * funding_index[j]) + abs(s * entry[j])
            out[i, 2 * n_k + 2 + k] += abs(s) * (1.0 + maint_rate[k])
            out[i, 3 * n_k + 2 + k] += abs(s)
    return 0


def affine_pass(signed, size, valid, accounts, room, upto, x, at, scale, rounding, out):
    """The screen's quick pass over its rows ``0..upto-1`` (``account_affine``'s coefficients,
    ``signed`` and ``size`` apart): a valid row with ``room <= x`` whose slack
    ``signed · at`` is at most ``rounding · (size · scale)`` (below zero, or within rounding
    of it) writes its account to ``out``. ``at`` is ``(1, m, −F)`` and ``scale``
    ``(1, m, |F|)``. Returns how many it wrote."""
    n = 0
    for i in range(upto):
        if not valid[i] or room[i] > x:
            continue
        slack = 0.0
        bound = 0.0
        for c in range(at.shape[0]):
            slack += signed[i, c] * at[c]
            bound += size[i, c] * scale[c]
        if slack <= rounding * bound:
            out[n] = accounts[i]
            n += 1
    return n


# ---------------------------------------------------------------------- the order-book walk
# A side of a profile is its segments (start fraction f_a, cumulative notional n_a at it,
# density dN/df), the open-ended tail last: ``DepthCurve.segments`` as three arrays. The
# formulas are those of ``markets/orderbook.py`` (``_bid_from_tokens``, ``_ask_from_tokens``),
# operation for operation, so a walk here and a walk of the venue object agree to the last bit
# wherever the C library's ``log``/``exp`` do.


def bid_state(start, notional, density, p_ref, q):
    """(price / p_ref, notional received) after selling ``q`` ≥ 0 tokens down the bids from p_ref."""
    last = start.shape[0] - 1
    q_a = 0.0
    for i in range(last + 1):
        s = density[i]
        if s == 0.0:
            continue
        f_a = start[i]
        seg_q = math.inf if i == last else (s / p_ref) * math.log((1.0 - f_a) / (1.0 - start[i + 1]))
        if q <= q_a + seg_q:
            u = (q - q_a) * p_ref / s
            return (1.0 - f_a) * math.exp(-u), notional[i] - s * (1.0 - f_a) * math.expm1(-u)
        q_a += seg_q
    return 0.0, math.inf  # unreachable: the tail's density is > 0 (DepthCurve.tail_density)


def ask_state(start, notional, density, p_ref, r):
    """(price / p_ref, notional paid) after buying ``r`` ≥ 0 tokens up the asks from p_ref (inf on
    overflow)."""
    last = start.shape[0] - 1
    r_a = 0.0
    for i in range(last + 1):
        a = density[i]
        if a == 0.0:
            continue
        g_a = start[i]
        seg_r = math.inf if i == last else (a / p_ref) * math.log((1.0 + start[i + 1]) / (1.0 + g_a))
        if r <= r_a + seg_r:
            u = (r - r_a) * p_ref / a
            if u > LOG_DOUBLE_MAX:
                return math.inf, math.inf
            return (1.0 + g_a) * math.exp(u), notional[i] + a * (1.0 + g_a) * math.expm1(u)
        r_a += seg_r
    return math.inf, math.inf  # unreachable: the tail is unbounded


def profile_state(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density, p_ref, q):
    """(marginal price, cash received since centring) at profile coordinate ``q`` (tokens net sold)."""
    if q >= 0.0:
        rel, c = bid_state(bid_start, bid_notional, bid_density, p_ref, q)
        return p_ref * rel, c
    rel, c = ask_state(ask_start, ask_notional, ask_density, p_ref, -q)
    return p_ref * rel, -c


def walk_orders(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density, p_ref, net_sold,
                close, worst, out_filled, out_price, dust_usd=0.0):
    """One market's liquidation orders, in row order, on a depth profile centred at ``p_ref``
    with ``net_sold`` tokens already sold into it (``OrderBookVenue``'s state).

    Order ``i`` trades ``close[i]`` (signed base; < 0 sells, > 0 buys) with an average price no
    worse than ``worst[i]`` (a sell's floor, a buy's cap; nan: no bound): all of it if that
    holds, else the largest amount that keeps it, by 30 bisections of the order (the engine's
    per-order walk, ``engine.perps._fill_one``). An order whose first unit would already trade
    beyond its bound (the marginal price at or past it, so every average is too) fills nothing,
    without the bisection. Each fill moves the profile for the orders after it. Writes the
    signed fill and its average price (nan if nothing filled) per order; returns the profile's
    ``net_sold`` after the walk.

    A trade of ``q`` tokens worth less than ``dust_usd`` at ``p_ref`` (0: none is) is priced at
    the marginal price where it starts and leaves the profile where it is: its cash, a difference
    of two large cash coordinates, would be rounding (an average price of 0 or twice the mid),
    which the bisection toward the bound could accept (``execution/perps._DustSafe``'s rule, the
    same operations, so the walk through that guard is bit for bit the guarded trade-by-trade one)."""
    p0, c0 = profile_state(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density, p_ref,
                           net_sold)
    for i in range(close.shape[0]):
        out_filled[i] = 0.0
        out_price[i] = math.nan
        c = close[i]
        if c == 0.0:
            continue
        sell = c < 0.0
        w = worst[i]
        bounded = not math.isnan(w)
        if bounded and ((sell and p0 <= w) or (not sell and p0 >= w)):
            continue
        amount = abs(c)
        q = amount
        if bounded and not _within(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density,
                                   p_ref, net_sold, p0, c0, dust_usd, sell, q, w):
            lo, hi = 0.0, amount
            for _ in range(30):  # 2^-30 of the order: finer than any venue's lot
                mid = 0.5 * (lo + hi)
                if _within(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density,
                           p_ref, net_sold, p0, c0, dust_usd, sell, mid, w):
                    lo = mid
                else:
                    hi = mid
            q = lo
        if q <= 0.0:
            continue
        cash = _cash(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density,
                     p_ref, net_sold, p0, c0, dust_usd, sell, q)
        out_filled[i] = -q if sell else q
        out_price[i] = cash / q
        if q * p_ref < dust_usd:  # a dust fill leaves the profile as it was
            continue
        net_sold = net_sold + q if sell else net_sold - q
        # the profile moved: its price and cash where the next order starts
        p0, c0 = profile_state(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density,
                               p_ref, net_sold)
    return net_sold


def _cash(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density, p_ref, net_sold, p0, c0,
          dust_usd, sell, q):
    """Cash of trading ``q`` > 0 tokens from ``net_sold`` (received for a sell, paid for a buy);
    ``p0`` and ``c0`` are the marginal price and cash coordinate at ``net_sold``; a dust trade
    (worth less than ``dust_usd`` at ``p_ref``) is priced at ``p0``."""
    if q * p_ref < dust_usd:
        return q * p0
    if sell:
        return profile_state(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density,
                             p_ref, net_sold + q)[1] - c0
    return c0 - profile_state(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density,
                              p_ref, net_sold - q)[1]


def _within(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density, p_ref, net_sold,
            p0, c0, dust_usd, sell, q, worst):
    """Does trading ``q`` tokens from ``net_sold`` average no worse than ``worst``?"""
    avg = _cash(bid_start, bid_notional, bid_density, ask_start, ask_notional, ask_density, p_ref, net_sold,
                p0, c0, dust_usd, sell, q) / q
    return avg >= worst if sell else avg <= worst


FUNCTIONS = {"account_slack": account_slack, "account_affine": account_affine, "affine_pass": affine_pass,
             "bid_state": bid_state, "ask_state": ask_state, "profile_state": profile_state,
             "walk_orders": walk_orders, "_cash": _cash, "_within": _within}
