"""Aave v3 liquidation in float64, the form the engines run (one pair, one call).

Values are in the quote currency (USD), amounts in whole tokens. The same function is
compiled by numba into the book kernels (``protocols/aave_v3/kernels.py``) and called as plain
Python in tests; ``exact.py`` holds the integer rule it must agree with.

Rule source: aave-dao/aave-v3-origin ``LiquidationLogic.executeLiquidationCall``
(v3.3+ close-factor thresholds and dust rule), aave/aave-v3-core (v3.0-3.2) and
aave/protocol-v2 ``LendingPoolCollateralManager.liquidationCall`` (v2: ``exact_v2.py``).

What differs by version here: the close factor and the dust rule (``version < V3_3``).
The bad-debt burn is the book kernels' (``kernels_python.liquidate_one``), and which
collateral counts (v3.6) is in the LT table (``rules.AaveV3Rules.param_table``).
Everything else that differs between V3_3, V3_5, V3_6 and V3_7 is integer rounding, left to
``exact.py``; the table in ``docs/engine.md`` lists each difference and where it is modelled.
"""

from __future__ import annotations

from liqcascade.protocols.aave_v3.versions import (
    CLOSE_FACTOR_HF_THRESHOLD,
    DEFAULT_LIQUIDATION_CLOSE_FACTOR,
    MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD,
    MIN_LEFTOVER_BASE_USD,
    V2,
    V2_CLOSE_FACTOR,
    V3_3,
    V3_5,
)

REVERT_NONE = 0
REVERT_DUST = 1  # MustNotLeaveDust (v3.3+)
BASE_UNIT_USD = 1e-8  # one unit of the oracle's base currency (8 decimals)


def leaves_dust(version, left_debt_usd, left_coll_usd):
    """v3.3+ ``MustNotLeaveDust``: the debt or the collateral left on the pair is worth less
    than ``MIN_LEFTOVER_BASE`` ($1000) in base units. The collateral's base value is rounded
    down, as the debt's before v3.5: under 1000e8 means under $1000. From v3.5 the debt's
    is rounded up (``mulDivCeil``): ``ceil(x) < 1000e8`` means ``x <= 1000e8 - 1``, i.e. at most
    $1000 - 1e-8."""
    if version >= V3_5:
        debt_dust = left_debt_usd <= MIN_LEFTOVER_BASE_USD - BASE_UNIT_USD
    else:
        debt_dust = left_debt_usd < MIN_LEFTOVER_BASE_USD
    return debt_dust or left_coll_usd < MIN_LEFTOVER_BASE_USD


def max_liquidatable_debt(
    version: int,
    hf: float,
    coll_balance: float,
    coll_price: float,
    debt_balance: float,
    debt_price: float,
    total_debt_usd: float,
) -> float:
    """Close factor: the most debt (tokens of the debt asset) one call may repay.

    Aave v2: half the debt in that asset at any HF below 1 (stable and variable together,
    which the book does not tell apart). v3.0-3.2: half above HF 0.95, all of it below.
    v3.3+: all of it unless both the pair's debt and collateral are worth $2000 or more and
    HF is above 0.95."""
    if version == V2:
        return debt_balance * V2_CLOSE_FACTOR
    if version < V3_3:
        if hf > CLOSE_FACTOR_HF_THRESHOLD:
            return debt_balance * DEFAULT_LIQUIDATION_CLOSE_FACTOR
        return debt_balance
    coll_usd = coll_balance * coll_price
    debt_usd = debt_balance * debt_price
    if (
        coll_usd >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD
        and debt_usd >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD
        and hf > CLOSE_FACTOR_HF_THRESHOLD
    ):
        half_usd = total_debt_usd * DEFAULT_LIQUIDATION_CLOSE_FACTOR
        if debt_usd > half_usd:
            return half_usd / debt_price
    return debt_balance


def liquidation_call(
    version: int,
    hf: float,
    coll_balance: float,
    coll_price: float,
    debt_balance: float,
    debt_price: float,
    total_debt_usd: float,
    bonus: float,
    protocol_fee: float,
    debt_to_cover: float,
) -> tuple[float, float, float, int]:
    """One ``liquidationCall`` on a (collateral, debt) pair, in float64.

    ``bonus`` is above par (0.05 for LB 10500); ``protocol_fee`` is the share of the
    bonus that goes to the treasury; ``debt_to_cover`` in debt tokens (``inf`` = max).

    Returns ``(debt_repaid, collateral_seized, protocol_fee_collateral, revert)`` where
    ``collateral_seized`` includes the fee (the liquidator receives seized - fee) and
    ``revert`` is REVERT_DUST when v3.3+ would revert with MustNotLeaveDust (then the
    amounts are all 0).
    """
    lb = 1.0 + bonus
    max_debt = max_liquidatable_debt(version, hf, coll_balance, coll_price, debt_balance, debt_price, total_debt_usd)
    actual = debt_to_cover if debt_to_cover < max_debt else max_debt
    max_coll = actual * debt_price / coll_price * lb
    if max_coll > coll_balance:
        seized = coll_balance
        repaid = coll_balance * coll_price / debt_price / lb
    else:
        seized = max_coll
        repaid = actual
    fee = (seized - seized / lb) * protocol_fee
    if version >= V3_3 and repaid < debt_balance and seized < coll_balance:
        if leaves_dust(version, (debt_balance - repaid) * debt_price, (coll_balance - seized) * coll_price):
            return 0.0, 0.0, 0.0, REVERT_DUST
    return repaid, seized, fee, REVERT_NONE


def largest_allowed_cover(
    version: int,
    hf: float,
    coll_balance: float,
    coll_price: float,
    debt_balance: float,
    debt_price: float,
    total_debt_usd: float,
    bonus: float,
) -> float:
    """The largest ``debt_to_cover`` a liquidator can send without a dust revert.

    Policy (documented in docs/engine.md): a liquidator first tries the maximum; if
    v3.3+ would revert because a leftover is under $1000, it covers the largest amount
    that leaves at least $1000 of both debt and collateral on the pair. Before v3.3
    there is no dust rule and the answer is the maximum (``inf``).
    """
    if version < V3_3:
        return float("inf")
    max_debt = max_liquidatable_debt(version, hf, coll_balance, coll_price, debt_balance, debt_price, total_debt_usd)
    lb = 1.0 + bonus
    if max_debt * debt_price / coll_price * lb > coll_balance or max_debt >= debt_balance:
        return float("inf")  # takes all collateral or all debt: no dust check applies
    # the leftovers as liquidation_call computes them at that cover, so that the two agree
    seized = max_debt * debt_price / coll_price * lb
    if not leaves_dust(version, (debt_balance - max_debt) * debt_price, (coll_balance - seized) * coll_price):
        return float("inf")
    by_debt = (debt_balance * debt_price - MIN_LEFTOVER_BASE_USD) / debt_price
    by_coll = (coll_balance * coll_price - MIN_LEFTOVER_BASE_USD) / (debt_price * lb)
    x = min(max_debt, by_debt, by_coll)
    # shave a hair so float rounding cannot land exactly on the threshold and revert
    x = x * (1.0 - 1e-12)
    return x if x > 0.0 else 0.0
