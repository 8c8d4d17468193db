"""MakerDAO Liquidations 2.0, integer-exact: ``Dog.bark``, ``Clipper`` kick/take/redo, abaci.

Every function computes, on Python ints, what its dss namesake computes for uint256 inputs,
and raises a :class:`MakerRevert` subclass (carrying dss's ``require`` message) where the
contract reverts. Python ints never overflow, so dss's ``mul``/``add``/``sub`` guards are
restated here: an auction that would revert on chain must not silently succeed in a replay.

Units, as in dss: ``wad`` = 1e18 (collateral amounts, ``art``, ``chop``, ``chip``), ``ray`` =
1e27 (``rate``, ``spot``, prices, ``buf``, ``cusp``, ``cut``), ``rad`` = 1e45 (dai amounts:
``dust``, ``hole``/``Hole``, ``dirt``/``Dirt``, ``tab``, ``tip``, ``chost``).

Source: makerdao/dss@fa4f6630 ``src/dog.sol`` (``bark``, ``digs``), ``src/clip.sol``
(``kick``, ``redo``, ``take``, ``status``, ``getFeedPrice``, ``upchost``) and ``src/abaci.sol``
(``LinearDecrease``, ``StairstepExponentialDecrease``, ``ExponentialDecrease``, ``rpow``).

State objects hold no logic (``Ilk``, ``Vault``, ``Dog``, ``Clipper``, ``Sale``); the
functions return new states. The price curves are small frozen parameter objects whose
``price(top, dur)`` method only forwards to the pure function of the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from liqcascade.errors import LiqcascadeError

UINT256_MAX = 2**256 - 1
BLN = 10**9
WAD = 10**18
RAY = 10**27
RAD = 10**45


# --- reverts ---------------------------------------------------------------------------------


class MakerRevert(LiqcascadeError):
    """A dss call that reverts on chain; ``message`` is the contract's require string."""

    message = ""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        text = self.message or "revert (no message)"
        super().__init__(f"{text}: {detail}" if detail else text)


class MathOverflow(MakerRevert):
    """dss ``mul``/``add``/``sub`` or rpow's assembly guard: a bare revert with no message."""


class DivisionByZero(MakerRevert):
    """Solidity division by zero (e.g. ``dur / step`` with ``step`` 0)."""


class NotLive(MakerRevert):
    message = "Dog/not-live"


class NotUnsafe(MakerRevert):
    message = "Dog/not-unsafe"


class LiquidationLimitHit(MakerRevert):
    message = "Dog/liquidation-limit-hit"


class DustyAuctionFromPartialLiquidation(MakerRevert):
    message = "Dog/dusty-auction-from-partial-liquidation"


class NullAuction(MakerRevert):
    message = "Dog/null-auction"


class DogOverflow(MakerRevert):
    message = "Dog/overflow"


class ZeroTab(MakerRevert):
    message = "Clipper/zero-tab"


class ZeroLot(MakerRevert):
    message = "Clipper/zero-lot"


class ZeroTopPrice(MakerRevert):
    message = "Clipper/zero-top-price"


class StoppedIncorrect(MakerRevert):
    message = "Clipper/stopped-incorrect"


class NotRunningAuction(MakerRevert):
    message = "Clipper/not-running-auction"


class CannotReset(MakerRevert):
    message = "Clipper/cannot-reset"


class NeedsReset(MakerRevert):
    message = "Clipper/needs-reset"


class TooExpensive(MakerRevert):
    message = "Clipper/too-expensive"


class NoPartialPurchase(MakerRevert):
    message = "Clipper/no-partial-purchase"


class CutGtRay(MakerRevert):
    message = "StairstepExponentialDecrease/cut-gt-RAY"


# --- dss math (dog.sol / clip.sol / abaci.sol "Math" sections) ---------------------------------


def _uint(x: int, name: str) -> int:
    if x < 0 or x > UINT256_MAX:
        raise MathOverflow(f"{name}={x} is not a uint256")
    return x


def add(x: int, y: int) -> int:
    """dss ``add``: reverts when ``x + y`` leaves uint256."""
    z = x + y
    if z > UINT256_MAX:
        raise MathOverflow(f"add({x}, {y})")
    return z


def sub(x: int, y: int) -> int:
    """dss ``sub``: reverts when ``y > x`` (uint256 underflow)."""
    if y > x:
        raise MathOverflow(f"sub({x}, {y})")
    return x - y


def mul(x: int, y: int) -> int:
    """dss ``mul``: reverts when ``x * y`` leaves uint256."""
    z = x * y
    if z > UINT256_MAX:
        raise MathOverflow(f"mul({x}, {y})")
    return z


def _div(x: int, y: int) -> int:
    if y == 0:
        raise DivisionByZero(f"{x} / 0")
    return x // y


def wmul(x: int, y: int) -> int:
    """``mul(x, y) / WAD``, rounded down (clip.sol, dog.sol)."""
    return mul(x, y) // WAD


def rmul(x: int, y: int) -> int:
    """``mul(x, y) / RAY``, rounded down (clip.sol, abaci.sol)."""
    return mul(x, y) // RAY


def rdiv(x: int, y: int) -> int:
    """``mul(x, RAY) / y``, rounded down (clip.sol)."""
    return _div(mul(x, RAY), y)


def rpow(x: int, n: int, base: int = RAY) -> int:
    """``x**n`` in fixed point ``base``, as abaci.sol/jug.sol's assembly ``rpow`` computes it.

    Square-and-multiply over the bits of ``n``; every product (the square ``x*x`` and the
    accumulation ``z*x``) is rounded half up, ``(p + base/2) / base``, so the result can
    differ from the exact power by a few units per squaring. The assembly reverts (no
    message) when ``x >= 2**128`` before squaring, or when a product or its rounding add
    leaves uint256; those guards are restated so overflow raises :class:`MathOverflow`.
    """
    _uint(x, "x")
    _uint(n, "n")
    if n == 0:
        return base
    if x == 0:
        return 0
    z = x if n % 2 else base
    half = base // 2  # for rounding
    n //= 2
    while n:
        # The assembly multiplies (mod 2**256) first, then checks the high half of x, so
        # the effective guard is x < 2**128, which also keeps x*x inside uint256.
        if x >> 128:
            raise MathOverflow("rpow: x >= 2**128 before squaring")
        xx_round = x * x + half
        if xx_round > UINT256_MAX:
            raise MathOverflow("rpow: x*x + half overflows")
        x = _div(xx_round, base)
        if n % 2:
            zx = z * x
            if x != 0 and zx > UINT256_MAX:
                raise MathOverflow("rpow: z*x overflows")
            zx_round = zx + half
            if zx_round > UINT256_MAX:
                raise MathOverflow("rpow: z*x + half overflows")
            z = _div(zx_round, base)
        n //= 2
    return z


# --- price curves (abaci.sol) ---------------------------------------------------------------


def _abaci_rmul(x: int, y: int) -> int:
    # abaci's rmul checks the product with z / y == x, which is the same uint256 bound.
    return mul(x, y) // RAY


def linear_price(top: int, dur: int, tau: int) -> int:
    """``LinearDecrease.price``: ``top * ((tau - dur) / tau)`` [ray], 0 once ``dur >= tau``.

    The fraction is taken in ray first, ``mul(tau - dur, RAY) / tau`` (floor), then
    ``rmul`` (floor), so the two floors are what the chain returns.
    """
    if dur >= tau:
        return 0
    return _abaci_rmul(top, mul(tau - dur, RAY) // tau)


def stairstep_price(top: int, dur: int, cut: int, step: int) -> int:
    """``StairstepExponentialDecrease.price``: ``rmul(top, rpow(cut, dur / step, RAY))``."""
    return _abaci_rmul(top, rpow(cut, _div(dur, step), RAY))


def exponential_price(top: int, dur: int, cut: int) -> int:
    """``ExponentialDecrease.price``: ``rmul(top, rpow(cut, dur, RAY))`` (per-second cut)."""
    return _abaci_rmul(top, rpow(cut, dur, RAY))


class Abacus(Protocol):
    """An abaci price calculator: ``price(top [ray], dur [s]) -> price [ray]``."""

    def price(self, top: int, dur: int) -> int: ...


@dataclass(frozen=True)
class LinearDecrease:
    """``tau``: seconds after the start when the price reaches zero."""

    tau: int

    def price(self, top: int, dur: int) -> int:
        return linear_price(top, dur, self.tau)


@dataclass(frozen=True)
class StairstepExponentialDecrease:
    """``cut`` [ray] per ``step`` seconds; dss refuses ``cut > RAY`` at ``file`` time."""

    cut: int
    step: int

    def __post_init__(self) -> None:
        if self.cut > RAY:
            raise CutGtRay(f"cut={self.cut}")

    def price(self, top: int, dur: int) -> int:
        return stairstep_price(top, dur, self.cut, self.step)


@dataclass(frozen=True)
class ExponentialDecrease:
    """``cut`` [ray] per second; dss refuses ``cut > RAY`` at ``file`` time."""

    cut: int

    def __post_init__(self) -> None:
        if self.cut > RAY:
            raise CutGtRay(f"cut={self.cut}")

    def price(self, top: int, dur: int) -> int:
        return exponential_price(top, dur, self.cut)


# --- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ilk:
    """One collateral type: the ``Vat.ilks`` fields bark reads and the ``Dog.ilks`` fields.

    ``rate`` [ray] debt accumulator, ``spot`` [ray] price with safety margin, ``dust`` [rad]
    minimum vault debt; ``chop`` [wad] liquidation penalty, ``hole`` [rad] max dai in
    auctions for this ilk, ``dirt`` [rad] dai currently in its auctions.
    """

    rate: int
    spot: int
    dust: int
    chop: int
    hole: int
    dirt: int = 0


@dataclass(frozen=True)
class Vault:
    """``Vat.urns``: ``ink`` [wad] collateral, ``art`` [wad] normalised debt."""

    ink: int
    art: int


@dataclass(frozen=True)
class Dog:
    """Global liquidation limits: ``Hole`` [rad] cap and ``Dirt`` [rad] in all auctions."""

    Hole: int  # noqa: N815 - dss name
    Dirt: int = 0  # noqa: N815 - dss name
    live: int = 1


@dataclass(frozen=True)
class Clipper:
    """One ilk's Clipper configuration.

    ``buf`` [ray] start-price multiplier, ``tail`` [s] and ``cusp`` [ray] reset thresholds,
    ``chip`` [wad] and ``tip`` [rad] keeper incentives, ``chost`` [rad] the cached
    ``wmul(dust, chop)`` (see :func:`upchost`), ``calc`` the price curve, ``stopped`` the
    circuit-breaker level (1 blocks kick, 2 also redo, 3 also take).
    """

    calc: Abacus
    buf: int = RAY
    tail: int = 0
    cusp: int = 0
    chip: int = 0
    tip: int = 0
    chost: int = 0
    stopped: int = 0


@dataclass(frozen=True)
class Sale:
    """``Clipper.sales[id]``: ``tab`` [rad] dai to raise, ``lot`` [wad] collateral left,
    ``tic`` [s] start (or last reset) time, ``top`` [ray] starting price."""

    tab: int
    lot: int
    tic: int
    top: int


def upchost(dust: int, chop: int) -> int:
    """``Clipper.upchost``: ``chost = wmul(dust, chop)`` [rad], the smallest tab a partial
    take may leave. dss caches it, so it only moves when someone calls ``upchost``."""
    return wmul(dust, chop)


def feed_price(val: int, par: int = RAY) -> int:
    """``Clipper.getFeedPrice``: ``rdiv(mul(val, BLN), par)`` [ray] from the OSM ``val`` [wad]
    and the Spotter ``par`` [ray] (dai's reference price, 1 ray)."""
    return rdiv(mul(val, BLN), par)


def spot_price(val: int, mat: int, par: int = RAY) -> int:
    """``Spotter.poke``: ``spot = rdiv(rdiv(mul(val, BLN), par), mat)`` [ray]."""
    return rdiv(rdiv(mul(val, BLN), par), mat)


# --- Clipper --------------------------------------------------------------------------------


def _stopped(clip: Clipper, level: int) -> None:
    if not clip.stopped < level:
        raise StoppedIncorrect(f"stopped={clip.stopped}, needs < {level}")


def _incentive(clip: Clipper, tab: int) -> int:
    # dss only sucks (and does the arithmetic) when some incentive is configured.
    if clip.tip > 0 or clip.chip > 0:
        return add(clip.tip, wmul(tab, clip.chip))
    return 0


@dataclass(frozen=True)
class KickResult:
    sale: Sale
    coin: int  # [rad] paid to the keeper: tip + wmul(tab, chip)


def kick(clip: Clipper, tab: int, lot: int, feed: int, now: int) -> KickResult:
    """``Clipper.kick``: open an auction of ``lot`` [wad] for ``tab`` [rad] at ``now``.

    ``top = rmul(feedPrice, buf)`` [ray]; the keeper gets ``tip + wmul(tab, chip)`` [rad]
    when either incentive is set.
    """
    _stopped(clip, 1)
    if not tab > 0:
        raise ZeroTab()
    if not lot > 0:
        raise ZeroLot()
    top = rmul(feed, clip.buf)
    if not top > 0:
        raise ZeroTopPrice(f"feedPrice={feed}, buf={clip.buf}")
    return KickResult(Sale(tab=tab, lot=lot, tic=now, top=top), _incentive(clip, tab))


def status(clip: Clipper, sale: Sale, now: int) -> tuple[bool, int]:
    """``Clipper.status``: ``(done, price)``. ``done`` (needs ``redo``) when more than
    ``tail`` seconds have passed or ``rdiv(price, top) < cusp``."""
    dur = sub(now, sale.tic)
    price = clip.calc.price(sale.top, dur)
    done = dur > clip.tail or rdiv(price, sale.top) < clip.cusp
    return done, price


@dataclass(frozen=True)
class RedoResult:
    sale: Sale
    coin: int  # [rad]; 0 when the sale is dusty (tab or lot value below chost)


def redo(clip: Clipper, sale: Sale, feed: int, now: int) -> RedoResult:
    """``Clipper.redo``: restart a sale that ``status`` says is done, at ``now``.

    The new ``top`` is ``rmul(feedPrice, buf)``. The keeper incentive is paid only if
    ``tab >= chost`` and ``lot * feedPrice >= chost``, so resetting dusty sales is not a
    way to farm tips.
    """
    _stopped(clip, 2)
    done, _ = status(clip, sale, now)
    if not done:
        raise CannotReset(f"dur={now - sale.tic}")
    top = rmul(feed, clip.buf)
    if not top > 0:
        raise ZeroTopPrice(f"feedPrice={feed}, buf={clip.buf}")
    coin = 0
    if clip.tip > 0 or clip.chip > 0:
        if sale.tab >= clip.chost and mul(sale.lot, feed) >= clip.chost:
            coin = add(clip.tip, wmul(sale.tab, clip.chip))
    return RedoResult(replace(sale, tic=now, top=top), coin)


@dataclass(frozen=True)
class TakeResult:
    """What one ``take`` did.

    ``sale`` is ``None`` once the auction is removed (lot or tab reached 0). ``slice`` [wad]
    went to the buyer for ``owe`` [rad]; ``returned`` [wad] went back to the vault owner
    (the lot left when tab reached 0); ``digs`` [rad] came off ``Dirt``/``dirt``. ``dog`` and
    ``ilk`` are the updated states when they were passed in.
    """

    sale: Sale | None
    price: int
    owe: int
    slice: int
    returned: int
    digs: int
    dog: Dog | None = None
    ilk: Ilk | None = None


def digs(dog: Dog, ilk: Ilk, rad: int) -> tuple[Dog, Ilk]:
    """``Dog.digs``: take ``rad`` off both ``Dirt`` and the ilk's ``dirt`` (reverts below 0)."""
    return replace(dog, Dirt=sub(dog.Dirt, rad)), replace(ilk, dirt=sub(ilk.dirt, rad))


def take(
    clip: Clipper,
    sale: Sale,
    amt: int,
    max_price: int,
    now: int,
    dog: Dog | None = None,
    ilk: Ilk | None = None,
) -> TakeResult:
    """``Clipper.take``: buy up to ``amt`` [wad] at the current price if it is ``<= max_price``.

    ``owe = slice * price`` [rad] for ``slice = min(lot, amt)``. Over the tab, the buyer pays
    only ``tab`` and gets ``tab / price``. A partial buy that would leave ``0 < tab < chost``
    is cut back to leave exactly ``chost`` (dss keeps auctions from becoming too small to
    clear), and reverts if ``tab <= chost`` already. ``Dirt`` falls by ``owe``, or by the whole
    remaining ``tab + owe`` when the lot is gone (the shortfall is no longer in auction).
    """
    _stopped(clip, 3)
    done, price = status(clip, sale, now)
    if done:
        raise NeedsReset(f"dur={now - sale.tic}")
    if not max_price >= price:
        raise TooExpensive(f"price={price} > max={max_price}")
    lot, tab = sale.lot, sale.tab
    slice_ = min(lot, amt)
    owe = mul(slice_, price)
    if owe > tab:
        owe = tab
        slice_ = owe // price
    elif owe < tab and slice_ < lot:
        if tab - owe < clip.chost:
            if not tab > clip.chost:
                raise NoPartialPurchase(f"tab={tab} <= chost={clip.chost}")
            owe = tab - clip.chost
            slice_ = owe // price
    tab -= owe
    lot -= slice_
    dug = tab + owe if lot == 0 else owe
    if dog is not None and ilk is not None:
        dog, ilk = digs(dog, ilk, dug)
    returned = 0
    new_sale: Sale | None
    if lot == 0:
        new_sale = None
    elif tab == 0:
        returned, new_sale = lot, None
    else:
        new_sale = replace(sale, tab=tab, lot=lot)
    return TakeResult(new_sale, price, owe, slice_, returned, dug, dog, ilk)


# --- Dog ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BarkResult:
    """``Dog.bark`` outcome: the new ilk/vault/dog states, the sale opened, ``dart`` [wad]
    debt and ``dink`` [wad] collateral taken, ``due`` [rad] debt sent to the Vow, ``tab`` [rad]
    with the penalty, ``coin`` [rad] paid to the keeper."""

    ilk: Ilk
    vault: Vault
    dog: Dog
    sale: Sale
    dart: int
    dink: int
    due: int
    tab: int
    coin: int


def bark(ilk: Ilk, vault: Vault, dog: Dog, clip: Clipper, feed: int, now: int) -> BarkResult:
    """``Dog.bark``: liquidate an unsafe vault (``ink * spot < art * rate``) into a Clipper sale.

    ``room = min(Hole - Dirt, hole - dirt)`` [rad] bounds the dai put up for auction:
    ``dart = min(art, room * WAD / rate / chop)`` (two floors). If the vault would be left
    with ``0 < (art - dart) * rate < dust`` it is liquidated whole (may exceed the holes by
    at most about ``dust * chop``); otherwise a partial auction must itself reach ``dust``.
    ``dink = ink * dart / art``, ``tab = due * chop / WAD`` with ``due = dart * rate``, and
    ``Dirt``/``dirt`` grow by ``tab``.
    """
    if dog.live != 1:
        raise NotLive()
    ink, art, rate = vault.ink, vault.art, ilk.rate
    if not (ilk.spot > 0 and mul(ink, ilk.spot) < mul(art, rate)):
        raise NotUnsafe(f"ink*spot={ink * ilk.spot} >= art*rate={art * rate}")
    if not (dog.Hole > dog.Dirt and ilk.hole > ilk.dirt):
        raise LiquidationLimitHit(f"Hole={dog.Hole} Dirt={dog.Dirt} hole={ilk.hole} dirt={ilk.dirt}")
    room = min(dog.Hole - dog.Dirt, ilk.hole - ilk.dirt)
    dart = min(art, _div(_div(mul(room, WAD), rate), ilk.chop))
    if art > dart:
        if mul(art - dart, rate) < ilk.dust:
            dart = art
        elif not mul(dart, rate) >= ilk.dust:
            raise DustyAuctionFromPartialLiquidation(f"dart*rate={dart * rate} < dust={ilk.dust}")
    dink = _div(mul(ink, dart), art)
    if not dink > 0:
        raise NullAuction()
    if not (dart <= 2**255 and dink <= 2**255):
        raise DogOverflow()
    due = mul(dart, rate)
    tab = mul(due, ilk.chop) // WAD
    new_dog = replace(dog, Dirt=add(dog.Dirt, tab))
    new_ilk = replace(ilk, dirt=add(ilk.dirt, tab))
    k = kick(clip, tab, dink, feed, now)
    return BarkResult(
        ilk=new_ilk,
        vault=Vault(ink=ink - dink, art=art - dart),
        dog=new_dog,
        sale=k.sale,
        dart=dart,
        dink=dink,
        due=due,
        tab=tab,
        coin=k.coin,
    )


# --- mainnet parameters ---------------------------------------------------------------------

#: ETH-A as configured in makerdao/spells-mainnet ``src/test/config.sol`` (reference §4).
#: Governance changes these; a replay of a past date must use the values of that date.
ETH_A = {
    "mat": 145 * RAY // 100,  # [ray] liquidation ratio 145 %
    "chop": 113 * WAD // 100,  # [wad] 13 % penalty
    "dust": 15_000 * RAD,
    "hole": 65_000_000 * RAD,
    "Hole": 100_000_000 * RAD,  # global, shared by all ilks
    "buf": 120 * RAY // 100,
    "tail": 140 * 60,  # [s]
    "cusp": 40 * RAY // 100,
    "chip": WAD // 1000,  # 0.1 %
    "tip": 300 * RAD,
    "step": 90,  # [s] stairstep
    "cut": 99 * RAY // 100,
}


def eth_a_clipper() -> Clipper:
    """The ETH-A Clipper: stairstep 1 % every 90 s, chost = wmul(dust, chop) = 16,950 dai."""
    p = ETH_A
    return Clipper(
        calc=StairstepExponentialDecrease(cut=p["cut"], step=p["step"]),
        buf=p["buf"],
        tail=p["tail"],
        cusp=p["cusp"],
        chip=p["chip"],
        tip=p["tip"],
        chost=upchost(p["dust"], p["chop"]),
    )


# --- Liquidations 1.2: Cat.bite ---------------------------------------------------------------
#
# Before the Dog and Clipper (Liquidations 2.0, live for ETH vaults in spring 2021), vaults were
# liquidated by the Cat into Flipper English auctions. Source: makerdao/dss@c103b307
# ``src/cat.sol`` (``bite``; the bite logic is unchanged from ee01dab, the Liquidations 1.2
# release deployed in 2020). Unlike ``Dog.bark`` the Cat has no dusty-remainder rule: a partial
# bite may leave ``0 < art * rate < dust`` ("This may leave the CDP in a dusty state").


class CatNotLive(MakerRevert):
    message = "Cat/not-live"


class CatNotUnsafe(MakerRevert):
    message = "Cat/not-unsafe"


class CatLiquidationLimitHit(MakerRevert):
    message = "Cat/liquidation-limit-hit"


class CatNullAuction(MakerRevert):
    message = "Cat/null-auction"


class CatOverflow(MakerRevert):
    message = "Cat/overflow"


@dataclass(frozen=True)
class CatIlk:
    """The fields ``Cat.bite`` reads for one ilk: ``Vat.ilks`` ``rate`` [ray], ``spot`` [ray],
    ``dust`` [rad], and ``Cat.ilks`` ``chop`` [wad] penalty and ``dunk`` [rad] tab cap per bite."""

    rate: int
    spot: int
    dust: int
    chop: int
    dunk: int


@dataclass(frozen=True)
class Cat:
    """Global Cat state: ``box`` [rad] cap on dai in Flipper auctions, ``litter`` [rad] in them."""

    box: int
    litter: int = 0
    live: int = 1


@dataclass(frozen=True)
class BiteResult:
    """``Cat.bite`` outcome: the vault and Cat after it, ``dart`` [wad] debt and ``dink`` [wad]
    collateral taken, ``due`` [rad] = ``dart * rate`` (the debt sent to the Vow, the Bite
    event's ``tab`` field), ``tab`` [rad] = ``due * chop / WAD`` (what the Flipper must raise)."""

    vault: Vault
    cat: Cat
    dart: int
    dink: int
    due: int
    tab: int


def cat_unsafe(ink: int, art: int, rate: int, spot: int) -> bool:
    """``Cat.bite``'s trigger: ``spot > 0 && ink * spot < art * rate`` (wad x ray vs wad x ray)."""
    return spot > 0 and mul(ink, spot) < mul(art, rate)


def bite(ilk: CatIlk, vault: Vault, cat: Cat) -> BiteResult:
    """``Cat.bite``: move an unsafe vault's debt and collateral into a Flipper auction.

    ``room = box - litter`` [rad] (reverts when ``litter >= box`` or ``room < dust``);
    ``dart = min(art, min(dunk, room) * WAD / rate / chop)`` (two floors), so one bite's tab is
    at most ``dunk`` and a large vault is bitten again and again; ``dink = min(ink, ink * dart /
    art)``; both must be > 0. ``due = dart * rate``, ``tab = due * chop / WAD`` and ``litter``
    grows by ``tab``. A partial bite keeps the vault's collateral ratio, so a vault that was
    unsafe stays unsafe until its debt is gone.
    """
    if cat.live != 1:
        raise CatNotLive()
    ink, art, rate = vault.ink, vault.art, ilk.rate
    if not cat_unsafe(ink, art, rate, ilk.spot):
        raise CatNotUnsafe(f"ink*spot={ink * ilk.spot} >= art*rate={art * rate}")
    room = sub(cat.box, cat.litter)
    if not (cat.litter < cat.box and room >= ilk.dust):
        raise CatLiquidationLimitHit(f"box={cat.box} litter={cat.litter} dust={ilk.dust}")
    dart = min(art, _div(_div(mul(min(ilk.dunk, room), WAD), rate), ilk.chop))
    dink = min(ink, _div(mul(ink, dart), art))
    if not (dart > 0 and dink > 0):
        raise CatNullAuction(f"dart={dart} dink={dink}")
    if not (dart <= 2**255 and dink <= 2**255):
        raise CatOverflow()
    due = mul(dart, rate)
    tab = mul(due, ilk.chop) // WAD
    return BiteResult(
        vault=Vault(ink=ink - dink, art=art - dart),
        cat=replace(cat, litter=add(cat.litter, tab)),
        dart=dart,
        dink=dink,
        due=due,
        tab=tab,
    )
