"""Morpho Blue liquidation, integer-exact, following ``Morpho.sol`` at morpho-org/morpho-blue@3085651a.

Units: every amount is an integer in the token's smallest unit (:data:`~liqcascade._typing.Wei`);
``lltv`` and the liquidation incentive factor are WAD (1e18 = 1.0); the oracle ``price`` is the
value of one collateral wei in loan wei scaled by ``ORACLE_PRICE_SCALE`` = 1e36 (so it carries
``10**(loanDecimals - collateralDecimals)``).

Rounding follows the contract and always favours the protocol (the suppliers):

* the borrow is valued up (``toAssetsUp``) and the collateral down (``mulDivDown``, ``wMulDown``)
  in the health check;
* by seized assets, the shares charged are rounded up (``mulDivUp``, ``wDivUp``, ``toSharesUp``);
* by repaid shares, the collateral paid out is rounded down (``toAssetsDown``, ``wMulDown``,
  ``mulDivDown``);
* the assets the liquidator pays are always ``toAssetsUp(repaidShares)``.

Shares use virtual offsets (``SharesMathLib``): 1e6 virtual shares and 1 virtual asset, which
make the first deposit's share price 1e-6 asset and defeat share-inflation attacks.

Reverts are raised as :class:`MorphoRevert` subclasses named after ``ErrorsLib`` messages, or
:class:`ArithmeticUnderflow` where Solidity's checked subtraction (or ``toUint128``) would revert.
"""

from __future__ import annotations

from dataclasses import dataclass

from liqcascade._typing import Wad, Wei
from liqcascade.errors import LiqcascadeError

WAD: Wad = 10**18
ORACLE_PRICE_SCALE = 10**36
LIQUIDATION_CURSOR: Wad = 3 * 10**17  # ConstantsLib.LIQUIDATION_CURSOR = 0.3e18
MAX_LIQUIDATION_INCENTIVE_FACTOR: Wad = 115 * 10**16  # ConstantsLib: 1.15e18
VIRTUAL_SHARES = 10**6  # SharesMathLib.VIRTUAL_SHARES
VIRTUAL_ASSETS = 1  # SharesMathLib.VIRTUAL_ASSETS
UINT128_MAX = 2**128 - 1


# --- reverts -----------------------------------------------------------------------------------


class MorphoRevert(LiqcascadeError):
    """``Morpho.liquidate`` would revert; the subclass names the reason."""


class HealthyPosition(MorphoRevert):
    """``ErrorsLib.HEALTHY_POSITION``: the borrower is healthy at the oracle price."""


class InconsistentInput(MorphoRevert):
    """``ErrorsLib.INCONSISTENT_INPUT``: not exactly one of seized assets / repaid shares is zero."""


class ArithmeticUnderflow(MorphoRevert):
    """Checked subtraction underflows (more shares repaid or collateral seized than held)."""


# --- MathLib / SharesMathLib -----------------------------------------------------------------------


def mul_div_down(x: int, y: int, d: int) -> int:
    """``MathLib.mulDivDown``: ⌊x·y/d⌋."""
    return (x * y) // d


def mul_div_up(x: int, y: int, d: int) -> int:
    """``MathLib.mulDivUp``: ⌈x·y/d⌉ (as ``(x·y + d − 1)/d``)."""
    return (x * y + (d - 1)) // d


def w_mul_down(x: int, y: int) -> int:
    """``MathLib.wMulDown``: ⌊x·y/1e18⌋."""
    return mul_div_down(x, y, WAD)


def w_div_down(x: int, y: int) -> int:
    """``MathLib.wDivDown``: ⌊x·1e18/y⌋."""
    return mul_div_down(x, WAD, y)


def w_div_up(x: int, y: int) -> int:
    """``MathLib.wDivUp``: ⌈x·1e18/y⌉."""
    return mul_div_up(x, WAD, y)


def to_shares_down(assets: int, total_assets: int, total_shares: int) -> int:
    """``SharesMathLib.toSharesDown``: ⌊assets·(totalShares+1e6)/(totalAssets+1)⌋."""
    return mul_div_down(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_shares_up(assets: int, total_assets: int, total_shares: int) -> int:
    """``SharesMathLib.toSharesUp``: ⌈assets·(totalShares+1e6)/(totalAssets+1)⌉."""
    return mul_div_up(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_assets_down(shares: int, total_assets: int, total_shares: int) -> int:
    """``SharesMathLib.toAssetsDown``: ⌊shares·(totalAssets+1)/(totalShares+1e6)⌋."""
    return mul_div_down(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def to_assets_up(shares: int, total_assets: int, total_shares: int) -> int:
    """``SharesMathLib.toAssetsUp``: ⌈shares·(totalAssets+1)/(totalShares+1e6)⌉."""
    return mul_div_up(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


# --- state ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketState:
    """``Morpho.market[id]`` totals, after interest accrual (this module does not accrue)."""

    total_supply_assets: Wei
    total_supply_shares: int
    total_borrow_assets: Wei
    total_borrow_shares: int


@dataclass(frozen=True)
class Position:
    """``Morpho.position[id][borrower]``: borrow shares and collateral (collateral wei)."""

    borrow_shares: int
    collateral: Wei


@dataclass(frozen=True)
class MorphoLiquidation:
    """What one ``Morpho.liquidate`` call did.

    ``repaid_assets`` is what the liquidator pays (it may exceed ``total_borrow_assets`` by 1,
    which the contract absorbs with ``zeroFloorSub``). ``bad_debt_assets``/``bad_debt_shares``
    are written off when the collateral reaches 0; the assets come out of both supply and
    borrow totals, i.e. the suppliers bear the loss.
    """

    liquidation_incentive_factor: Wad
    seized_assets: Wei
    repaid_shares: int
    repaid_assets: Wei
    bad_debt_assets: Wei
    bad_debt_shares: int
    market_after: MarketState
    position_after: Position


# --- rules ---------------------------------------------------------------------------------------


def liquidation_incentive_factor(lltv: Wad) -> Wad:
    """LIF = min(1.15e18, wDivDown(1e18, 1e18 − wMulDown(0.3e18, 1e18 − lltv))), in WAD.

    Equals 1/(β·LLTV + 1 − β) with the cursor β = 0.3, rounded down, capped at 1.15.
    """
    uncapped = w_div_down(WAD, WAD - w_mul_down(LIQUIDATION_CURSOR, WAD - lltv))
    return min(MAX_LIQUIDATION_INCENTIVE_FACTOR, uncapped)


def max_borrow(collateral: Wei, price: int, lltv: Wad) -> Wei:
    """Largest borrow (loan wei) the collateral supports: ⌊⌊coll·price/1e36⌋·lltv/1e18⌋."""
    return w_mul_down(mul_div_down(collateral, price, ORACLE_PRICE_SCALE), lltv)


def is_healthy(market: MarketState, position: Position, price: int, lltv: Wad) -> bool:
    """``Morpho._isHealthy``: ``maxBorrow ≥ toAssetsUp(borrowShares)``; no borrow is healthy."""
    if position.borrow_shares == 0:
        return True
    borrowed = to_assets_up(position.borrow_shares, market.total_borrow_assets, market.total_borrow_shares)
    return max_borrow(position.collateral, price, lltv) >= borrowed


def _sub(a: int, b: int, what: str) -> int:
    if b > a:
        raise ArithmeticUnderflow(f"{what}: {b} exceeds {a}")
    return a - b


def liquidate(
    market: MarketState,
    position: Position,
    price: int,
    lltv: Wad,
    *,
    seized_assets: Wei = 0,
    repaid_shares: int = 0,
) -> MorphoLiquidation:
    """``Morpho.liquidate`` on accrued state: give exactly one of ``seized_assets``/``repaid_shares``.

    By seized assets: ``repaidShares = toSharesUp(wDivUp(mulDivUp(seized, price, 1e36), LIF))``.
    By repaid shares: ``seized = mulDivDown(wMulDown(toAssetsDown(shares), LIF), 1e36, price)``.
    Either way ``repaidAssets = toAssetsUp(repaidShares)`` on the pre-liquidation totals. There
    is no close factor. If the collateral reaches 0 the borrower's remaining shares are written
    off: ``badDebt = min(totalBorrowAssets, toAssetsUp(remainingShares))`` leaves both
    ``totalBorrowAssets`` and ``totalSupplyAssets``.

    Raises :class:`InconsistentInput`, :class:`HealthyPosition` or :class:`ArithmeticUnderflow`
    where the contract reverts.
    """
    if (seized_assets == 0) == (repaid_shares == 0):
        raise InconsistentInput("exactly one of seized_assets and repaid_shares must be non-zero")
    if is_healthy(market, position, price, lltv):
        raise HealthyPosition("position is healthy at this price")
    lif = liquidation_incentive_factor(lltv)
    tba, tbs = market.total_borrow_assets, market.total_borrow_shares
    if seized_assets > 0:
        quoted = mul_div_up(seized_assets, price, ORACLE_PRICE_SCALE)
        repaid_shares = to_shares_up(w_div_up(quoted, lif), tba, tbs)
    else:
        owed = to_assets_down(repaid_shares, tba, tbs)
        seized_assets = mul_div_down(w_mul_down(owed, lif), ORACLE_PRICE_SCALE, price)
    repaid_assets = to_assets_up(repaid_shares, tba, tbs)
    if repaid_shares > UINT128_MAX or seized_assets > UINT128_MAX:
        raise ArithmeticUnderflow("toUint128 overflow")

    borrow_shares = _sub(position.borrow_shares, repaid_shares, "position.borrowShares")
    tbs = _sub(tbs, repaid_shares, "market.totalBorrowShares")
    tba = max(tba - repaid_assets, 0)  # UtilsLib.zeroFloorSub
    collateral = _sub(position.collateral, seized_assets, "position.collateral")
    tsa = market.total_supply_assets

    bad_shares = bad_assets = 0
    if collateral == 0:
        bad_shares = borrow_shares
        bad_assets = min(tba, to_assets_up(bad_shares, tba, tbs))
        tba -= bad_assets
        tsa = _sub(tsa, bad_assets, "market.totalSupplyAssets")
        tbs = _sub(tbs, bad_shares, "market.totalBorrowShares")
        borrow_shares = 0

    return MorphoLiquidation(
        liquidation_incentive_factor=lif,
        seized_assets=seized_assets,
        repaid_shares=repaid_shares,
        repaid_assets=repaid_assets,
        bad_debt_assets=bad_assets,
        bad_debt_shares=bad_shares,
        market_after=MarketState(tsa, market.total_supply_shares, tba, tbs),
        position_after=Position(borrow_shares, collateral),
    )
