"""Aave v3 liquidation, integer-exact, for the five rule versions (V3_0, V3_3, V3_5, V3_6, V3_7).

This is the conformance form of the rule: scalar, in wei and in the oracle's base unit
(USD with 8 decimals), rounding exactly where the Solidity rounds. ``fast.py`` is the
float64 form the engines run; ``tests/test_aave_fast_vs_exact.py`` ties the two.

Where the rule lives (aave-dao/aave-v3-origin; tags v3.3.0 5431379f, v3.5.0 6138e1fd,
v3.6.0 5a230ec8, v3.7.0 = fd1fbd91; v3.0 from aave/aave-v3-core@782f5191):

- ``GenericLogic.calculateUserAccountData`` -> :func:`user_account_data`
- ``LiquidationLogic.executeLiquidationCall`` and ``_calculateAvailableCollateralToLiquidate``,
  ``_burnDebtTokens``, ``_burnBadDebt`` -> :func:`liquidation_call`
- ``helpers/TokenMath.sol`` (v3.5+) / ``ScaledBalanceTokenBase`` (before) -> balance and
  scaled-amount helpers below.

What is modelled: variable debt only (stable debt, removed in v3.2, is not); indexes are
given already accrued to the block of the call (``updateState`` has run); the liquidator
takes the underlying (``receiveAToken = false``) unless ``receive_a_token`` is set, which only
matters for the ``InvalidBurnAmount`` check on the collateral burn. Not modelled: reserve
active/paused/frozen flags, grace periods and the L2 sentinel, isolation-mode debt
accounting, the liquidator's own collateral flags, interest-rate updates.

Rules by version (shared reference §1, checked against the Solidity at the tags; the
shared reference groups 3.5 with 3.6, but v3.6 changed which collateral counts):

===============================  ==========  ==========  ================  ================
step                              V3_0        V3_3        V3_5, V3_6        V3_7
===============================  ==========  ==========  ================  ================
aToken balance (scaled*index)     rayMul hu   rayMul hu   rayMulFloor       rayMulFloor
debt balance                      rayMul hu   rayMul hu   rayMulCeil        rayMulCeil
debt base value                   floor       floor       ceil              ceil
health factor                     pm/wadDiv   pm/wadDiv   wadDiv(sum)/1e4   wadDiv(sum)/1e4
collateral needs reserve LT > 0   yes         yes         3.5 yes, 3.6 no   no
close factor                      50/100 %    position    position          position
maxCollateral = base*LB           pm hu       pm hu       pm hu             pmFloor
debtNeeded (all collateral)       pd hu       pd hu       pdCeil            pdCeil
bonus = coll - coll/LB            pd hu       pd hu       pd hu             pdFloor
fee = bonus*LPF                   pm hu       pm hu       pm hu             pmCeil
scaled burn of collateral         rayDiv hu   rayDiv hu   rayDivCeil        rayDivCeil
scaled burn of debt               rayDiv hu   rayDiv hu   rayDivFloor       rayDivFloor
dust rule / bad-debt burn         no          yes         yes               yes, scaled check
===============================  ==========  ==========  ================  ================

(The shared reference says ``debtNeeded`` rounds half up before v3.7; v3.5.0 and v3.6.0
already use ``percentDivCeil`` there, and so does V3_5 here.) "Collateral needs reserve
LT > 0": up to v3.5 a reserve whose own LT is 0 is neither counted by
``calculateUserAccountData`` nor seizable (``CollateralCannotBeLiquidated``), even when the
borrower's e-mode gives it an LT; from v3.6 (tag v3.6.0, e-mode decoupling) the collateral bit
alone decides, and an e-mode member counts at the e-mode LT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from liqcascade.errors import LiqcascadeError
from liqcascade.protocols.aave_v3 import wadray as wr
from liqcascade.protocols.aave_v3.versions import NAMES, V2, V3_0, V3_3, V3_5, V3_6, V3_7

UINT256_MAX = wr.UINT256_MAX
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 10**18
CLOSE_FACTOR_HF_THRESHOLD = 95 * 10**16  # 0.95e18
DEFAULT_LIQUIDATION_CLOSE_FACTOR = 5000  # bps
MAX_LIQUIDATION_CLOSE_FACTOR = 10000  # bps (v3.0 name)
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2000 * 10**8  # base units, v3.3+
MIN_LEFTOVER_BASE = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD // 2  # 1000e8, v3.3+


# --- reverts -------------------------------------------------------------------------------


class AaveRevert(LiqcascadeError):
    """The Pool would revert this call; the subclass name is Aave's error name."""


class MustNotLeaveDust(AaveRevert):
    """v3.3+: a partial liquidation would leave debt or collateral worth under ``MIN_LEFTOVER_BASE``."""


class HealthFactorNotBelowThreshold(AaveRevert):
    """The borrower's health factor is not below 1e18."""


class CollateralCannotBeLiquidated(AaveRevert):
    """The collateral asset is not enabled as collateral for the borrower (or has LT 0)."""


class SpecifiedCurrencyNotBorrowedByUser(AaveRevert):
    """The borrower owes nothing in the debt asset."""


class InvalidBurnAmount(AaveRevert):
    """A token burn of zero scaled units (``ScaledBalanceTokenBase._burnScaled``)."""


class ArithmeticUnderflow(AaveRevert):
    """A scaled burn larger than the scaled balance (Solidity checked-arithmetic panic)."""


# --- state and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReserveState:
    """One reserve as the Pool sees it at the call (indexes already accrued).

    ``price_1e8`` is what ``AaveOracle.getAssetPrice`` returns (base currency, 8 decimals);
    ``lt_bps``/``lb_bps``/``lpf_bps`` are ``getLiquidationThreshold``/``getLiquidationBonus``
    (1e4 + bonus, e.g. 10500)/``getLiquidationProtocolFee``.
    """

    decimals: int
    price_1e8: int
    liquidity_index: int = wr.RAY
    borrow_index: int = wr.RAY
    lt_bps: int = 0
    lb_bps: int = 10000
    lpf_bps: int = 0

    @property
    def unit(self) -> int:
        return 10**self.decimals


@dataclass(frozen=True)
class UserReserve:
    """The borrower's ``scaledBalanceOf`` on the aToken and the variable debt token, and the
    ``UserConfiguration`` collateral bit for this reserve."""

    scaled_collateral: int = 0
    scaled_debt: int = 0
    collateral_enabled: bool = True


@dataclass(frozen=True)
class EModeCategory:
    """The borrower's e-mode category (``DataTypes.EModeCategory``).

    ``assets`` are the reserves in its ``collateralBitmap`` (v3.2+) or, for v3.0-3.1, the
    reserves whose single e-mode category is this one. ``price_1e8`` is the price of the
    category's ``priceSource`` (v3.0-3.1 only; ``None`` when unset); from v3.2 e-modes have no
    price source and it is ignored.
    """

    lt_bps: int
    lb_bps: int
    assets: frozenset[str] = frozenset()
    price_1e8: int | None = None


@dataclass(frozen=True)
class AccountData:
    """``calculateUserAccountData`` results that liquidation reads (base currency, 1e8)."""

    total_collateral_base: int
    total_debt_base: int
    avg_liquidation_threshold: int
    health_factor: int


@dataclass(frozen=True)
class LiquidationOutcome:
    """What one ``liquidationCall`` did.

    ``debt_repaid`` is ``actualDebtToLiquidate`` (what the liquidator pays);
    ``collateral_to_liquidator`` is ``actualCollateralToLiquidate`` (what the event reports);
    ``protocol_fee`` is the aToken amount the treasury received, after the 1-wei cap against the
    borrower's remaining scaled balance (``fee_computed`` is the amount before that cap).
    ``deficit`` maps each reserve to the debt moved into ``reserve.deficit``;
    ``debt_burned`` to the underlying amount of debt whose tokens were burned (repaid + deficit).
    ``user_after`` is the borrower's position after the call.
    """

    version: int
    health_factor_before: int
    total_collateral_base: int
    total_debt_base: int
    debt_repaid: int
    collateral_to_liquidator: int
    protocol_fee: int
    fee_computed: int
    scaled_collateral_burned: int
    scaled_fee_transferred: int
    has_no_collateral_left: bool
    deficit: dict[str, int] = field(default_factory=dict)
    debt_burned: dict[str, int] = field(default_factory=dict)
    scaled_debt_burned: dict[str, int] = field(default_factory=dict)
    user_after: dict[str, UserReserve] = field(default_factory=dict)

    @property
    def collateral_seized(self) -> int:
        """Collateral leaving the borrower in underlying terms: liquidator share plus fee."""
        return self.collateral_to_liquidator + self.protocol_fee


# --- balances (TokenMath / ScaledBalanceTokenBase) -----------------------------------------------


def _check_version(version: int) -> None:
    if version == V2:
        raise ValueError("Aave v2's integer rules are in liqcascade.protocols.aave_v3.exact_v2 (ETH oracle, stable debt)")
    if version not in NAMES:
        raise ValueError(f"unknown Aave v3 version code {version!r}; expected one of {sorted(NAMES)}")


def a_token_balance(version: int, scaled: int, liquidity_index: int) -> int:
    """aToken ``balanceOf``: ``rayMul`` before v3.5, ``TokenMath.getATokenBalance`` (floor) after."""
    if version >= V3_5:
        return wr.ray_mul_floor(scaled, liquidity_index)
    return wr.ray_mul(scaled, liquidity_index)


def v_token_balance(version: int, scaled: int, borrow_index: int) -> int:
    """Variable debt ``balanceOf``: ``rayMul`` before v3.5, ``getVTokenBalance`` (ceil) after."""
    if version >= V3_5:
        return wr.ray_mul_ceil(scaled, borrow_index)
    return wr.ray_mul(scaled, borrow_index)


def _a_token_burn_scaled(version: int, amount: int, index: int) -> int:
    # getATokenBurnScaledAmount / getATokenTransferScaledAmount are both rayDivCeil from v3.5;
    # before, _burnScaled and _transfer both used rayDiv (half up).
    return wr.ray_div_ceil(amount, index) if version >= V3_5 else wr.ray_div(amount, index)


def _v_token_burn_scaled(version: int, amount: int, index: int) -> int:
    return wr.ray_div_floor(amount, index) if version >= V3_5 else wr.ray_div(amount, index)


def _collateral_base(balance: int, r: ReserveState, price: int) -> int:
    return balance * price // r.unit


def _debt_base(version: int, balance: int, r: ReserveState, price: int) -> int:
    if version >= V3_5:
        return wr.mul_div_ceil(balance, price, r.unit)
    return balance * price // r.unit


def _counts_as_collateral(version: int, r: ReserveState) -> bool:
    """Whether an enabled collateral reserve counts (and can be seized): before v3.6 only
    when the reserve's own LT is non-zero, from v3.6 always (see the module table)."""
    return version >= V3_6 or r.lt_bps != 0


def _in_emode(emode: EModeCategory | None, asset: str) -> bool:
    return emode is not None and asset in emode.assets


def _price(version: int, reserves: Mapping[str, ReserveState], asset: str, emode: EModeCategory | None) -> int:
    # v3.0-3.1: an e-mode price source replaces the oracle price of the category's assets.
    if version == V3_0 and emode is not None and emode.price_1e8 and asset in emode.assets:
        return emode.price_1e8
    return reserves[asset].price_1e8


def user_account_data(
    version: int,
    reserves: Mapping[str, ReserveState],
    user: Mapping[str, UserReserve],
    emode: EModeCategory | None = None,
) -> AccountData:
    """``GenericLogic.calculateUserAccountData``: totals in base currency and the health factor.

    Collateral counts when its bit is set (and, before v3.6, its reserve LT is non-zero); its
    LT is the e-mode LT when the borrower's category holds the asset. HF is ``2**256 - 1``
    without debt. Before v3.5 ``HF = wadDiv(percentMul(sumC, avgLT), sumD)`` with
    ``avgLT = floor(sum(C_i*LT_i) / sumC)``; from v3.5 ``HF = wadDiv(sum(C_i*LT_i), sumD) / 1e4``.
    """
    _check_version(version)
    total_c = total_d = weighted_lt = 0
    for asset, pos in user.items():
        r = reserves[asset]
        price = _price(version, reserves, asset, emode)
        if pos.collateral_enabled and pos.scaled_collateral and _counts_as_collateral(version, r):
            c = _collateral_base(a_token_balance(version, pos.scaled_collateral, r.liquidity_index), r, price)
            total_c += c
            weighted_lt += c * (emode.lt_bps if _in_emode(emode, asset) else r.lt_bps)  # type: ignore[union-attr]
        if pos.scaled_debt:
            total_d += _debt_base(version, v_token_balance(version, pos.scaled_debt, r.borrow_index), r, price)
    avg_lt = weighted_lt // total_c if total_c else 0
    if total_d == 0:
        hf = UINT256_MAX
    elif version >= V3_5:
        hf = wr.wad_div(weighted_lt, total_d) // wr.PERCENTAGE_FACTOR
    else:
        hf = wr.wad_div(wr.percent_mul(total_c, avg_lt), total_d)
    return AccountData(total_c, total_d, avg_lt, hf)


def health_factor(
    version: int,
    reserves: Mapping[str, ReserveState],
    user: Mapping[str, UserReserve],
    emode: EModeCategory | None = None,
) -> int:
    """The health factor (WAD) of ``user_account_data``."""
    return user_account_data(version, reserves, user, emode).health_factor


# --- liquidationCall --------------------------------------------------------------------------


def _available_collateral(
    version: int,
    coll_price: int,
    coll_unit: int,
    debt_price: int,
    debt_unit: int,
    debt_to_cover: int,
    user_coll_balance: int,
    lb: int,
    lpf: int,
) -> tuple[int, int, int, int]:
    """``_calculateAvailableCollateralToLiquidate``.

    Returns ``(collateral to liquidator, debt needed, protocol fee, seized in base)``; the last
    is ``collateralToLiquidateInBaseCurrency`` of v3.3-3.6 (seized amount incl. fee, floor).
    """
    base_coll = debt_price * debt_to_cover * coll_unit // (coll_price * debt_unit)
    max_coll = wr.percent_mul_floor(base_coll, lb) if version >= V3_7 else wr.percent_mul(base_coll, lb)
    if max_coll > user_coll_balance:
        coll = user_coll_balance
        base_debt = coll_price * coll * debt_unit // (debt_price * coll_unit)
        debt_needed = wr.percent_div_ceil(base_debt, lb) if version >= V3_5 else wr.percent_div(base_debt, lb)
    else:
        coll = max_coll
        debt_needed = debt_to_cover
    seized_base = coll * coll_price // coll_unit
    fee = 0
    if lpf != 0:
        if version >= V3_7:
            bonus = coll - wr.percent_div_floor(coll, lb)
            fee = wr.percent_mul_ceil(bonus, lpf)
        else:
            bonus = coll - wr.percent_div(coll, lb)
            fee = wr.percent_mul(bonus, lpf)
        coll -= fee
    return coll, debt_needed, fee, seized_base


@dataclass
class _Ledger:
    """The borrower's positions during one call, ``asset -> [scaled collateral, scaled debt,
    collateral enabled]``, and what the call burned (wei and scaled) and left as deficit."""

    version: int
    reserves: Mapping[str, ReserveState]
    pos: dict[str, list]
    deficit: dict[str, int] = field(default_factory=dict)
    debt_burned: dict[str, int] = field(default_factory=dict)
    scaled_debt_burned: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, version: int, reserves: Mapping[str, ReserveState], user: Mapping[str, UserReserve],
           assets: tuple[str, str]) -> "_Ledger":
        pos = {a: [u.scaled_collateral, u.scaled_debt, u.collateral_enabled] for a, u in user.items()}
        for a in assets:
            pos.setdefault(a, [0, 0, False])
        return cls(version, reserves, pos)

    def burn_debt(self, asset: str, balance: int, repaid: int, no_collateral: bool) -> None:
        """``_burnDebtTokens``: burn the repaid amount, or the whole balance when the user is
        left without collateral; the unrepaid part becomes reserve deficit."""
        if balance == 0:
            return
        p = self.pos[asset]
        amount = balance if no_collateral else repaid
        scaled = _v_token_burn_scaled(self.version, amount, self.reserves[asset].borrow_index)
        if scaled == 0:
            raise InvalidBurnAmount(f"debt burn of {amount} wei of {asset} is 0 scaled")
        if scaled > p[1]:
            raise ArithmeticUnderflow(f"debt burn {scaled} scaled > balance {p[1]} ({asset})")
        p[1] -= scaled
        self.scaled_debt_burned[asset] = self.scaled_debt_burned.get(asset, 0) + scaled
        self.debt_burned[asset] = self.debt_burned.get(asset, 0) + amount
        outstanding = balance - repaid
        if no_collateral and outstanding:
            self.deficit[asset] = self.deficit.get(asset, 0) + outstanding

    def burn_bad_debt(self) -> None:
        """``_burnBadDebt``: every other debt the user still has is burned into deficit."""
        for asset, p in self.pos.items():
            if p[1] > 0:
                bal = v_token_balance(self.version, p[1], self.reserves[asset].borrow_index)
                self.burn_debt(asset, bal, 0, True)


@dataclass(frozen=True)
class _CallPrices:
    """The bonus and prices a call uses (``LiquidationLogic._getConfigurationData``)."""

    lb_bps: int
    collateral: int
    debt: int

    @classmethod
    def of(cls, version: int, reserves: Mapping[str, ReserveState], collateral_asset: str, debt_asset: str,
           emode: EModeCategory | None) -> "_CallPrices":
        cr = reserves[collateral_asset]
        lb = emode.lb_bps if _in_emode(emode, collateral_asset) else cr.lb_bps  # type: ignore[union-attr]
        debt_price = reserves[debt_asset].price_1e8
        if version == V3_0 and emode is not None and emode.price_1e8:
            # v3.0: in e-mode the debt is priced by the category's source whenever one is set
            # (the debt is assumed to be in the category).
            debt_price = emode.price_1e8
        return cls(lb, _price(version, reserves, collateral_asset, emode), debt_price)


def _validate_call(hf: int, collateral_enabled: bool, collateral_counts: bool, debt_balance: int,
                   collateral_asset: str, debt_asset: str) -> None:
    """``ValidationLogic.validateLiquidationCall`` (the modelled checks)."""
    if hf >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        raise HealthFactorNotBelowThreshold(f"health factor {hf} >= 1e18")
    if not (collateral_enabled and collateral_counts):
        raise CollateralCannotBeLiquidated(f"{collateral_asset} is not enabled as collateral")
    if debt_balance == 0:
        raise SpecifiedCurrencyNotBorrowedByUser(f"no debt in {debt_asset}")


@dataclass(frozen=True)
class _Balances:
    """The call's inputs in wei: the borrower's collateral and debt balances, the account."""

    collateral: int
    debt: int
    account: AccountData


def _max_debt(version: int, bal: _Balances, cr: ReserveState, dr: ReserveState, prices: _CallPrices,
              threshold: int) -> int:
    """The close factor: 50 % / 100 % of the debt balance before v3.3; from v3.3 all of it,
    unless both positions are large, HF > 0.95 and the reserve's debt is over half the total."""
    if version < V3_3:
        cf = DEFAULT_LIQUIDATION_CLOSE_FACTOR if bal.account.health_factor > CLOSE_FACTOR_HF_THRESHOLD \
            else MAX_LIQUIDATION_CLOSE_FACTOR
        return wr.percent_mul(bal.debt, cf)
    debt_res_base = _debt_base(version, bal.debt, dr, prices.debt)
    coll_res_base = _collateral_base(bal.collateral, cr, prices.collateral)
    if (coll_res_base >= threshold and debt_res_base >= threshold
            and bal.account.health_factor > CLOSE_FACTOR_HF_THRESHOLD):
        half_total = wr.percent_mul(bal.account.total_debt_base, DEFAULT_LIQUIDATION_CLOSE_FACTOR)
        if debt_res_base > half_total:
            return half_total * dr.unit // prices.debt
    return bal.debt


def _check_dust(version: int, bal: _Balances, repaid: int, taken: int, dr: ReserveState, cr: ReserveState,
                prices: _CallPrices, min_leftover_base: int) -> None:
    """v3.3+: repay all debt, or take all collateral, or leave enough of both."""
    if version < V3_3 or repaid >= bal.debt or taken >= bal.collateral:
        return
    left_debt_base = _debt_base(version, bal.debt - repaid, dr, prices.debt)
    left_coll_base = (bal.collateral - taken) * prices.collateral // cr.unit
    if left_debt_base < min_leftover_base or left_coll_base < min_leftover_base:
        raise MustNotLeaveDust(
            f"leftover debt {left_debt_base} / collateral {left_coll_base} base units "
            f"below MIN_LEFTOVER_BASE {min_leftover_base}"
        )


def _collateral_left(version: int, bal: _Balances, scaled_before: int, liq_amount: int, fee: int,
                     seized_base: int, cr: ReserveState, coll_price: int) -> tuple[bool, bool]:
    """(is the borrower left without collateral (the bad-debt burn, v3.3+), is the
    collateral bit cleared)."""
    if version >= V3_7:
        consumed = wr.ray_div_ceil(liq_amount, cr.liquidity_index) + wr.ray_div_ceil(fee, cr.liquidity_index)
        consumed = min(consumed, scaled_before)
        consumed_base = wr.ray_mul_floor(consumed, cr.liquidity_index) * coll_price // cr.unit
        none_left = consumed_base == bal.account.total_collateral_base
        return none_left, consumed == scaled_before or none_left
    none_left = version >= V3_3 and bal.account.total_collateral_base == seized_base
    return none_left, liq_amount + fee == bal.collateral


def _burn_collateral(version: int, cpos: list, liq_amount: int, cr: ReserveState, asset: str,
                     receive_a_token: bool) -> int:
    """The collateral to the liquidator: burn (or transfer) its scaled equivalent."""
    scaled_burn = _a_token_burn_scaled(version, liq_amount, cr.liquidity_index)
    if scaled_burn == 0 and not receive_a_token:
        raise InvalidBurnAmount(f"collateral burn of {liq_amount} wei of {asset} is 0 scaled")
    if scaled_burn > cpos[0]:
        raise ArithmeticUnderflow(f"collateral burn {scaled_burn} scaled > balance {cpos[0]}")
    cpos[0] -= scaled_burn
    return scaled_burn


def _transfer_fee(version: int, cpos: list, fee: int, cr: ReserveState) -> tuple[int, int]:
    """The protocol fee to the treasury, capped at what is left (the 1-wei imprecision
    guard): (fee in wei, scaled amount moved)."""
    if fee == 0:
        return 0, 0
    scaled_fee = _a_token_burn_scaled(version, fee, cr.liquidity_index)
    if scaled_fee > cpos[0]:
        if version >= V3_5:
            scaled_fee = cpos[0]
            fee = wr.ray_mul_floor(scaled_fee, cr.liquidity_index)
        else:
            fee = wr.ray_mul(cpos[0], cr.liquidity_index)
            scaled_fee = wr.ray_div(fee, cr.liquidity_index)  # AToken._transfer rescales
    if scaled_fee > cpos[0]:
        raise ArithmeticUnderflow(f"fee transfer {scaled_fee} scaled > balance {cpos[0]}")
    cpos[0] -= scaled_fee
    return fee, scaled_fee


def liquidation_call(
    version: int,
    reserves: Mapping[str, ReserveState],
    user: Mapping[str, UserReserve],
    collateral_asset: str,
    debt_asset: str,
    debt_to_cover: int,
    *,
    emode: EModeCategory | None = None,
    receive_a_token: bool = False,
    min_base_max_close_factor_threshold: int = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD,
    min_leftover_base: int | None = None,
) -> LiquidationOutcome:
    """``LiquidationLogic.executeLiquidationCall`` on one borrower, in wei.

    ``debt_to_cover = 2**256 - 1`` asks for the maximum. The two thresholds default to the
    protocol constants (2000e8 and half of it); they are parameters only so that the worked
    example in ``docs/3.3/Aave-v3.3-features.md`` (1000e8 / 500e8) can be checked.

    Raises an :class:`AaveRevert` subclass wherever the Pool reverts on the modelled paths
    (``MustNotLeaveDust`` for the v3.3+ dust rule).
    """
    _check_version(version)
    if min_leftover_base is None:
        min_leftover_base = min_base_max_close_factor_threshold // 2
    cr, dr = reserves[collateral_asset], reserves[debt_asset]
    ledger = _Ledger.of(version, reserves, user, (collateral_asset, debt_asset))
    cpos, dpos = ledger.pos[collateral_asset], ledger.pos[debt_asset]
    acct = user_account_data(version, reserves, user, emode)
    scaled_coll_before = cpos[0]
    bal = _Balances(a_token_balance(version, scaled_coll_before, cr.liquidity_index),
                    v_token_balance(version, dpos[1], dr.borrow_index), acct)
    _validate_call(acct.health_factor, cpos[2], _counts_as_collateral(version, cr), bal.debt,
                   collateral_asset, debt_asset)
    prices = _CallPrices.of(version, reserves, collateral_asset, debt_asset, emode)

    actual_debt = min(debt_to_cover, _max_debt(version, bal, cr, dr, prices, min_base_max_close_factor_threshold))
    liq_amount, actual_debt, fee, seized_base = _available_collateral(
        version, prices.collateral, cr.unit, prices.debt, dr.unit, actual_debt, bal.collateral, prices.lb_bps,
        cr.lpf_bps
    )
    fee_computed = fee
    _check_dust(version, bal, actual_debt, liq_amount + fee, dr, cr, prices, min_leftover_base)
    no_collateral_left, clear_bit = _collateral_left(
        version, bal, scaled_coll_before, liq_amount, fee, seized_base, cr, prices.collateral
    )

    ledger.burn_debt(debt_asset, bal.debt, actual_debt, no_collateral_left)
    if clear_bit:
        cpos[2] = False
    scaled_burn = _burn_collateral(version, cpos, liq_amount, cr, collateral_asset, receive_a_token)
    fee, scaled_fee = _transfer_fee(version, cpos, fee, cr)
    if no_collateral_left:
        ledger.burn_bad_debt()

    return LiquidationOutcome(
        version=version,
        health_factor_before=acct.health_factor,
        total_collateral_base=acct.total_collateral_base,
        total_debt_base=acct.total_debt_base,
        debt_repaid=actual_debt,
        collateral_to_liquidator=liq_amount,
        protocol_fee=fee,
        fee_computed=fee_computed,
        scaled_collateral_burned=scaled_burn,
        scaled_fee_transferred=scaled_fee,
        has_no_collateral_left=no_collateral_left,
        deficit=ledger.deficit,
        debt_burned=ledger.debt_burned,
        scaled_debt_burned=ledger.scaled_debt_burned,
        user_after={a: UserReserve(p[0], p[1], bool(p[2])) for a, p in ledger.pos.items()},
    )


__all__ = [
    "AaveRevert",
    "AccountData",
    "ArithmeticUnderflow",
    "CollateralCannotBeLiquidated",
    "EModeCategory",
    "HealthFactorNotBelowThreshold",
    "InvalidBurnAmount",
    "LiquidationOutcome",
    "MustNotLeaveDust",
    "ReserveState",
    "SpecifiedCurrencyNotBorrowedByUser",
    "UserReserve",
    "V3_0",
    "V3_3",
    "V3_5",
    "V3_6",
    "V3_7",
    "a_token_balance",
    "health_factor",
    "liquidation_call",
    "user_account_data",
    "v_token_balance",
]
