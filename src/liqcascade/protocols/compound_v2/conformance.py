"""Conformance handlers for Compound v2 (``protocol: compound_v2``).

Functions: ``account_liquidity``, ``max_repay``, ``seize_tokens``, ``seize_split``,
``liquidate_borrow``. Every number is a 1e18 mantissa or a wei / cToken amount written as a
string; see :mod:`liqcascade.protocols.compound_v2.exact` for the units. Imported by
:mod:`liqcascade.protocols.conformance` the first time a ``compound_v2`` vector runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, get_input, register
from liqcascade.protocols.compound_v2 import exact as ex


def _int(inputs: Mapping[str, Any], key: str, ctx: VectorContext, where: str = "inputs") -> int:
    return as_int(get_input(inputs, key, ctx, where), f"{where}.{key}", ctx)


def _markets(inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, ex.Market]:
    out = {}
    for name, m in get_input(inputs, "markets", ctx, "inputs").items():
        w = f"inputs.markets.{name}"
        out[name] = ex.Market(
            collateral_factor=as_int(m.get("collateral_factor", 0), f"{w}.collateral_factor", ctx),
            exchange_rate=_int(m, "exchange_rate", ctx, w),
            price=_int(m, "price", ctx, w),
            deprecated=bool(m.get("deprecated", False)),
        )
    return out


def _positions(inputs: Mapping[str, Any], markets: Mapping[str, ex.Market], ctx: VectorContext) -> dict:
    out = {}
    for name, p in get_input(inputs, "positions", ctx, "inputs").items():
        w = f"inputs.positions.{name}"
        if name not in markets:
            raise ctx.error(f"{w}: no market named {name!r}")
        out[name] = ex.Position(
            ctoken_balance=as_int(p.get("ctoken_balance", 0), f"{w}.ctoken_balance", ctx),
            borrow_balance=as_int(p.get("borrow_balance", 0), f"{w}.borrow_balance", ctx),
        )
    return out


def _liq(a: ex.AccountLiquidity) -> dict[str, Any]:
    return {
        "sum_collateral": a.sum_collateral,
        "sum_borrow": a.sum_borrow,
        "liquidity": a.liquidity,
        "shortfall": a.shortfall,
    }


@register("compound_v2", "account_liquidity")
def _account_liquidity(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    markets = _markets(inputs, ctx)
    return _liq(
        ex.account_liquidity(
            markets,
            _positions(inputs, markets, ctx),
            modify=inputs.get("modify"),
            redeem_tokens=as_int(inputs.get("redeem_tokens", 0), "inputs.redeem_tokens", ctx),
            borrow_amount=as_int(inputs.get("borrow_amount", 0), "inputs.borrow_amount", ctx),
        )
    )


@register("compound_v2", "max_repay")
def _max_repay(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"max_repay": ex.max_repay(_int(inputs, "close_factor", ctx), _int(inputs, "borrow_balance", ctx))}


@register("compound_v2", "seize_tokens")
def _seize_tokens(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    keys = ("price_borrowed", "price_collateral", "exchange_rate", "liquidation_incentive", "repay")
    return {"seize_tokens": ex.seize_tokens(*(_int(inputs, k, ctx) for k in keys))}


def _split(s: ex.SeizeSplit) -> dict[str, Any]:
    return {
        "protocol_tokens": s.protocol_tokens,
        "liquidator_tokens": s.liquidator_tokens,
        "protocol_amount": s.protocol_amount,
    }


@register("compound_v2", "seize_split")
def _seize_split(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    share = as_int(inputs.get("protocol_seize_share", ex.PROTOCOL_SEIZE_SHARE_MANTISSA), "inputs.protocol_seize_share", ctx)
    s = ex.seize_split(_int(inputs, "seize_tokens", ctx), _int(inputs, "exchange_rate", ctx), share)
    out = _split(s)
    reserves = as_int(inputs.get("total_reserves", 0), "inputs.total_reserves", ctx)
    out["total_reserves_after"] = reserves + s.protocol_amount
    if "total_supply" in inputs:
        out["total_supply_after"] = _int(inputs, "total_supply", ctx) - s.protocol_tokens
    return out


@register("compound_v2", "liquidate_borrow")
def _liquidate_borrow(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    markets = _markets(inputs, ctx)
    positions = _positions(inputs, markets, ctx)
    borrowed = str(get_input(inputs, "borrowed", ctx, "inputs"))
    collateral = str(get_input(inputs, "collateral", ctx, "inputs"))
    for name in (borrowed, collateral):
        if name not in markets:
            raise ctx.error(f"inputs: no market named {name!r}")
    o = ex.liquidate_borrow(
        markets,
        positions,
        borrowed,
        collateral,
        _int(inputs, "repay", ctx),
        close_factor=_int(inputs, "close_factor", ctx),
        liquidation_incentive=_int(inputs, "liquidation_incentive", ctx),
        protocol_seize_share=as_int(
            inputs.get("protocol_seize_share", ex.PROTOCOL_SEIZE_SHARE_MANTISSA), "inputs.protocol_seize_share", ctx
        ),
        liquidator_is_borrower=bool(inputs.get("liquidator_is_borrower", False)),
    )
    return {
        "seize_tokens": o.seize_tokens,
        **_split(o.split),
        "liquidity_before": _liq(o.liquidity_before),
        "liquidity_after": _liq(o.liquidity_after),
        "positions_after": {
            n: {"ctoken_balance": p.ctoken_balance, "borrow_balance": p.borrow_balance}
            for n, p in o.positions_after.items()
        },
    }
