"""Liquity v2 (BOLD) liquidation rules, integer-exact (``exact``), liquity/bold@405f9122."""

from liqcascade.protocols.liquity_v2.exact import BRANCHES, LST, WETH, Branch, LiquidationValues, is_shutdown, liquidate

__all__ = ["BRANCHES", "LST", "WETH", "Branch", "LiquidationValues", "is_shutdown", "liquidate"]
