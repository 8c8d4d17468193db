"""Compound v2 liquidation in float64, the form the engines run.

Amounts are whole tokens of the underlying (cTokens converted at the exchange rate), prices
USD. ``exact.py`` holds the integer rule (``CToken.liquidateBorrowFresh``) this must agree
with; ``tests/protocols/test_fast_vs_exact.py`` ties them.
"""

from __future__ import annotations


def liquidate_call(coll_balance, coll_price, debt_balance, debt_price, incentive, close_factor, seize_share,
                   deprecated):
    """One ``liquidateBorrow`` with the largest repay that does not revert.

    The comptroller caps the repay at ``closeFactor * borrowBalance``, except in a
    deprecated borrow market (``isDeprecated``: collateral factor 0, borrowing paused,
    reserve factor 100 %), where ``liquidateBorrowAllowed`` ignores the close factor and
    lets the whole borrow be repaid; the seized
    collateral is ``repay * Pdebt * incentive / Pcoll``, and the call reverts
    (``LIQUIDATE_SEIZE_TOO_MUCH``) when that exceeds the borrower's collateral, so a
    liquidator then repays just what the collateral covers. ``seize_share`` of the seized
    tokens goes to the protocol's reserves (``protocolSeizeShareMantissa``).

    Returns ``(repaid, seized, protocol_share)`` in tokens.
    """
    repay = debt_balance if deprecated else debt_balance * close_factor
    seize = repay * debt_price * incentive / coll_price
    if seize > coll_balance:
        repay = coll_balance * coll_price / (debt_price * incentive)
        seize = coll_balance
    return repay, seize, seize * seize_share
