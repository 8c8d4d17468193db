"""Compound v2 liquidation, integer-exact (Exp mantissas, truncating).

The conformance form of the rule: scalar, in wei and in Compound's own units, truncating
exactly where ``ExponentialNoError`` truncates. Read in compound-finance/compound-protocol
@a3214f67:

- ``Comptroller.getHypotheticalAccountLiquidityInternal`` -> :func:`account_liquidity`
- ``Comptroller.liquidateBorrowAllowed`` (close factor, deprecated markets) -> :func:`max_repay`
  and the checks in :func:`liquidate_borrow`
- ``Comptroller.liquidateCalculateSeizeTokens`` -> :func:`seize_tokens`
- ``CToken.seizeInternal`` (``protocolSeizeShareMantissa``) -> :func:`seize_split`
- ``CToken.liquidateBorrowFresh`` -> :func:`liquidate_borrow`

Units. Every ratio is an ``Exp`` mantissa scaled by 1e18: collateral factor, close factor,
liquidation incentive, exchange rate (underlying wei per cToken unit, times 1e18) and the
oracle price (``1e18 * USD * 10**(18 - underlyingDecimals)``, i.e. USD per underlying wei
times 1e36). ``mul_(Exp, Exp)`` is ``a*b // 1e18``, ``div_(Exp, Exp)`` is ``a*1e18 // b``,
``mul_ScalarTruncate(e, n)`` is ``e*n // 1e18``. All floors (values are non-negative).

What is modelled: interest is accrued already (balances and exchange rates are those after
``accrueInterest``); the exchange rate is held fixed through the call (in the contract the
repay and the protocol's seize leave it unchanged up to one wei of rounding). Not modelled:
pause guardians, market freshness, the liquidator's token-balance overflow, COMP rewards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from liqcascade.errors import LiqcascadeError

EXP_SCALE = 10**18
PROTOCOL_SEIZE_SHARE_MANTISSA = 28 * 10**15  # 2.8 %, CTokenInterfaces.protocolSeizeShareMantissa
CLOSE_FACTOR_MIN_MANTISSA = 5 * 10**16  # 0.05, Comptroller.closeFactorMinMantissa
CLOSE_FACTOR_MAX_MANTISSA = 9 * 10**17  # 0.9
COLLATERAL_FACTOR_MAX_MANTISSA = 9 * 10**17  # 0.9
UINT256_MAX = 2**256 - 1


# --- reverts -------------------------------------------------------------------------------


class CompoundRevert(LiqcascadeError):
    """Compound v2 would revert (or return an error code); the subclass names the reason."""


class PriceError(CompoundRevert):
    """The oracle price of a market is 0 (``Error.PRICE_ERROR``)."""


class InsufficientShortfall(CompoundRevert):
    """The borrower has no shortfall (``LiquidateComptrollerRejection(3)``)."""

    code = 3


class TooMuchRepay(CompoundRevert):
    """The repay exceeds ``closeFactor * borrowBalance`` (``LiquidateComptrollerRejection(17)``)."""

    code = 17


class RepayMoreThanBorrow(CompoundRevert):
    """Deprecated market: "Can not repay more than the total borrow"."""


class LiquidateLiquidatorIsBorrower(CompoundRevert):
    """The liquidator is the borrower."""


class LiquidateCloseAmountIsZero(CompoundRevert):
    """The repay amount is 0."""


class LiquidateCloseAmountIsUintMax(CompoundRevert):
    """The repay amount is ``type(uint).max``."""


class DivisionByZero(CompoundRevert):
    """A truncated denominator is 0 (``⌊Pc·ER/1e18⌋ = 0``): Solidity panics."""


class LiquidateSeizeTooMuch(CompoundRevert):
    """``seizeTokens`` exceeds the borrower's cToken balance (``LIQUIDATE_SEIZE_TOO_MUCH``)."""


# --- Exp arithmetic (ExponentialNoError) ----------------------------------------------------


def mul_exp(a: int, b: int) -> int:
    """``mul_(Exp a, Exp b)``: product of two 1e18 mantissas, truncated."""
    return a * b // EXP_SCALE


def div_exp(a: int, b: int) -> int:
    """``div_(Exp a, Exp b)``: quotient of two 1e18 mantissas, truncated."""
    return a * EXP_SCALE // b


def mul_scalar_truncate(a: int, scalar: int) -> int:
    """``mul_ScalarTruncate(Exp a, scalar)``: ``a * scalar / 1e18`` truncated."""
    return a * scalar // EXP_SCALE


# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """One cToken market: 1e18 mantissas for collateral factor, exchange rate and price."""

    collateral_factor: int
    exchange_rate: int
    price: int
    deprecated: bool = False


@dataclass(frozen=True)
class Position:
    """A borrower's holdings in one entered market: cTokens and the underlying borrowed."""

    ctoken_balance: int = 0
    borrow_balance: int = 0


@dataclass(frozen=True)
class AccountLiquidity:
    """Comptroller sums in USD*1e18; exactly one of ``liquidity``/``shortfall`` is non-zero."""

    sum_collateral: int
    sum_borrow: int
    liquidity: int
    shortfall: int


@dataclass(frozen=True)
class SeizeSplit:
    """``CToken.seizeInternal``: cTokens to the protocol and liquidator, underlying to reserves."""

    protocol_tokens: int
    liquidator_tokens: int
    protocol_amount: int  # underlying added to totalReserves


@dataclass(frozen=True)
class Liquidation:
    """Outcome of ``liquidateBorrow``: amounts, and the borrower's positions and liquidity after."""

    repay: int
    seize_tokens: int
    split: SeizeSplit
    positions_after: dict[str, Position]
    liquidity_before: AccountLiquidity
    liquidity_after: AccountLiquidity


# --- rules ---------------------------------------------------------------------------------


def account_liquidity(
    markets: Mapping[str, Market],
    positions: Mapping[str, Position],
    modify: str | None = None,
    redeem_tokens: int = 0,
    borrow_amount: int = 0,
) -> AccountLiquidity:
    """``getHypotheticalAccountLiquidityInternal`` over the entered markets (``positions``).

    Per market ``tokensToDenom = ⌊⌊CF·ER/1e18⌋·P/1e18⌋``; ``sumCollateral += ⌊tokensToDenom·bal/1e18⌋``;
    ``sumBorrow += ⌊P·borrow/1e18⌋``. For ``modify``, a hypothetical redeem of ``redeem_tokens``
    and borrow of ``borrow_amount`` add to the borrow side, as the contract does.
    Raises :class:`PriceError` when an entered market's price is 0.
    """
    sum_coll = 0
    sum_borrow = 0
    for name, pos in positions.items():
        m = markets[name]
        if m.price == 0:
            raise PriceError(f"market {name!r}: oracle price is 0")
        tokens_to_denom = mul_exp(mul_exp(m.collateral_factor, m.exchange_rate), m.price)
        sum_coll += mul_scalar_truncate(tokens_to_denom, pos.ctoken_balance)
        sum_borrow += mul_scalar_truncate(m.price, pos.borrow_balance)
        if name == modify:
            sum_borrow += mul_scalar_truncate(tokens_to_denom, redeem_tokens)
            sum_borrow += mul_scalar_truncate(m.price, borrow_amount)
    if sum_coll > sum_borrow:
        return AccountLiquidity(sum_coll, sum_borrow, sum_coll - sum_borrow, 0)
    return AccountLiquidity(sum_coll, sum_borrow, 0, sum_borrow - sum_coll)


def max_repay(close_factor: int, borrow_balance: int) -> int:
    """Largest repay ``liquidateBorrowAllowed`` accepts: ``⌊closeFactor·borrowBalance/1e18⌋``."""
    return mul_scalar_truncate(close_factor, borrow_balance)


def seize_tokens(
    price_borrowed: int, price_collateral: int, exchange_rate: int, liquidation_incentive: int, repay: int
) -> int:
    """``liquidateCalculateSeizeTokens``: collateral cTokens for ``repay`` underlying of the borrow.

    ``ratio = ⌊⌊LI·Pb/1e18⌋·1e18 / ⌊Pc·ER/1e18⌋⌋``, ``seize = ⌊ratio·repay/1e18⌋``.
    Raises :class:`PriceError` when either price is 0.
    """
    if price_borrowed == 0 or price_collateral == 0:
        raise PriceError("liquidateCalculateSeizeTokens: an oracle price is 0")
    numerator = mul_exp(liquidation_incentive, price_borrowed)
    denominator = mul_exp(price_collateral, exchange_rate)
    if denominator == 0:
        raise DivisionByZero("liquidateCalculateSeizeTokens: floor(Pc*ER/1e18) is 0")
    ratio = div_exp(numerator, denominator)
    return mul_scalar_truncate(ratio, repay)


def seize_split(
    seize: int, exchange_rate: int, protocol_seize_share: int = PROTOCOL_SEIZE_SHARE_MANTISSA
) -> SeizeSplit:
    """``seizeInternal``: the protocol keeps ``⌊seize·share/1e18⌋`` cTokens, redeemed into reserves
    as ``⌊ER·protocolTokens/1e18⌋`` underlying (totalSupply falls by the protocol's tokens); the
    liquidator receives the rest."""
    protocol_tokens = mul_scalar_truncate(protocol_seize_share, seize)
    return SeizeSplit(
        protocol_tokens=protocol_tokens,
        liquidator_tokens=seize - protocol_tokens,
        protocol_amount=mul_scalar_truncate(exchange_rate, protocol_tokens),
    )


def liquidate_borrow(
    markets: Mapping[str, Market],
    positions: Mapping[str, Position],
    borrowed: str,
    collateral: str,
    repay: int,
    close_factor: int,
    liquidation_incentive: int,
    protocol_seize_share: int = PROTOCOL_SEIZE_SHARE_MANTISSA,
    liquidator_is_borrower: bool = False,
) -> Liquidation:
    """``CToken.liquidateBorrowFresh``: checks in the contract's order, repay, seize, split.

    Order: ``liquidateBorrowAllowed`` (deprecated market: repay ≤ borrow; otherwise shortfall > 0
    and repay ≤ :func:`max_repay`), liquidator ≠ borrower, repay ≠ 0, repay ≠ uint max,
    :func:`seize_tokens`, seize ≤ borrower's cTokens, :func:`seize_split`. ``borrowed`` may equal
    ``collateral`` (in-kind liquidation).
    """
    bpos = positions.get(borrowed, Position())
    before = account_liquidity(markets, positions)
    if markets[borrowed].deprecated:
        if bpos.borrow_balance < repay:
            raise RepayMoreThanBorrow(f"repay {repay} > borrow balance {bpos.borrow_balance}")
    else:
        if before.shortfall == 0:
            raise InsufficientShortfall(f"no shortfall (liquidity {before.liquidity})")
        limit = max_repay(close_factor, bpos.borrow_balance)
        if repay > limit:
            raise TooMuchRepay(f"repay {repay} > closeFactor*borrow = {limit}")
    if liquidator_is_borrower:
        raise LiquidateLiquidatorIsBorrower("liquidator is the borrower")
    if repay == 0:
        raise LiquidateCloseAmountIsZero("repay amount is 0")
    if repay == UINT256_MAX:
        raise LiquidateCloseAmountIsUintMax("repay amount is type(uint).max")
    mb, mc = markets[borrowed], markets[collateral]
    seize = seize_tokens(mb.price, mc.price, mc.exchange_rate, liquidation_incentive, repay)
    cpos = positions.get(collateral, Position())
    if cpos.ctoken_balance < seize:
        raise LiquidateSeizeTooMuch(f"seize {seize} > borrower cTokens {cpos.ctoken_balance}")
    split = seize_split(seize, mc.exchange_rate, protocol_seize_share)
    after = dict(positions)
    b = after.get(borrowed, Position())
    after[borrowed] = Position(b.ctoken_balance, b.borrow_balance - repay)
    c = after.get(collateral, Position())
    after[collateral] = Position(c.ctoken_balance - seize, c.borrow_balance)
    return Liquidation(repay, seize, split, after, before, account_liquidity(markets, after))
