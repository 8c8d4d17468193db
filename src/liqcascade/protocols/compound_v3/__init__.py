"""Compound v3 (Comet) liquidation rules, integer-exact (``exact``); vectors in ``conformance``."""

from liqcascade.protocols.compound_v3.exact import (
    Asset,
    Base,
    CometRevert,
    absorb,
    buy_collateral,
    get_reserves,
    is_borrow_collateralized,
    is_liquidatable,
    present_value,
    principal_value,
    quote_collateral,
)

__all__ = [
    "Asset",
    "Base",
    "CometRevert",
    "absorb",
    "buy_collateral",
    "get_reserves",
    "is_borrow_collateralized",
    "is_liquidatable",
    "present_value",
    "principal_value",
    "quote_collateral",
]
