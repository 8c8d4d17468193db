"""Conformance handlers for Liquity v1 vectors (``data/conformance/liquity_v1``).

Functions, named after the contract calls they exercise:

- ``getCollGasCompensation`` (``coll``) and ``getCompositeDebt`` (``debt``) -> ``result``.
- ``scenario``: a replay of a JS test. ``steps`` is a list of ``{open: id, coll, debt}``,
  ``{sp_deposit: amount}`` (sets the LUSD in the Stability Pool) and ``{liquidate: id | [ids],
  price}`` (``batchLiquidateTroves``, which mainnet ``liquidate`` calls) or ``{liquidate_troves:
  n, price}`` (``liquidateTroves``, over every open trove sorted by ICR). Outputs: ``troves``
  (entire coll/debt of each open trove), ``liquidations`` (per step, per trove values), ``L_ETH``,
  ``L_LUSDDebt``, ``sp_remaining``, and ``within_tolerance``.

Tolerance: the JS tests assert ``assertIsApproximatelyEqual(actual, formula, tol)``. A vector
gives the test's formula value in ``inputs.asserted`` and the bound in ``inputs.tolerance``,
both keyed by a dotted output path (``troves.A.coll``); the handler reports, under
``within_tolerance``, whether ``|exact − asserted| ≤ tol`` for each. The exact values themselves
are recomputed (kind ``re``) and compared exactly by the runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, register
from liqcascade.protocols.liquity_v1 import exact as lq


@register("liquity_v1", "getCollGasCompensation")
def _gas(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"result": lq.coll_gas_compensation(as_int(inputs.get("coll"), "inputs.coll", ctx))}


@register("liquity_v1", "getCompositeDebt")
def _composite(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return {"result": lq.composite_debt(as_int(inputs.get("debt"), "inputs.debt", ctx))}


def _values(v: lq.LiquidationValues) -> dict[str, int]:
    return {
        "debt": v.entire_trove_debt, "coll": v.entire_trove_coll,
        "coll_gas_compensation": v.coll_gas_compensation, "debt_to_offset": v.debt_to_offset,
        "coll_to_send_to_sp": v.coll_to_send_to_sp, "debt_to_redistribute": v.debt_to_redistribute,
        "coll_to_redistribute": v.coll_to_redistribute, "coll_surplus": v.coll_surplus,
    }  # fmt: skip


def _dig(out: Mapping[str, Any], path: str, ctx: VectorContext) -> int:
    cur: Any = out
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            raise ctx.error(f"inputs.asserted: no output at {path!r}")
        cur = cur[part]
    return int(cur)


def check_tolerances(out: dict[str, Any], inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, bool]:
    """``|out[path] − asserted[path]| ≤ tolerance[path]`` for every asserted path."""
    asserted = inputs.get("asserted") or {}
    tol = inputs.get("tolerance") or {}
    res = {}
    for path, want in asserted.items():
        t = as_int(tol.get(path, 0), f"inputs.tolerance.{path}", ctx)
        res[path] = abs(_dig(out, path, ctx) - as_int(want, f"inputs.asserted.{path}", ctx)) <= t
    return res


@register("liquity_v1", "scenario")
def _scenario(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    totals = lq.SystemTotals()
    troves: dict[str, lq.Trove] = {}
    sp = 0
    liqs: list[dict[str, Any]] = []
    for i, step in enumerate(inputs.get("steps") or []):
        w = f"inputs.steps[{i}]"
        if not isinstance(step, Mapping):
            raise ctx.error(f"{w}: must be a mapping")
        if "open" in step:
            tid = str(step["open"])
            t, totals = lq.open_trove(as_int(step.get("coll"), f"{w}.coll", ctx), as_int(step.get("debt"), f"{w}.debt", ctx), totals)
            troves[tid] = t
        elif "sp_deposit" in step:
            sp = as_int(step["sp_deposit"], f"{w}.sp_deposit", ctx)
        elif "liquidate" in step or "liquidate_troves" in step:
            price = as_int(step.get("price"), f"{w}.price", ctx)
            if "liquidate" in step:
                ids = step["liquidate"] if isinstance(step["liquidate"], list) else [step["liquidate"]]
                for tid in ids:
                    if str(tid) not in troves:
                        raise ctx.error(f"{w}: no open trove {tid!r}")
                sel = [(str(t), troves[str(t)]) for t in ids]
                r = lq.liquidate_troves_sequence(sel, price, sp, totals, batch=True, total_troves=len(troves))
            else:
                sel = sorted(troves.items(), key=lambda kv: lq.current_icr(kv[1], totals, price))
                r = lq.liquidate_troves_sequence(sel, price, sp, totals, as_int(step["liquidate_troves"], w, ctx))
            for tid in r.liquidated:
                del troves[str(tid)]
            sp, totals = r.sp_remaining, r.system
            liqs.append({"recovery_mode": r.recovery_mode_at_start, **{str(k): _values(v) for k, v in r.liquidated.items()}})
        else:
            raise ctx.error(f"{w}: expected one of open, sp_deposit, liquidate, liquidate_troves")
    out: dict[str, Any] = {
        "troves": {},
        "liquidations": liqs,
        "L_ETH": totals.l_eth,
        "L_LUSDDebt": totals.l_lusd_debt,
        "sp_remaining": sp,
    }
    for tid, t in troves.items():
        debt, coll = lq.entire_debt_and_coll(t, totals)
        out["troves"][tid] = {"coll": coll, "debt": debt, "stake": t.stake}
    out["liquidations"] = {str(i): x for i, x in enumerate(liqs)}
    out["within_tolerance"] = check_tolerances(out, inputs, ctx)
    return out
