"""Maker Liquidations 2.0 in float64, the forms the engines run.

``exact.py`` holds the integer rule (``Dog.bark``, ``Clipper.take``/``redo``, the abaci);
``dog_bark`` is the float form of ``Dog.bark``'s size (room and dust).
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


BARK_NONE = 0
"""No room (``Dog/liquidation-limit-hit``): the vault waits."""
BARK_WHOLE = 1
"""The room takes the whole tab."""
BARK_PARTIAL = 2
"""Room < tab: a share ``room / tab`` of the vault."""
BARK_DUSTY_WHOLE = 3
"""Room < tab, but the vault would be left with less than ``dust``: the whole vault (the
tab may exceed the room)."""
BARK_DUSTY_PARTIAL = 4
"""Room < tab and the partial auction's own debt is below ``dust``
(``Dog/dusty-auction-from-partial-liquidation``): the vault waits."""


def dog_bark(tab, chop, room, dust):
    """``Dog.bark``'s size in float: which case applies and the share of the vault's debt
    and collateral put up (``dart / art = dink / ink``).

    ``tab = debt * chop`` (USD), ``room = min(Hole - Dirt, hole - dirt)`` (USD), ``dust``
    the ilk's least vault debt (USD, 0 = none). ``tab <= room``: whole (also when the room
    is short of the tab by a rounding residue, 1e-9 of it, which would otherwise leave a
    vault of ~1e-13 of debt). Otherwise the share is ``room / tab`` (``dart = room / (rate
    * chop)``) unless the debt left, ``(tab - room) / chop``, is below ``dust`` (then the
    whole vault, beyond the room) or the auction's own debt, ``room / chop``, is (then
    none: the vault waits). Within a few ulps of the tab of ``dust`` float64 cannot tell
    the contract's cases apart (docs/protocols.md, "Float rules at exact boundaries"). Returns ``(case, share)``, ``case`` one of the ``BARK_*``
    constants, ``share`` 0 when none.
    """
    if not room > 0.0:
        return BARK_NONE, 0.0
    if tab - room <= 1e-9 * tab:
        return BARK_WHOLE, 1.0
    # the debt left, (tab - room) / chop, from one subtraction (exact when room >= tab / 2)
    # rather than due - due * room / tab: the comparisons with dust are then off by a few
    # ulps of the tab at most (the bound in docs/protocols.md)
    rest = (tab - room) / chop
    if rest < dust:
        return BARK_DUSTY_WHOLE, 1.0
    if room / chop < dust:
        return BARK_DUSTY_PARTIAL, 0.0
    return BARK_PARTIAL, room / tab
