"""Compound v3 (Comet) as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

Every debt is in the market's one base asset. Per collateral: ``liquidation_threshold``
is the liquidate collateral factor and ``liquidation_bonus`` is ``1 - liquidationFactor``
(the share of the collateral's value the account is not credited at absorption).
``absorb`` takes all of an account's collateral and its debt; the reserves pay any
shortfall. The protocol then sells the collateral through ``buyCollateral`` at the
store-front discount ``storeFrontPriceFactor * (1 - liquidationFactor)`` while its
reserves are below target (``resale``); at or above target it keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError, DataError
from liqcascade.protocols.compound_v3.storefront import StoreFront, StoreFrontSettings
from liqcascade.protocols.compound_v3.kernels_python import KERNEL, CometParams
from liqcascade.protocols.mechanisms.rules import MechanismRules


@dataclass(frozen=True)
class CometRules(MechanismRules):
    base: str = "USDC"
    store_front_factor: float = 0.5
    resale: bool = True
    """Static engine (and dynamic without ``storefront``): the absorbed collateral is sold on
    at once (reserves below target) or kept (False)."""
    storefront: StoreFrontSettings | None = None
    """Set: the dynamic engine keeps absorbed collateral with the protocol and sells it over
    time through ``buyCollateral`` while reserves are below target (``storefront.py``)."""

    kernel = KERNEL
    name = "compound_v3"

    def __post_init__(self) -> None:
        if self.base not in self.params.symbols:
            raise ConfigError(self.params.source, "base", f"an asset of the market {list(self.params.symbols)}", self.base)
        if not (0.0 <= self.store_front_factor <= 1.0):
            raise ConfigError(self.params.source, "store_front_factor", "a fraction in [0, 1]", self.store_front_factor)

    def scalars(self):
        return CometParams(self.store_front_factor, 1.0 if self.resale else 0.0)

    def check_book(self, book):
        b = self.params.symbols.index(self.base)
        bad = np.flatnonzero((book.debt > 0) & (book.asset != b))
        if bad.size:
            r = int(bad[0])
            raise DataError(self.params.source, None,
                            f"account {book.account_ids[book.account[r]]!r} borrows {book.assets[book.asset[r]]}; "
                            f"a Comet market lends only its base asset {self.base} ({bad.size} rows like this)")

    def dynamic_scalars(self):
        mp = self.scalars()
        if self.storefront is not None:
            mp = mp._replace(resale=0.0)  # absorb keeps the collateral; the store front sells it later
        return mp

    def rank_scalars(self):
        return self.scalars()._replace(resale=1.0)

    def aftermarket(self, n_assets):
        if self.storefront is None:
            return None
        return StoreFront(self.storefront, 1.0 - self.params.liquidation_bonus, self.store_front_factor, n_assets)

    def facts(self):
        return {"base": self.base, "store_front_factor": self.store_front_factor,
                "resale": "storefront" if self.storefront is not None else self.resale}
