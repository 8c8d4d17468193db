"""Liquity v1 trove liquidation in float64, the form the engines run.

``exact.py`` holds the integer rule (``TroveManager``: offset, redistribution with error
carry, Recovery Mode). Amounts are tokens (ETH, LUSD), prices USD; LUSD is valued at its
price, which the protocol itself takes as $1.
"""

from __future__ import annotations

MODE_NONE = 0  # not liquidated
MODE_NORMAL = 1  # offset against the Stability Pool, the rest redistributed
MODE_REDISTRIBUTE_ALL = 2  # Recovery Mode, ICR <= 100 %: all redistributed
MODE_CAPPED = 3  # Recovery Mode, MCR <= ICR < TCR: capped offset, surplus to the owner


def liquidate_trove(debt, coll, icr, tcr, sp, mcr, ccr, gas_pct):
    """Where one trove's debt and collateral go (``_liquidateNormalMode`` /
    ``_liquidateRecoveryMode``).

    ``icr``/``tcr`` are the trove's and the system's collateral ratios at the price;
    ``sp`` the LUSD in the Stability Pool; Recovery Mode when ``tcr < ccr`` (``ccr`` 0
    disables it). Returns ``(mode, debt_offset, coll_to_sp, coll_gas, debt_redist,
    coll_redist, coll_surplus)`` in tokens; ``coll_gas`` is the liquidator's collateral
    compensation (``coll / 200``).
    """
    recovery = tcr < ccr
    if not recovery:
        if icr >= mcr:
            return MODE_NONE, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    elif icr <= 1.0:
        gas = coll * gas_pct
        return MODE_REDISTRIBUTE_ALL, 0.0, 0.0, gas, debt, coll - gas, 0.0
    elif icr >= mcr:
        if icr >= tcr or sp < debt:
            return MODE_NONE, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        capped = coll * mcr / icr  # debt * MCR / price, in tokens
        gas = capped * gas_pct
        return MODE_CAPPED, debt, capped - gas, gas, 0.0, 0.0, coll - capped
    gas = coll * gas_pct
    liq = coll - gas
    offset = debt if sp >= debt else sp
    if offset < 0.0:
        offset = 0.0
    to_sp = liq * offset / debt
    return MODE_NORMAL, offset, to_sp, gas, debt - offset, liq - to_sp, 0.0
