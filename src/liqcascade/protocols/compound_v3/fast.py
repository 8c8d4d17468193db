"""Compound v3 (Comet) absorption and resale in float64, the form the engines run.

``exact.py`` holds the integer rule (``absorbInternal``, ``quoteCollateral``).
"""

from __future__ import annotations


def absorb_values(collateral_value_lf, debt_value):
    """``absorb``: the protocol credits the account ``Σ value * liquidationFactor`` against
    its debt. Returns ``(covered, shortfall, surplus)`` in USD: the debt the credit covers,
    the rest (paid from reserves), and what is left over for the account (its new supply).
    """
    if collateral_value_lf >= debt_value:
        return debt_value, 0.0, collateral_value_lf - debt_value
    return collateral_value_lf, debt_value - collateral_value_lf, 0.0


def store_front_price(price, liquidation_factor, store_front_factor):
    """``quoteCollateral``'s price: ``P * (1 - storeFront * (1 - liquidationFactor))``."""
    return price * (1.0 - store_front_factor * (1.0 - liquidation_factor))
