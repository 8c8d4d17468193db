"""Euler v2 (EVK) liquidation in float64, the form the engines run.

``exact.py`` holds the integer rule (``Liquidation.sol``); here values are USD and amounts
whole tokens.
"""

from __future__ import annotations


def discount_factor(hf, max_discount):
    """The health score floored at ``1 - maxLiquidationDiscount``; the liquidator's discount
    is ``1 - discount_factor`` (the less healthy the account, the larger the discount)."""
    floor = 1.0 - max_discount
    return hf if hf > floor else floor


def liquidate_call(coll_balance, coll_price, debt_balance, debt_price, df):
    """The largest liquidation against one collateral (``checkLiquidation``'s maxRepay):
    the whole debt, whose yield is ``repay value / df``, or, when that is more than the
    collateral, all the collateral for ``collateral value * df``.

    Returns ``(repaid, seized)`` in tokens.
    """
    repay_value = debt_balance * debt_price
    yield_value = repay_value / df
    coll_value = coll_balance * coll_price
    if coll_value < yield_value:
        return coll_value * df / debt_price, coll_balance
    return debt_balance, yield_value / coll_price
