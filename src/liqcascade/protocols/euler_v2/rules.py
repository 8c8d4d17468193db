"""Euler v2 (EVK) as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

An account borrows from one controller vault (one debt asset) against any collateral; the
collateral's liquidation LTV is its ``liquidation_threshold``. The liquidator's discount
grows as health falls, ``1 - max(HF, 1 - max_discount)``; debt left when no collateral
remains is socialized to the vault's depositors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.protocols.base import Capabilities
from liqcascade.protocols.calls import HealthDiscount
from liqcascade.protocols.euler_v2.kernels_python import KERNEL, EulerParams
from liqcascade.protocols.mechanisms.rules import MechanismRules, require_at_most_one


@dataclass(frozen=True)
class EulerV2Rules(MechanismRules):
    max_discount: float = 0.15
    """``maxLiquidationDiscount`` of the controller vault (a governance setting; 15 % is common)."""

    kernel = KERNEL
    name = "euler_v2"
    capabilities = Capabilities(aftermarket=True, capped_calls=True)
    """``liquidate(violator, collateral, repayAssets, minYield)`` takes the amount the liquidator names."""

    def __post_init__(self) -> None:
        if not (0.0 <= self.max_discount < 1.0):
            raise ConfigError(self.params.source, "max_discount", "a fraction in [0, 1)", self.max_discount)

    def call_rule(self, bonus: float, fee: float, debt_symbol: str) -> HealthDiscount:
        """One ``liquidate``: any amount up to ``maxRepay`` (the whole debt, or what the collateral
        covers), the yield being the repaid value over ``max(HF, 1 - max_discount)``."""
        return HealthDiscount(max_discount=self.max_discount, protocol=self.name)

    def scalars(self):
        return EulerParams(self.max_discount)

    def check_book(self, book):
        require_at_most_one(book, book.debt > 0, "debt assets", "Euler v2 (one controller vault)", self.params.source)

    def facts(self):
        return {"max_discount": self.max_discount}
