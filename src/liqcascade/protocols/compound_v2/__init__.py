"""Compound v2 liquidation rules, integer-exact (``exact``); vectors in ``conformance``."""

from liqcascade.protocols.compound_v2.exact import (
    AccountLiquidity,
    CompoundRevert,
    Market,
    Position,
    account_liquidity,
    liquidate_borrow,
    max_repay,
    seize_split,
    seize_tokens,
)

__all__ = [
    "AccountLiquidity",
    "CompoundRevert",
    "Market",
    "Position",
    "account_liquidity",
    "liquidate_borrow",
    "max_repay",
    "seize_split",
    "seize_tokens",
]
