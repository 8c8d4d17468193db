"""Conformance handlers for dYdX v4 vectors (``protocol: dydx_v4``), in quote quantums.

A vector's ``subaccount`` is ``{quote_balance, positions: [{perpetual, quantums}]}`` where a
``perpetual`` is ``{atomic_resolution, price, exponent, initial_margin_ppm,
maintenance_fraction_ppm[, open_interest_lower_cap, open_interest_upper_cap, open_interest]}``
(the vector files share them with YAML anchors). Integers are strings (a leading ``-`` for
signed ones); exponents and atomic resolutions are YAML ints. Imported by
:mod:`liqcascade.protocols.conformance` on first use of the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, get_input, register
from liqcascade.protocols.dydx_v4 import exact as X


def _sint(m: Mapping[str, Any], key: str, ctx: VectorContext, where: str = "inputs", default: int | None = None) -> int:
    """A signed integer: a YAML int or a decimal string with an optional leading ``-``."""
    if default is not None and (not isinstance(m, Mapping) or key not in m):
        return default
    value = get_input(m, key, ctx, where)
    if isinstance(value, str) and value.strip().startswith("-"):
        return -as_int(value.strip()[1:], f"{where}.{key}", ctx)
    return as_int(value, f"{where}.{key}", ctx)


def _tier(m: Mapping[str, Any], ctx: VectorContext, where: str) -> X.LiquidityTier:
    return X.LiquidityTier(
        _sint(m, "initial_margin_ppm", ctx, where), _sint(m, "maintenance_fraction_ppm", ctx, where, 0),
        _sint(m, "open_interest_lower_cap", ctx, where, 0), _sint(m, "open_interest_upper_cap", ctx, where, 0),
    )


def _perpetual(m: Mapping[str, Any], ctx: VectorContext, where: str) -> X.Perpetual:
    return X.Perpetual(
        _sint(m, "atomic_resolution", ctx, where), _sint(m, "price", ctx, where), _sint(m, "exponent", ctx, where),
        _tier(m, ctx, where), _sint(m, "open_interest", ctx, where, 0),
    )


def _subaccount(inputs: Mapping[str, Any], ctx: VectorContext) -> X.Subaccount:
    s = get_input(inputs, "subaccount", ctx, "inputs")
    raw = s.get("positions", []) if isinstance(s, Mapping) else None
    if not isinstance(raw, list):
        raise ctx.error("inputs.subaccount.positions: expected a list of {perpetual, quantums}")
    positions = []
    for i, p in enumerate(raw):
        w = f"inputs.subaccount.positions[{i}]"
        positions.append(X.Position(_perpetual(get_input(p, "perpetual", ctx, w), ctx, f"{w}.perpetual"),
                                    _sint(p, "quantums", ctx, w)))
    return X.Subaccount(_sint(s, "quote_balance", ctx, "inputs.subaccount"), tuple(positions))


@register("dydx_v4", "initial_margin")
def _initial_margin(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    tier = _tier(inputs, ctx, "inputs")
    return {"initial_margin": X.initial_margin(tier, _sint(inputs, "quote", ctx), _sint(inputs, "open_interest_quote", ctx, default=0))}


@register("dydx_v4", "maintenance_margin_ppm")
def _mm_ppm(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"maintenance_margin_ppm": X.maintenance_margin_ppm(_tier(inputs, ctx, "inputs"))}


@register("dydx_v4", "risk")
def _risk(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    r = X.subaccount_risk(_subaccount(inputs, ctx))
    return {"nc": r.nc, "imr": r.imr, "mmr": r.mmr, "liquidatable": X.is_liquidatable(r)}


@register("dydx_v4", "bankruptcy_quote")
def _bankruptcy(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    sub = _subaccount(inputs, ctx)
    return {"quote": X.bankruptcy_quote(sub, _sint(inputs, "position", ctx), _sint(inputs, "delta", ctx))}


@register("dydx_v4", "fillable_price")
def _fillable(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    sub = _subaccount(inputs, ctx)
    price = X.fillable_price(sub, _sint(inputs, "position", ctx), _sint(inputs, "delta", ctx),
                             _sint(inputs, "bankruptcy_adjustment_ppm", ctx, default=1_000_000),
                             _sint(inputs, "spread_to_maintenance_margin_ratio_ppm", ctx, default=100_000))
    return {"price": f"{price.numerator}/{price.denominator}"}


@register("dydx_v4", "insurance_fund_delta")
def _fund_delta(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    sub = _subaccount(inputs, ctx)
    fill = _sint(inputs, "fill_amount", ctx)
    quote = X.fill_amount_to_quote_quantums(_sint(inputs, "subticks", ctx), fill,
                                            _sint(inputs, "quantum_conversion_exponent", ctx))
    delta = X.insurance_fund_delta(sub, _sint(inputs, "position", ctx), fill, quote,
                                   _sint(inputs, "max_liquidation_fee_ppm", ctx, default=5_000))
    return {"delta": delta}


@register("dydx_v4", "deleverage")
def _deleverage(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    sub = _subaccount(inputs, ctx)
    raw = get_input(inputs, "candidates", ctx, "inputs")
    if not isinstance(raw, list):
        raise ctx.error("inputs.candidates: expected a list of signed base quantums")
    cands = [_sint({"q": c}, "q", ctx, "inputs.candidates") for c in raw]
    fills, remaining = X.deleverage(sub, _sint(inputs, "position", ctx), cands, _sint(inputs, "start", ctx))
    return {"fills": [f"{f.offsetting}:{f.delta}:{f.quote}" for f in fills], "remaining": remaining}
