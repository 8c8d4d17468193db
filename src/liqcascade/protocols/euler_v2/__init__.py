"""Euler v2 (Euler Vault Kit) liquidation rule, integer-exact (``exact``).

Rule source: euler-xyz/euler-vault-kit@5b98b420 (``src/EVault/modules/Liquidation.sol``,
``src/EVault/shared/LiquidityUtils.sol``).
"""

from liqcascade.protocols.euler_v2.exact import (
    EulerLiquidation,
    EulerRevert,
    discount_factor,
    liquidate,
    liquidation_values,
)

__all__ = ["EulerLiquidation", "EulerRevert", "discount_factor", "liquidate", "liquidation_values"]
