"""Conformance handlers for Euler v2 vectors (``protocol: euler_v2``).

Function ``liquidate``: ``liability`` (debt assets, rounded up), ``collateral_balance``,
``max_discount_bps`` (default 2000), optional ``desired_repay`` (``max`` by default),
``min_yield``, ``other_collateral``, ``dont_socialize``, and the values either directly
(``liability_value``, ``collateral_adjusted_value``, ``collateral_value``) or from WAD mid
prices (``collateral_price``, ``liability_price``, ``liquidation_ltv_bps``, optional
``other_collateral_adjusted_value``). Imported by :mod:`liqcascade.protocols.conformance` on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, get_input, register
from liqcascade.protocols.euler_v2.exact import UINT256_MAX, liquidate, liquidation_values

_OTHER = "other_collateral_adjusted_value"


def _int(m: Mapping[str, Any], key: str, ctx: VectorContext) -> int:
    return as_int(get_input(m, key, ctx, "inputs"), f"inputs.{key}", ctx)


@register("euler_v2", "liquidate")
def _liquidate(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    liability = _int(inputs, "liability", ctx)
    balance = _int(inputs, "collateral_balance", ctx)
    if "collateral_price" in inputs:
        adjusted, liability_value, value = liquidation_values(
            balance,
            _int(inputs, "collateral_price", ctx),
            liability,
            _int(inputs, "liability_price", ctx),
            _int(inputs, "liquidation_ltv_bps", ctx),
            as_int(inputs.get(_OTHER, 0), f"inputs.{_OTHER}", ctx),
        )
    else:
        adjusted = _int(inputs, "collateral_adjusted_value", ctx)
        liability_value = _int(inputs, "liability_value", ctx)
        value = _int(inputs, "collateral_value", ctx)
    o = liquidate(
        liability=liability,
        liability_value=liability_value,
        collateral_adjusted_value=adjusted,
        collateral_balance=balance,
        collateral_value=value,
        max_discount_bps=as_int(inputs.get("max_discount_bps", 2000), "inputs.max_discount_bps", ctx),
        desired_repay=as_int(inputs.get("desired_repay", UINT256_MAX), "inputs.desired_repay", ctx),
        min_yield=as_int(inputs.get("min_yield", 0), "inputs.min_yield", ctx),
        other_collateral=bool(inputs.get("other_collateral", False)),
        dont_socialize=bool(inputs.get("dont_socialize", False)),
    )
    return {
        "liquidatable": o.liquidatable,
        "discount_factor": o.discount_factor,
        "max_repay": o.max_repay,
        "max_yield": o.max_yield,
        "repay": o.repay,
        "yield": o.yield_balance,
        "socialized": o.socialized,
        "debt_after": o.debt_after,
        "collateral_after": o.collateral_after,
    }
