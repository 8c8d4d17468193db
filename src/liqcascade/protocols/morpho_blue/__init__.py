"""Morpho Blue liquidation rules, integer-exact (``exact``), as in ``Morpho.sol``.

Rule source: morpho-org/morpho-blue@3085651a (``src/Morpho.sol``,
``src/libraries/MathLib.sol``, ``src/libraries/SharesMathLib.sol``).
"""

from liqcascade.protocols.morpho_blue.exact import (
    MarketState,
    MorphoLiquidation,
    MorphoRevert,
    Position,
    is_healthy,
    liquidate,
    liquidation_incentive_factor,
)

__all__ = [
    "MarketState",
    "MorphoLiquidation",
    "MorphoRevert",
    "Position",
    "is_healthy",
    "liquidate",
    "liquidation_incentive_factor",
]
