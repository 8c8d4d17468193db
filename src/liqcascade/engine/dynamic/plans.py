"""A liquidator strategy's plan for each eligible account of a block (``liquidators.strategy``).

The block-by-block engines price each candidate by the strategy's calls instead of the
protocol's maximum call: :func:`plan_candidates` reads each candidate's pair from the book
(the collateral the protocol's next call seizes and the debt it repays, at the oracle's
prices, the rest of the account counting in its health factor), takes the rule's cap from
the protocol's own next call, and asks :mod:`liqcascade.engine.strategies` for the calls.
The protocol's kernel then makes the calls with each one's repayment capped at the plan's
(:attr:`~liqcascade.protocols.base.LiquidationLimits.call_caps_usd`), so the rule's own
limits (close factor, dust, collateral) always hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.dynamic.candidates import Candidates
from liqcascade.engine.strategies import CallRule, Exit, Position, plan
from liqcascade.protocols.base import BookArrays

MAX_PLAN_CALLS = 2
"""Calls in the longest plan (two_step)."""


@dataclass(frozen=True)
class CandidatePlans:
    """Per candidate (the order of ``Candidates.elig``): what its plan receives and pays over
    its calls, how many calls, and the per-call caps for the protocol's kernel."""

    received: FloatArray
    """Collateral tokens the liquidator receives (net of the protocol's fee)."""
    paid: FloatArray
    """Debt tokens the liquidator repays."""
    calls: IntArray
    """Calls planned (0: no call -- profit_max found none profitable)."""
    caps_usd: FloatArray
    """``(n, MAX_PLAN_CALLS)``: each call's repayment cap (USD; inf: the rule's maximum, 0: no call)."""


def _position(arrays: BookArrays, prices: FloatArray, k: int, ca: int, da: int) -> tuple[Position, int]:
    """Account ``k``'s pair (collateral asset ``ca``, debt asset ``da``) as a :class:`Position`,
    and the collateral row."""
    s, e = int(arrays.offsets[k]), int(arrays.offsets[k + 1])
    rows = np.arange(s, e)
    a = arrays.asset[s:e]
    p = prices[a]
    rc = int(rows[(a == ca) & (arrays.lt[s:e] > 0)][0])
    rd = int(rows[a == da][0])
    weighted = float((arrays.coll[s:e] * p * np.where(arrays.lt[s:e] > 0, arrays.lt[s:e], 0.0)).sum())
    debt_usd = float((arrays.debt[s:e] * p).sum())
    pc, pd = float(prices[ca]), float(prices[da])
    coll, debt, lt = float(arrays.coll[rc]), float(arrays.debt[rd]), float(arrays.lt[rc])
    pos = Position(coll, debt, pc, pd, min(lt, 1.0), other_collateral_usd=max(weighted - coll * pc * lt, 0.0),
                   other_debt_usd=max(debt_usd - debt * pd, 0.0))
    return pos, rc


def plan_candidates(strategy: str, arrays: BookArrays, cand: Candidates, prices: FloatArray, market: FloatArray,
                    venues: dict, gas_usd: float) -> CandidatePlans:
    """Each candidate's plan under ``strategy`` at the oracle ``prices``. The close factor is
    the one the protocol's next call applied (its repayment over the pair's debt, so the
    plan's first call is capped where the protocol's is); the collateral sells at ``market``
    (the block's slippage is netted by the picker, as for max close), except that profit_max
    sizes its call on the collateral's venue, when it has one."""
    n = cand.elig.shape[0]
    out = CandidatePlans(np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros((n, MAX_PLAN_CALLS)))
    for j in range(n):
        ca, da = int(cand.coll_asset[j]), int(cand.debt_asset[j])
        pos, rc = _position(arrays, prices, int(cand.elig[j]), ca, da)
        if pos.debt <= 0 or not pos.liquidatable:
            continue
        cf = min(max(float(cand.repaid[j]) / pos.debt, 1e-12), 1.0)
        rule = CallRule(close_factor=cf, bonus=float(arrays.bonus[rc]), protocol_fee=float(arrays.fee[rc]))
        venue = venues.get(ca) if strategy == "profit_max" else None
        p = plan(strategy, pos, rule, Exit(venue, gas_usd=gas_usd, price=float(market[ca])))
        out.received[j], out.paid[j], out.calls[j] = p.received, p.repaid, len(p.calls)
        for c, call in enumerate(p.calls):
            # the last call of a two-call plan is the rule's maximum on what the first left
            last_of_two = c == 1
            out.caps_usd[j, c] = math.inf if last_of_two else call.repay * pos.debt_price
    return out
