"""Liquity v1 (LUSD) liquidation rules, integer-exact (``exact``), mainnet liquity/dev@e38edf3d."""

from liqcascade.protocols.liquity_v1.exact import (
    CCR,
    MCR,
    LiquidationResult,
    LiquidationValues,
    SystemTotals,
    Trove,
    check_recovery_mode,
    coll_gas_compensation,
    composite_debt,
    compute_cr,
    liquidate_normal,
    liquidate_troves_sequence,
)

__all__ = [
    "CCR", "MCR", "LiquidationResult", "LiquidationValues", "SystemTotals", "Trove",
    "check_recovery_mode", "coll_gas_compensation", "composite_debt", "compute_cr",
    "liquidate_normal", "liquidate_troves_sequence",
]  # fmt: skip
