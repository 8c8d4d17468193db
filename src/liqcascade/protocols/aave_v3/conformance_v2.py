"""Aave v2's conformance handlers (rule set ``"2"``), called by :mod:`.conformance` for vector
files whose ``version`` is ``"2"`` (``data/conformance/aave_v3/v2.yaml``).

Inputs: ``reserves.NAME`` = ``{decimals, price (ETH wei per token), lt_bps, lb_bps,
liquidity_index, variable_borrow_index, active}`` and ``user.NAME`` = ``{scaled_collateral,
scaled_variable_debt, stable_debt, collateral_enabled}`` (indexes default to 1 ray).
"""

from __future__ import annotations

from typing import Any, Mapping

from liqcascade.protocols.conformance import VectorContext, as_int, get_input


def _state(inputs: Mapping[str, Any], ctx: VectorContext) -> tuple[dict, dict]:
    from liqcascade.protocols.aave_v3.exact_v2 import ReserveV2, UserReserveV2
    from liqcascade.protocols.aave_v3.wadray import RAY

    reserves = {}
    for name, r in get_input(inputs, "reserves", ctx, "inputs").items():
        w = f"inputs.reserves.{name}"
        reserves[name] = ReserveV2(
            decimals=as_int(get_input(r, "decimals", ctx, w), f"{w}.decimals", ctx),
            price=as_int(get_input(r, "price", ctx, w), f"{w}.price", ctx),
            liquidity_index=as_int(r.get("liquidity_index", RAY), f"{w}.liquidity_index", ctx),
            variable_borrow_index=as_int(r.get("variable_borrow_index", RAY), f"{w}.variable_borrow_index", ctx),
            lt_bps=as_int(r.get("lt_bps", 0), f"{w}.lt_bps", ctx),
            lb_bps=as_int(r.get("lb_bps", 0), f"{w}.lb_bps", ctx),
            active=bool(r.get("active", True)),
        )
    user = {}
    for name, u in get_input(inputs, "user", ctx, "inputs").items():
        w = f"inputs.user.{name}"
        if name not in reserves:
            raise ctx.error(f"{w}: no reserve named {name!r}")
        user[name] = UserReserveV2(
            scaled_collateral=as_int(u.get("scaled_collateral", 0), f"{w}.scaled_collateral", ctx),
            scaled_variable_debt=as_int(u.get("scaled_variable_debt", 0), f"{w}.scaled_variable_debt", ctx),
            stable_debt=as_int(u.get("stable_debt", 0), f"{w}.stable_debt", ctx),
            collateral_enabled=bool(u.get("collateral_enabled", True)),
        )
    return reserves, user


def health_factor(inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    from liqcascade.protocols.aave_v3.exact_v2 import user_account_data

    reserves, user = _state(inputs, ctx)
    a = user_account_data(reserves, user)
    return {
        "health_factor": a.health_factor,
        "total_collateral_eth": a.total_collateral_eth,
        "total_debt_eth": a.total_debt_eth,
        "avg_liquidation_threshold": a.avg_liquidation_threshold,
    }


def liquidation_call(inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    from liqcascade.protocols.aave_v3.exact_v2 import (
        a_token_balance,
        liquidation_call as call,
        user_account_data,
        variable_debt_balance,
    )

    reserves, user = _state(inputs, ctx)
    coll = str(get_input(inputs, "collateral_asset", ctx, "inputs"))
    debt = str(get_input(inputs, "debt_asset", ctx, "inputs"))
    for name in (coll, debt):
        if name not in reserves:
            raise ctx.error(f"inputs: no reserve named {name!r}")
    liq = inputs.get("available_liquidity")
    o = call(
        reserves, user, coll, debt,
        as_int(get_input(inputs, "debt_to_cover", ctx, "inputs"), "inputs.debt_to_cover", ctx),
        receive_a_token=bool(inputs.get("receive_a_token", False)),
        available_liquidity=None if liq is None else as_int(liq, "inputs.available_liquidity", ctx),
    )  # fmt: skip
    return {
        "health_factor_before": o.health_factor_before,
        "debt_repaid": o.debt_repaid,
        "collateral_seized": o.collateral_seized,
        "variable_debt_repaid": o.variable_debt_repaid,
        "stable_debt_repaid": o.stable_debt_repaid,
        "user_after": {
            a: {
                "collateral": a_token_balance(u.scaled_collateral, reserves[a].liquidity_index),
                "variable_debt": variable_debt_balance(u.scaled_variable_debt, reserves[a].variable_borrow_index),
                "stable_debt": u.stable_debt,
                "collateral_enabled": u.collateral_enabled,
            }
            for a, u in o.user_after.items()
        },
        "health_factor_after": user_account_data(reserves, o.user_after).health_factor,
    }
