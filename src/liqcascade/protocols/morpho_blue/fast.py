"""Morpho Blue liquidation in float64, the form the engines run.

``exact.py`` holds the integer rule (``Morpho.liquidate``, virtual shares); the float form
works on assets directly (shares convert at the market's ratio, which cancels here).
"""

from __future__ import annotations

MAX_LIQUIDATION_INCENTIVE_FACTOR = 1.15
LIQUIDATION_CURSOR = 0.3


def liquidation_incentive_factor(lltv):
    """``LIF = min(1.15, 1 / (0.3 * LLTV + 0.7))`` (Morpho Blue ``ConstantsLib``)."""
    return min(MAX_LIQUIDATION_INCENTIVE_FACTOR, 1.0 / (1.0 - LIQUIDATION_CURSOR * (1.0 - lltv)))


def liquidate_all(coll_balance, coll_price, debt_balance, debt_price, lif):
    """A liquidator repays the whole debt, or seizes all the collateral when it covers less
    (there is no close factor, and the incentive does not depend on the size, so the
    largest liquidation is the most profitable one).

    Returns ``(repaid, seized, bad_debt)`` in tokens: ``bad_debt`` is the debt left when the
    collateral is gone, which Morpho writes off against the market's suppliers.
    """
    seize = debt_balance * debt_price * lif / coll_price
    if seize < coll_balance:
        return debt_balance, seize, 0.0
    repaid = coll_balance * coll_price / (lif * debt_price)
    if repaid > debt_balance:
        repaid = debt_balance
    return repaid, coll_balance, debt_balance - repaid
