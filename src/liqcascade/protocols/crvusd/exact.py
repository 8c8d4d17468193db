"""crvUSD / LlamaLend (LLAMMA) rules, integer-exact, following curvefi/curve-stablecoin@cf1d05fb.

Files: ``curve_stablecoin/AMM.vy`` (the LLAMMA: band grid, band prices, deposits, withdrawals,
trades, ``get_x_down``/``get_y_up``) and ``curve_stablecoin/controller.vy`` (band placement of
a new loan, health, ``liquidate``, ``tokens_to_liquidate``). Each function names its source.

Units: amounts are integers in 18-decimal "internal" units (the AMM multiplies token amounts by
``*_PRECISION``; here both precisions are 1, i.e. 18-decimal tokens); prices are stablecoin per
collateral times 1e18. ``x`` is the borrowed coin (stablecoin), ``y`` the collateral.

The grid: band ``n`` spans oracle prices ``[p_oracle_down(n), p_oracle_up(n)]`` with
``p_oracle_up(n) = base_price·((A−1)/A)**n`` (computed as ``wad_exp(−n·ln(A/(A−1)))``) and
``p_oracle_down(n) = p_oracle_up(n+1)``. At a fixed oracle price ``p_o`` the AMM's own price in
band ``n`` runs from ``p_current_down(n) = p_o**3/p_oracle_up(n)**2`` (band all collateral) to
``p_current_up(n) = p_current_down(n+1)`` (all stablecoin): it moves as the cube of the oracle,
so when the oracle falls the AMM's price falls faster and arbitrageurs buy its collateral
below market -- that is soft liquidation. Each band holds ``(f + x)(g + y) = p_o·A²·y0²`` with
``f = A·y0·p_o²/p_up``, ``g = (A−1)·y0·p_up/p_o``.

Rounding is Vyper's: ``//`` and ``unsafe_div`` floor for the unsigned amounts, signed health
divisions truncate toward zero (:func:`~liqcascade.protocols.crvusd.wadmath.sdiv`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from math import isqrt

from liqcascade.errors import LiqcascadeError
from liqcascade.protocols.crvusd.wadmath import WAD, sdiv, wad_exp, wad_ln

DEAD_SHARES = 1000  # constants.vy
MIN_TICKS = 4
MAX_TICKS = 50
MAX_SKIP_TICKS = 1024


class CrvusdRevert(LiqcascadeError):
    """The contract call would revert; the message names the assert."""


# --- the grid (AMM.vy) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """The AMM's immutables: ``A`` and the base price (``BASE_PRICE·rate_mul/1e18``, band 0's top)."""

    A: int
    base_price: int

    @property
    def log_a_ratio(self) -> int:
        """``LOG_A_RATIO = wad_ln(A·1e18 // (A−1))`` (AMM ``__init__``; controller ``LOGN_A_RATIO``)."""
        return wad_ln(self.A * WAD // (self.A - 1))

    @property
    def sqrt_band_ratio(self) -> int:
        """The Controller's ``SQRT_BAND_RATIO = isqrt(1e36·A // (A−1))`` (controller ``__init__``)."""
        return isqrt(10**36 * self.A // (self.A - 1))

    @property
    def amm_sqrt_band_ratio(self) -> int:
        """The AMM's ``SQRT_BAND_RATIO``: a constructor argument, ``isqrt((1e18·A // (A−1))·1e18)``
        as ``ControllerFactory``/``LendFactory`` pass it. It floors before the square root, so for
        some A (4, 18, 50, ...) it is one wei below the Controller's."""
        return isqrt((WAD * self.A // (self.A - 1)) * WAD)

    @property
    def max_oracle_dn_pow(self) -> int:
        """``MAX_ORACLE_DN_POW``: (A/(A−1))**50 by 50 floored multiplications (AMM ``__init__``)."""
        pw = WAD
        for _ in range(50):
            pw = pw * self.A // (self.A - 1)
        return pw


def p_oracle_up(grid: Grid, n: int) -> int:
    """``AMM._p_oracle_up``: ⌊base_price·wad_exp(−n·LOG_A_RATIO)/1e18⌋; reverts if exp ≤ 1000."""
    e = wad_exp(-n * grid.log_a_ratio)
    if e <= 1000:
        raise CrvusdRevert("dev: limit precision of the multiplier")
    return grid.base_price * e // WAD


def p_oracle_down(grid: Grid, n: int) -> int:
    """``AMM.p_oracle_down``: ``p_oracle_up(n + 1)``."""
    return p_oracle_up(grid, n + 1)


def p_current_down(grid: Grid, p_o: int, n: int) -> int:
    """``AMM._p_current_band(n)``: ⌊⌊p_o²/p_up⌋·p_o/p_up⌋, the AMM price with band n all collateral.

    (The AMM's price runs as the cube of the oracle: a falling oracle drops it faster.)
    """
    p_up = p_oracle_up(grid, n)
    return (p_o**2 // p_up) * p_o // p_up


def p_current_up(grid: Grid, p_o: int, n: int) -> int:
    """``AMM.p_current_up``: ``_p_current_band(n + 1)``, the AMM price with band n all stablecoin."""
    return p_current_down(grid, p_o, n + 1)


def band_of_oracle_price(grid: Grid, p: int) -> int:
    """The band ``n`` with ``p_oracle_down(n) < p ≤ p_oracle_up(n)`` on the exact grid.

    Not a contract function: the Controller searches with ``wad_ln`` instead (see
    :func:`calculate_debt_n1`). The float guess is corrected against the exact edges.
    """
    if p <= 0:
        raise LiqcascadeError(f"band_of_oracle_price: price must be positive, got {p}")
    n = math.floor(math.log(grid.base_price / p) / math.log(grid.A / (grid.A - 1)))
    while p_oracle_up(grid, n) < p:
        n -= 1
    while p_oracle_up(grid, n + 1) >= p:
        n += 1
    return n


# --- one band (AMM.vy) ------------------------------------------------------------------------------


def get_y0(A: int, x: int, y: int, p_o: int, p_o_up: int) -> int:
    """``AMM._get_y0``: the invariant's y0 from the band's (x, y) at oracle ``p_o``.

    Solves ``p_o·A·y0² − y0·b − x·y = 0`` with ``b = p_up·(A−1)·x/p_o + A·p_o²/p_up·y``.
    """
    if p_o == 0:
        raise CrvusdRevert("p_o == 0")
    b = 0
    if x != 0:
        b = p_o_up * (A - 1) * x // p_o
    if y != 0:
        b += A * p_o**2 // p_o_up * y // WAD
    if x > 0 and y > 0:
        d = b**2 + (4 * A * p_o) * y // WAD * x
        return (b + isqrt(d)) * WAD // (2 * A * p_o)
    return b * WAD // (A * p_o)


def get_p(grid: Grid, p_o: int, n: int, x: int, y: int) -> int:
    """``AMM._get_p``: the AMM price in band n holding (x, y) at oracle ``p_o``."""
    A = grid.A
    p_o_up = p_oracle_up(grid, n)
    if x == 0:
        if y == 0:  # empty band: the middle
            return (p_o**2 // p_o_up * p_o // p_o_up) * A // (A - 1)
        return p_o**2 // p_o_up * p_o // p_o_up
    if y == 0:
        p_o_dn = p_o_up * (A - 1) // A
        return p_o**2 // p_o_dn * p_o // p_o_dn
    y0 = get_y0(A, x, y, p_o, p_o_up)
    f = A * y0 * p_o // p_o_up * p_o
    g = (A - 1) * y0 * p_o_up // p_o
    return (f + x * WAD) // (g + y)


@dataclass(frozen=True)
class Band:
    """One band of the AMM: its coins and shares, and the user's shares in it."""

    x: int = 0
    y: int = 0
    total_shares: int = 0
    user_shares: int = 0


@dataclass(frozen=True)
class UserBands:
    """A user's deposit: bands ``n1..n2`` (``bands[i]`` is band ``n1 + i``) and the active band."""

    n1: int
    bands: tuple[Band, ...]
    active_band: int

    @property
    def n2(self) -> int:
        return self.n1 + len(self.bands) - 1


def deposit_split(amount: int, n_bands: int) -> list[int]:
    """``AMM.deposit_range``'s split: ``amount // N`` per band, the remainder to the lowest band n1.

    Reverts below 101 wei per band (``"Amount too low"``).
    """
    per = amount // n_bands
    if per <= 100:
        raise CrvusdRevert("Amount too low")
    return [amount - per * (n_bands - 1)] + [per] * (n_bands - 1)


def deposit_into_empty(amount: int, n1: int, n2: int, active_band: int) -> UserBands:
    """``AMM.deposit_range`` into empty bands: shares ``ds = (0 + DEAD_SHARES)·y // (0 + 1)``."""
    if n2 < n1 or n2 - n1 + 1 > MAX_TICKS:
        raise CrvusdRevert("bad band range")
    ys = deposit_split(amount, n2 - n1 + 1)
    return UserBands(n1, tuple(Band(0, y, DEAD_SHARES * y, DEAD_SHARES * y) for y in ys), active_band)


def _band_xy_up(grid: Grid, p_o: int, x: int, y: int, p_o_up: int, p_o_down: int, use_y: bool) -> int:
    """One band of ``AMM.get_xy_up`` before the user's share: its value traded adiabatically.

    ``use_y``: collateral if the price went all the way up through the band (``get_y_up``);
    else stablecoin if it went all the way down (``get_x_down``). A band all in one coin and
    outside ``p_o`` converts at the band's geometric-mean price ``p_up·sqrt((A−1)/A)``.
    """
    A, sbr = grid.A, grid.amm_sqrt_band_ratio
    p_current_mid = p_o**2 // p_o_down * p_o // p_o_up
    if x == 0 or y == 0:
        if p_o > p_o_up:  # all to y at constant p_o
            y_equiv = y if y != 0 else x * WAD // p_current_mid
            return y_equiv if use_y else y_equiv * p_o_up // sbr
        if p_o < p_o_down:  # all to x at constant p_o
            x_equiv = x if x != 0 else y * p_current_mid // WAD
            return x_equiv * sbr // p_o_up if use_y else x_equiv
    y0 = get_y0(A, x, y, p_o, p_o_up)
    f = A * y0 * p_o // p_o_up * p_o // WAD
    g = (A - 1) * y0 * p_o_up // p_o
    inv = (f + x) * (g + y)
    if p_o > p_o_up:
        y_o = max(inv // f - g, 0)
        return y_o if use_y else y_o * p_o_up // sbr
    if p_o < p_o_down:
        x_o = max(inv // g - f, 0)
        return x_o * sbr // p_o_up if use_y else x_o
    y_o = A * y0 * (p_o - p_o_down) // p_o  # the ChainSecurity form
    x_o = max(inv // (g + y_o) - f, 0)
    if use_y:
        return y_o + x_o * WAD // isqrt(p_o_up * p_o)
    return x_o + y_o * isqrt(p_o_down * p_o) // WAD


def get_xy_up(grid: Grid, p_o: int, user: UserBands, use_y: bool) -> int:
    """``AMM.get_xy_up``: ``get_y_up`` (``use_y``) or ``get_x_down`` of a user's bands.

    Bands above the active band count only their collateral, bands below only their stablecoin
    (the contract reads them so). The band edges walk down from ``p_oracle_up(n1)`` by floored
    ``·(A−1)//A`` steps, not the exact grid. The user's part of a band is
    ``value·user_shares // (total_shares + DEAD_SHARES)``, a slight under-estimate on purpose.
    """
    if not user.bands or user.bands[0].user_shares == 0:
        return 0
    if p_o == 0:
        raise CrvusdRevert("p_o == 0")
    p_o_down = p_oracle_up(grid, user.n1)
    total = 0
    for i, b in enumerate(user.bands):
        n = user.n1 + i
        x = b.x if n <= user.active_band else 0
        y = b.y if n >= user.active_band else 0
        p_o_up, p_o_down = p_o_down, p_o_down * (grid.A - 1) // grid.A
        if (x == 0 and y == 0) or b.total_shares == 0 or b.user_shares == 0:
            continue
        value = _band_xy_up(grid, p_o, x, y, p_o_up, p_o_down, use_y)
        total += value * b.user_shares // (b.total_shares + DEAD_SHARES)
    return total


def get_x_down(grid: Grid, p_o: int, user: UserBands) -> int:
    """``AMM.get_x_down``: stablecoin the user's bands would hold if the price fell through them all."""
    return get_xy_up(grid, p_o, user, False)


def get_y_up(grid: Grid, p_o: int, user: UserBands) -> int:
    """``AMM.get_y_up``: collateral the user's bands would hold if the price rose through them all."""
    return get_xy_up(grid, p_o, user, True)


def get_sum_xy(user: UserBands) -> tuple[int, int]:
    """``AMM.get_sum_xy``: (stablecoin, collateral) the user owns now.

    Per band ``(coin + 1)·ds // (s + DEAD_SHARES)``, as ``withdraw`` pays out.
    """
    if not user.bands or user.bands[0].user_shares == 0:
        return 0, 0
    sx = sy = 0
    for b in user.bands:
        s = b.total_shares + DEAD_SHARES
        sx += (b.x + 1) * b.user_shares // s
        sy += (b.y + 1) * b.user_shares // s
    return sx, sy


@dataclass(frozen=True)
class Withdrawal:
    """``AMM.withdraw``'s result: coins out and the bands left behind."""

    x: int
    y: int
    user_after: UserBands


def withdraw(user: UserBands, frac: int) -> Withdrawal:
    """``AMM.withdraw(user, frac)``: per band ``ds = frac·shares // 1e18``; ``dx = (x+1)·ds // (s+1000)``.

    When a band's last shares leave, its dust is zeroed (the contract leaves it in the AMM).
    """
    if frac > WAD:
        raise CrvusdRevert("frac > 1e18")
    if not user.bands or user.bands[0].user_shares == 0:
        raise CrvusdRevert("No deposits")
    tx = ty = 0
    out = []
    for b in user.bands:
        ds = frac * b.user_shares // WAD
        s = b.total_shares
        dx = (b.x + 1) * ds // (s + DEAD_SHARES)
        dy = (b.y + 1) * ds // (s + DEAD_SHARES)
        x, y = b.x - dx, b.y - dy
        if s - ds == 0:
            x = y = 0
        out.append(Band(x, y, s - ds, b.user_shares - ds))
        tx, ty = tx + dx, ty + dy
    return Withdrawal(tx, ty, replace(user, bands=tuple(out)))


# --- trading through bands (AMM.vy) -------------------------------------------------------------------


@dataclass(frozen=True)
class AmmState:
    """The whole AMM: coins per band (``bands_x``/``bands_y``), the active band, the band bounds
    and the fee in force (``max(fee, limit_p_o dynamic fee)``, 1e18 = 100%)."""

    grid: Grid
    bands_x: dict[int, int] = field(default_factory=dict)
    bands_y: dict[int, int] = field(default_factory=dict)
    active_band: int = 0
    min_band: int = 0
    max_band: int = 0
    fee: int = 0


@dataclass(frozen=True)
class Trade:
    """``exchange(i, j, in_amount)``: amounts in and out, the bands crossed, the AMM after."""

    in_amount: int
    out_amount: int
    n1: int
    n2: int
    amm_after: AmmState


def dynamic_fee(grid: Grid, p_o: int, p_o_up: int) -> int:
    """``AMM.get_dynamic_fee``: a quarter of how far ``p_o`` sits outside the band's current prices."""
    A = grid.A
    p_c_d = p_o**2 // p_o_up * p_o // p_o_up
    p_c_u = p_c_d * A // (A - 1) * A // (A - 1)
    if p_o < p_c_d:
        return (p_c_d - p_o) * (WAD // 4) // p_c_d
    if p_o > p_c_u:
        return (p_o - p_c_u) * (WAD // 4) // p_o
    return 0


def _band_invariant(grid: Grid, p_o: int, p_o_up: int, x: int, y: int) -> tuple[int, int, int]:
    """(f, g, Inv) of a non-empty band as ``calc_swap_out`` computes them."""
    y0 = get_y0(grid.A, x, y, p_o, p_o_up)
    f = grid.A * y0 * p_o // p_o_up * p_o // WAD
    g = (grid.A - 1) * y0 * p_o_up // p_o
    return f, g, (f + x) * (g + y)


def exchange(amm: AmmState, p_o: int, pump: bool, in_amount: int) -> Trade:
    """``AMM.calc_swap_out`` then ``_exchange``'s band update, for an exact input amount.

    ``pump``: stablecoin in, collateral out (the price goes up; arbitrageurs buy the collateral
    of soft-liquidated bands this way after the oracle fell); else collateral in, stablecoin out.
    Per band the output is the whole band if the input (grossed up by ``1/(1−fee)``) exceeds
    what empties it, else ``Inv // (f + x + dx_net) − g + 1`` is left (rounded for the AMM).
    Stops at the last non-empty band, after ``MAX_TICKS`` bands, or ~50 bands away from ``p_o``.
    """
    A = amm.grid.A
    n2 = amm.active_band
    p_o_up = p_oracle_up(amm.grid, n2)
    x, y = amm.bands_x.get(n2, 0), amm.bands_y.get(n2, 0)
    left, total_in, total_out, last = in_amount, 0, 0, 0
    n1, ticks, started = n2, [], False
    max_pow = amm.grid.max_oracle_dn_pow
    for i in range(MAX_TICKS + MAX_SKIP_TICKS):
        f = g = inv = 0
        fee = amm.fee
        if x > 0 or y > 0:
            if not started:
                n1, started = n2, True
            f, g, inv = _band_invariant(amm.grid, p_o, p_o_up, x, y)
            fee = max(dynamic_fee(amm.grid, p_o, p_o_up), amm.fee)
        antifee = WAD**2 // (WAD - min(fee, WAD - 1))
        if started:
            ticks.append(x if pump else y)
        p_ratio = p_o_up * WAD // p_o
        have, other = (y, g) if pump else (x, f)
        if have != 0 and other != 0:
            mine, theirs, cur = (x, f, g) if pump else (y, g, f)  # coin in, its offset, the other offset
            dest = inv // cur - theirs - mine
            d = dest * antifee // WAD
            if d >= left:  # the last band
                net = left * WAD // antifee
                last = min(inv // (theirs + mine + net) - cur + 1, have)
                total_out += have - last
                ticks[-1] = mine + left
                total_in = in_amount
                break
            d = max(d, 1)
            left -= d
            ticks[-1] = mine + d
            total_in += d
            total_out += have
        if i == MAX_TICKS + MAX_SKIP_TICKS - 1:
            break
        if (pump and n2 == amm.max_band) or (not pump and n2 == amm.min_band):
            break
        if started and len(ticks) == MAX_TICKS:
            break
        if (pump and p_ratio < 10**36 // max_pow) or (not pump and p_ratio > max_pow):
            break
        if pump:
            n2, p_o_up = n2 + 1, p_o_up * (A - 1) // A
            x, y = 0, amm.bands_y.get(n2, 0)
        else:
            n2, p_o_up = n2 - 1, p_o_up * A // (A - 1)
            x, y = amm.bands_x.get(n2, 0), 0
    if total_out == 0 or total_in == 0:
        return Trade(0, 0, amm.active_band, amm.active_band, amm)
    return Trade(total_in, total_out, n1, n2, _apply_trade(amm, pump, n1, n2, ticks, last))


def _apply_trade(amm: AmmState, pump: bool, n1: int, n2: int, ticks: list[int], last: int) -> AmmState:
    """``AMM._exchange``'s band update: each crossed band holds only the coin that came in,
    except the last one, which keeps ``last`` of the coin going out; the active band is n2."""
    bx, by = dict(amm.bands_x), dict(amm.bands_y)
    lo, span = min(n1, n2), abs(n2 - n1)
    for k in range(span + 1):
        n = lo + k
        if pump:
            bx[n], by[n] = ticks[k], (last if n == n2 else 0)
        else:
            by[n], bx[n] = ticks[span - k], (last if n == n2 else 0)
    return replace(amm, bands_x=bx, bands_y=by, active_band=n2)


# --- the Controller (controller.vy) ------------------------------------------------------------------


def y_effective(grid: Grid, collateral: int, n_bands: int, discount: int) -> int:
    """``Controller._get_y_effective``: collateral a loan may count per unit of ``p_oracle_up(n1)``.

    ``d = collateral·(1 − min(discount + DEAD_SHARES·1e18/max(collateral//N, DEAD_SHARES), 1))
    // (SQRT_BAND_RATIO·N)`` for the top band, then each lower band ``d = d·(A−1)//A``; summed.
    (Each band converts at its geometric-mean price; the extra term covers dead-share rounding.)
    """
    extra = DEAD_SHARES * WAD // max(collateral // n_bands, DEAD_SHARES)
    d = collateral * (WAD - min(discount + extra, WAD)) // (grid.sqrt_band_ratio * n_bands)
    total = d
    for _ in range(1, n_bands):
        d = d * (grid.A - 1) // grid.A
        total += d
    return total


def calculate_debt_n1(
    grid: Grid, p_o: int, active_band: int, collateral: int, debt: int, n_bands: int, loan_discount: int
) -> int:
    """``Controller._calculate_debt_n1``: the top band of a new loan (bands n1..n1+N−1).

    ``ratio = y_effective·p_oracle_up(n0) // (debt + 1)``; ``n1 = n0 + ⌊wad_ln(ratio)/LOG_A_RATIO⌋``
    (the contract floors the negative case by hand), at most ``1024 − N`` above n0.
    ``loan_discount`` is the market's plus the user's ``extra_health``. Assumes the bands
    between are empty (``can_skip_bands``, which reverts "Too deep" past 1024 bands). Reverts ``"Debt too high"`` when the top band's
    upper price would sit above the oracle price (the loan would start in soft liquidation).
    """
    if not MIN_TICKS <= n_bands <= MAX_TICKS:
        raise CrvusdRevert(f"N must be {MIN_TICKS}..{MAX_TICKS}")
    if debt <= 0:
        raise CrvusdRevert("No loan")
    p_base = p_oracle_up(grid, active_band)
    ratio = y_effective(grid, collateral, n_bands, loan_discount) * p_base // (debt + 1)
    if ratio <= 0:
        raise CrvusdRevert("Amount too low")
    lar = grid.log_a_ratio
    ln = wad_ln(ratio)
    if ln < 0:
        ln -= lar - 1
    n1 = min(sdiv(ln, lar), 1024 - n_bands) + active_band
    if p_oracle_up(grid, n1) > p_o:
        raise CrvusdRevert("Debt too high")
    return n1


def health(grid: Grid, p_o: int, user: UserBands, debt: int, liquidation_discount: int, full: bool) -> int:
    """``Controller._health``: ``x_down·(1e18 − ld) / debt − 1e18`` (signed, truncated).

    ``full`` adds, while the whole position is above the active band and the oracle above its
    top, ``(p_o − p_oracle_up(n1))·collateral // debt``: the value above the top band.
    """
    if debt <= 0:
        raise CrvusdRevert("Loan doesn't exist")
    h = sdiv(get_x_down(grid, p_o, user) * (WAD - liquidation_discount), debt) - WAD
    if full and user.n1 > user.active_band:
        p_up = p_oracle_up(grid, user.n1)
        if p_o > p_up:
            h += (p_o - p_up) * get_sum_xy(user)[1] // debt
    return h


def f_remove(frac: int, health_limit: int) -> int:
    """``Controller._get_f_remove``: share of the bands a partial liquidation takes.

    ``((1 + h/2)/(1 + h)·(1 − frac) + frac)·frac`` in 1e18 fixed point, floored twice; ``frac``
    itself when ``h = 0`` (self-liquidation) and 1e18 when ``frac = 1e18``.
    """
    if health_limit == 0:
        return frac
    if frac == WAD:
        return WAD
    fr = (WAD + health_limit // 2) * (WAD - frac) // (WAD + health_limit)
    return (fr + frac) * frac // WAD


@dataclass(frozen=True)
class Liquidation:
    """What ``Controller.liquidate(user, min_x, frac)`` moves.

    ``stablecoin_out``/``collateral_out`` leave the user's bands; ``debt_repaid`` is burned;
    the liquidator pays ``liquidator_pays`` stablecoin when the bands' stablecoin falls short of
    the debt repaid, and receives ``collateral_out`` plus ``liquidator_receives`` stablecoin.
    """

    health_before: int
    f_remove: int
    debt_repaid: int
    debt_after: int
    stablecoin_out: int
    collateral_out: int
    liquidator_pays: int
    liquidator_receives: int
    user_after: UserBands


def liquidate(
    grid: Grid,
    p_o: int,
    user: UserBands,
    debt: int,
    liquidation_discount: int,
    frac: int = WAD,
    approval: bool = False,
) -> Liquidation:
    """``Controller.liquidate``: allowed iff full health < 0 unless the user approved the caller.

    Debt repaid ``⌈debt·frac/1e18⌉``; the bands give up ``f_remove(frac, ld)`` of their shares
    (all of them when the whole debt goes), via ``AMM.withdraw``. A self-liquidation
    (``approval``) uses health limit 0, so ``f_remove = frac``.
    """
    h = health(grid, p_o, user, debt, liquidation_discount, True)
    limit = 0
    if not approval:
        if h >= 0:
            raise CrvusdRevert("Not enough rekt")
        limit = liquidation_discount
    if frac > WAD:
        raise CrvusdRevert("frac>100%")
    repaid = (debt * frac + WAD - 1) // WAD
    if repaid == 0:
        raise CrvusdRevert("nothing to repay")
    fr = f_remove(frac, limit) if repaid < debt else WAD
    w = withdraw(user, fr)
    return Liquidation(
        health_before=h,
        f_remove=fr,
        debt_repaid=repaid,
        debt_after=debt - repaid,
        stablecoin_out=w.x,
        collateral_out=w.y,
        liquidator_pays=max(repaid - w.x, 0),
        liquidator_receives=max(w.x - repaid, 0),
        user_after=w.user_after,
    )


def tokens_to_liquidate(
    user: UserBands, debt: int, liquidation_discount: int, frac: int = WAD, approval: bool = False
) -> int:
    """``Controller.tokens_to_liquidate``: ``⌈debt·frac⌉ − ⌊sum_x·f_remove⌋``, floored at 0.

    Uses ``get_sum_xy``'s stablecoin; note it applies ``f_remove`` even at frac = 1 (= 1e18).
    """
    if frac > WAD:
        raise CrvusdRevert("frac>100%")
    limit = 0 if approval else liquidation_discount
    borrowed = get_sum_xy(user)[0] * f_remove(frac, limit) // WAD
    return max((debt * frac + WAD - 1) // WAD - borrowed, 0)


def amount_for_price(amm: AmmState, p_o: int, p: int) -> tuple[int, bool]:
    """``AMM.get_amount_for_price``: the input that moves the AMM's price to ``p``, and its side.

    ``pump`` (stablecoin in) when ``p`` is above the current price. Walks bands from the active
    one, adding each band's whole conversion (grossed up by the fee) until the band where
    ``p`` lies between ``p_current_down`` and ``p_current_up``; there the trade stops at
    ``y = sqrt(Inv/p) − g``. The result is rounded up (``(amount − 1) // 1 + 1``).
    """
    A, n = amm.grid.A, amm.active_band
    p_o_up = p_oracle_up(amm.grid, n)
    p_down = p_o**2 // p_o_up * p_o // p_o_up
    p_up = p_down * A**2 // (A - 1) ** 2
    amount, j, pump = 0, None, True
    max_pow = amm.grid.max_oracle_dn_pow
    f = g = inv = 0
    for i in range(MAX_TICKS + MAX_SKIP_TICKS):
        x, y = amm.bands_x.get(n, 0), amm.bands_y.get(n, 0)
        if i == 0 and p < get_p(amm.grid, p_o, n, x, y):
            pump = False
        not_empty = x > 0 or y > 0
        fee = amm.fee
        if not_empty:
            f, g, inv = _band_invariant(amm.grid, p_o, p_o_up, x, y)
            j = 0 if j is None else j
            fee = max(dynamic_fee(amm.grid, p_o, p_o_up), amm.fee)
        antifee = WAD**2 // (WAD - min(fee, WAD - 1))
        if p_down <= p <= p_up:
            if not_empty:
                ynew = max(isqrt(inv * WAD // p) - g, 0)
                xnew = max(inv // (g + ynew) - f, 0)
                amount += (max(xnew - x, 0) if pump else max(ynew - y, 0)) * antifee // WAD
            break
        p_ratio = p_o_up * WAD // p_o
        if not_empty:
            amount += ((inv // g - f - x) if pump else (inv // f - g - y)) * antifee // WAD
        if (pump and n == amm.max_band) or (not pump and n == amm.min_band) or j == MAX_TICKS - 1:
            break
        if (pump and p_ratio < 10**36 // max_pow) or (not pump and p_ratio > max_pow):
            break
        if pump:
            n, p_down, p_up, p_o_up = n + 1, p_up, p_up * A**2 // (A - 1) ** 2, p_o_up * (A - 1) // A
        else:
            n, p_up, p_down, p_o_up = n - 1, p_down, p_down * (A - 1) ** 2 // A**2, p_o_up * A // (A - 1)
        if j is not None:
            j += 1
    return amount, pump


def arbitrage_to(amm: AmmState, p_o: int, p: int) -> Trade:
    """Trade the AMM to price ``p`` (``amount_for_price`` then ``exchange``), as an arbitrageur
    does when the market is at ``p``. With ``p = p_o`` after an oracle drop this is one round of
    soft liquidation: the trade's ``out_amount`` is the collateral LLAMMA sold (pump side)."""
    amount, pump = amount_for_price(amm, p_o, p)
    return exchange(amm, p_o, pump, amount)
