"""Liquity v2 (BOLD) liquidation, integer-exact, in wei with 18-decimal prices.

Read at liquity/bold@405f9122 (contracts/src): ``Dependencies/Constants.sol`` (branch
parameters, gas compensation, ``MIN_BOLD_IN_SP``) and ``TroveManager.sol``:
``_getCollGasCompensation`` -> :func:`coll_gas_compensation`,
``_getOffsetAndRedistributionVals`` -> :func:`offset_and_redistribution_vals`,
``_getCollPenaltyAndSurplus`` -> :func:`coll_penalty_and_surplus`,
``_liquidate`` / ``batchLiquidateTroves`` -> :func:`liquidate`,
``_redistributeDebtAndColl`` -> :func:`redistribute` (same error feedback as v1).
The shutdown condition (``BorrowerOperations.shutdown``: TCR < SCR) is :func:`is_shutdown`.

No Recovery Mode. Not modelled: interest accrual, batch managers, upfront fees, urgent
redemptions after shutdown, the SP's own P/S accounting. Debt passed in is the trove's entire
debt (recorded + accrued interest + redistribution gains), as ``_getLatestTroveData`` gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from liqcascade._typing import Wad, Wei
from liqcascade.errors import LiqcascadeError

DECIMAL_PRECISION: Wad = 10**18
ETH_GAS_COMPENSATION: Wei = 37_500_000_000_000_000  # 0.0375 WETH, deposited at opening
COLL_GAS_COMPENSATION_DIVISOR = 200  # 0.5 %
COLL_GAS_COMPENSATION_CAP: Wei = 2 * 10**18  # 2 units of collateral
MIN_BOLD_IN_SP: Wei = 10**18


class LiquityV2Error(LiqcascadeError):
    """A Liquity v2 call the contract would revert."""


@dataclass(frozen=True)
class Branch:
    """One collateral branch's constants (``Constants.sol``), 1e18 = 100 %."""

    name: str
    mcr: Wad
    ccr: Wad
    scr: Wad
    liquidation_penalty_sp: Wad
    liquidation_penalty_redistribution: Wad


_PCT = 10**16
WETH = Branch("WETH", 110 * _PCT, 150 * _PCT, 110 * _PCT, 5 * _PCT, 10 * _PCT)
LST = Branch("LST", 120 * _PCT, 160 * _PCT, 120 * _PCT, 5 * _PCT, 20 * _PCT)
BRANCHES = {"WETH": WETH, "wstETH": LST, "rETH": LST, "LST": LST}


def compute_cr(coll: Wei, debt: Wei, price: Wad) -> Wad:
    """``LiquityMath._computeCR``: ``coll·price/debt``, max uint when debt is 0."""
    return coll * price // debt if debt > 0 else 2**256 - 1


def is_shutdown(branch: Branch, entire_system_coll: Wei, entire_system_debt: Wei, price: Wad) -> bool:
    """``BorrowerOperations.shutdown`` may be called iff the branch TCR < SCR."""
    return compute_cr(entire_system_coll, entire_system_debt, price) < branch.scr


def coll_gas_compensation(coll: Wei) -> Wei:
    """``_getCollGasCompensation``: ``min(coll/200, 2e18)``, paid on the SP-offset portion."""
    return min(coll // COLL_GAS_COMPENSATION_DIVISOR, COLL_GAS_COMPENSATION_CAP)


def coll_penalty_and_surplus(coll: Wei, debt: Wei, penalty: Wad, price: Wad) -> tuple[Wei, Wei]:
    """``_getCollPenaltyAndSurplus``: seize at most ``⌊debt·(1e18 + penalty)/price⌋``; the rest
    is surplus (to ``CollSurplusPool``)."""
    max_seized = debt * (DECIMAL_PRECISION + penalty) // price
    if coll > max_seized:
        return max_seized, coll - max_seized
    return coll, 0


@dataclass(frozen=True)
class LiquidationValues:
    """One trove's liquidation: where its debt and collateral go."""

    entire_trove_debt: Wei = 0
    entire_trove_coll: Wei = 0
    coll_gas_compensation: Wei = 0
    eth_gas_compensation: Wei = 0
    debt_to_offset: Wei = 0
    coll_to_send_to_sp: Wei = 0
    debt_to_redistribute: Wei = 0
    coll_to_redistribute: Wei = 0
    coll_surplus: Wei = 0


def offset_and_redistribution_vals(
    branch: Branch, debt: Wei, coll: Wei, bold_in_sp_for_offsets: Wei, price: Wad
) -> LiquidationValues:
    """``_getOffsetAndRedistributionVals``: offset ``min(debt, SP')`` with the pro-rata
    collateral minus gas compensation, capped by the SP penalty; the rest of the debt is
    redistributed with the remaining collateral plus the SP surplus, capped by the
    redistribution penalty; what neither cap takes is surplus."""
    offset = to_sp = gas = surplus = sp_portion = 0
    if bold_in_sp_for_offsets > 0:
        offset = min(debt, bold_in_sp_for_offsets)
        sp_portion = coll * offset // debt
        gas = coll_gas_compensation(sp_portion)
        to_sp, surplus = coll_penalty_and_surplus(sp_portion - gas, offset, branch.liquidation_penalty_sp, price)
    redist_debt = debt - offset
    redist_coll = 0
    if redist_debt > 0:
        portion = coll - sp_portion
        if portion > 0:
            redist_coll, surplus = coll_penalty_and_surplus(
                portion + surplus, redist_debt, branch.liquidation_penalty_redistribution, price
            )
    return LiquidationValues(
        entire_trove_debt=debt, entire_trove_coll=coll, coll_gas_compensation=gas,
        eth_gas_compensation=ETH_GAS_COMPENSATION, debt_to_offset=offset, coll_to_send_to_sp=to_sp,
        debt_to_redistribute=redist_debt, coll_to_redistribute=redist_coll, coll_surplus=surplus,
    )  # fmt: skip


def bold_in_sp_for_offsets(total_bold_deposits: Wei) -> Wei:
    """The SP always keeps ``MIN_BOLD_IN_SP`` (1 BOLD) back from offsets."""
    return total_bold_deposits - min(MIN_BOLD_IN_SP, total_bold_deposits)


def liquidate(branch: Branch, debt: Wei, coll: Wei, sp_deposits: Wei, price: Wad) -> LiquidationValues:
    """``TroveManager.liquidate`` of one trove: requires ICR < MCR (else the contract reverts
    ``NothingToLiquidate``), then :func:`offset_and_redistribution_vals` with 1 BOLD kept in SP."""
    if compute_cr(coll, debt, price) >= branch.mcr:
        raise LiquityV2Error(f"ICR >= MCR ({branch.name}): nothing to liquidate")
    return offset_and_redistribution_vals(branch, debt, coll, bold_in_sp_for_offsets(sp_deposits), price)


@dataclass(frozen=True)
class RedistState:
    """``L_coll``/``L_boldDebt`` accumulators, their carried errors and the total stakes."""

    total_stakes: Wei
    l_coll: int = 0
    l_bold_debt: int = 0
    last_coll_error: int = 0
    last_bold_debt_error: int = 0


def redistribute(s: RedistState, debt: Wei, coll: Wei) -> RedistState:
    """``_redistributeDebtAndColl``: ``(x·1e18 + lastError)/totalStakes`` per unit staked, floor,
    with the remainder carried (``total_stakes`` excludes the liquidated trove)."""
    if debt == 0:
        return s
    if s.total_stakes == 0:
        raise LiquityV2Error("redistribution with zero total stakes")
    cn = coll * DECIMAL_PRECISION + s.last_coll_error
    dn = debt * DECIMAL_PRECISION + s.last_bold_debt_error
    cp, dp = cn // s.total_stakes, dn // s.total_stakes
    return replace(
        s, l_coll=s.l_coll + cp, l_bold_debt=s.l_bold_debt + dp,
        last_coll_error=cn - cp * s.total_stakes, last_bold_debt_error=dn - dp * s.total_stakes,
    )  # fmt: skip
