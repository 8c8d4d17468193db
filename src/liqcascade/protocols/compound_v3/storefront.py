"""Comet's collateral sale over time (the dynamic engine's aftermarket for Compound v3).

``absorb`` leaves the account's collateral with the protocol and takes its debt on the
reserves: reserves fall by the larger of the debt and the credit ``Σ value * LF`` (the
excess credit is the account's new supply). While reserves are below the target, anyone
can ``buyCollateral`` at the store-front price ``P * (1 - storeFront * (1 - LF))``;
buyers buy as much as the market absorbs before its marginal price falls to the price
they pay over ``1 - margin`` (as Maker's keepers, :func:`~liqcascade.protocols.mechanisms.selling.profitable_take`),
and each purchase adds its price to the reserves. At or above target the store front is
shut and the collateral stays with the protocol. Source: compound-finance/comet
``Comet.sol`` (``absorbInternal``, ``buyCollateral``, ``quoteCollateral``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.protocols.base import AftermarketStep, Lots
from liqcascade.protocols.compound_v3.fast import store_front_price
from liqcascade.protocols.mechanisms.selling import profitable_take


@dataclass(frozen=True)
class StoreFrontSettings:
    reserves_usd: float = 40e6
    """Reserves at the start (cUSDCv3 on Ethereum held tens of millions of USDC)."""
    target_reserves_usd: float = 20e6
    """``targetReserves``; the store front sells only while reserves are below it."""
    buyer_margin: float = 0.005

    def __post_init__(self) -> None:
        for key, ok, expected in (
            ("reserves_usd", np.isfinite(self.reserves_usd), "a finite number"),
            ("target_reserves_usd", self.target_reserves_usd >= 0, "USD >= 0"),
            ("buyer_margin", 0 <= self.buyer_margin < 1, "a fraction in [0, 1)"),
        ):
            if not ok:
                raise ConfigError("<compound_v3>", f"market.compound_v3.{key}", expected, getattr(self, key))


class StoreFront:
    def __init__(self, settings: StoreFrontSettings, liquidation_factor_by_asset, store_front_factor: float,
                 n_assets: int) -> None:
        self.s = settings
        self.lf = np.asarray(liquidation_factor_by_asset, dtype=np.float64)
        self.sf = store_front_factor
        self.k = n_assets
        self.inventory = np.zeros(n_assets)
        self.reserves = float(settings.reserves_usd)
        self.reserves_min = self.reserves
        self.bought_usd = 0.0
        self.absorbed_debt_usd = 0.0

    def receive(self, t: int, lots: Lots, oracle) -> None:
        if lots.amount.size == 0:
            return
        np.add.at(self.inventory, lots.asset, lots.amount)
        credit = np.bincount(lots.account, weights=lots.amount * oracle[lots.asset] * self.lf[lots.asset])
        debt = np.bincount(lots.account, weights=lots.debt_usd, minlength=credit.size)
        self.reserves -= float(np.maximum(debt, credit).sum())
        self.reserves_min = min(self.reserves_min, self.reserves)
        self.absorbed_debt_usd += float(debt.sum())

    def step(self, t: int, oracle, depth) -> AftermarketStep:
        sold = np.zeros(self.k)
        paid = np.zeros(self.k)
        for i in np.flatnonzero(self.inventory > 0):
            if self.reserves >= self.s.target_reserves_usd:
                break
            price = store_front_price(float(oracle[i]), float(self.lf[i]), self.sf)
            q = profitable_take(float(self.inventory[i]), price, self.s.buyer_margin,
                                depth(int(i), price / (1.0 - self.s.buyer_margin)))
            if q <= 0.0:
                continue
            self.inventory[i] -= q
            sold[i] = q
            paid[i] = q * price
            self.reserves += q * price
        self.bought_usd += float(paid.sum())
        return AftermarketStep(sold, paid, np.empty(0, dtype=np.int64), np.empty(0), 0.0)

    def holdings(self):
        return self.inventory.copy()

    def sync_limits(self, state) -> bool:
        return False  # absorb has no cap on what is in progress

    def facts(self) -> dict[str, float]:
        return {
            "reserves_start_usd": float(self.s.reserves_usd),
            "reserves_min_usd": self.reserves_min,
            "reserves_end_usd": self.reserves,
            "store_front_sold_usd": self.bought_usd,
            "absorbed_debt_usd": self.absorbed_debt_usd,
        }
