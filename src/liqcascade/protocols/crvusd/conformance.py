"""Conformance handlers for crvUSD / LlamaLend vectors (``protocol: crvusd``).

Every vector names the grid (``A``, ``base_price``) where it needs one. A user's bands are
either ``deposit: {amount, n1, n2}`` (a fresh deposit into empty bands, as ``create_loan``
makes) or ``n1`` plus ``bands``: a list of ``{x, y, total_shares, user_shares}``; with
``active_band``. Integers are strings; band numbers, health and ``n1`` may be negative.
Imported by :mod:`liqcascade.protocols.conformance` on first use of the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, get_input, register
from liqcascade.protocols.crvusd import exact as X
from liqcascade.protocols.crvusd.wadmath import WAD, wad_exp, wad_ln


def _int(m: Mapping[str, Any], key: str, ctx: VectorContext, where: str = "inputs") -> int:
    return as_int(get_input(m, key, ctx, where), f"{where}.{key}", ctx)


def _sint(m: Mapping[str, Any], key: str, ctx: VectorContext, where: str = "inputs") -> int:
    """A signed integer (band numbers, exponents): a YAML int or a decimal string with a sign."""
    value = get_input(m, key, ctx, where)
    if isinstance(value, str) and value.strip().startswith("-"):
        return -as_int(value.strip()[1:], f"{where}.{key}", ctx)
    return as_int(value, f"{where}.{key}", ctx)


def _grid(inputs: Mapping[str, Any], ctx: VectorContext) -> X.Grid:
    return X.Grid(A=_int(inputs, "A", ctx), base_price=_int(inputs, "base_price", ctx))


def _user(inputs: Mapping[str, Any], ctx: VectorContext) -> X.UserBands:
    active = _sint(inputs, "active_band", ctx)
    if "deposit" in inputs:
        d = inputs["deposit"]
        w = "inputs.deposit"
        return X.deposit_into_empty(
            _int(d, "amount", ctx, w), _sint(d, "n1", ctx, w), _sint(d, "n2", ctx, w), active
        )
    raw = get_input(inputs, "bands", ctx, "inputs")
    if not isinstance(raw, list) or not raw:
        raise ctx.error("inputs.bands: expected a non-empty list of {x, y, total_shares, user_shares}")
    bands = []
    for i, b in enumerate(raw):
        w = f"inputs.bands[{i}]"
        bands.append(
            X.Band(*(as_int(b.get(k, 0), f"{w}.{k}", ctx) for k in ("x", "y", "total_shares", "user_shares")))
        )
    return X.UserBands(_sint(inputs, "n1", ctx), tuple(bands), active)


@register("crvusd", "wad_exp")
def _wad_exp(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"result": wad_exp(_sint(inputs, "x", ctx))}


@register("crvusd", "wad_ln")
def _wad_ln(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"result": wad_ln(_int(inputs, "x", ctx))}


@register("crvusd", "grid")
def _grid_constants(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g = _grid(inputs, ctx)
    return {
        "log_a_ratio": g.log_a_ratio,
        "sqrt_band_ratio": g.sqrt_band_ratio,
        "amm_sqrt_band_ratio": g.amm_sqrt_band_ratio,
        "max_oracle_dn_pow": g.max_oracle_dn_pow,
    }


@register("crvusd", "band_prices")
def _band_prices(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g, n = _grid(inputs, ctx), _sint(inputs, "n", ctx)
    out = {"p_oracle_up": X.p_oracle_up(g, n), "p_oracle_down": X.p_oracle_down(g, n)}
    if "p_o" in inputs:
        p_o = _int(inputs, "p_o", ctx)
        out |= {"p_current_up": X.p_current_up(g, p_o, n), "p_current_down": X.p_current_down(g, p_o, n)}
    return out


@register("crvusd", "get_p")
def _get_p(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g = _grid(inputs, ctx)
    args = (_int(inputs, "p_o", ctx), _sint(inputs, "n", ctx), _int(inputs, "x", ctx), _int(inputs, "y", ctx))
    return {"p": X.get_p(g, *args)}


@register("crvusd", "deposit_split")
def _deposit_split(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    ys = X.deposit_split(_int(inputs, "amount", ctx), _int(inputs, "n_bands", ctx))
    return {"lowest_band": ys[0], "other_bands": ys[1] if len(ys) > 1 else 0}


@register("crvusd", "user_value")
def _user_value(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g, p_o, u = _grid(inputs, ctx), _int(inputs, "p_o", ctx), _user(inputs, ctx)
    sx, sy = X.get_sum_xy(u)
    return {"x_down": X.get_x_down(g, p_o, u), "y_up": X.get_y_up(g, p_o, u), "sum_x": sx, "sum_y": sy}


@register("crvusd", "health")
def _health(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g, p_o, u = _grid(inputs, ctx), _int(inputs, "p_o", ctx), _user(inputs, ctx)
    debt, ld = _int(inputs, "debt", ctx), _int(inputs, "liquidation_discount", ctx)
    return {
        "health": X.health(g, p_o, u, debt, ld, False),
        "health_full": X.health(g, p_o, u, debt, ld, True),
    }


@register("crvusd", "f_remove")
def _f_remove(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"f_remove": X.f_remove(_int(inputs, "frac", ctx), _int(inputs, "health_limit", ctx))}


@register("crvusd", "liquidate")
def _liquidate(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g, p_o, u = _grid(inputs, ctx), _int(inputs, "p_o", ctx), _user(inputs, ctx)
    o = X.liquidate(
        g, p_o, u, _int(inputs, "debt", ctx), _int(inputs, "liquidation_discount", ctx),
        frac=as_int(inputs.get("frac", WAD), "inputs.frac", ctx),
        approval=bool(inputs.get("approval", False)),
    )  # fmt: skip
    return {
        "health_before": o.health_before,
        "f_remove": o.f_remove,
        "debt_repaid": o.debt_repaid,
        "debt_after": o.debt_after,
        "stablecoin_out": o.stablecoin_out,
        "collateral_out": o.collateral_out,
        "liquidator_pays": o.liquidator_pays,
        "liquidator_receives": o.liquidator_receives,
    }


@register("crvusd", "tokens_to_liquidate")
def _tokens_to_liquidate(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    u = _user(inputs, ctx)
    t = X.tokens_to_liquidate(
        u, _int(inputs, "debt", ctx), _int(inputs, "liquidation_discount", ctx),
        frac=as_int(inputs.get("frac", WAD), "inputs.frac", ctx),
        approval=bool(inputs.get("approval", False)),
    )  # fmt: skip
    return {"tokens": t}


@register("crvusd", "calculate_debt_n1")
def _n1(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g = _grid(inputs, ctx)
    n1 = X.calculate_debt_n1(
        g, _int(inputs, "p_o", ctx), _sint(inputs, "active_band", ctx), _int(inputs, "collateral", ctx),
        _int(inputs, "debt", ctx), _int(inputs, "n_bands", ctx), _int(inputs, "loan_discount", ctx),
    )  # fmt: skip
    return {"n1": n1}


@register("crvusd", "exchange")
def _exchange(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    """An AMM holding one fresh deposit (``deposit``), ``active_band``/``min_band`` given, fee 0."""
    g, p_o, u = _grid(inputs, ctx), _int(inputs, "p_o", ctx), _user(inputs, ctx)
    amm = X.AmmState(
        g, {}, {u.n1 + i: b.y for i, b in enumerate(u.bands)}, u.active_band,
        min(u.active_band, u.n1), u.n2, as_int(inputs.get("fee", 0), "inputs.fee", ctx),
    )  # fmt: skip
    t = X.exchange(amm, p_o, bool(get_input(inputs, "pump", ctx, "inputs")), _int(inputs, "in_amount", ctx))
    a = t.amm_after
    return {
        "in_amount": t.in_amount,
        "out_amount": t.out_amount,
        "active_band": a.active_band,
        "collateral_left": sum(a.bands_y.values()),
        "stablecoin_in_bands": sum(a.bands_x.values()),
    }
