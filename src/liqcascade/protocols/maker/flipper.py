"""MakerDAO Liquidations 1.2 Flipper (English then reverse auction), integer-exact.

Source: makerdao/dss@fa4f6630 ``src/flip.sol`` (``kick``, ``tick``, ``tend``, ``dent``,
``deal``, ``yank``) and ``src/cat.sol`` (``claw``). Every function computes on Python ints
what its namesake computes for uint256 inputs and raises a :class:`FlipRevert` subclass
carrying the contract's ``require`` message where the contract reverts.

A Flipper auction sells ``lot`` collateral [wad] for up to ``tab`` DAI [rad]:

- *tend* phase: bidders raise the DAI ``bid`` for the whole lot; a new bid must exceed the
  current one and be at least ``beg`` times it (``beg`` [wad], 1.05e18 = 5 %), unless it
  equals ``tab``; the outbid bidder is refunded and the increase goes to ``gal`` (the Vow).
- *dent* phase (once ``bid == tab``): bidders offer the same ``tab`` for less collateral, each
  lot at most ``lot / beg``; what is given up goes back to the vault owner ``usr``.
- Every bid sets ``tic = now + ttl``; the auction can be ``deal``t once ``tic`` has passed or
  ``end`` (``kick`` time + ``tau``) has; an auction that reaches ``end`` with no bid is
  restarted by ``tick`` (``end = now + tau``) and can never be dealt without a bid.
- ``deal`` and ``yank`` give the tab back to the Cat's ``litter`` (``claw``).

State objects hold no logic; functions return new states. Addresses are plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from liqcascade.protocols.maker.exact import WAD, MakerRevert, mul, sub

UINT48_MAX = 2**48 - 1


class FlipRevert(MakerRevert):
    """A Flipper or Cat call that reverts on chain."""


class GuyNotSet(FlipRevert):
    message = "Flipper/guy-not-set"


class AlreadyFinishedTic(FlipRevert):
    message = "Flipper/already-finished-tic"


class AlreadyFinishedEnd(FlipRevert):
    message = "Flipper/already-finished-end"


class LotNotMatching(FlipRevert):
    message = "Flipper/lot-not-matching"


class HigherThanTab(FlipRevert):
    message = "Flipper/higher-than-tab"


class BidNotHigher(FlipRevert):
    message = "Flipper/bid-not-higher"


class InsufficientIncrease(FlipRevert):
    message = "Flipper/insufficient-increase"


class NotMatchingBid(FlipRevert):
    message = "Flipper/not-matching-bid"


class TendNotFinished(FlipRevert):
    message = "Flipper/tend-not-finished"


class LotNotLower(FlipRevert):
    message = "Flipper/lot-not-lower"


class InsufficientDecrease(FlipRevert):
    message = "Flipper/insufficient-decrease"


class NotFinished(FlipRevert):
    message = "Flipper/not-finished"


class BidAlreadyPlaced(FlipRevert):
    message = "Flipper/bid-already-placed"


class AlreadyDentPhase(FlipRevert):
    message = "Flipper/already-dent-phase"


class BalanceTooLow(FlipRevert):
    """vat.sol ``move``/``flux``: the sender's dai or gem balance is below the amount (a bare
    revert on the uint underflow)."""


class Uint48Overflow(FlipRevert):
    """flip.sol's uint48 ``add``: a bare revert."""


@dataclass(frozen=True)
class Flipper:
    """One ilk's Flipper settings: ``beg`` [wad] least bid increase factor, ``ttl`` [s] bid
    lifetime, ``tau`` [s] auction length. Defaults: flip.sol's (5 %, 3 hours, 2 days)."""

    beg: int = 105 * WAD // 100
    ttl: int = 3 * 3600
    tau: int = 2 * 86400


@dataclass(frozen=True)
class FlipBid:
    """flip.sol ``Bid``: ``bid`` [rad] DAI paid, ``lot`` [wad] collateral, ``guy`` high bidder
    (the kicker until a bid), ``tic`` [s] bid expiry (0: no bid), ``end`` [s] auction expiry,
    ``usr`` (vault owner, gets the collateral given up in dent), ``gal`` (gets the DAI),
    ``tab`` [rad] DAI wanted."""

    bid: int
    lot: int
    guy: str
    tic: int
    end: int
    usr: str
    gal: str
    tab: int


@dataclass(frozen=True)
class Transfer:
    """A Vat balance move a Flipper call makes: ``amount`` of ``what`` ("dai" [rad] or "gem"
    [wad]) from ``src`` to ``dst`` (``"flip"`` is the Flipper's own balance)."""

    what: str
    src: str
    dst: str
    amount: int


def _add48(x: int, y: int) -> int:
    z = x + y
    if z > UINT48_MAX:
        raise Uint48Overflow(f"add({x}, {y})")
    return z


def kick(flip: Flipper, kicker: str, usr: str, gal: str, tab: int, lot: int, bid: int, now: int
         ) -> tuple[FlipBid, list[Transfer]]:
    """``kick``: the auction's first state (``guy`` = the kicker, no ``tic``, ``end = now +
    tau``) and the lot moved from the kicker to the Flipper."""
    b = FlipBid(bid=bid, lot=lot, guy=kicker, tic=0, end=_add48(now, flip.tau), usr=usr, gal=gal, tab=tab)
    return b, [Transfer("gem", kicker, "flip", lot)]


def _biddable(b: FlipBid | None, now: int) -> FlipBid:
    if b is None or not b.guy:
        raise GuyNotSet()
    if not (b.tic > now or b.tic == 0):
        raise AlreadyFinishedTic(f"tic={b.tic} now={now}")
    if not b.end > now:
        raise AlreadyFinishedEnd(f"end={b.end} now={now}")
    return b


def tend(flip: Flipper, b: FlipBid | None, who: str, lot: int, bid: int, now: int
         ) -> tuple[FlipBid, list[Transfer]]:
    """``tend``: ``who`` bids ``bid`` [rad] DAI for the whole ``lot``. The previous high bidder
    is refunded by ``who`` (unless it is ``who``), the increase goes to ``gal``."""
    b = _biddable(b, now)
    if lot != b.lot:
        raise LotNotMatching(f"lot={lot} auction lot={b.lot}")
    if bid > b.tab:
        raise HigherThanTab(f"bid={bid} tab={b.tab}")
    if not bid > b.bid:
        raise BidNotHigher(f"bid={bid} current={b.bid}")
    if not (mul(bid, WAD) >= mul(flip.beg, b.bid) or bid == b.tab):
        raise InsufficientIncrease(f"bid={bid} current={b.bid} beg={flip.beg}")
    moves = []
    guy = b.guy
    if who != guy:
        moves.append(Transfer("dai", who, guy, b.bid))
        guy = who
    moves.append(Transfer("dai", who, b.gal, bid - b.bid))
    return replace(b, guy=guy, bid=bid, tic=_add48(now, flip.ttl)), moves


def dent(flip: Flipper, b: FlipBid | None, who: str, lot: int, bid: int, now: int
         ) -> tuple[FlipBid, list[Transfer]]:
    """``dent``: ``who`` takes less collateral (``lot``) for the full ``tab``; the collateral
    given up goes back to ``usr``."""
    b = _biddable(b, now)
    if bid != b.bid:
        raise NotMatchingBid(f"bid={bid} current={b.bid}")
    if bid != b.tab:
        raise TendNotFinished(f"bid={bid} tab={b.tab}")
    if not lot < b.lot:
        raise LotNotLower(f"lot={lot} current={b.lot}")
    if not mul(flip.beg, lot) <= mul(b.lot, WAD):
        raise InsufficientDecrease(f"lot={lot} current={b.lot} beg={flip.beg}")
    moves = []
    guy = b.guy
    if who != guy:
        moves.append(Transfer("dai", who, guy, bid))
        guy = who
    moves.append(Transfer("gem", "flip", b.usr, b.lot - lot))
    return replace(b, guy=guy, lot=lot, tic=_add48(now, flip.ttl)), moves


def deal(b: FlipBid | None, litter: int, now: int) -> tuple[int, list[Transfer]]:
    """``deal``: after a bid, once ``tic`` or ``end`` has passed: the Cat's ``litter`` less the
    tab (``claw``) and the lot to the high bidder. The auction is deleted."""
    if b is None or not (b.tic != 0 and (b.tic < now or b.end < now)):
        raise NotFinished("" if b is None else f"tic={b.tic} end={b.end} now={now}")
    return claw(litter, b.tab), [Transfer("gem", "flip", b.guy, b.lot)]


def tick(flip: Flipper, b: FlipBid | None, now: int) -> FlipBid:
    """``tick``: an auction past its ``end`` with no bid restarts (``end = now + tau``)."""
    end = 0 if b is None else b.end
    if not end < now:
        raise NotFinished(f"end={end} now={now}")
    assert b is not None
    if b.tic != 0:
        raise BidAlreadyPlaced(f"tic={b.tic}")
    return replace(b, end=_add48(now, flip.tau))


def yank(b: FlipBid | None, litter: int, caller: str) -> tuple[int, list[Transfer]]:
    """``yank`` (Global Settlement, tend phase only): the tab back to the Cat, the lot to the
    caller, and the caller refunds the high bidder's bid."""
    if b is None or not b.guy:
        raise GuyNotSet()
    if not b.bid < b.tab:
        raise AlreadyDentPhase(f"bid={b.bid} tab={b.tab}")
    return claw(litter, b.tab), [Transfer("gem", "flip", caller, b.lot), Transfer("dai", caller, b.guy, b.bid)]


def claw(litter: int, rad: int) -> int:
    """cat.sol ``claw``: ``litter - rad`` (a Flipper gives its tab back when it ends)."""
    return sub(litter, rad)
