"""Euler v2 (EVK) liquidation, integer-exact, following ``LiquidationModule`` at
euler-xyz/euler-vault-kit@5b98b420.

Units: ``liability``, ``repay`` and the collateral ``balance``/``yield`` are integers in the
token's smallest unit (vault shares for the collateral, assets for the debt); every ``*_value``
is an integer amount of the vault's unit of account as ``oracle.getQuote`` returns it; the
discount factor is WAD (1e18 = 1.0); LTVs and ``max_discount_bps`` use ``CONFIG_SCALE`` = 1e4.

The rule (``calculateMaxLiquidation`` / ``calculateLiquidation`` / ``executeLiquidation``):

* not liquidatable when the LTV-adjusted collateral value exceeds the liability value, or the
  liability value is 0;
* ``discountFactor = ⌊collateralAdjustedValue·1e18/liabilityValue⌋`` (the health score), floored
  at ``1e18 − ⌊1e18·maxLiquidationDiscount/1e4⌋``;
* worthless collateral (value 0) is handed over with no repay;
* ``maxYieldValue = ⌊liabilityValue·1e18/df⌋``; if the collateral is worth less,
  ``maxRepayValue = ⌊collateralValue·df/1e18⌋`` and the yield is all of it;
* ``repay = ⌊maxRepayValue·liability/liabilityValue⌋``,
  ``yield = ⌊maxYieldValue·balance/collateralValue⌋``;
* a smaller requested repay gets ``⌊desired·yield/maxRepay⌋`` (pro rata, rounded down, for the
  protocol); a larger one reverts;
* when no collateral remains afterwards, the liability value is at least
  ``MIN_SOCIALIZATION_LIABILITY_VALUE`` and ``CFG_DONT_SOCIALIZE_DEBT`` is not set, the debt left
  is socialized (written off against the vault's depositors).

Liquidations use mid-point prices; the account status check (bid/ask) is not modelled here, nor
the cool-off period, the LTV ramp, or controller/collateral enablement checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from liqcascade._typing import Bps, Wad, Wei
from liqcascade.errors import LiqcascadeError

WAD: Wad = 10**18
CONFIG_SCALE: Bps = 10**4
MIN_SOCIALIZATION_LIABILITY_VALUE = 10**6  # Liquidation.sol constant
INTERNAL_DEBT_PRECISION_SHIFT = 31  # Constants.sol: ``Owed`` carries 31 extra bits
UINT256_MAX = 2**256 - 1


class EulerRevert(LiqcascadeError):
    """``Liquidation.liquidate`` would revert; the subclass name follows EVK's ``Errors``."""


class ExcessiveRepayAmount(EulerRevert):
    """``E_ExcessiveRepayAmount``: the requested repay exceeds ``maxRepay``."""


class MinYield(EulerRevert):
    """``E_MinYield``: the yield is below the liquidator's ``minYieldBalance``."""


class BadMaxLiquidationDiscount(EulerRevert):
    """``E_BadMaxLiquidationDiscount``: governance cannot set a 100 % discount."""


def owed_to_assets_up(owed: int) -> Wei:
    """``OwedLib.toAssetsUp``: drop the 31 internal precision bits, rounding up."""
    return (owed + (1 << INTERNAL_DEBT_PRECISION_SHIFT) - 1) >> INTERNAL_DEBT_PRECISION_SHIFT


def quote(amount: int, price: Wad) -> int:
    """Unit-of-account value of ``amount`` at a WAD price, rounded down (``getQuote`` of an
    18-decimals oracle such as EVK's ``MockPriceOracle``)."""
    return amount * price // WAD


def is_liquidatable(collateral_adjusted_value: int, liability_value: int) -> bool:
    """Violation iff ``collateralAdjustedValue ≤ liabilityValue`` and ``liabilityValue > 0``."""
    return liability_value > 0 and collateral_adjusted_value <= liability_value


def min_discount_factor(max_discount_bps: Bps) -> Wad:
    """``1e18 − ⌊1e18·maxLiquidationDiscount/1e4⌋``, the floor of the discount factor."""
    if not 0 <= max_discount_bps < CONFIG_SCALE:
        raise BadMaxLiquidationDiscount(f"maxLiquidationDiscount must be in [0, 1e4), got {max_discount_bps}")
    return WAD - WAD * max_discount_bps // CONFIG_SCALE


def discount_factor(collateral_adjusted_value: int, liability_value: int, max_discount_bps: Bps) -> Wad:
    """Health score ``⌊collAdj·1e18/liability⌋`` floored at :func:`min_discount_factor` (WAD).

    The liquidator's discount is ``1e18 − df``; only meaningful when the account is liquidatable.
    """
    df = collateral_adjusted_value * WAD // liability_value
    return max(df, min_discount_factor(max_discount_bps))


@dataclass(frozen=True)
class EulerLiquidation:
    """One liquidation against one collateral.

    ``max_repay``/``max_yield`` are what ``checkLiquidation`` returns; ``repay``/``yield_balance``
    what ``liquidate`` moves (after the pro-rata cut); ``socialized`` is the debt written off;
    ``debt_after``/``collateral_after`` are the violator's balances afterwards.
    """

    liquidatable: bool
    discount_factor: Wad
    max_repay: Wei
    max_yield: Wei
    repay: Wei
    yield_balance: Wei
    socialized: Wei
    debt_after: Wei
    collateral_after: Wei


def liquidation_values(
    collateral_balance: Wei,
    collateral_price: Wad,
    liability: Wei,
    liability_price: Wad,
    liquidation_ltv_bps: Bps,
    other_collateral_adjusted_value: int = 0,
) -> tuple[int, int, int]:
    """``(collateralAdjustedValue, liabilityValue, collateralValue)`` at WAD mid prices.

    The adjusted value sums ``⌊value·LTV/1e4⌋`` over collaterals (``LiquidityUtils``); the
    others enter through ``other_collateral_adjusted_value``.
    """
    value = quote(collateral_balance, collateral_price)
    adjusted = value * liquidation_ltv_bps // CONFIG_SCALE + other_collateral_adjusted_value
    return adjusted, quote(liability, liability_price), value


def liquidate(
    *,
    liability: Wei,
    liability_value: int,
    collateral_adjusted_value: int,
    collateral_balance: Wei,
    collateral_value: int,
    max_discount_bps: Bps = 2000,
    desired_repay: Wei = UINT256_MAX,
    min_yield: Wei = 0,
    other_collateral: bool = False,
    dont_socialize: bool = False,
) -> EulerLiquidation:
    """``Liquidation.liquidate(violator, collateral, desired_repay, min_yield)``.

    ``desired_repay = 2**256 − 1`` takes the maximum. ``other_collateral`` says whether the
    violator still holds another enabled collateral afterwards (which blocks socialization).
    Raises :class:`ExcessiveRepayAmount` or :class:`MinYield` where the vault reverts.
    """
    df = 0
    max_repay = max_yield = 0
    liquidatable = liability > 0 and is_liquidatable(collateral_adjusted_value, liability_value)
    if liquidatable:
        df = discount_factor(collateral_adjusted_value, liability_value, max_discount_bps)
        if collateral_value == 0:
            max_yield = collateral_balance  # worthless collateral is claimed for free
        else:
            repay_value = liability_value
            yield_value = repay_value * WAD // df
            if collateral_value < yield_value:
                repay_value = collateral_value * df // WAD
                yield_value = collateral_value
            max_repay = repay_value * liability // liability_value
            max_yield = yield_value * collateral_balance // collateral_value

    repay, yld = max_repay, max_yield
    if desired_repay != UINT256_MAX:
        if desired_repay > max_repay:
            raise ExcessiveRepayAmount(f"desired repay {desired_repay} exceeds max repay {max_repay}")
        if max_repay > 0:
            yld = desired_repay * max_yield // max_repay
            repay = desired_repay
    if min_yield > yld:
        raise MinYield(f"yield {yld} below minimum {min_yield}")

    debt = liability - repay
    collateral_after = collateral_balance - yld
    socialized = 0
    # A healthy account holds collateral, so the contract never reaches socialization for it;
    # requiring ``liquidatable`` keeps inconsistent inputs from writing debt off.
    if (
        liquidatable
        and liability_value >= MIN_SOCIALIZATION_LIABILITY_VALUE
        and not dont_socialize
        and debt > 0
        and collateral_after == 0
        and not other_collateral
    ):
        socialized, debt = debt, 0
    return EulerLiquidation(
        liquidatable, df, max_repay, max_yield, repay, yld, socialized, debt, collateral_after
    )
