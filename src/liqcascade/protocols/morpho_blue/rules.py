"""Morpho Blue as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

An account is one borrower's position in one market: one collateral, one loan asset. The
market's LLTV is the collateral's ``liquidation_threshold``; the incentive is Morpho's
``LIF = min(1.15, 1 / (0.3 * LLTV + 0.7))`` (the ``liquidation_bonus`` of the parameters is
not used). Debt left without collateral is written off against the market's suppliers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.protocols.base import Capabilities
from liqcascade.protocols.calls import FixedSpread
from liqcascade.protocols.mechanisms.rules import MechanismRules, require_at_most_one
from liqcascade.protocols.morpho_blue.fast import liquidation_incentive_factor
from liqcascade.protocols.morpho_blue.kernels_python import KERNEL, MorphoParams


@dataclass(frozen=True)
class MorphoBlueRules(MechanismRules):
    kernel = KERNEL
    name = "morpho_blue"
    capabilities = Capabilities(aftermarket=True, capped_calls=True)
    """``liquidate`` takes the repaid amount (or the seized collateral) the liquidator names."""

    def call_rule(self, bonus: float, fee: float, debt_symbol: str) -> FixedSpread:
        """One ``liquidate``: any amount up to the whole debt (no close factor), seizing the
        repaid value times the LIF (``bonus`` = LIF - 1, the rows' own); no protocol fee."""
        return FixedSpread(close_factor=1.0, bonus=bonus, protocol=self.name)

    def scalars(self):
        return MorphoParams()

    def asset_bonus(self):
        lltv = self.params.liquidation_threshold
        return np.array([liquidation_incentive_factor(x) - 1.0 for x in lltv]) if lltv.size else lltv.copy()

    def check_book(self, book):
        require_at_most_one(book, book.collateral > 0, "collateral assets", "Morpho Blue", self.params.source)
        require_at_most_one(book, book.debt > 0, "loan assets", "Morpho Blue", self.params.source)
