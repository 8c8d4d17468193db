"""Float rules at the contracts' exact boundaries: exact vs float vs kernel vs Python twin.

Three places where one wei decides what a contract does (docs/protocols.md, "Float rules at
exact boundaries"):

- Maker ``Dog.bark``: a vault left with ``(art - dart) * rate < dust`` is barked whole; one
  whose partial auction would owe ``dart * rate < dust`` waits. The float rule
  (``maker/fast.py`` ``dog_bark``, run by the mechanism kernels) decides as ``dog.sol`` would
  for some ``dust`` within ``B = 2^-50 * debt + 2 * rate`` wei of the real one (derivation in
  the docs: six roundings of at most 2^-53 each, plus the two floors of ``dart``).
- Aave v3.3+ ``MustNotLeaveDust`` on the debt left: floor (v3.3) or ceil (v3.5+) of its base
  value against 1000e8. The float rule (``aave_v3/fast.py`` ``leaves_dust``) models both
  roundings, so it decides as the contract whenever the debt left is more than
  ``2^-50 * debt`` from the limit: at every wei for 6-decimal debt, within a band of about
  1e-12 of a dollar for 18-decimal debt, where a wei is not representable.
- Compound v2 ``isDeprecated`` borrow markets: no close factor, the whole borrow may be
  repaid.

Expected values are the contracts' (integer rules in ``exact.py``) or worked by hand.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.protocols.aave_v3 import exact as ax
from liqcascade.protocols.aave_v3 import fast as af
from liqcascade.protocols.aave_v3 import kernels as aave_kernels
from liqcascade.protocols.aave_v3.versions import V3_3, V3_5, V3_7
from liqcascade.protocols.compound_v2 import exact as cv2
from liqcascade.protocols.compound_v2 import fast as cv2_fast
from liqcascade.protocols.compound_v2.rules import CompoundV2Rules
from liqcascade.protocols.maker import exact as X
from liqcascade.protocols.maker.clipper import ClipperSettings
from liqcascade.protocols.maker.fast import BARK_DUSTY_PARTIAL, BARK_DUSTY_WHOLE, BARK_NONE, BARK_WHOLE, dog_bark
from liqcascade.protocols.maker.rules import MakerRules
from liqcascade.protocols.mechanisms.kernels import assemble
from liqcascade.protocols.mechanisms.rules import kernel_rows

from ..engine import mechanism_books as mb
from .test_fast_vs_exact import (
    MARGIN,
    REL,
    CompoundV2State,
    assert_close,
    compound_v2_states,
    largest_accepted,
)

E18 = 10**18
U50 = 2.0**-50
HYP = settings(max_examples=60, deadline=None,
               suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


def first_calls(rules, book, prices):
    """The protocol's kernel ``first_call`` on every account, compiled and plain Python:
    two lists of (repaid, seized) arrays."""
    arrays = rules.prepare(book)
    accounts = np.arange(len(arrays.offsets) - 1, dtype=np.int64)
    spec = rules.dynamic_kernels().spec
    out = []
    for ks in (assemble(spec, enabled=True), assemble(spec, enabled=False)):
        n = accounts.shape[0]
        f = [np.zeros(n) for _ in range(6)]
        ca, da = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        rows = kernel_rows(arrays.with_amounts(arrays.coll.copy(), arrays.debt.copy()), prices)
        ks.first_call(accounts, arrays.offsets, rows, rules.rank_scalars(), rules._state(arrays).copy(), f[0], f[1],
                      f[2], (f[3], f[4], f[5]), (ca, da))
        out.append((f[0], f[1]))
    return out


# --- Maker: Dog.bark's dust -------------------------------------------------------------------

CHOP_I = 11 * 10**17  # the market's WETH chop (bonus 0.10 in mechanism_books)
CHOP_F = 1.0 + float(mb.BONUS[mb.WETH])


def exact_bark(art: int, rate: int, room: int, dust: int) -> str:
    """``dog.sol`` ``bark`` on a vault of ``art`` at ``rate`` with ``room`` (rad) left under the
    ilk's hole: ``whole``, ``partial``, ``waits`` (dusty partial auction)."""
    big = 10**12 * X.RAD
    ilk = X.Ilk(rate=rate, spot=1, dust=dust, chop=CHOP_I, hole=room, dirt=0)
    vault = X.Vault(ink=10**6 * X.WAD, art=art)
    try:
        r = X.bark(ilk, vault, X.Dog(Hole=big), X.Clipper(calc=X.LinearDecrease(tau=3600), buf=X.RAY), X.RAY, 0)
    except X.DustyAuctionFromPartialLiquidation:
        return "waits"
    return "whole" if r.dart == art else "partial"


def _decisions_near(art: int, rate: int, room: int, dust: int, band: int) -> set[str]:
    """Every decision ``dog.sol`` makes for a dust within ``band`` of ``dust`` and a room within
    2^-50 of ``room``. For one room the decision changes only where dust crosses the partial
    auction's debt or the debt it leaves: those points (inside the band) and the band's ends."""
    out = set()
    for r in (room - math.ceil(U50 * room), room, room + math.ceil(U50 * room)):
        dart = r * X.WAD // rate // CHOP_I
        edges = (dart * rate, dart * rate + 1, (art - dart) * rate, (art - dart) * rate + 1)
        trial = [max(dust - band, 0), dust, dust + band] + [e for e in edges if abs(e - dust) <= band]
        out |= {exact_bark(art, rate, r, d) for d in trial if 0 < d}
    return out


def float_bark(debt: float, room: float, dust: float) -> str:
    case, _ = dog_bark(debt * CHOP_F, CHOP_F, room, dust)
    if case == BARK_NONE:
        return "none"
    if case in (BARK_WHOLE, BARK_DUSTY_WHOLE):
        return "whole"
    return "waits" if case == BARK_DUSTY_PARTIAL else "partial"


def kernel_barks(debt: float, room: float, dust: float) -> list[str]:
    """The bark the mechanism kernels' first call makes on one vault (compiled, Python)."""
    rules = MakerRules(mb.PARAMS, auctions=ClipperSettings(hole_usd=room, dust_usd=dust))
    book = mb.book([(0, "WETH", debt / 2000.0, 0.0), (0, "USDC", 0.0, debt)])  # HF 0.8
    res = []
    for repaid, _ in first_calls(rules, book, mb.PRICES):
        res.append("waits" if repaid[0] == 0.0 else "whole" if repaid[0] == debt else "partial")
    return res


def test_chop_is_the_markets():
    assert CHOP_F == 1.1 and CHOP_I == 11 * 10**17


@pytest.mark.parametrize("offset,contract", [(-1, "partial"), (0, "partial"), (1, "whole")])
def test_maker_remnant_at_dust_one_wei(offset, contract):
    """ETH-A's dust (15,000 DAI) and a 100,000 DAI vault at rate 1 whose room (93,500 DAI)
    leaves exactly 15,000 DAI: ``dart = 93,500 / 1.1 = 85,000`` (no floor bites). With dust
    1 wei (of rad) above that remnant the contract takes the whole vault, at or below it a
    partial auction. The three dusts are one float64 (15000.0): the float rule, the kernel
    and its twin make one decision for all three, which is the contract's for one of them
    (a 1e-45 DAI difference is no float64 difference; the bound is the docs')."""
    art, rate, room = 100_000 * E18, X.RAY, 93_500 * X.RAD
    dust = 15_000 * X.RAD + offset
    assert (art - room * X.WAD // rate // CHOP_I) * rate == 15_000 * X.RAD
    assert exact_bark(art, rate, room, dust) == contract
    debt, room_f, dust_f = art * rate / X.RAD, room / X.RAD, dust / X.RAD
    assert dust_f == 15000.0
    f = float_bark(debt, room_f, dust_f)
    assert kernel_barks(debt, room_f, dust_f) == [f, f]
    assert f in ("whole", "partial")


@HYP
@given(art_dai=st.floats(100.0, 1e8), rate_f=st.floats(1.0, 2.0), room_frac=st.floats(0.05, 0.95),
       which=st.sampled_from(("rest", "part")),
       k=st.integers(-2, 2) | st.integers(-10**33, 10**33)
       | st.tuples(st.sampled_from((-1, 1)), st.floats(1e-17, 1e-12)).map(lambda t: t[0] * t[1]))
@example(art_dai=100_000.0, rate_f=1.0, room_frac=93_500 / 110_000, which="rest", k=1)
@example(art_dai=100_000.0, rate_f=1.0, room_frac=93_500 / 110_000, which="rest", k=-1)
@example(art_dai=20_000.0, rate_f=1.02, room_frac=0.8, which="part", k=0)
@example(art_dai=1000.0, rate_f=1.0, room_frac=0.5, which="rest", k=1e-12)  # clear of the band: whole
@example(art_dai=1000.0, rate_f=1.0, room_frac=0.5, which="rest", k=-1e-12)  # partial
@example(art_dai=1000.0, rate_f=1.0, room_frac=0.5, which="part", k=1e-12)  # waits
def test_maker_dust_band(art_dai, rate_f, room_frac, which, k):
    """Around either dust boundary (``which``: the debt left, or the partial auction's own
    debt, set equal to ``dust`` up to ``k`` rad-wei or ``k`` of the debt): the float rule,
    the compiled kernel and its twin agree with each other, and with ``dog.sol`` for some dust
    within ``B = 2^-50 * debt + 2 * rate`` wei of the real one; outside that band, with
    ``dog.sol`` at the real dust."""
    art, rate = int(art_dai * E18), int(rate_f * X.RAY)
    debt = art * rate / X.RAD
    room = int(room_frac * debt * CHOP_F * X.RAD)
    dart = room * X.WAD // rate // CHOP_I
    edge = (art - dart) * rate if which == "rest" else dart * rate
    dust = edge + (k if isinstance(k, int) else int(k * edge))
    assume(0 < dust < art * rate)
    band = math.ceil((U50 * debt) * X.RAD) + 2 * rate
    contract = exact_bark(art, rate, room, dust)
    near = {contract} | _decisions_near(art, rate, room, dust, band)
    f = float_bark(debt, room / X.RAD, dust / X.RAD)
    event(f"{which}: {'in band' if len(near) > 1 else 'clear'}")
    assert f in near
    if len(near) == 1:
        assert f == contract
    assert kernel_barks(debt, room / X.RAD, dust / X.RAD) == [f, f]


# --- Aave v3.3+: MustNotLeaveDust on the debt left --------------------------------------------

def aave_position(dec: int, price: int, debt_wei: int):
    """WETH collateral ($2000, LT 80 %, LB 105 %, fee 10 %) worth ``debt * 0.9 / 0.8`` (HF 0.9:
    the whole debt may be covered) against one debt reserve of ``dec`` decimals at ``price``
    (1e8)."""
    reserves = {"C": ax.ReserveState(18, 2000 * 10**8, lt_bps=8000, lb_bps=10500, lpf_bps=1000),
                "D": ax.ReserveState(dec, price)}
    coll_wei = debt_wei * price * 9 * E18 // (8 * 10**dec * 2000 * 10**8)
    user = {"C": ax.UserReserve(scaled_collateral=coll_wei),
            "D": ax.UserReserve(scaled_debt=debt_wei, collateral_enabled=False)}
    return reserves, user


def aave_both(version, reserves, user, cover_wei):
    """(exact reverts MustNotLeaveDust, [float, compiled] revert flags) for one cover."""
    dec, price = reserves["D"].decimals, reserves["D"].price_1e8
    try:
        ax.liquidation_call(version, reserves, user, "C", "D", cover_wei)
        contract = False
    except ax.MustNotLeaveDust:
        contract = True
    acct = ax.user_account_data(version, reserves, user)
    args = (version, acct.health_factor / 1e18, user["C"].scaled_collateral / E18, 2000.0,
            user["D"].scaled_debt / 10**dec, price / 1e8, acct.total_debt_base / 1e8, 0.05, 0.1, cover_wei / 10**dec)
    flags = [fn(*args)[3] == af.REVERT_DUST for fn in (af.liquidation_call, aave_kernels._K["liquidation_call"])]
    return contract, flags


def dust_limit_wei(version: int, dec: int, price: int) -> int:
    """The least debt left (wei) that is not dust: floor(left * price / 10^dec) >= 1000e8
    (v3.3), ceil(...) >= 1000e8, i.e. left * price / 10^dec > 1000e8 - 1 (v3.5+)."""
    n = ax.MIN_LEFTOVER_BASE
    if version >= V3_5:
        return (n - 1) * 10**dec // price + 1
    return -(-n * 10**dec // price)


def distance_usd(version: int, left_wei: int, dec: int, price: int) -> Fraction:
    """How far the debt left is from where the contract's dust test flips, in USD: $1000
    (v3.3, base value floored), $1000 - 1e-8 (v3.5+, ceiled: dust iff at most 1000e8 - 1)."""
    limit = Fraction(ax.MIN_LEFTOVER_BASE - (1 if version >= V3_5 else 0), 10**8)
    return abs(Fraction(left_wei * price, 10 ** (dec + 8)) - limit)


@pytest.mark.parametrize("version", [V3_3, V3_5, V3_7])
@pytest.mark.parametrize("dec,price", [(6, 10**8), (6, 99_999_999), (18, 10**8), (18, 123_456_789)])
def test_aave_cover_one_wei_over_the_dust_limit(version, dec, price):
    """Cover the debt down to the limit, one wei short of it, one wei past it. The contract
    reverts only one wei past (its own rounding of the base value decides where the limit
    lies). The float rule and its compiled copy decide alike, and as the contract wherever
    the debt left is more than ``2^-50 * debt`` from the flip (module docstring). By hand:
    a wei of USDC at $1 is 1e-6 of a dollar, and 3000 - 2000.000001 < 1000 <= 3000 - 2000 in
    float64, so all three agree; a wei of DAI is no float64 difference (2000e18 + 1 wei is
    2000.0), so at v3.3 (floor: 1000e18 - 1 wei is dust) the float rule misses the revert
    one wei past the limit -- the stated bound. At 0.99999999 USDC/$ the wei past the limit
    leaves 999.9999999999999 (1e-14 short), inside the band too."""
    debt = 3000 * 10**dec * 10**8 // price  # ~$3000
    reserves, user = aave_position(dec, price, debt)
    ok = debt - dust_limit_wei(version, dec, price)
    agree = []
    for k in (-1, 0, 1):
        contract, flags = aave_both(version, reserves, user, ok + k)
        assert contract == (k == 1)
        assert flags[0] == flags[1]
        if distance_usd(version, debt - ok - k, dec, price) > U50 * 3000:
            assert flags[0] == contract, (k, contract, flags)
        if flags[0] == contract:
            agree.append(k)
    if (dec, price) == (6, 10**8):
        assert agree == [-1, 0, 1]
    if (dec, price, version) == (18, 10**8, V3_3):
        assert agree == [-1, 0]


@HYP
@given(version=st.sampled_from((V3_3, V3_5, V3_7)), dec=st.sampled_from((6, 8, 18)),
       price=st.floats(0.01, 1e5).map(lambda p: max(1, round(p * 1e8))), debt_usd=st.floats(2e3, 1e7),
       k=st.integers(-3, 3) | st.integers(-10**14, 10**14))
def test_aave_dust_band(version, dec, price, debt_usd, k):
    """Covers within ``k`` wei of the dust limit: the float rule and its compiled copy agree,
    and agree with the contract whenever the debt left is more than ``2^-50 * debt`` (USD)
    from where the contract's test flips."""
    debt = int(debt_usd / (price / 1e8) * 10**dec)
    reserves, user = aave_position(dec, price, debt)
    left = dust_limit_wei(version, dec, price) - k
    cover = debt - left
    assume(0 < cover < debt - 10**dec * 10**8 // price // 1000)  # a partial call
    contract, flags = aave_both(version, reserves, user, cover)
    assert flags[0] == flags[1]
    if distance_usd(version, left, dec, price) > U50 * debt_usd:
        assert flags[0] == contract
    else:
        event("in band")


# --- Compound v2: deprecated borrow markets ---------------------------------------------------

@HYP
@given(s=compound_v2_states())
def test_compound_v2_deprecated_market(s: CompoundV2State) -> None:
    """With the borrowed market deprecated the contract accepts any repay up to the whole
    borrow (``RepayMoreThanBorrow`` beyond it) as long as the seize fits the borrower's
    cTokens. The float rule's call is that largest repay (within the seize ratio's
    truncation, as in test_fast_vs_exact), and it is beyond ``closeFactor * borrow``
    whenever the collateral allows."""
    markets = {"C": cv2.Market(s.cf, s.er, s.price_c),
               "D": cv2.Market(0, 2 * 10 ** (s.dec_d + 8), s.price_d, deprecated=True)}
    positions = {"C": cv2.Position(ctoken_balance=s.ctokens), "D": cv2.Position(borrow_balance=s.borrow)}
    assume(s.ctokens > 0 and s.borrow > 0)

    def call(repay: int) -> cv2.Liquidation:
        return cv2.liquidate_borrow(markets, positions, "D", "C", repay, s.close, s.li, s.share)

    def accepts(repay: int) -> bool:
        try:
            call(repay)
        except (cv2.RepayMoreThanBorrow, cv2.LiquidateSeizeTooMuch):
            return False
        return True

    coll = s.ctokens * s.er / 10 ** (18 + s.dec_c)
    debt = s.borrow / 10**s.dec_d
    pc, pd = s.pc / 1e8, s.pd / 1e8
    repaid, seized, fee = cv2_fast.liquidate_call(coll, pc, debt, pd, s.li / 1e18, s.close / 1e18, s.share / 1e18,
                                                  True)
    seize_binds = seized == coll
    ratio = cv2.seize_tokens(s.price_d, s.price_c, s.er, s.li, E18)
    assume(ratio > 0)
    rel = REL + 4 / ratio
    at_full = debt * pd * s.li / 1e18  # collateral value the whole borrow seizes
    assume(abs(coll * pc - at_full) > (MARGIN + rel + 2 / s.borrow) * at_full)
    event("seize binds" if seize_binds else "whole borrow")

    best = largest_accepted(accepts, 0, s.borrow + 1)
    assume(best >= 1)
    with pytest.raises(cv2.LiquidateSeizeTooMuch if seize_binds else cv2.RepayMoreThanBorrow):
        call(best + 1)
    if not seize_binds:
        assert best == s.borrow and repaid == debt
    assert_close("repay", repaid, best / 10**s.dec_d, (2 + E18 / ratio) / 10**s.dec_d, rel=rel)
    liq = call(best)
    ctoken_unit = s.er / 10 ** (18 + s.dec_c)
    slack = (2 * ratio / E18 + 4) * ctoken_unit
    assert_close("seized", seized, liq.seize_tokens * ctoken_unit, slack, rel=rel)


@pytest.mark.parametrize("weth,deprecated,repaid,seized", [
    # 0.6 WETH ($1200, CF 0.8: $960 against $1000 of USDC): the close factor (0.5) repays 500
    # and seizes 500 * 1.1 / 2000 = 0.275 WETH; deprecated, the whole 1000 for 0.55 WETH
    (0.6, False, 500.0, 0.275),
    (0.6, True, 1000.0, 0.55),
    # 0.5 WETH: the whole borrow would seize 0.55 > 0.5, so all the collateral for
    # 0.5 * 2000 / 1.1 = 909.09 USDC
    (0.5, True, 1000.0 / 1.1, 0.5),
])
def test_compound_v2_deprecated_in_the_kernels(weth, deprecated, repaid, seized):
    rules = CompoundV2Rules(mb.PARAMS, deprecated_markets=("USDC",) if deprecated else ())
    book = mb.book([(0, "WETH", weth, 0.0), (0, "USDC", 0.0, 1000.0)])
    results = first_calls(rules, book, mb.PRICES)
    fast = cv2_fast.liquidate_call(weth, 2000.0, 1000.0, 1.0, 1.1, 0.5, 0.028, deprecated)
    for rep, sz in results:
        assert rep[0] == pytest.approx(repaid, rel=1e-12) and rep[0] == fast[0]
        assert sz[0] == pytest.approx(seized, rel=1e-12) and sz[0] == fast[1]
    assert rules.facts().get("deprecated_markets") == ("USDC" if deprecated else None)


def test_compound_v2_deprecated_market_must_be_an_asset():
    with pytest.raises(ConfigError, match="deprecated_markets"):
        CompoundV2Rules(mb.PARAMS, deprecated_markets=("DAI",))


def test_compound_v2_deprecated_markets_from_a_scenario():
    """``[market.compound_v2] deprecated_markets`` reaches the rules; an unknown asset is a
    config error naming the key."""
    import tomllib
    from pathlib import Path

    from liqcascade.io import scenario as S
    from liqcascade.io.config import parse_scenario

    example = Path(__file__).resolve().parents[2] / "examples" / "compare_mechanisms.toml"
    data = tomllib.loads(example.read_text())
    data["positions"]["n_accounts"] = 50
    data["market"]["protocol"] = "compound_v2"
    data["market"]["compound_v2"] = {"deprecated_markets": ["DAI"]}
    sc = S.build(parse_scenario(data, str(example)), example.parent, str(example))
    assert sc.model.rules.deprecated_markets == ("DAI",)
    data["market"]["compound_v2"] = {"deprecated_markets": ["USDT"]}
    with pytest.raises(ConfigError, match=r"market\.compound_v2\.deprecated_markets"):
        S.build(parse_scenario(data, str(example)), example.parent, str(example))
