"""Liquity v2's liquidation kernel (plain Python; the shared loops of
:mod:`liqcascade.protocols.mechanisms.kernels_python` call it, compiled per protocol).
The trove bookkeeping (``apply_call``) is Liquity v1's."""

from __future__ import annotations

from liqcascade.protocols.liquity_v1.kernels_python import apply_call, trove_call
from liqcascade.protocols.liquity_v2.fast import liquidate_trove as liquity_v2_trove
from liqcascade.protocols.liquity_v2.fast import penalty_cap
from liqcascade.protocols.mechanisms.kernels_python import ST_SP, ST_TROVES, KernelSpec, no_call, pick_pair


def next_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state):
    """The liquidation of the trove of rows ``s:e`` (a ``Call``); no Recovery Mode."""
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, key, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0 or state[ST_TROVES] <= 1.0:
        # Liquity never liquidates the last trove (``_requireMoreThanOneTroveInSystem``)
        return no_call()
    pc = prices[asset[rc]]
    pd = prices[asset[rd]]
    if coll[rc] * pc / (debt[rd] * pd) >= mp.mcr:
        return no_call()
    off, to_sp, gas, rdebt, rcoll, surplus = liquity_v2_trove(
        debt[rd], coll[rc], state[ST_SP], pc, pd, mp.gas_share, mp.gas_cap, mp.penalty_sp, mp.penalty_redist,
        mp.sp_floor,
    )
    return trove_call(rc, rd, pc, pd, mp, off, to_sp, gas, rdebt, rcoll, surplus)


FUNCTIONS = {
    "penalty_cap": penalty_cap, "liquity_v2_trove": liquity_v2_trove, "trove_call": trove_call,
    "next_call": next_call, "apply_call": apply_call,
}
KERNEL = KernelSpec("liquity_v2", FUNCTIONS)
