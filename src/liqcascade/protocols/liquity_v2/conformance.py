"""Conformance handlers for Liquity v2 vectors (``data/conformance/liquity_v2``).

``liquidate``: inputs ``branch`` (WETH, wstETH, rETH), ``debt`` (entire), ``coll``,
``sp_deposits`` (total BOLD in the SP), ``price``; outputs the :class:`LiquidationValues`
fields, plus ``within_tolerance`` checked as in the v1 handlers (``inputs.asserted`` holds the
test's formula value per output, ``inputs.tolerance`` the bound).
``is_shutdown``: ``branch``, ``coll``, ``debt``, ``price`` -> ``result``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, register
from liqcascade.protocols.liquity_v1.conformance import check_tolerances
from liqcascade.protocols.liquity_v2 import exact as v2


def _branch(inputs: Mapping[str, Any], ctx: VectorContext) -> v2.Branch:
    name = str(inputs.get("branch", "WETH"))
    if name not in v2.BRANCHES:
        raise ctx.error(f"inputs.branch: expected one of {sorted(v2.BRANCHES)}, got {name!r}")
    return v2.BRANCHES[name]


@register("liquity_v2", "liquidate")
def _liquidate(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g = {k: as_int(inputs.get(k), f"inputs.{k}", ctx) for k in ("debt", "coll", "sp_deposits", "price")}
    v = v2.liquidate(_branch(inputs, ctx), g["debt"], g["coll"], g["sp_deposits"], g["price"])
    out: dict[str, Any] = dict(asdict(v))
    out["within_tolerance"] = check_tolerances(out, inputs, ctx)
    return out


@register("liquity_v2", "is_shutdown")
def _shutdown(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    g = {k: as_int(inputs.get(k), f"inputs.{k}", ctx) for k in ("debt", "coll", "price")}
    return {"result": v2.is_shutdown(_branch(inputs, ctx), g["coll"], g["debt"], g["price"])}
