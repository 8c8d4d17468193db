"""Liquity v1's liquidation kernel (plain Python; the shared loops of
:mod:`liqcascade.protocols.mechanisms.kernels_python` call it, compiled per protocol), and
the trove bookkeeping Liquity v2 shares.

``state = [SP deposits, system collateral, system debt, debt to redistribute, collateral
to redistribute, surplus, open troves, ...]`` (the ``ST_*`` indexes). Troves are offset
against the Stability Pool in order; what the pool cannot take is collected in ``state``
for the rules to redistribute after the pass (as ``liquidateTroves`` redistributes a batch
once). These mutate shared state: the rules run them serially.
"""

from __future__ import annotations

from typing import NamedTuple

from liqcascade.protocols.base import HF_INF
from liqcascade.protocols.flows import FLOW_REDIST_COLL, FLOW_REDIST_DEBT, add_flow
from liqcascade.protocols.liquity_v1.fast import MODE_NONE
from liqcascade.protocols.liquity_v1.fast import liquidate_trove as liquity_v1_trove
from liqcascade.protocols.mechanisms.kernels_python import (
    ST_REDIST_COLL,
    ST_REDIST_DEBT,
    ST_SP,
    ST_SURPLUS,
    ST_SYS_COLL,
    ST_SYS_DEBT,
    ST_TROVES,
    Call,
    KernelSpec,
    add_repaid,
    add_seized,
    no_call,
    pick_pair,
)


class LiquityParams(NamedTuple):
    mcr: float
    """Minimum collateral ratio."""
    ccr: float
    """Critical collateral ratio (v1 Recovery Mode below it; 0 in v2)."""
    gas_share: float
    """The liquidator's collateral compensation, share of the trove's collateral."""
    gas_cap: float
    """Cap on that compensation, collateral tokens (v2)."""
    penalty_sp: float
    """Collateral the Stability Pool takes beyond the debt, as a share of it (v2)."""
    penalty_redist: float
    """The same for redistribution (v2)."""
    sp_sell_share: float
    """Share of their collateral gains the pool's depositors sell at once."""
    sp_floor: float
    """Debt tokens that always stay in the pool (v2: MIN_BOLD_IN_SP)."""
    debt_gas_comp: float
    """Fixed reward to the liquidator in debt tokens (v1: 200 LUSD)."""
    coll_gas_comp: float
    """Fixed reward to the liquidator in collateral tokens (v2: 0.0375 WETH)."""


def trove_call(rc, rd, pc, pd, mp, off, to_sp, gas, rdebt, rcoll, surplus):
    """The ``Call`` of a trove liquidation: the Stability Pool keeps ``1 - sp_sell_share``
    of its collateral gain; the liquidator receives the gas compensation and a fixed
    reward (debt tokens and collateral tokens, valued at their prices)."""
    kept = to_sp * (1.0 - mp.sp_sell_share)
    reward = mp.debt_gas_comp * pd + mp.coll_gas_comp * pc
    return Call(rc, rd, off, to_sp + gas, kept, 0.0, to_sp + gas - kept, reward, 0.0, rdebt, rcoll, surplus)


def next_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state):
    """The liquidation of the trove of rows ``s:e`` (a ``Call``). ICR is the trove's
    collateral ratio, TCR the system's from ``state`` (Recovery Mode when TCR < CCR)."""
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, key, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0 or state[ST_TROVES] <= 1.0:
        # Liquity never liquidates the last trove (``_requireMoreThanOneTroveInSystem``)
        return no_call()
    pc = prices[asset[rc]]
    pd = prices[asset[rd]]
    icr = coll[rc] * pc / (debt[rd] * pd)
    sys_debt = state[ST_SYS_DEBT]
    tcr = state[ST_SYS_COLL] * pc / (sys_debt * pd) if sys_debt > 0.0 else HF_INF
    mode, off, to_sp, gas, rdebt, rcoll, surplus = liquity_v1_trove(
        debt[rd], coll[rc], icr, tcr, state[ST_SP], mp.mcr, mp.ccr, mp.gas_share
    )
    if mode == MODE_NONE:
        return no_call()
    return trove_call(rc, rd, pc, pd, mp, off, to_sp, gas, rdebt, rcoll, surplus)


def apply_call(k, s, e, call, rows, mp, state, acc):
    """Close the trove: the Stability Pool and the liquidator take ``seized``; the part to
    redistribute leaves the trove (the rules add it to the other troves after the pass);
    the surplus stays with the owner."""
    state[ST_SP] -= call.repaid
    state[ST_REDIST_DEBT] += call.redist_debt
    state[ST_REDIST_COLL] += call.redist_coll
    state[ST_SURPLUS] += call.surplus
    state[ST_SYS_COLL] -= call.seized + call.surplus
    state[ST_SYS_DEBT] -= call.repaid
    state[ST_TROVES] -= 1.0
    rows.coll[call.rc] = call.surplus
    rows.debt[call.rd] = 0.0
    add_seized(k, call.rc, call.seized, call.fee, rows, acc)
    add_repaid(k, call.rd, call.repaid, call.written_off, rows, acc)
    pc = rows.prices[rows.asset[call.rc]]
    pd = rows.prices[rows.asset[call.rd]]
    add_flow(acc.flows, call.rc, FLOW_REDIST_COLL, -call.redist_coll, pc)
    add_flow(acc.flows, call.rd, FLOW_REDIST_DEBT, -call.redist_debt, pd)
    return True


FUNCTIONS = {
    "liquity_v1_trove": liquity_v1_trove, "trove_call": trove_call, "next_call": next_call, "apply_call": apply_call,
}
KERNEL = KernelSpec("liquity_v1", FUNCTIONS)
