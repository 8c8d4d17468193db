"""Liquity v2 (BOLD) trove liquidation in float64, the form the engines run.

``exact.py`` holds the integer rule (``TroveManager._getOffsetAndRedistributionVals``).
No Recovery Mode; per-branch penalties for the Stability Pool and redistribution; the
collateral gas compensation is 0.5 % of the offset portion, capped (2 ETH).
"""

from __future__ import annotations


def penalty_cap(coll, debt, penalty, coll_price, debt_price):
    """``_getCollPenaltyAndSurplus``: at most ``debt * (1 + penalty)`` worth of collateral
    is taken; returns ``(taken, surplus)`` in tokens."""
    most = debt * debt_price * (1.0 + penalty) / coll_price
    if coll > most:
        return most, coll - most
    return coll, 0.0


def liquidate_trove(debt, coll, sp, coll_price, debt_price, gas_pct, gas_cap, penalty_sp, penalty_redist, sp_floor):
    """Where one trove's debt and collateral go. ``sp`` is the BOLD in the Stability Pool,
    of which ``sp_floor`` (1 BOLD) always stays. Returns ``(debt_offset, coll_to_sp,
    coll_gas, debt_redist, coll_redist, coll_surplus)`` in tokens."""
    usable = sp - sp_floor if sp > sp_floor else 0.0
    offset = 0.0
    to_sp = 0.0
    gas = 0.0
    surplus = 0.0
    sp_portion = 0.0
    if usable > 0.0:
        offset = debt if usable >= debt else usable
        sp_portion = coll * offset / debt
        gas = sp_portion * gas_pct
        if gas > gas_cap:
            gas = gas_cap
        to_sp, surplus = penalty_cap(sp_portion - gas, offset, penalty_sp, coll_price, debt_price)
    redist_debt = debt - offset
    redist_coll = 0.0
    if redist_debt > 0.0:
        portion = coll - sp_portion
        if portion > 0.0:
            redist_coll, surplus = penalty_cap(portion + surplus, redist_debt, penalty_redist, coll_price, debt_price)
    return offset, to_sp, gas, redist_debt, redist_coll, surplus
