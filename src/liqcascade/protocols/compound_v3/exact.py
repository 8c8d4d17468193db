"""Compound v3 (Comet) liquidation, integer-exact.

The conformance form of the rule, read in compound-finance/comet@d5a30b0a:

- ``CometCore.presentValue*`` / ``principalValue*`` -> :func:`present_value`, :func:`principal_value`
- ``Comet.isLiquidatable`` / ``isBorrowCollateralized`` -> :func:`is_liquidatable`,
  :func:`is_borrow_collateralized` (with their early returns)
- ``Comet.absorbInternal`` and ``repayAndSupplyAmount`` -> :func:`absorb`
- ``Comet.getReserves`` -> :func:`get_reserves`
- ``Comet.quoteCollateral`` / ``buyCollateral`` -> :func:`quote_collateral`, :func:`buy_collateral`

Units: factors are 1e18 (``FACTOR_SCALE``), prices have 8 decimals (USD), indexes are 1e15
(``BASE_INDEX_SCALE``); base and collateral amounts are token wei with their own ``scale``
(``10**decimals``). ``mulFactor(n, f) = n*f/1e18``, ``mulPrice(n, p, scale) = n*p/scale``,
``divPrice(n, p, scale) = n*scale/p``, all floors; ``signedMulPrice`` divides a signed value
and Solidity truncates toward zero, so a negative base value rounds *up*.

"Assets in" is modelled as "collateral balance > 0", which is how Comet maintains the bit
(``updateAssetsIn``), and assets are visited in the order given (the asset index order
matters for the early return of ``isLiquidatable``). Indexes are taken as already accrued.
Not modelled: pause flags, absorber points (``liquidatorPoints``), reward tracking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from liqcascade.errors import LiqcascadeError

FACTOR_SCALE = 10**18
PRICE_SCALE = 10**8
BASE_INDEX_SCALE = 10**15


# --- reverts -------------------------------------------------------------------------------


class CometRevert(LiqcascadeError):
    """Comet would revert this call; the subclass name is Comet's custom error."""


class NotLiquidatable(CometRevert):
    """``absorb`` of an account that ``isLiquidatable`` says is not liquidatable."""


class NotForSale(CometRevert):
    """``buyCollateral`` while reserves are at or above ``targetReserves``."""


class TooMuchSlippage(CometRevert):
    """``buyCollateral`` would give less collateral than ``minAmount``."""


class InsufficientReserves(CometRevert):
    """``buyCollateral`` asks for more collateral than the protocol owns."""


class DivisionByZero(CometRevert):
    """The discounted collateral price truncates to 0: Solidity panics."""


class BadPrice(CometRevert):
    """A price feed answered 0 or less (``getPrice``)."""


# --- fixed-point helpers -----------------------------------------------------------------------


def _tdiv(a: int, b: int) -> int:
    """Solidity signed division: truncate toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def mul_factor(n: int, factor: int) -> int:
    """``mulFactor``: ``n * factor / 1e18``, floor."""
    return n * factor // FACTOR_SCALE


def mul_price(n: int, price: int, from_scale: int) -> int:
    """``mulPrice``: token amount at ``from_scale`` to USD (8 decimals), floor."""
    return n * price // from_scale


def signed_mul_price(n: int, price: int, from_scale: int) -> int:
    """``signedMulPrice``: as :func:`mul_price` for a signed amount, truncated toward zero."""
    return _tdiv(n * price, from_scale)


def div_price(n: int, price: int, to_scale: int) -> int:
    """``divPrice``: USD (8 decimals) to a token amount at ``to_scale``, floor."""
    return n * to_scale // price


def _price(p: int, what: str) -> int:
    if p <= 0:
        raise BadPrice(f"{what}: price feed answered {p}")
    return p


# --- base balances -------------------------------------------------------------------------------


def present_value_supply(supply_index: int, principal: int) -> int:
    """``presentValueSupply``: ``⌊principal·index/1e15⌋``."""
    return principal * supply_index // BASE_INDEX_SCALE


def present_value_borrow(borrow_index: int, principal: int) -> int:
    """``presentValueBorrow``: ``⌊principal·index/1e15⌋`` (the debt rounds down here)."""
    return principal * borrow_index // BASE_INDEX_SCALE


def principal_value_supply(supply_index: int, present: int) -> int:
    """``principalValueSupply``: ``⌊pv·1e15/index⌋`` (rounds down, against the supplier)."""
    return present * BASE_INDEX_SCALE // supply_index


def principal_value_borrow(borrow_index: int, present: int) -> int:
    """``principalValueBorrow``: ``⌈pv·1e15/index⌉`` (rounds up, against the borrower)."""
    return (present * BASE_INDEX_SCALE + borrow_index - 1) // borrow_index


def present_value(principal: int, supply_index: int, borrow_index: int) -> int:
    """``presentValue``: signed base balance; supply index for ≥ 0, borrow index below."""
    if principal >= 0:
        return present_value_supply(supply_index, principal)
    return -present_value_borrow(borrow_index, -principal)


def principal_value(present: int, supply_index: int, borrow_index: int) -> int:
    """``principalValue``: signed principal for a signed present value."""
    if present >= 0:
        return principal_value_supply(supply_index, present)
    return -principal_value_borrow(borrow_index, -present)


# --- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    """``AssetInfo`` of one collateral: ``scale`` = 10**decimals, price in 8 decimals, 1e18 factors."""

    scale: int
    price: int
    borrow_cf: int = FACTOR_SCALE - 1
    liquidate_cf: int = FACTOR_SCALE
    liquidation_factor: int = FACTOR_SCALE


@dataclass(frozen=True)
class Base:
    """The base token and the market's indexes (1e15) and totals (principal units)."""

    scale: int
    price: int
    supply_index: int = BASE_INDEX_SCALE
    borrow_index: int = BASE_INDEX_SCALE
    total_supply_base: int = 0
    total_borrow_base: int = 0
    balance: int = 0  # ERC20 balance of the base token held by Comet


@dataclass(frozen=True)
class Absorb:
    """Outcome of ``absorb`` for one account; base amounts in base wei, values in USD 8 dec."""

    old_balance: int
    new_balance: int
    new_principal: int
    delta_balance: int
    repay_amount: int
    supply_amount: int
    base_paid_out: int
    value_of_base_paid_out: int
    collateral_seized: dict[str, int]
    collateral_value: dict[str, int]
    base_after: Base


# --- rules ---------------------------------------------------------------------------------------


def _liquidity_check(
    principal: int, collateral: Mapping[str, int], assets: Mapping[str, Asset], base: Base, liquidate: bool
) -> bool:
    """Shared loop of ``isLiquidatable`` (``liquidate``) and ``isBorrowCollateralized``.

    Returns whether final liquidity is ≥ 0 (``True`` = healthy), returning early as soon as
    the running liquidity is ≥ 0 before an asset the account holds.
    """
    pv = present_value(principal, base.supply_index, base.borrow_index)
    liquidity = signed_mul_price(pv, _price(base.price, "base"), base.scale)
    for name, a in assets.items():
        bal = collateral.get(name, 0)
        if bal <= 0:
            continue
        if liquidity >= 0:
            return True
        value = mul_price(bal, _price(a.price, name), a.scale)
        liquidity += mul_factor(value, a.liquidate_cf if liquidate else a.borrow_cf)
    return liquidity >= 0


def is_liquidatable(principal: int, collateral: Mapping[str, int], assets: Mapping[str, Asset], base: Base) -> bool:
    """``isLiquidatable``: principal < 0 and ``pv·Pbase/scale + Σ⌊⌊bal·P/scale⌋·liquidateCF/1e18⌋ < 0``."""
    if principal >= 0:
        return False
    return not _liquidity_check(principal, collateral, assets, base, liquidate=True)


def is_borrow_collateralized(
    principal: int, collateral: Mapping[str, int], assets: Mapping[str, Asset], base: Base
) -> bool:
    """``isBorrowCollateralized``: as :func:`is_liquidatable` with ``borrowCF``, negated."""
    if principal >= 0:
        return True
    return _liquidity_check(principal, collateral, assets, base, liquidate=False)


def repay_and_supply_amount(old_principal: int, new_principal: int) -> tuple[int, int]:
    """``repayAndSupplyAmount``: principal moved out of borrows and into supply."""
    if new_principal < old_principal:
        return 0, 0
    if new_principal <= 0:
        return new_principal - old_principal, 0
    if old_principal >= 0:
        return 0, new_principal - old_principal
    return -old_principal, new_principal


def absorb(principal: int, collateral: Mapping[str, int], assets: Mapping[str, Asset], base: Base) -> Absorb:
    """``absorbInternal``: the protocol takes all collateral and the debt.

    ``Δ = ⌊Σ⌊⌊bal·P/scale⌋·LF/1e18⌋·baseScale/Pbase⌋``; new balance ``max(0, pv + Δ)``, any
    surplus becomes the account's supply; totals move by ``repayAndSupplyAmount`` so reserves
    (:func:`get_reserves`) pay for the shortfall. Raises :class:`NotLiquidatable`.
    """
    if not is_liquidatable(principal, collateral, assets, base):
        raise NotLiquidatable(f"account with principal {principal} is not liquidatable")
    old_balance = present_value(principal, base.supply_index, base.borrow_index)
    delta_value = 0
    seized: dict[str, int] = {}
    values: dict[str, int] = {}
    for name, a in assets.items():
        bal = collateral.get(name, 0)
        if bal <= 0:
            continue
        value = mul_price(bal, _price(a.price, name), a.scale)
        delta_value += mul_factor(value, a.liquidation_factor)
        seized[name], values[name] = bal, value
    delta_balance = div_price(delta_value, _price(base.price, "base"), base.scale)
    new_balance = max(0, old_balance + delta_balance)
    new_principal = principal_value(new_balance, base.supply_index, base.borrow_index)
    repay, supply = repay_and_supply_amount(principal, new_principal)
    paid = new_balance - old_balance
    after = Base(
        scale=base.scale,
        price=base.price,
        supply_index=base.supply_index,
        borrow_index=base.borrow_index,
        total_supply_base=base.total_supply_base + supply,
        total_borrow_base=base.total_borrow_base - repay,
        balance=base.balance,
    )
    return Absorb(
        old_balance=old_balance,
        new_balance=new_balance,
        new_principal=new_principal,
        delta_balance=delta_balance,
        repay_amount=repay,
        supply_amount=supply,
        base_paid_out=paid,
        value_of_base_paid_out=mul_price(paid, base.price, base.scale),
        collateral_seized=seized,
        collateral_value=values,
        base_after=after,
    )


def get_reserves(base: Base) -> int:
    """``getReserves``: ``balance − pvSupply(totalSupplyBase) + pvBorrow(totalBorrowBase)``, signed."""
    return (
        base.balance
        - present_value_supply(base.supply_index, base.total_supply_base)
        + present_value_borrow(base.borrow_index, base.total_borrow_base)
    )


def quote_collateral(asset: Asset, base: Base, store_front_price_factor: int, base_amount: int) -> int:
    """``quoteCollateral``: collateral wei bought by ``base_amount`` at the store-front discount.

    ``disc = ⌊SF·(1e18−LF)/1e18⌋``, ``P' = ⌊P·(1e18−disc)/1e18⌋``,
    ``out = ⌊⌊Pbase·amount·assetScale/P'⌋/baseScale⌋``.
    """
    discount = mul_factor(store_front_price_factor, FACTOR_SCALE - asset.liquidation_factor)
    discounted = mul_factor(_price(asset.price, "collateral"), FACTOR_SCALE - discount)
    if discounted == 0:
        raise DivisionByZero(f"quoteCollateral: discounted price of {asset.price} is 0")
    return _price(base.price, "base") * base_amount * asset.scale // discounted // base.scale


def buy_collateral(
    asset: Asset,
    base: Base,
    store_front_price_factor: int,
    target_reserves: int,
    base_amount: int,
    min_amount: int,
    collateral_reserves: int,
) -> tuple[int, Base]:
    """``buyCollateral``: returns the collateral bought and the base state after.

    Sells only while ``getReserves() < targetReserves`` (:class:`NotForSale`); the quote must
    reach ``min_amount`` (:class:`TooMuchSlippage`) and not exceed ``collateral_reserves``
    (``getCollateralReserves``: Comet's balance minus users' collateral; :class:`InsufficientReserves`).
    The paid base raises Comet's balance and so the reserves.
    """
    reserves = get_reserves(base)
    if reserves >= 0 and reserves >= target_reserves:
        raise NotForSale(f"reserves {reserves} >= target reserves {target_reserves}")
    out = quote_collateral(asset, base, store_front_price_factor, base_amount)
    if out < min_amount:
        raise TooMuchSlippage(f"quote {out} < min amount {min_amount}")
    if out > collateral_reserves:
        raise InsufficientReserves(f"quote {out} > collateral reserves {collateral_reserves}")
    after = Base(
        scale=base.scale,
        price=base.price,
        supply_index=base.supply_index,
        borrow_index=base.borrow_index,
        total_supply_base=base.total_supply_base,
        total_borrow_base=base.total_borrow_base,
        balance=base.balance + base_amount,
    )
    return out, after
