"""Aave v2 liquidation, integer-exact: the conformance form of the rule set ``"2"``.

Read from aave/protocol-v2 at ce53c4a8 (the contracts of the Ethereum market are unchanged
there since its deployment in December 2020; later commits to these files are lint only):

- ``GenericLogic.calculateUserAccountData`` and ``calculateHealthFactorFromBalances``
  -> :func:`user_account_data`
- ``ValidationLogic.validateLiquidationCall`` -> the checks at the top of :func:`liquidation_call`
- ``LendingPoolCollateralManager.liquidationCall`` and
  ``_calculateAvailableCollateralToLiquidate`` -> :func:`liquidation_call`
- ``PercentageMath`` and ``WadRayMath``: half-up, the same as Aave v3.0's (``wadray.py``).

How v2 differs from v3.0 (``exact.py``), besides what ``versions.py`` lists:

- The oracle quotes every asset in ETH (wei per whole token, 18 decimals), not USD with 8.
  Nothing in the rule depends on the base unit, so prices here are just that integer.
- Debt is stable plus variable. Both count for the health factor and the close factor
  (half of their sum); the variable debt is repaid first, the rest comes off the stable
  debt. A stable balance is taken as already compounded to the block of the call
  (``StableDebtToken.balanceOf``); its burn is not modelled beyond the subtraction.
- The seize amount applies the bonus before dividing by the collateral price:
  ``debtPrice * debtToCover * 10**collDecimals`` is ``percentMul``'d by the bonus and only then
  divided by ``collPrice * 10**debtDecimals`` (v3.0 divides first, then ``percentMul``'s).
- When the collateral is short, ``debtAmountNeeded`` is the collateral's value in debt units,
  rounded down, then ``percentDiv``'d by the bonus; the debt repaid is cut to it.
- No protocol fee, no e-mode, no dust rule, no bad-debt burn; a collateral whose LT is 0
  is neither counted nor seizable.
- Taking the underlying (``receive_a_token = False``) needs enough liquidity in the
  collateral's aToken (``LPCM_NOT_ENOUGH_LIQUIDITY_TO_LIQUIDATE``), checked when the caller
  gives ``available_liquidity``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from liqcascade.protocols.aave_v3 import wadray as wr
from liqcascade.protocols.aave_v3.exact import (
    AaveRevert,
    CollateralCannotBeLiquidated,
    HealthFactorNotBelowThreshold,
    InvalidBurnAmount,
    SpecifiedCurrencyNotBorrowedByUser,
)

UINT256_MAX = wr.UINT256_MAX
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 10**18
LIQUIDATION_CLOSE_FACTOR_PERCENT = 5000  # LendingPoolCollateralManager, bps


class NoActiveReserve(AaveRevert):
    """``VL_NO_ACTIVE_RESERVE``: the collateral or the debt reserve is not active."""


class NotEnoughLiquidity(AaveRevert):
    """``LPCM_NOT_ENOUGH_LIQUIDITY_TO_LIQUIDATE``: the collateral's aToken holds less underlying
    than the liquidator would take."""


@dataclass(frozen=True)
class ReserveV2:
    """One reserve at the call (indexes accrued). ``price`` is ``getAssetPrice`` (ETH wei per whole
    token); ``lt_bps`` and ``lb_bps`` are ``getParams`` (the bonus as 1e4 + bonus, e.g. 10500)."""

    decimals: int
    price: int
    liquidity_index: int = wr.RAY
    variable_borrow_index: int = wr.RAY
    lt_bps: int = 0
    lb_bps: int = 0
    active: bool = True

    @property
    def unit(self) -> int:
        return 10**self.decimals


@dataclass(frozen=True)
class UserReserveV2:
    """The borrower in one reserve: scaled aToken and variable-debt balances, the stable debt
    balance (compounded to the call) and the ``UserConfiguration`` collateral bit."""

    scaled_collateral: int = 0
    scaled_variable_debt: int = 0
    stable_debt: int = 0
    collateral_enabled: bool = True


@dataclass(frozen=True)
class AccountDataV2:
    """``calculateUserAccountData``: totals in ETH wei, the weighted LT (bps) and the HF (wad)."""

    total_collateral_eth: int
    total_debt_eth: int
    avg_liquidation_threshold: int
    health_factor: int


@dataclass(frozen=True)
class LiquidationOutcomeV2:
    """What one ``liquidationCall`` did: ``debt_repaid`` (``actualDebtToLiquidate``),
    ``collateral_seized`` (``maxCollateralToLiquidate``, what the ``LiquidationCall`` event reports),
    the variable and stable parts of the repayment, and the borrower after the call."""

    health_factor_before: int
    debt_repaid: int
    collateral_seized: int
    variable_debt_repaid: int
    stable_debt_repaid: int
    user_after: dict[str, UserReserveV2] = field(default_factory=dict)


def a_token_balance(scaled: int, liquidity_index: int) -> int:
    """``AToken.balanceOf``: the scaled balance ``rayMul`` the normalized income."""
    return wr.ray_mul(scaled, liquidity_index)


def variable_debt_balance(scaled: int, index: int) -> int:
    """``VariableDebtToken.balanceOf``: the scaled balance ``rayMul`` the normalized debt."""
    return wr.ray_mul(scaled, index)


def user_account_data(reserves: Mapping[str, ReserveV2], user: Mapping[str, UserReserveV2]) -> AccountDataV2:
    """``GenericLogic.calculateUserAccountData``.

    A collateral counts when its reserve LT is not 0 and its bit is set; its ETH value is
    ``price * balance / 10**decimals`` rounded down, and so is each debt's (stable plus
    variable, summed before pricing). ``avgLT = floor(sum(value_i * LT_i) / sum(value_i))``;
    ``HF = wadDiv(percentMul(totalCollateral, avgLT), totalDebt)``, ``2**256 - 1`` without debt.
    """
    total_c = total_d = weighted = 0
    for asset, pos in user.items():
        r = reserves[asset]
        if r.lt_bps != 0 and pos.collateral_enabled and pos.scaled_collateral:
            c = r.price * a_token_balance(pos.scaled_collateral, r.liquidity_index) // r.unit
            total_c += c
            weighted += c * r.lt_bps
        debt = pos.stable_debt + variable_debt_balance(pos.scaled_variable_debt, r.variable_borrow_index)
        if debt:
            total_d += r.price * debt // r.unit
    avg_lt = weighted // total_c if total_c else 0
    hf = UINT256_MAX if total_d == 0 else wr.wad_div(wr.percent_mul(total_c, avg_lt), total_d)
    return AccountDataV2(total_c, total_d, avg_lt, hf)


def available_collateral(
    coll: ReserveV2, debt: ReserveV2, debt_to_cover: int, user_collateral_balance: int
) -> tuple[int, int]:
    """``_calculateAvailableCollateralToLiquidate``: ``(collateral amount, debt amount needed)``."""
    max_coll = wr.percent_mul(debt.price * debt_to_cover * coll.unit, coll.lb_bps) // (coll.price * debt.unit)
    if max_coll > user_collateral_balance:
        value = coll.price * user_collateral_balance * debt.unit // (debt.price * coll.unit)
        return user_collateral_balance, wr.percent_div(value, coll.lb_bps)
    return max_coll, debt_to_cover


def liquidation_call(
    reserves: Mapping[str, ReserveV2],
    user: Mapping[str, UserReserveV2],
    collateral_asset: str,
    debt_asset: str,
    debt_to_cover: int,
    *,
    receive_a_token: bool = False,
    available_liquidity: int | None = None,
) -> LiquidationOutcomeV2:
    """``LendingPoolCollateralManager.liquidationCall`` on one borrower, in wei.

    ``debt_to_cover = 2**256 - 1`` asks for the maximum (half the debt in ``debt_asset``).
    ``available_liquidity`` is the collateral aToken's underlying balance (unchecked when None).
    Raises an :class:`AaveRevert` subclass where v2 returns an error code (the ``LendingPool``
    reverts with it).
    """
    cr, dr = reserves[collateral_asset], reserves[debt_asset]
    cpos = user.get(collateral_asset, UserReserveV2(collateral_enabled=False))
    dpos = user.get(debt_asset, UserReserveV2(collateral_enabled=False))
    hf = user_account_data(reserves, user).health_factor
    variable = variable_debt_balance(dpos.scaled_variable_debt, dr.variable_borrow_index)
    stable = dpos.stable_debt

    # ValidationLogic.validateLiquidationCall, in its order
    if not (cr.active and dr.active):
        raise NoActiveReserve(f"{collateral_asset} or {debt_asset} is not active")
    if hf >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        raise HealthFactorNotBelowThreshold(f"health factor {hf} >= 1e18")
    if not (cr.lt_bps > 0 and cpos.collateral_enabled):
        raise CollateralCannotBeLiquidated(f"{collateral_asset} is not enabled as collateral")
    if stable == 0 and variable == 0:
        raise SpecifiedCurrencyNotBorrowedByUser(f"no debt in {debt_asset}")

    coll_balance = a_token_balance(cpos.scaled_collateral, cr.liquidity_index)
    max_debt = wr.percent_mul(stable + variable, LIQUIDATION_CLOSE_FACTOR_PERCENT)
    actual = min(debt_to_cover, max_debt)
    seized, needed = available_collateral(cr, dr, actual, coll_balance)
    actual = min(actual, needed)  # not enough collateral: a smaller amount is liquidated
    if not receive_a_token and available_liquidity is not None and available_liquidity < seized:
        raise NotEnoughLiquidity(f"{collateral_asset} aToken holds {available_liquidity} < {seized}")

    # variable debt first (VariableDebtToken.burn refuses a zero scaled amount), then stable
    from_variable = min(actual, variable)
    scaled_var_burn = 0
    if from_variable:
        scaled_var_burn = wr.ray_div(from_variable, dr.variable_borrow_index)
        if scaled_var_burn == 0:
            raise InvalidBurnAmount(f"variable debt burn of {from_variable} wei of {debt_asset} is 0 scaled")
    from_stable = actual - from_variable

    # the collateral: AToken.burn (underlying, a zero scaled amount refused) or a transfer
    scaled_coll_burn = wr.ray_div(seized, cr.liquidity_index)
    if scaled_coll_burn == 0 and not receive_a_token:
        raise InvalidBurnAmount(f"collateral burn of {seized} wei of {collateral_asset} is 0 scaled")

    after = dict(user)
    after[debt_asset] = UserReserveV2(
        dpos.scaled_collateral, dpos.scaled_variable_debt - scaled_var_burn, stable - from_stable,
        dpos.collateral_enabled,
    )  # fmt: skip
    c0 = after[collateral_asset]
    after[collateral_asset] = UserReserveV2(
        c0.scaled_collateral - scaled_coll_burn, c0.scaled_variable_debt, c0.stable_debt,
        c0.collateral_enabled and seized != coll_balance,  # all of it taken: the bit is cleared
    )  # fmt: skip
    return LiquidationOutcomeV2(hf, actual, seized, from_variable, from_stable, after)


__all__ = [
    "AccountDataV2",
    "LiquidationOutcomeV2",
    "NoActiveReserve",
    "NotEnoughLiquidity",
    "ReserveV2",
    "UserReserveV2",
    "a_token_balance",
    "available_collateral",
    "liquidation_call",
    "user_account_data",
    "variable_debt_balance",
]
