"""Conformance handlers for Morpho Blue vectors (``protocol: morpho_blue``).

Functions: ``liquidation_incentive_factor`` (``lltv``), ``is_healthy`` and ``liquidate``
(``lltv``, ``price``, ``market`` totals, ``position``, and for ``liquidate`` exactly one of
``seized_assets``/``repaid_shares``; both may be given to test the revert). Integers are
strings. Imported by :mod:`liqcascade.protocols.conformance` on first use of the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, get_input, register
from liqcascade.protocols.morpho_blue.exact import (
    MarketState,
    Position,
    is_healthy,
    liquidate,
    liquidation_incentive_factor,
)

_MARKET_KEYS = ("total_supply_assets", "total_supply_shares", "total_borrow_assets", "total_borrow_shares")


def _int(m: Mapping[str, Any], key: str, ctx: VectorContext, where: str) -> int:
    return as_int(get_input(m, key, ctx, where), f"{where}.{key}", ctx)


def _state(inputs: Mapping[str, Any], ctx: VectorContext) -> tuple[MarketState, Position, int, int]:
    m = get_input(inputs, "market", ctx, "inputs")
    p = get_input(inputs, "position", ctx, "inputs")
    market = MarketState(*(_int(m, k, ctx, "inputs.market") for k in _MARKET_KEYS))
    position = Position(
        borrow_shares=_int(p, "borrow_shares", ctx, "inputs.position"),
        collateral=_int(p, "collateral", ctx, "inputs.position"),
    )
    return market, position, _int(inputs, "price", ctx, "inputs"), _int(inputs, "lltv", ctx, "inputs")


@register("morpho_blue", "liquidation_incentive_factor")
def _lif(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"lif": liquidation_incentive_factor(_int(inputs, "lltv", ctx, "inputs"))}


@register("morpho_blue", "is_healthy")
def _healthy(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    market, position, price, lltv = _state(inputs, ctx)
    return {"healthy": is_healthy(market, position, price, lltv)}


@register("morpho_blue", "liquidate")
def _liquidate(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    market, position, price, lltv = _state(inputs, ctx)
    seized = as_int(inputs.get("seized_assets", 0), "inputs.seized_assets", ctx)
    shares = as_int(inputs.get("repaid_shares", 0), "inputs.repaid_shares", ctx)
    o = liquidate(market, position, price, lltv, seized_assets=seized, repaid_shares=shares)
    return {
        "lif": o.liquidation_incentive_factor,
        "seized_assets": o.seized_assets,
        "repaid_shares": o.repaid_shares,
        "repaid_assets": o.repaid_assets,
        "bad_debt_assets": o.bad_debt_assets,
        "bad_debt_shares": o.bad_debt_shares,
        "market_after": {k: getattr(o.market_after, k) for k in _MARKET_KEYS},
        "position_after": {
            "borrow_shares": o.position_after.borrow_shares,
            "collateral": o.position_after.collateral,
        },
    }
