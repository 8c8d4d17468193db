"""Liquity v1 (LUSD) liquidation, integer-exact, in wei with 18-decimal prices.

This is the conformance form of the rule: scalar, rounding (always floor, Solidity ``/``)
exactly where the contracts round. Mainnet is immutable, so the rule is read at
liquity/dev@e38edf3d (packages/contracts/contracts):

- ``Dependencies/LiquityBase.sol``: ``_getCollGasCompensation`` -> :func:`coll_gas_compensation`,
  ``_getCompositeDebt`` -> :func:`composite_debt`, ``_getTCR`` / ``_checkRecoveryMode`` ->
  :func:`tcr`, :func:`check_recovery_mode`; ``LiquityMath._computeCR`` -> :func:`compute_cr`.
- ``TroveManager.sol``:
  ``_getOffsetAndRedistributionVals`` -> :func:`offset_and_redistribution_vals`;
  ``_getCappedOffsetVals`` -> :func:`capped_offset_vals`;
  ``_redistributeDebtAndColl`` (error feedback) -> :func:`redistribute`;
  ``_computeNewStake`` -> :func:`compute_new_stake`;
  ``_updateSystemSnapshots_excludeCollRemainder`` -> inside :func:`apply_liquidation_totals`;
  ``getPendingETHReward`` / ``getPendingLUSDDebtReward`` -> :func:`pending_rewards`;
  ``liquidate`` in Normal Mode (``_liquidateNormalMode``) -> :func:`liquidate_normal`;
  ``liquidateTroves`` with ``_getTotalsFromLiquidateTrovesSequence_{Normal,Recovery}Mode`` and
  ``_liquidateRecoveryMode`` -> :func:`liquidate_troves_sequence`.

State is held in frozen objects (:class:`Trove`, :class:`SystemTotals`); every function is
pure and returns new state. Troves carry their *recorded* coll/debt plus reward snapshots;
:func:`entire_debt_and_coll` adds the pending redistribution rewards as the contract does.

Not modelled: the Stability Pool's own P/S/epoch accounting (only its LUSD total is tracked),
LQTY issuance, borrowing/redemption fees and base rate, the sorted list's hints. The contract
reverts when a batch would close the only trove left (``_requireMoreThanOneTroveInSystem``);
here the sequence stops before that trove instead, so a batch result is always defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from liqcascade._typing import Wad, Wei
from liqcascade.errors import LiqcascadeError

DECIMAL_PRECISION: Wad = 10**18
MCR: Wad = 1_100_000_000_000_000_000  # 110 %
CCR: Wad = 1_500_000_000_000_000_000  # 150 %
ONE_HUNDRED_PCT: Wad = 10**18
LUSD_GAS_COMPENSATION: Wei = 200 * 10**18
MIN_NET_DEBT: Wei = 1800 * 10**18
PERCENT_DIVISOR = 200  # coll gas compensation = 0.5 %
MAX_UINT256 = 2**256 - 1


class LiquityError(LiqcascadeError):
    """A Liquity v1 call that the contract would revert (the message quotes the reason)."""


# --- LiquityBase / LiquityMath ------------------------------------------------------------------


def coll_gas_compensation(coll: Wei) -> Wei:
    """``LiquityBase._getCollGasCompensation``: 0.5 % of the trove's collateral, floored."""
    return coll // PERCENT_DIVISOR


def composite_debt(debt: Wei) -> Wei:
    """``LiquityBase._getCompositeDebt``: net debt plus the 200 LUSD gas reserve."""
    return debt + LUSD_GAS_COMPENSATION


def compute_cr(coll: Wei, debt: Wei, price: Wad) -> Wad:
    """``LiquityMath._computeCR``: ``coll·price/debt`` (1e18 = 100 %), max uint when debt is 0."""
    if debt > 0:
        return coll * price // debt
    return MAX_UINT256


def tcr(entire_system_coll: Wei, entire_system_debt: Wei, price: Wad) -> Wad:
    """``LiquityBase._getTCR``: the collateral ratio of active plus default pool."""
    return compute_cr(entire_system_coll, entire_system_debt, price)


def check_recovery_mode(entire_system_coll: Wei, entire_system_debt: Wei, price: Wad) -> bool:
    """``LiquityBase._checkRecoveryMode``: Recovery Mode holds iff TCR < CCR (150 %)."""
    return tcr(entire_system_coll, entire_system_debt, price) < CCR


# --- state ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trove:
    """One trove as stored: recorded coll/debt (debt is composite, gas reserve included),
    its stake and the ``L_ETH``/``L_LUSDDebt`` values it last synced to."""

    coll: Wei
    debt: Wei
    stake: Wei
    l_eth_snapshot: int = 0
    l_lusd_debt_snapshot: int = 0


@dataclass(frozen=True)
class SystemTotals:
    """System-wide state the liquidation rule reads and writes.

    ``entire_system_coll``/``debt`` are ActivePool + DefaultPool (``getEntireSystemColl``/
    ``Debt``); ``l_eth``/``l_lusd_debt`` are the redistribution accumulators (1e18-scaled per
    unit of stake) and ``last_*_error`` the remainders ``_redistributeDebtAndColl`` carries.
    """

    entire_system_coll: Wei = 0
    entire_system_debt: Wei = 0
    total_stakes: Wei = 0
    total_stakes_snapshot: Wei = 0
    total_collateral_snapshot: Wei = 0
    l_eth: int = 0
    l_lusd_debt: int = 0
    last_eth_error: int = 0
    last_lusd_debt_error: int = 0


@dataclass(frozen=True)
class LiquidationValues:
    """``TroveManager.LiquidationValues`` for one trove, or summed over a batch."""

    entire_trove_debt: Wei = 0
    entire_trove_coll: Wei = 0
    coll_gas_compensation: Wei = 0
    lusd_gas_compensation: Wei = 0
    debt_to_offset: Wei = 0
    coll_to_send_to_sp: Wei = 0
    debt_to_redistribute: Wei = 0
    coll_to_redistribute: Wei = 0
    coll_surplus: Wei = 0

    def __add__(self, other: LiquidationValues) -> LiquidationValues:
        return LiquidationValues(*(a + b for a, b in zip(_vals(self), _vals(other), strict=True)))


def _vals(v: LiquidationValues) -> tuple[int, ...]:
    return (
        v.entire_trove_debt, v.entire_trove_coll, v.coll_gas_compensation, v.lusd_gas_compensation,
        v.debt_to_offset, v.coll_to_send_to_sp, v.debt_to_redistribute, v.coll_to_redistribute,
        v.coll_surplus,
    )  # fmt: skip


# --- stakes and rewards -----------------------------------------------------------------------------


def compute_new_stake(coll: Wei, totals: SystemTotals) -> Wei:
    """``TroveManager._computeNewStake``: ``coll·totalStakesSnapshot/totalCollateralSnapshot``
    (floor), or ``coll`` before the first liquidation (snapshot collateral 0)."""
    if totals.total_collateral_snapshot == 0:
        return coll
    return coll * totals.total_stakes_snapshot // totals.total_collateral_snapshot


def pending_rewards(trove: Trove, totals: SystemTotals) -> tuple[Wei, Wei]:
    """``getPendingETHReward``, ``getPendingLUSDDebtReward``: ``stake·(L − snapshot)/1e18``."""
    eth = trove.stake * (totals.l_eth - trove.l_eth_snapshot) // DECIMAL_PRECISION
    debt = trove.stake * (totals.l_lusd_debt - trove.l_lusd_debt_snapshot) // DECIMAL_PRECISION
    return eth, debt


def entire_debt_and_coll(trove: Trove, totals: SystemTotals) -> tuple[Wei, Wei]:
    """``getEntireDebtAndColl``: (debt, coll) including pending redistribution rewards."""
    eth, debt = pending_rewards(trove, totals)
    return trove.debt + debt, trove.coll + eth


def current_icr(trove: Trove, totals: SystemTotals, price: Wad) -> Wad:
    """``getCurrentICR``: the ICR with pending rewards applied."""
    debt, coll = entire_debt_and_coll(trove, totals)
    return compute_cr(coll, debt, price)


def open_trove(coll: Wei, debt: Wei, totals: SystemTotals) -> tuple[Trove, SystemTotals]:
    """Add a trove of ``coll`` and composite ``debt``: stake from the snapshots, reward
    snapshots at the current ``L`` values (``BorrowerOperations.openTrove`` bookkeeping)."""
    stake = compute_new_stake(coll, totals)
    trove = Trove(coll, debt, stake, totals.l_eth, totals.l_lusd_debt)
    return trove, replace(
        totals,
        entire_system_coll=totals.entire_system_coll + coll,
        entire_system_debt=totals.entire_system_debt + debt,
        total_stakes=totals.total_stakes + stake,
    )


def redistribute(totals: SystemTotals, debt: Wei, coll: Wei) -> SystemTotals:
    """``TroveManager._redistributeDebtAndColl``: add ``(x·1e18 + lastError)/totalStakes`` to
    ``L_ETH``/``L_LUSDDebt`` (floor) and carry the remainder to the next redistribution.

    ``totals.total_stakes`` must already exclude the liquidated troves' stakes.
    """
    if debt == 0:
        return totals
    if totals.total_stakes == 0:
        raise LiquityError("redistribution with zero total stakes (division by zero)")
    eth_num = coll * DECIMAL_PRECISION + totals.last_eth_error
    debt_num = debt * DECIMAL_PRECISION + totals.last_lusd_debt_error
    eth_per = eth_num // totals.total_stakes
    debt_per = debt_num // totals.total_stakes
    return replace(
        totals,
        l_eth=totals.l_eth + eth_per,
        l_lusd_debt=totals.l_lusd_debt + debt_per,
        last_eth_error=eth_num - eth_per * totals.total_stakes,
        last_lusd_debt_error=debt_num - debt_per * totals.total_stakes,
    )


# --- per-trove liquidation values ---------------------------------------------------------------------


def offset_and_redistribution_vals(debt: Wei, coll: Wei, lusd_in_sp: Wei) -> LiquidationValues:
    """``_liquidateNormalMode`` values: gas compensation, then
    ``_getOffsetAndRedistributionVals`` on ``coll − coll/200``: offset ``min(debt, SP)`` with
    ``⌊collToLiquidate·offset/debt⌋`` to the SP, the rest redistributed."""
    gas = coll_gas_compensation(coll)
    coll_liq = coll - gas
    if lusd_in_sp > 0:
        offset = min(debt, lusd_in_sp)
        to_sp = coll_liq * offset // debt
    else:
        offset = to_sp = 0
    return LiquidationValues(
        entire_trove_debt=debt, entire_trove_coll=coll, coll_gas_compensation=gas,
        lusd_gas_compensation=LUSD_GAS_COMPENSATION, debt_to_offset=offset, coll_to_send_to_sp=to_sp,
        debt_to_redistribute=debt - offset, coll_to_redistribute=coll_liq - to_sp,
    )  # fmt: skip


def redistribute_all_vals(debt: Wei, coll: Wei) -> LiquidationValues:
    """Recovery Mode, ICR ≤ 100 %: everything but the gas compensation is redistributed."""
    gas = coll_gas_compensation(coll)
    return LiquidationValues(
        entire_trove_debt=debt, entire_trove_coll=coll, coll_gas_compensation=gas,
        lusd_gas_compensation=LUSD_GAS_COMPENSATION, debt_to_redistribute=debt, coll_to_redistribute=coll - gas,
    )  # fmt: skip


def capped_offset_vals(debt: Wei, coll: Wei, price: Wad) -> LiquidationValues:
    """``_getCappedOffsetVals`` (Recovery Mode, MCR ≤ ICR < TCR, SP covers the debt):
    ``c = ⌊debt·MCR/price⌋`` is seized, the SP gets ``c − c/200``, ``coll − c`` is surplus."""
    capped = debt * MCR // price
    gas = coll_gas_compensation(capped)
    return LiquidationValues(
        entire_trove_debt=debt, entire_trove_coll=coll, coll_gas_compensation=gas,
        lusd_gas_compensation=LUSD_GAS_COMPENSATION, debt_to_offset=debt, coll_to_send_to_sp=capped - gas,
        coll_surplus=coll - capped,
    )  # fmt: skip


# --- applying liquidations --------------------------------------------------------------------------------


def apply_liquidation_totals(totals: SystemTotals, removed_stakes: Wei, v: LiquidationValues) -> SystemTotals:
    """The bookkeeping after a (batch) liquidation: ``_removeStake`` for the closed troves,
    one ``_redistributeDebtAndColl`` of the summed amounts, the SP offset and surplus leaving the
    system, and ``_updateSystemSnapshots_excludeCollRemainder`` (gas compensation excluded)."""
    t = replace(totals, total_stakes=totals.total_stakes - removed_stakes)
    t = redistribute(t, v.debt_to_redistribute, v.coll_to_redistribute)
    coll = t.entire_system_coll - v.coll_to_send_to_sp - v.coll_gas_compensation - v.coll_surplus
    return replace(
        t,
        entire_system_coll=coll,
        entire_system_debt=t.entire_system_debt - v.debt_to_offset,
        total_stakes_snapshot=t.total_stakes,
        total_collateral_snapshot=coll,
    )


@dataclass(frozen=True)
class LiquidationResult:
    """What one ``liquidate``/``liquidateTroves`` call did: per-trove values (in the order they
    were liquidated, keyed by the caller's ids), their sum, the LUSD left in the SP and the new
    system totals (``L_ETH``/``L_LUSDDebt`` and errors included)."""

    liquidated: dict[object, LiquidationValues]
    totals: LiquidationValues
    sp_remaining: Wei
    system: SystemTotals
    recovery_mode_at_start: bool = False
    skipped: list[object] = field(default_factory=list)


def liquidate_normal(trove: Trove, sp_deposits: Wei, totals: SystemTotals) -> LiquidationResult:
    """``TroveManager.liquidate`` of one trove in Normal Mode (``_liquidateNormalMode``).

    Offsets against ``sp_deposits`` LUSD, redistributes the rest, and returns the new
    ``L_ETH``/``L_LUSDDebt`` with the error carried. The caller checks ICR < MCR and Normal Mode
    (``liquidate_troves_sequence`` does both); here the amounts are computed unconditionally.
    """
    debt, coll = entire_debt_and_coll(trove, totals)
    v = offset_and_redistribution_vals(debt, coll, sp_deposits)
    new = apply_liquidation_totals(totals, trove.stake, v)
    return LiquidationResult({0: v}, v, sp_deposits - v.debt_to_offset, new)


def liquidate_troves_sequence(
    troves: Sequence[tuple[object, Trove]],
    price: Wad,
    sp_deposits: Wei,
    totals: SystemTotals,
    n: int | None = None,
    *,
    batch: bool = False,
    total_troves: int | None = None,
) -> LiquidationResult:
    """``TroveManager.liquidateTroves(n)``: walk up from the lowest ICR.

    ``troves`` is every active trove as ``(id, Trove)``, sorted by current ICR ascending (the
    SortedTroves order read from the tail). Normal Mode at the start: liquidate while ICR < MCR.
    Recovery Mode at the start: TCR is recomputed after each trove from the running system
    coll/debt; ICR ≤ 100 % redistributes everything, 100 % < ICR < MCR offsets as in Normal
    Mode, MCR ≤ ICR < TCR with the whole debt covered by the SP is capped at 110 % with the rest
    to CollSurplusPool, any other trove is skipped; the walk breaks at ICR ≥ MCR with an empty
    SP, and never reaches the highest-ICR trove. Once TCR ≥ CCR it continues in Normal Mode.

    ``batch=True`` is ``batchLiquidateTroves(array)`` (which mainnet ``liquidate`` calls with one
    trove): any order, every listed trove is visited, non-liquidatable ones are skipped
    instead of ending the walk.
    """
    icrs = [current_icr(t, totals, price) for _, t in troves]
    if not batch and any(a > b for a, b in zip(icrs, icrs[1:], strict=False)):
        raise LiquityError("troves must be sorted by current ICR, lowest first")
    n = len(troves) if n is None else n
    sys_coll, sys_debt = totals.entire_system_coll, totals.entire_system_debt
    rm_start = check_recovery_mode(sys_coll, sys_debt, price)
    sp = sp_deposits
    done: dict[object, LiquidationValues] = {}
    skipped: list[object] = []
    acc = LiquidationValues()
    stakes = 0
    remaining = len(troves) if total_troves is None else total_troves
    back_to_normal = not rm_start
    for i, ((tid, trove), icr) in enumerate(zip(troves, icrs, strict=True)):
        if i >= n:
            break
        if rm_start and not batch and i == len(troves) - 1:
            break  # the Recovery Mode walk stops at the first (highest-ICR) trove
        if remaining <= 1:
            break  # the contract would revert closing the only trove left
        debt, coll = entire_debt_and_coll(trove, totals)
        if not back_to_normal:
            if icr >= MCR and sp == 0:
                if batch:
                    skipped.append(tid)
                    continue
                break
            cur_tcr = compute_cr(sys_coll, sys_debt, price)
            if icr <= ONE_HUNDRED_PCT:
                v = redistribute_all_vals(debt, coll)
            elif icr < MCR:
                v = offset_and_redistribution_vals(debt, coll, sp)
            elif icr < cur_tcr and debt <= sp:
                v = capped_offset_vals(debt, coll, price)
            else:
                skipped.append(tid)
                continue
            sys_debt -= v.debt_to_offset
            sys_coll -= v.coll_to_send_to_sp + v.coll_gas_compensation + v.coll_surplus
            back_to_normal = not check_recovery_mode(sys_coll, sys_debt, price)
        elif icr < MCR:
            v = offset_and_redistribution_vals(debt, coll, sp)
        elif batch:
            skipped.append(tid)
            continue
        else:
            break
        sp -= v.debt_to_offset
        done[tid] = v
        acc = acc + v
        stakes += trove.stake
        remaining -= 1
    new = apply_liquidation_totals(totals, stakes, acc) if done else totals
    return LiquidationResult(done, acc, sp, new, rm_start, skipped)


def sync_trove(trove: Trove, totals: SystemTotals) -> Trove:
    """``_applyPendingRewards`` + ``_updateStakeAndTotalStakes`` bookkeeping for one trove:
    fold pending rewards into the recorded coll/debt and move its snapshots to the current ``L``.
    The stake is kept (a separate ``compute_new_stake`` call re-stakes it)."""
    debt, coll = entire_debt_and_coll(trove, totals)
    return Trove(coll, debt, trove.stake, totals.l_eth, totals.l_lusd_debt)
