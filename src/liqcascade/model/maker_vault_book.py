"""A Maker vault book fitted to an ilk's published totals: vault count, DAI debt, locked
collateral, and the least collateralisation (the liquidation ratio ``mat``).

Debt per vault is log-normal (``debt_sigma``: most vaults small, a few very large); each
vault's collateralisation above ``mat`` is log-normal too, its median chosen by bisection so
that the book's locked collateral equals the published total at ``price``. The book is what
``[positions] source = "file"`` reads (long format: account, asset, collateral, debt).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def vault_book(t: VaultTotals, seed: int, collateral: str = "WETH", debt: str = "DAI") -> pd.DataFrame:
    """The book: ``t.vaults`` vaults whose debt sums to ``t.debt_dai`` and collateral to
    ``t.collateral`` (both exactly, up to float rounding), every vault at or above ``mat``."""
    rng = np.random.default_rng(seed)
    d = rng.lognormal(0.0, t.debt_sigma, t.vaults)
    d *= t.debt_dai / d.sum()
    z = rng.standard_normal(t.vaults)

    def locked(median_excess: float) -> np.ndarray:
        cr = t.mat + median_excess * np.exp(t.cr_sigma * z)
        return d * cr / t.price

    lo, hi = 0.0, 1.0
    while locked(hi).sum() < t.collateral:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if locked(mid).sum() < t.collateral else (lo, mid)
    ink = locked(0.5 * (lo + hi))
    ink *= t.collateral / ink.sum()
    acct = [f"vault{i:05d}" for i in range(t.vaults)]
    rows = pd.DataFrame({
        "account": np.repeat(acct, 2),
        "asset": [collateral, debt] * t.vaults,
        "collateral": np.column_stack([ink, np.zeros(t.vaults)]).ravel(),
        "debt": np.column_stack([np.zeros(t.vaults), d]).ravel(),
    })
    return rows


def median_collateralisation(book: pd.DataFrame, price: float) -> float:
    """The median vault's collateral value over its debt."""
    coll = book.groupby("account")["collateral"].sum()
    debt = book.groupby("account")["debt"].sum()
    return float(np.median(coll * price / debt)) if len(debt) else math.nan
