"""Conformance handlers for Compound v3 / Comet (``protocol: compound_v3``).

Functions: ``present_value``, ``principal_value``, ``is_liquidatable``, ``absorb``,
``get_reserves``, ``quote_collateral``, ``buy_collateral``. Inputs name the base token
(``base``: scale, 8-decimal price, 1e15 indexes, totals, Comet's base balance), the
collateral ``assets`` (scale, price, 1e18 factors, in Comet's asset order) and the ``user``
(signed ``principal`` and ``collateral`` balances). Signed integers are written as strings
with a leading ``-``. Imported by :mod:`liqcascade.protocols.conformance` on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, get_input, register
from liqcascade.protocols.compound_v3 import exact as ex


def _sint(value: Any, key: str, ctx: VectorContext) -> int:
    """A signed integer written as a string (``"-100"``) or a small YAML int."""
    if isinstance(value, str) and value.strip().startswith("-"):
        return -as_int(value.strip()[1:], key, ctx)
    return as_int(value, key, ctx)


def _base(inputs: Mapping[str, Any], ctx: VectorContext) -> ex.Base:
    b = get_input(inputs, "base", ctx, "inputs")
    w = "inputs.base"
    return ex.Base(
        scale=as_int(get_input(b, "scale", ctx, w), f"{w}.scale", ctx),
        price=as_int(get_input(b, "price", ctx, w), f"{w}.price", ctx),
        supply_index=as_int(b.get("supply_index", ex.BASE_INDEX_SCALE), f"{w}.supply_index", ctx),
        borrow_index=as_int(b.get("borrow_index", ex.BASE_INDEX_SCALE), f"{w}.borrow_index", ctx),
        total_supply_base=as_int(b.get("total_supply_base", 0), f"{w}.total_supply_base", ctx),
        total_borrow_base=as_int(b.get("total_borrow_base", 0), f"{w}.total_borrow_base", ctx),
        balance=as_int(b.get("balance", 0), f"{w}.balance", ctx),
    )


def _assets(inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, ex.Asset]:
    out = {}
    for name, a in get_input(inputs, "assets", ctx, "inputs").items():
        w = f"inputs.assets.{name}"
        out[name] = ex.Asset(
            scale=as_int(get_input(a, "scale", ctx, w), f"{w}.scale", ctx),
            price=as_int(get_input(a, "price", ctx, w), f"{w}.price", ctx),
            borrow_cf=as_int(a.get("borrow_cf", ex.FACTOR_SCALE - 1), f"{w}.borrow_cf", ctx),
            liquidate_cf=as_int(a.get("liquidate_cf", ex.FACTOR_SCALE), f"{w}.liquidate_cf", ctx),
            liquidation_factor=as_int(a.get("liquidation_factor", ex.FACTOR_SCALE), f"{w}.liquidation_factor", ctx),
        )
    return out


def _user(inputs: Mapping[str, Any], assets: Mapping[str, ex.Asset], ctx: VectorContext) -> tuple[int, dict]:
    u = get_input(inputs, "user", ctx, "inputs")
    principal = _sint(get_input(u, "principal", ctx, "inputs.user"), "inputs.user.principal", ctx)
    coll = {}
    for name, bal in (u.get("collateral") or {}).items():
        if name not in assets:
            raise ctx.error(f"inputs.user.collateral: no asset named {name!r}")
        coll[name] = as_int(bal, f"inputs.user.collateral.{name}", ctx)
    return principal, coll


def _asset(inputs: Mapping[str, Any], assets: Mapping[str, ex.Asset], ctx: VectorContext) -> ex.Asset:
    name = str(get_input(inputs, "asset", ctx, "inputs"))
    if name not in assets:
        raise ctx.error(f"inputs.asset: no asset named {name!r}")
    return assets[name]


def _indexes(inputs: Mapping[str, Any], ctx: VectorContext) -> tuple[int, int]:
    return (
        as_int(inputs.get("supply_index", ex.BASE_INDEX_SCALE), "inputs.supply_index", ctx),
        as_int(inputs.get("borrow_index", ex.BASE_INDEX_SCALE), "inputs.borrow_index", ctx),
    )


@register("compound_v3", "present_value")
def _present_value(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    principal = _sint(get_input(inputs, "principal", ctx, "inputs"), "inputs.principal", ctx)
    return {"present_value": ex.present_value(principal, *_indexes(inputs, ctx))}


@register("compound_v3", "principal_value")
def _principal_value(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    present = _sint(get_input(inputs, "present_value", ctx, "inputs"), "inputs.present_value", ctx)
    return {"principal": ex.principal_value(present, *_indexes(inputs, ctx))}


@register("compound_v3", "is_liquidatable")
def _is_liquidatable(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    base, assets = _base(inputs, ctx), _assets(inputs, ctx)
    principal, coll = _user(inputs, assets, ctx)
    return {
        "is_liquidatable": ex.is_liquidatable(principal, coll, assets, base),
        "is_borrow_collateralized": ex.is_borrow_collateralized(principal, coll, assets, base),
    }


@register("compound_v3", "absorb")
def _absorb(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    base, assets = _base(inputs, ctx), _assets(inputs, ctx)
    principal, coll = _user(inputs, assets, ctx)
    o = ex.absorb(principal, coll, assets, base)
    return {
        "old_balance": o.old_balance,
        "new_balance": o.new_balance,
        "new_principal": o.new_principal,
        "delta_balance": o.delta_balance,
        "base_paid_out": o.base_paid_out,
        "value_of_base_paid_out": o.value_of_base_paid_out,
        "collateral_value": o.collateral_value,
        "total_supply_base": o.base_after.total_supply_base,
        "total_borrow_base": o.base_after.total_borrow_base,
        "reserves_before": ex.get_reserves(base),
        "reserves_after": ex.get_reserves(o.base_after),
    }


@register("compound_v3", "get_reserves")
def _get_reserves(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"reserves": ex.get_reserves(_base(inputs, ctx))}


def _sf(inputs: Mapping[str, Any], ctx: VectorContext) -> int:
    return as_int(get_input(inputs, "store_front_price_factor", ctx, "inputs"), "inputs.store_front_price_factor", ctx)


@register("compound_v3", "quote_collateral")
def _quote_collateral(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    base, assets = _base(inputs, ctx), _assets(inputs, ctx)
    amount = as_int(get_input(inputs, "base_amount", ctx, "inputs"), "inputs.base_amount", ctx)
    return {"collateral_amount": ex.quote_collateral(_asset(inputs, assets, ctx), base, _sf(inputs, ctx), amount)}


@register("compound_v3", "buy_collateral")
def _buy_collateral(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    base, assets = _base(inputs, ctx), _assets(inputs, ctx)
    out, after = ex.buy_collateral(
        _asset(inputs, assets, ctx),
        base,
        _sf(inputs, ctx),
        target_reserves=as_int(get_input(inputs, "target_reserves", ctx, "inputs"), "inputs.target_reserves", ctx),
        base_amount=as_int(get_input(inputs, "base_amount", ctx, "inputs"), "inputs.base_amount", ctx),
        min_amount=as_int(inputs.get("min_amount", 0), "inputs.min_amount", ctx),
        collateral_reserves=as_int(
            get_input(inputs, "collateral_reserves", ctx, "inputs"), "inputs.collateral_reserves", ctx
        ),
    )
    return {"collateral_amount": out, "reserves_before": ex.get_reserves(base), "reserves_after": ex.get_reserves(after)}
