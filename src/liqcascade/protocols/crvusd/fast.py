"""crvUSD / LlamaLend in float64, the form the engines run: LLAMMA bands in the adiabatic limit.

``exact.py`` holds the contracts' integer rules. Here a user's position is its band grid
(``A``, the price of band 0's top ``base_price``, the top band ``n1``) and the collateral
deposited per band ``y`` (a float array, band ``n1 + i`` at index ``i``). Prices are
stablecoin per collateral.

The model is the AMM's *adiabatic* limit: the market (= oracle) price moves slowly and
arbitrageurs keep the AMM's price on it, so band ``[p_down, p_up]`` behaves as a
concentrated-liquidity range in sqrt price. With ``L = Y·sqrt(p_up·p_down)/(sqrt(p_up) − sqrt(p_down))``
a band at price ``p`` inside it holds collateral ``y = L·(1/sqrt(p_down) − 1/sqrt(p))`` and
stablecoin ``x = L·(sqrt(p_up) − sqrt(p))``; above it all ``Y``, below it ``Y·sqrt(p_up·p_down)``
stablecoin. That is exactly what the contract's ``get_x_down`` assumes (each band converts
at the geometric mean of its edges), so the float ``x_down`` and health agree with the exact
ones for bands not yet reached. Inside a band the contract's state depends on the path and
on how fast the oracle moved (a jump lets arbitrageurs buy below the adiabatic price; that
loss is what the dynamic fee is for), so collateral amounts agree with the exact AMM to the
band the price sits in (tests/protocols/test_crvusd_fast.py states the bounds). Fees are 0
here: the stablecoin a band gains is exactly ``∫ p·(−dy)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bands:
    """A user's bands: edges ``p_up[i] > p_down[i] = p_up[i+1]`` and collateral deposited ``y[i]``."""

    p_up: np.ndarray
    p_down: np.ndarray
    y: np.ndarray


def band_edges(A: float, base_price: float, n1: int, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Band edges of bands n1..n1+N−1: ``p_up = base_price·((A−1)/A)**n``, ``p_down = p_up(n + 1)``."""
    n = np.arange(n1, n1 + n_bands + 1, dtype=np.float64)
    edges = base_price * ((A - 1.0) / A) ** n
    return edges[:-1], edges[1:]


def band_of_price(A: float, base_price: float, p: float) -> int:
    """The band whose oracle range holds ``p``: ``⌊ln(base_price/p)/ln(A/(A−1))⌋``."""
    return int(np.floor(np.log(base_price / p) / np.log(A / (A - 1.0))))


def deposit(A: float, base_price: float, n1: int, n_bands: int, collateral: float) -> Bands:
    """``create_loan``'s deposit: ``collateral/N`` in each of bands n1..n1+N−1."""
    p_up, p_down = band_edges(A, base_price, n1, n_bands)
    return Bands(p_up, p_down, np.full(n_bands, collateral / n_bands))


def top_band(
    A: float, base_price: float, collateral: float, debt: float, n_bands: int, loan_discount: float
) -> int:
    """``calculate_debt_n1`` in float: the highest band n1 whose deposit still backs the debt.

    The deposit is worth ``collateral·(1 − loan_discount)·p_oracle_up(n1)·sqrt(r)·Σ_k r**k / N``
    with ``r = (A−1)/A``, at the bands' geometric means; n1 is the floor of the band index
    where that equals the debt.
    (The contract also takes a tiny dead-shares discount; see ``exact.y_effective``.)
    """
    r = (A - 1.0) / A
    per_unit = np.sqrt(r) * (1.0 - r**n_bands) / (1.0 - r) / n_bands
    y_eff = collateral * (1.0 - loan_discount) * per_unit
    return int(np.floor(np.log(y_eff * base_price / debt) / np.log(A / (A - 1.0))))


def _liquidity(b: Bands) -> np.ndarray:
    su, sd = np.sqrt(b.p_up), np.sqrt(b.p_down)
    return b.y * su * sd / (su - sd)


def split_at(b: Bands, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Per band (collateral, stablecoin) once the price has moved (slowly) to ``p``."""
    sd, su = np.sqrt(b.p_down), np.sqrt(b.p_up)
    sp = np.clip(np.sqrt(p), sd, su)
    liq = _liquidity(b)
    coll = np.where(p >= b.p_up, b.y, np.where(p <= b.p_down, 0.0, liq * (1.0 / sd - 1.0 / sp)))
    stable = np.where(p >= b.p_up, 0.0, np.where(p <= b.p_down, b.y * su * sd, liq * (su - sp)))
    return coll, stable


def holdings(b: Bands, p: float) -> tuple[float, float]:
    """The account's total (collateral, stablecoin) in its bands at price ``p``."""
    coll, stable = split_at(b, p)
    return float(coll.sum()), float(stable.sum())


def x_down(b: Bands, p: float) -> float:
    """``get_x_down``: stablecoin if the price now fell through every band, ``x + y·sqrt(p_down·p)`` each.

    Path-independent in the adiabatic model: ``Σ Y·sqrt(p_up·p_down)`` at every price.
    """
    coll, stable = split_at(b, p)
    return float(np.sum(stable + coll * np.sqrt(b.p_down * np.clip(p, b.p_down, b.p_up))))


def health(b: Bands, p: float, debt: float, liquidation_discount: float, full: bool = False) -> float:
    """``Controller.health``: ``x_down·(1 − ld)/debt − 1``; ``full`` adds, while the price is above
    the top band, ``(p − p_up(n1))·collateral/debt`` (the value above the bands)."""
    h = x_down(b, p) * (1.0 - liquidation_discount) / debt - 1.0
    if full and p > b.p_up[0]:
        h += (p - b.p_up[0]) * float(b.y.sum()) / debt
    return h


@dataclass(frozen=True)
class SoftSale:
    """What soft liquidation did between two prices: collateral LLAMMA sold to arbitrageurs
    (negative when the price rose and it bought back) and the stablecoin it received."""

    collateral_sold: float
    stablecoin_received: float


def soft_liquidation(b: Bands, p1: float, p2: float) -> SoftSale:
    """Collateral sold and stablecoin received as the price moves slowly from ``p1`` to ``p2``.

    Arbitrageurs buy that collateral from LLAMMA at prices between ``p2`` and ``p1`` and sell it
    on the external venues; the stablecoin stays in the user's bands.
    """
    c1, s1 = holdings(b, p1)
    c2, s2 = holdings(b, p2)
    return SoftSale(c1 - c2, s2 - s1)


def f_remove(frac: float, health_limit: float) -> float:
    """``_get_f_remove``: ``((1 + h/2)/(1 + h)·(1 − frac) + frac)·frac`` (frac itself when h = 0)."""
    if health_limit == 0.0 or frac >= 1.0:
        return frac
    return ((1.0 + health_limit / 2.0) / (1.0 + health_limit) * (1.0 - frac) + frac) * frac


@dataclass(frozen=True)
class HardLiquidation:
    """``Controller.liquidate`` at price ``p``: the liquidator repays ``debt_repaid``, takes
    ``collateral_out`` and ``stablecoin_out`` from the bands, pays in ``liquidator_pays``
    (the shortfall of the bands' stablecoin) and ``profit`` is its gain valued at ``p``."""

    debt_repaid: float
    collateral_out: float
    stablecoin_out: float
    liquidator_pays: float
    profit: float


def hard_liquidation(
    b: Bands, p: float, debt: float, liquidation_discount: float, frac: float = 1.0
) -> HardLiquidation:
    """Liquidate ``frac`` of the debt (allowed when ``health(full=True) < 0``, checked by the caller).

    The bands give up ``f_remove(frac, ld)`` of what they hold at ``p`` (all of it at frac 1).
    A negative ``profit`` means no liquidator would do it: the position is underwater.
    """
    repaid = debt * frac
    share = 1.0 if frac >= 1.0 else f_remove(frac, liquidation_discount)
    coll, stable = holdings(b, p)
    c_out, s_out = share * coll, share * stable
    pays = max(repaid - s_out, 0.0)
    return HardLiquidation(repaid, c_out, s_out, pays, c_out * p + s_out - repaid)


@dataclass(frozen=True)
class BookState:
    """Columnar state of many accounts at one price: what their bands hold and their ``x_down``."""

    collateral: np.ndarray
    stablecoin: np.ndarray
    x_down: np.ndarray


def book_state(
    A: float, base_price: float, n1: np.ndarray, n_bands: np.ndarray, collateral: np.ndarray, p: float
) -> BookState:
    """:func:`holdings` and :func:`x_down` for every account at once, in O(1) per account.

    Accounts deposited ``collateral`` evenly in bands ``n1 .. n1 + n_bands − 1`` of one grid.
    Bands wholly above the price are all stablecoin (band i holds ``Y·sqrt(p_up·p_down)``, a
    geometric series in i), bands wholly below it all collateral, and the one band holding
    ``p`` is split as in :func:`split_at`.
    """
    n1 = np.asarray(n1, dtype=np.float64)
    nb = np.asarray(n_bands, dtype=np.float64)
    y = np.asarray(collateral, dtype=np.float64) / nb
    r = (A - 1.0) / A
    top = base_price * r**n1  # p_up of each account's first band
    geo = y * top * np.sqrt(r)  # stablecoin of the first band once sold
    # the band (relative to n1) whose range holds p; clipped to [-1, N]: -1 above all bands
    j = np.clip(np.floor(np.log(top / p) / np.log(1.0 / r)), -1.0, nb)
    sold = np.clip(j, 0.0, nb)  # bands wholly above p: sold
    stable = geo * (1.0 - r**sold) / (1.0 - r)
    coll = y * (nb - np.clip(j + 1.0, 0.0, nb))
    inside = (j >= 0.0) & (j < nb)
    p_up = top * r ** np.where(inside, j, 0.0)
    su, sd, sp = np.sqrt(p_up), np.sqrt(p_up * r), np.sqrt(p)
    liq = y * su * sd / (su - sd)
    coll = coll + np.where(inside, liq * (1.0 / sd - 1.0 / np.clip(sp, sd, su)), 0.0)
    stable = stable + np.where(inside, liq * (su - np.clip(sp, sd, su)), 0.0)
    return BookState(coll, stable, geo * (1.0 - r**nb) / (1.0 - r))
