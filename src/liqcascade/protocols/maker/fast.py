"""Maker Liquidations 2.0 in float64, the forms the engines run.

``exact.py`` holds the integer rule (``Dog.bark``, ``Clipper.take``/``redo``, the abaci).
Here DAI amounts are USD at the DAI price, collateral whole tokens.
"""

from __future__ import annotations

CURVE_LINEAR = 0
CURVE_STAIRSTEP = 1
CURVE_EXPONENTIAL = 2


def instant_take(ink, price, debt, chop, keeper_margin):
    """A vault barked and its auction taken at once: keepers pay ``price * (1 - margin)``
    per token (the auction price falls until it meets their bid) for as much collateral
    as the tab ``debt * chop`` needs; the rest goes back to the vault owner.

    Returns ``(sold, raised, returned, shortfall)``: collateral sold (tokens), DAI raised,
    collateral returned (tokens) and debt not covered (DAI, the protocol's bad debt; the
    penalty part of the tab is not debt).
    """
    bid = price * (1.0 - keeper_margin)
    tab = debt * chop
    sold = tab / bid if bid > 0.0 else ink
    if sold >= ink:
        sold = ink
        raised = ink * bid
        if raised > tab:
            raised = tab
    else:
        # the lot covers the tab: ``take`` sets owe = tab exactly (no rounding of
        # ``(tab / bid) * bid`` below the debt when chop is 1)
        raised = tab
    shortfall = debt - raised if raised < debt else 0.0
    return sold, raised, ink - sold, shortfall


def auction_price(curve, top, elapsed, tau, cut, step):
    """The Clipper's price ``elapsed`` seconds after the (re)start (``abaci.sol``):
    linear to 0 over ``tau``; stairstep ``top * cut ** floor(elapsed / step)``;
    exponential ``top * cut ** elapsed``."""
    if curve == CURVE_LINEAR:
        if elapsed >= tau:
            return 0.0
        return top * (tau - elapsed) / tau
    if curve == CURVE_STAIRSTEP:
        return top * cut ** float(int(elapsed // step))
    return top * cut ** elapsed
