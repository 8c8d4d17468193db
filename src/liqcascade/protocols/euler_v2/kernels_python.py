"""Euler v2's liquidation kernel (plain Python; the shared loops of
:mod:`liqcascade.protocols.mechanisms.kernels_python` call it, compiled per protocol).

Calls per collateral with the health-scaled discount; debt left when no collateral
remains is socialized to the vault's depositors.
"""

from __future__ import annotations

from typing import NamedTuple

from liqcascade.protocols.euler_v2.fast import discount_factor as euler_discount_factor
from liqcascade.protocols.euler_v2.fast import liquidate_call as euler_call
from liqcascade.protocols.mechanisms.kernels_python import (
    KernelSpec,
    apply_pair,
    no_call,
    pair_call,
    pick_pair,
    write_off_if_bare,
)


class EulerParams(NamedTuple):
    max_discount: float
    """The controller vault's ``maxLiquidationDiscount``."""


def next_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state):
    """The next ``liquidate`` on the account of rows ``s:e`` (a ``Call``)."""
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, key, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0 or w >= d_total:
        return no_call()
    df = euler_discount_factor(w / d_total, mp.max_discount)
    rep, sz = euler_call(coll[rc], prices[asset[rc]], debt[rd], prices[asset[rd]], df)
    return pair_call(rc, rd, rep, sz, 0.0)


def apply_call(k, s, e, call, rows, mp, state, acc):
    """Carry out the call; socialize what no collateral is left against (then done)."""
    apply_pair(k, call, rows, acc)
    return write_off_if_bare(k, s, e, rows, acc)


FUNCTIONS = {
    "euler_discount_factor": euler_discount_factor, "euler_call": euler_call, "next_call": next_call,
    "apply_call": apply_call,
}
KERNEL = KernelSpec("euler_v2", FUNCTIONS)
