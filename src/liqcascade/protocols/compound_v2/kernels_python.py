"""Compound v2's liquidation kernel (plain Python; the shared loops of
:mod:`liqcascade.protocols.mechanisms.kernels_python` call it, compiled per protocol).

``bonus`` (per key, see ``ParamTable``) is the incentive - 1. Calls ``liquidateBorrow`` on the most valuable
(collateral, debt) pair until the account is healthy; ``state[N_STATE + a] > 0`` marks
asset ``a``'s borrow market deprecated (the close factor does not apply to its borrows).
"""

from __future__ import annotations

from typing import NamedTuple

from liqcascade.protocols.compound_v2.fast import liquidate_call as compound_v2_call
from liqcascade.protocols.mechanisms.kernels_python import N_STATE, KernelSpec, apply_pair, no_call, pair_call, pick_pair


class CompoundV2Params(NamedTuple):
    close_factor: float
    """The Comptroller's ``closeFactorMantissa`` (fraction of a borrow one call may repay)."""
    seize_share: float
    """The cToken's ``protocolSeizeShareMantissa`` (share of the seized tokens to reserves)."""


def next_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state):
    """The next ``liquidateBorrow`` on the account of rows ``s:e`` (a ``Call``)."""
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, key, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0 or w >= d_total:
        return no_call()
    deprecated = state.shape[0] > N_STATE + asset[rd] and state[N_STATE + asset[rd]] > 0.0
    rep, sz, share = compound_v2_call(coll[rc], prices[asset[rc]], debt[rd], prices[asset[rd]], 1.0 + bonus[key[rc]],
                                      mp.close_factor, mp.seize_share, deprecated)
    return pair_call(rc, rd, rep, sz, share)


def apply_call(k, s, e, call, rows, mp, state, acc):
    """Carry out the call; the account may need more calls (False)."""
    apply_pair(k, call, rows, acc)
    return False


FUNCTIONS = {"compound_v2_call": compound_v2_call, "next_call": next_call, "apply_call": apply_call}
KERNEL = KernelSpec("compound_v2", FUNCTIONS)
