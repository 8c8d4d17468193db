"""A Maker vault book fitted to an ilk's published totals: vault count, DAI debt, locked
collateral, and the least collateralisation (the liquidation ratio ``mat``).

Debt per vault is log-normal (``debt_sigma``: most vaults small, a few very large); each
vault's collateralisation above ``mat`` is log-normal too (width ``cr_sigma``), its median
chosen so that the book's locked collateral equals the published total at ``price``. The book
is what ``[positions] source = "file"`` reads (long format: account, asset, collateral, debt).

:func:`fit_cr_shape` fits ``cr_sigma`` and the locked collateral (hence the median) to
published debt shares below collateralisation thresholds and to a published debt-weighted
collateralisation, each seen at its own date's price with the vaults frozen in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from liqcascade.errors import ConfigError


@dataclass(frozen=True)
class VaultTotals:
    """One ilk's totals on a date (what the book is fitted to)."""

    vaults: int
    debt_dai: float
    collateral: float
    """Locked collateral (tokens)."""
    price: float
    """Collateral price (USD) at which the book is valued."""
    mat: float = 1.5
    """Liquidation ratio: no vault starts below it."""
    debt_sigma: float = 2.0
    cr_sigma: float = 0.9
    """Log-normal width of each vault's collateralisation above ``mat``."""


def _draws(t: VaultTotals, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each vault's debt (summing to ``t.debt_dai``) and its standard-normal draw of
    collateralisation, in that order from the seeded generator."""
    rng = np.random.default_rng(seed)
    d = rng.lognormal(0.0, t.debt_sigma, t.vaults)
    d *= t.debt_dai / d.sum()
    return d, rng.standard_normal(t.vaults)


def _collateralisation(t: VaultTotals, d: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Each vault's collateral value over its debt at ``t.price``: ``mat + m * exp(cr_sigma z)``,
    with the median excess ``m`` solved (the locked total is linear in it) so that the book
    locks ``t.collateral``."""
    spread = d * np.exp(t.cr_sigma * z)
    m = (t.collateral * t.price - t.mat * t.debt_dai) / spread.sum()
    if not m >= 0.0:
        need = t.mat * t.debt_dai / t.price
        raise ConfigError("<python>", "VaultTotals.collateral", f"at least mat * debt / price = {need:.6g}", t.collateral)
    return t.mat + m * np.exp(t.cr_sigma * z)


def vault_book(t: VaultTotals, seed: int, collateral: str = "WETH", debt: str = "DAI") -> pd.DataFrame:
    """The book: ``t.vaults`` vaults whose debt sums to ``t.debt_dai`` and collateral to
    ``t.collateral`` (both exactly, up to float rounding), every vault at or above ``mat``."""
    d, z = _draws(t, seed)
    ink = d * _collateralisation(t, d, z) / t.price
    ink *= t.collateral / ink.sum()
    acct = [f"vault{i:05d}" for i in range(t.vaults)]
    rows = pd.DataFrame({
        "account": np.repeat(acct, 2),
        "asset": [collateral, debt] * t.vaults,
        "collateral": np.column_stack([ink, np.zeros(t.vaults)]).ravel(),
        "debt": np.column_stack([np.zeros(t.vaults), d]).ravel(),
    })
    return rows


def debt_share_at_or_below(book: pd.DataFrame, price: float, thresholds: tuple[float, ...]) -> np.ndarray:
    """For each threshold, the share of the book's debt held by vaults whose collateral value
    at ``price`` over their debt is at or below it (the form Maker's risk calls published)."""
    per = book.groupby("account")[["collateral", "debt"]].sum()
    cr = (per["collateral"] * price / per["debt"]).to_numpy()
    return _shares_at_or_below(cr, per["debt"].to_numpy() / per["debt"].sum(), thresholds)


def _shares_at_or_below(cr: np.ndarray, w: np.ndarray, thresholds: tuple[float, ...]) -> np.ndarray:
    """For each threshold, the weight ``w`` of the vaults whose ratio ``cr`` is at or below it."""
    return np.array([w[cr <= th].sum() for th in thresholds])


def debt_weighted_collateralisation(book: pd.DataFrame, price: float) -> float:
    """Locked collateral value at ``price`` over total debt (debt-weighted mean ratio)."""
    return float(book["collateral"].sum() * price / book["debt"].sum())


@dataclass(frozen=True)
class PublishedCollateralisation:
    """What was published of an ilk's spread of collateralisation, each part with the
    collateral price of its date (vaults taken as frozen between those dates and the book's)."""

    thresholds: tuple[float, ...]
    """Collateralisation thresholds (1.0 = 100 %)."""
    shares: tuple[float, ...]
    """Share of the debt at or below each threshold."""
    shares_price: float
    mean: float | None = None
    """Debt-weighted collateralisation (None: not published, not fitted)."""
    mean_price: float | None = None


@dataclass(frozen=True)
class CrShapeFit:
    """The grid point of least squares, and what the book there shows at the published prices."""

    cr_sigma: float
    collateral: float
    loss: float
    shares: tuple[float, ...]
    mean: float


def fit_cr_shape(t: VaultTotals, seed: int, pub: PublishedCollateralisation,
                 sigmas: np.ndarray, collaterals: np.ndarray) -> CrShapeFit:
    """Least squares over the grid ``sigmas`` x ``collaterals`` (``cr_sigma`` and locked tokens;
    the vaults' draws fixed by ``seed``): the squared misses of the published debt shares plus the
    squared relative miss of the debt-weighted mean. A book valued at ``t.price`` is seen at
    another date's price ``p`` by scaling every vault's ratio by ``p / t.price``."""
    d, z = _draws(t, seed)
    w = d / d.sum()
    to_shares = pub.shares_price / t.price
    best = None
    for s in sigmas:
        for c in collaterals:
            tc = replace(t, cr_sigma=float(s), collateral=float(c))
            cr = _collateralisation(tc, d, z)
            got = _shares_at_or_below(cr * to_shares, w, pub.thresholds)
            loss = float(((got - np.array(pub.shares)) ** 2).sum())
            mean = math.nan
            if pub.mean is not None:
                mean = float(c) * pub.mean_price / t.debt_dai
                loss += ((mean - pub.mean) / pub.mean) ** 2
            if best is None or loss < best.loss:
                best = CrShapeFit(float(s), float(c), loss, tuple(float(g) for g in got), mean)
    return best
