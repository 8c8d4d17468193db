"""Aave v3's conformance handlers: health factor, liquidationCall and the WadRay/Percentage
math of each rule version, for the vectors under ``data/conformance/aave_v3`` (loaded by
:mod:`liqcascade.protocols.conformance` when a vector names ``aave_v3``)."""

from __future__ import annotations

from typing import Any, Mapping

from liqcascade.errors import LiqcascadeError
from liqcascade.protocols.conformance import Handler, VectorContext, as_int, get_input, register

_AAVE_RELEASES = {
    "3.0": "3.0-3.2", "3.1": "3.0-3.2", "3.2": "3.0-3.2",
    "3.3": "3.3-3.4", "3.4": "3.3-3.4",
}  # fmt: skip


def _aave_version(version: str, ctx: VectorContext) -> int:
    from liqcascade.protocols.aave_v3.versions import parse_version

    try:
        return parse_version(_AAVE_RELEASES.get(version.strip(), version), ctx.file, "version")
    except LiqcascadeError as exc:
        raise ctx.error(str(exc)) from exc


def _aave_state(inputs: Mapping[str, Any], ctx: VectorContext) -> tuple[dict, dict, Any]:
    from liqcascade.protocols.aave_v3.exact import EModeCategory, ReserveState, UserReserve
    from liqcascade.protocols.aave_v3.wadray import RAY

    reserves = {}
    for name, r in get_input(inputs, "reserves", ctx, "inputs").items():
        w = f"inputs.reserves.{name}"
        reserves[name] = ReserveState(
            decimals=as_int(get_input(r, "decimals", ctx, w), f"{w}.decimals", ctx),
            price_1e8=as_int(get_input(r, "price_1e8", ctx, w), f"{w}.price_1e8", ctx),
            liquidity_index=as_int(r.get("liquidity_index", RAY), f"{w}.liquidity_index", ctx),
            borrow_index=as_int(r.get("borrow_index", RAY), f"{w}.borrow_index", ctx),
            lt_bps=as_int(r.get("lt_bps", 0), f"{w}.lt_bps", ctx),
            lb_bps=as_int(r.get("lb_bps", 10000), f"{w}.lb_bps", ctx),
            lpf_bps=as_int(r.get("lpf_bps", 0), f"{w}.lpf_bps", ctx),
        )
    user = {}
    for name, u in get_input(inputs, "user", ctx, "inputs").items():
        w = f"inputs.user.{name}"
        if name not in reserves:
            raise ctx.error(f"{w}: no reserve named {name!r}")
        user[name] = UserReserve(
            scaled_collateral=as_int(u.get("scaled_collateral", 0), f"{w}.scaled_collateral", ctx),
            scaled_debt=as_int(u.get("scaled_debt", 0), f"{w}.scaled_debt", ctx),
            collateral_enabled=bool(u.get("collateral_enabled", True)),
        )
    emode = None
    e = inputs.get("emode")
    if e:
        price = e.get("price_1e8")
        emode = EModeCategory(
            lt_bps=as_int(get_input(e, "lt_bps", ctx, "inputs.emode"), "inputs.emode.lt_bps", ctx),
            lb_bps=as_int(get_input(e, "lb_bps", ctx, "inputs.emode"), "inputs.emode.lb_bps", ctx),
            assets=frozenset(get_input(e, "assets", ctx, "inputs.emode")),
            price_1e8=None if price is None else as_int(price, "inputs.emode.price_1e8", ctx),
        )
    return reserves, user, emode


@register("aave_v3", "health_factor")
def _aave_health_factor(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    from liqcascade.protocols.aave_v3.exact import user_account_data

    if version.strip() == "2":  # Aave v2: ETH oracle, stable debt (conformance_v2)
        from liqcascade.protocols.aave_v3 import conformance_v2

        return conformance_v2.health_factor(inputs, ctx)

    reserves, user, emode = _aave_state(inputs, ctx)
    a = user_account_data(_aave_version(version, ctx), reserves, user, emode)
    return {
        "health_factor": a.health_factor,
        "total_collateral_base": a.total_collateral_base,
        "total_debt_base": a.total_debt_base,
        "avg_liquidation_threshold": a.avg_liquidation_threshold,
    }


@register("aave_v3", "liquidation_call")
def _aave_liquidation_call(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    from liqcascade.protocols.aave_v3.exact import liquidation_call, user_account_data, v_token_balance

    if version.strip() == "2":
        from liqcascade.protocols.aave_v3 import conformance_v2

        return conformance_v2.liquidation_call(inputs, ctx)
    code = _aave_version(version, ctx)
    reserves, user, emode = _aave_state(inputs, ctx)
    coll = str(get_input(inputs, "collateral_asset", ctx, "inputs"))
    debt = str(get_input(inputs, "debt_asset", ctx, "inputs"))
    for name in (coll, debt):
        if name not in reserves:
            raise ctx.error(f"inputs: no reserve named {name!r}")
    kw = {}
    if "min_base_max_close_factor_threshold" in inputs:
        kw["min_base_max_close_factor_threshold"] = as_int(
            inputs["min_base_max_close_factor_threshold"], "inputs.min_base_max_close_factor_threshold", ctx
        )
    if "min_leftover_base" in inputs:
        kw["min_leftover_base"] = as_int(inputs["min_leftover_base"], "inputs.min_leftover_base", ctx)
    o = liquidation_call(
        code,
        reserves,
        user,
        coll,
        debt,
        as_int(get_input(inputs, "debt_to_cover", ctx, "inputs"), "inputs.debt_to_cover", ctx),
        emode=emode,
        receive_a_token=bool(inputs.get("receive_a_token", False)),
        **kw,
    )
    after = user_account_data(code, reserves, o.user_after, emode)
    return {
        "health_factor_before": o.health_factor_before,
        "total_collateral_base": o.total_collateral_base,
        "total_debt_base": o.total_debt_base,
        "debt_repaid": o.debt_repaid,
        "collateral_to_liquidator": o.collateral_to_liquidator,
        "collateral_seized": o.collateral_seized,
        "protocol_fee": o.protocol_fee,
        "fee_computed": o.fee_computed,
        "has_no_collateral_left": o.has_no_collateral_left,
        "deficit": {a: o.deficit.get(a, 0) for a in reserves},
        "user_after": {
            a: {
                "scaled_collateral": u.scaled_collateral,
                "scaled_debt": u.scaled_debt,
                "collateral_enabled": u.collateral_enabled,
                "debt": v_token_balance(code, u.scaled_debt, reserves[a].borrow_index),
            }
            for a, u in o.user_after.items()
        },
        "health_factor_after": after.health_factor,
    }


def _aave_math(fn_name: str, arity: int) -> Handler:
    def handler(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
        from liqcascade.protocols.aave_v3 import wadray

        keys = ("a", "b", "c")[:arity] if "a" in inputs else ("value", "percentage")[:arity]
        args = [as_int(get_input(inputs, k, ctx, "inputs"), f"inputs.{k}", ctx) for k in keys]
        return {"result": getattr(wadray, fn_name)(*args)}

    return handler


for _fn, _arity in {
    "percent_mul": 2, "percent_mul_floor": 2, "percent_mul_ceil": 2,
    "percent_div": 2, "percent_div_floor": 2, "percent_div_ceil": 2,
    "wad_mul": 2, "wad_div": 2, "ray_mul": 2, "ray_mul_floor": 2, "ray_mul_ceil": 2,
    "ray_div": 2, "ray_div_floor": 2, "ray_div_ceil": 2, "ray_to_wad": 1, "wad_to_ray": 1,
    "mul_div_ceil": 3,
}.items():  # fmt: skip
    register("aave_v3", _fn)(_aave_math(_fn, _arity))
