"""Property tests tying each protocol's float64 rule (``fast.py``, what the engines run) to
its integer rule (``exact.py``, what the conformance vectors check).

Covered: Compound v2, Compound v3 (Comet), Morpho Blue, Euler v2, Maker Liquidations 2.0,
Liquity v1 and v2 (Aave v3 has its own file, ``tests/test_aave_fast_vs_exact.py``).

Method. Hypothesis draws an integer state in the protocol's own units over realistic ranges
(token decimals 6/8/18, prices from $0.01 to $100k at 1e8 precision, factor mantissas in
the ranges governance can set, amounts from $1-$10 to $10M). The exact rule computes the
outcome; the same state, converted to tokens and USD, goes to the float rule. Draws where
the contract reverts are generated or assumed away, except where the revert is the point:
where a liquidator chooses the size of the call (Compound v2, Morpho Blue), the test also
checks that the float rule's choice is the largest call the contract accepts.

Agreement asserted:

* amounts: ``|fast - exact| <= REL * scale + abs_tol`` with ``REL = 1e-9``. float64 errs
  by ~1e-16 per operation; 1e-9 leaves room for a dozen operations, for powers up to
  ~1e6 (Maker's curves) and for the conversions, and is far below any amount that matters.
  ``scale`` is the larger of the two values, or for a difference (bad debt, surplus,
  shortfall, collateral returned) the amounts it is the difference of. ``abs_tol`` is stated
  per test and comes from where the integer rule truncates: a few wei of a token, or one
  unit of a truncated intermediate (Compound v2's seize ratio, Comet's 8-decimal prices);
* discrete outcomes exactly: Liquity's mode, whether bad debt is written off or socialized,
  whether a surplus / shortfall / returned collateral exists, which limit binds. Draws
  within ``MARGIN = 1e-6`` relative of a threshold (where truncation decides the branch in
  the integer rule and the last bit in the float one) are generated or assumed away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from liqcascade.protocols.compound_v2 import exact as cv2
from liqcascade.protocols.compound_v2 import fast as cv2_fast
from liqcascade.protocols.compound_v3 import exact as cv3
from liqcascade.protocols.compound_v3 import fast as cv3_fast
from liqcascade.protocols.euler_v2 import exact as eu
from liqcascade.protocols.euler_v2 import fast as eu_fast
from liqcascade.protocols.liquity_v1 import exact as lv1
from liqcascade.protocols.liquity_v1 import fast as lv1_fast
from liqcascade.protocols.liquity_v2 import exact as lv2
from liqcascade.protocols.liquity_v2 import fast as lv2_fast
from liqcascade.protocols.maker import exact as mk
from liqcascade.protocols.maker import fast as mk_fast
from liqcascade.protocols.morpho_blue import exact as mo
from liqcascade.protocols.morpho_blue import fast as mo_fast

REL = 1e-9
MARGIN = 1e-6
E18 = 10**18
WAD = mk.WAD
RAY = mk.RAY
RAD = mk.RAD
SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
DECIMALS = st.sampled_from((6, 8, 18))


# --- helpers -------------------------------------------------------------------------------


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(math.log(lo), math.log(hi)).map(math.exp)


def inside(lo: float, hi: float) -> st.SearchStrategy[float]:
    """A float in ``(lo, hi)`` at least ``2 * MARGIN`` (relative) from both ends."""
    return st.floats(lo * (1 + 2 * MARGIN), hi * (1 - 2 * MARGIN))


def usd_e8(lo: float = 0.01, hi: float = 1e5) -> st.SearchStrategy[int]:
    """A USD price with 8 decimals (Chainlink's precision), as an integer."""
    return log_uniform(lo, hi).map(lambda p: max(1, round(p * 1e8)))


def away(x: float, threshold: float) -> bool:
    """``x`` is more than ``MARGIN`` (relative) from ``threshold``."""
    return abs(x - threshold) > MARGIN * abs(threshold)


def assert_close(what: str, fast: float, exact: float, abs_tol: float = 0.0, *, scale: float | None = None,
                 rel: float = REL) -> None:
    """``|fast - exact| <= rel * scale + abs_tol``; ``scale`` defaults to the larger value."""
    scale = max(abs(fast), abs(exact)) if scale is None else scale
    diff = abs(fast - exact)
    assert diff <= rel * scale + abs_tol, (
        f"{what}: fast {fast!r} vs exact {exact!r}: |diff| {diff:.4g} > {rel:.3g} * {scale:.4g} + {abs_tol:.4g}"
    )


def assert_same_sign(what: str, fast: float, exact: float, band: float) -> None:
    """Both amounts positive or both not, unless both lie within the rounding ``band`` of 0
    (an amount the integer rule rounds to a wei or two is no discrete difference)."""
    if max(abs(fast), abs(exact)) > band:
        assert (fast > 0) == (exact > 0), f"{what}: fast {fast!r} vs exact {exact!r} (band {band:.3g})"


def largest_accepted(accepts, lo: int, hi: int) -> int:
    """The largest ``n`` in ``[lo, hi)`` with ``accepts(n)``, for ``accepts`` true up to some
    point and false after it; ``lo`` is taken as accepted and ``hi`` as refused."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if accepts(mid):
            lo = mid
        else:
            hi = mid
    return lo


# --- Compound v2 -----------------------------------------------------------------------------


class _WeiPrices:
    """``price_c``/``price_d`` from 8-decimal USD prices ``pc``/``pd`` and token decimals:
    USD * 1e18 per token wei, times 1e18 (Compound's oracle mantissa; Euler's WAD price of a
    wei in 18-decimal unit-of-account)."""

    dec_c: int
    dec_d: int
    pc: int
    pd: int

    @property
    def price_c(self) -> int:
        return self.pc * 10 ** (28 - self.dec_c)

    @property
    def price_d(self) -> int:
        return self.pd * 10 ** (28 - self.dec_d)


@dataclass(frozen=True)
class CompoundV2State(_WeiPrices):
    dec_c: int
    dec_d: int
    pc: int  # USD, 8 decimals
    pd: int
    er: int  # exchange rate mantissa of the collateral cToken
    cf: int
    close: int
    li: int
    share: int
    ctokens: int
    borrow: int


@st.composite
def compound_v2_states(draw) -> CompoundV2State:
    """A borrower in shortfall with one collateral cToken and one borrow. ``r`` (collateral
    value / debt value) is drawn on one side of ``close * incentive``, where the seize at the
    close-factor cap equals the collateral: above it the close factor binds, below it the
    borrower's cTokens do."""
    dec_c, dec_d = draw(DECIMALS), draw(DECIMALS)
    pc, pd = draw(usd_e8()), draw(usd_e8())
    er = draw(st.integers(2 * 10 ** (dec_c + 8), 3 * 10 ** (dec_c + 8)))  # 0.02-0.03 underlying per cToken
    cf = draw(st.integers(5 * 10**17, cv2.COLLATERAL_FACTOR_MAX_MANTISSA))
    close = draw(st.integers(cv2.CLOSE_FACTOR_MIN_MANTISSA, cv2.CLOSE_FACTOR_MAX_MANTISSA))
    li = draw(st.integers(E18, 12 * 10**17))
    share = draw(st.sampled_from((0, cv2.PROTOCOL_SEIZE_SHARE_MANTISSA)) | st.integers(0, 10**17))
    cap = close * li / 1e36
    r = draw(inside(0.02, cap) if draw(st.booleans()) else inside(cap, E18 / cf))
    coll_usd = draw(log_uniform(10.0, 1e7))
    ctokens = int(coll_usd / (pc / 1e8) * 10**dec_c * 1e18 / er)
    borrow = int(coll_usd / r / (pd / 1e8) * 10**dec_d)
    return CompoundV2State(dec_c, dec_d, pc, pd, er, cf, close, li, share, ctokens, borrow)


@SETTINGS
@given(s=compound_v2_states())
def test_compound_v2_liquidate_call(s: CompoundV2State) -> None:
    """The float call is the largest ``liquidateBorrow`` the contract accepts: within
    tolerance of the exact maximum, with the exact rule refusing one wei more for the reason
    the float rule gave (close factor, or seize above the borrower's cTokens). At that
    maximum, seized collateral and protocol share agree.

    Tolerance: Compound truncates the seize ratio (cTokens per borrowed wei, a 1e18
    mantissa) to an integer, a relative error below ``1 / ratio`` (down to ~3e-3 for a
    $0.01 18-decimal borrow against $100k collateral); the seize and the split truncate to
    a cToken unit each and the repay to a wei. Hence ``rel = REL + 4 / ratio`` and a few
    units absolute.
    """
    markets = {"C": cv2.Market(s.cf, s.er, s.price_c), "D": cv2.Market(s.cf, 2 * 10 ** (s.dec_d + 8), s.price_d)}
    positions = {"C": cv2.Position(ctoken_balance=s.ctokens), "D": cv2.Position(borrow_balance=s.borrow)}
    assume(s.ctokens > 0 and s.borrow > 0)
    assume(cv2.account_liquidity(markets, positions).shortfall > 0)

    def call(repay: int) -> cv2.Liquidation:
        return cv2.liquidate_borrow(markets, positions, "D", "C", repay, s.close, s.li, s.share)

    def accepts(repay: int) -> bool:
        try:
            call(repay)
        except (cv2.TooMuchRepay, cv2.LiquidateSeizeTooMuch):
            return False
        return True

    coll = s.ctokens * s.er / 10 ** (18 + s.dec_c)  # underlying tokens
    debt = s.borrow / 10**s.dec_d
    pc, pd = s.pc / 1e8, s.pd / 1e8
    repaid, seized, fee = cv2_fast.liquidate_call(coll, pc, debt, pd, s.li / 1e18, s.close / 1e18, s.share / 1e18,
                                                   False)
    seize_binds = seized == coll  # the float rule lowered the repay to what the collateral covers
    ratio = cv2.seize_tokens(s.price_d, s.price_c, s.er, s.li, E18)  # cTokens per borrowed wei, x1e18
    assume(ratio > 0)
    rel = REL + 4 / ratio
    limit = cv2.max_repay(s.close, s.borrow)
    # measured on the integer state: the two limits must not (nearly) coincide, beyond the
    # margin and the integer rule's truncations (the seize ratio, 4 / ratio relative, and a
    # wei or two of the close-factor cap)
    at_cap = debt * pd * s.close / 1e18 * s.li / 1e18
    assume(abs(coll * pc - at_cap) > (MARGIN + rel + 2 / max(limit, 1)) * at_cap)
    event("seize binds" if seize_binds else "close factor binds")

    best = largest_accepted(accepts, 0, limit + 1)
    assume(best >= 1)
    with pytest.raises(cv2.LiquidateSeizeTooMuch if seize_binds else cv2.TooMuchRepay):
        call(best + 1)

    assert_close("repay", repaid, best / 10**s.dec_d, (2 + E18 / ratio) / 10**s.dec_d, rel=rel)
    liq = call(best)
    ctoken_unit = s.er / 10 ** (18 + s.dec_c)  # one cToken unit in underlying tokens
    slack = (2 * ratio / E18 + 4) * ctoken_unit
    assert_close("seized", seized, liq.seize_tokens * ctoken_unit, slack, rel=rel)
    assert_close("protocol share", fee, liq.split.protocol_amount / 10**s.dec_c, slack + 1 / 10**s.dec_c, rel=rel)


# --- Compound v3 (Comet) ---------------------------------------------------------------------


@dataclass(frozen=True)
class CometState:
    principal: int
    collateral: dict[str, int]
    assets: dict[str, cv3.Asset]
    base: cv3.Base


@st.composite
def comet_states(draw) -> CometState:
    """A borrower of the base asset with one to three collaterals. ``credit`` (the
    collaterals' value at their liquidation factors over the debt) is drawn below or above 1
    (shortfall or surplus); the liquidate collateral factors are a share ``u`` of the
    liquidation factors (mainnet: 0.90 against 0.95), the draw being kept if the account is
    liquidatable."""
    base_dec = draw(st.sampled_from((6, 18)))
    base_price = draw(usd_e8(0.5, 5000.0))
    si = draw(st.integers(10**15, 12 * 10**14))
    bi = draw(st.integers(10**15, 13 * 10**14))
    debt_usd = draw(log_uniform(10.0, 1e7))
    debt = int(debt_usd / (base_price / 1e8) * 10**base_dec)
    principal = -cv3.principal_value_borrow(bi, debt)
    credit = draw(inside(0.05, 1.0) if draw(st.booleans()) else inside(1.0, 1.25))
    n = draw(st.integers(1, 3))
    weights = [draw(st.floats(0.05, 1.0)) for _ in range(n)]
    assets: dict[str, cv3.Asset] = {}
    collateral: dict[str, int] = {}
    for i, w in enumerate(weights):
        dec = draw(DECIMALS)
        price = draw(usd_e8())
        lf = draw(st.integers(5 * 10**17, E18))
        liq_cf = int(lf * draw(st.floats(0.5, 1.0)))
        value_usd = w / sum(weights) * credit * debt_usd / (lf / 1e18)
        assets[f"A{i}"] = cv3.Asset(scale=10**dec, price=price, borrow_cf=liq_cf // 2, liquidate_cf=liq_cf,
                                    liquidation_factor=lf)
        collateral[f"A{i}"] = int(value_usd / (price / 1e8) * 10**dec)
    tbb = -principal * draw(st.integers(1, 1000))
    tsb = tbb * 5 // 4
    balance = cv3.present_value_supply(si, tsb) - cv3.present_value_borrow(bi, tbb) + draw(st.integers(0, 10**24))
    base = cv3.Base(10**base_dec, base_price, si, bi, tsb, tbb, max(balance, 0))
    return CometState(principal, collateral, assets, base)


@SETTINGS
@given(s=comet_states())
def test_comet_absorb(s: CometState) -> None:
    """``absorb_values`` against ``absorb``: the surplus is the account's new base balance,
    the shortfall what the credited collateral leaves of the debt, and covered + shortfall +
    surplus is what the reserves lose (``getReserves`` before minus after).

    Tolerance: each collateral is valued and multiplied by its factor in 8-decimal USD
    (two truncations of 1e-8 USD each), the credit truncates to a base wei, and the
    principal conversions of the reserves move up to 4 base wei.
    """
    base = s.base
    assume(cv3.is_liquidatable(s.principal, s.collateral, s.assets, base))
    old = cv3.present_value(s.principal, base.supply_index, base.borrow_index)

    def usd(base_wei: int) -> float:
        return base_wei / base.scale * base.price / 1e8

    lf_value = sum(
        s.collateral[k] / a.scale * (a.price / 1e8) * (a.liquidation_factor / 1e18) for k, a in s.assets.items()
    )
    debt_value = usd(-old)
    covered, shortfall, surplus = cv3_fast.absorb_values(lf_value, debt_value)

    before = cv3.get_reserves(base)
    a = cv3.absorb(s.principal, s.collateral, s.assets, base)
    after = cv3.get_reserves(a.base_after)
    net = a.old_balance + a.delta_balance  # < 0: shortfall, > 0: surplus
    assume(away(a.delta_balance, -a.old_balance))
    event("surplus" if net > 0 else "shortfall")

    tol = 2e-8 * len(s.assets) + usd(4)
    scale = debt_value + lf_value
    assert_close("surplus", surplus, usd(a.new_balance), tol, scale=scale)
    assert_close("shortfall", shortfall, usd(max(0, -net)), tol, scale=scale)
    assert_close("covered", covered, usd(min(a.delta_balance, -a.old_balance)), tol, scale=scale)
    assert_close("reserves paid", covered + shortfall + surplus, usd(before - after), tol, scale=scale)
    assert (surplus > 0) == (a.new_balance > 0)
    assert (shortfall > 0) == (net < 0)


@SETTINGS
@given(
    price=usd_e8(),
    lf=st.integers(5 * 10**17, E18),
    sf=st.integers(0, E18),
    dec=DECIMALS,
    base_dec=st.sampled_from((6, 18)),
    base_price=usd_e8(0.5, 5000.0),
    amount_usd=log_uniform(1.0, 1e7),
)
def test_comet_store_front_price(price, lf, sf, dec, base_dec, base_price, amount_usd) -> None:
    """Collateral bought for a base amount at ``store_front_price`` against ``quoteCollateral``.

    Tolerance: Comet truncates the discounted price to 1e-8 USD (relative error below one
    unit of it: ``1e-8 / price``) and the quote twice to a wei of the collateral.
    """
    asset = cv3.Asset(scale=10**dec, price=price, liquidation_factor=lf)
    base = cv3.Base(scale=10**base_dec, price=base_price)
    amount = int(amount_usd / (base_price / 1e8) * 10**base_dec)
    out = cv3.quote_collateral(asset, base, sf, amount)
    p = cv3_fast.store_front_price(price / 1e8, lf / 1e18, sf / 1e18)
    bought = amount / 10**base_dec * (base_price / 1e8) / p
    assert_close("collateral quoted", bought, out / 10**dec, 2 / 10**dec, rel=REL + 1e-8 / p)


# --- Morpho Blue -----------------------------------------------------------------------------


@SETTINGS
@given(lltv=st.integers(0, E18 - 1))
def test_morpho_liquidation_incentive_factor(lltv: int) -> None:
    """LIF in float against ``ConstantsLib``'s WAD formula: two truncations of 1e-18 plus a
    few float64 ulps (4e-16 at 1.15); the cap at 1.15 binds for the same LLTVs."""
    exact = mo.liquidation_incentive_factor(lltv)
    fast = mo_fast.liquidation_incentive_factor(lltv / 1e18)
    assert_close("LIF", fast, exact / 1e18, 2e-18, rel=4e-16)
    uncapped = 1 / (1 - 0.3 * (1 - lltv / 1e18))
    if away(uncapped, 1.15):
        assert (fast == 1.15) == (exact == mo.MAX_LIQUIDATION_INCENTIVE_FACTOR)


@dataclass(frozen=True)
class MorphoState:
    dec_c: int
    dec_d: int
    pd: int
    price: int  # loan wei per collateral wei, x1e36
    lltv: int
    market: mo.MarketState
    position: mo.Position

    @property
    def debt_wei(self) -> float:
        """The borrower's debt in loan wei at the market's share price (virtual shares included)."""
        m = self.market
        return self.position.borrow_shares * (m.total_borrow_assets + 1) / (m.total_borrow_shares + mo.VIRTUAL_SHARES)


@st.composite
def morpho_states(draw) -> MorphoState:
    """An unhealthy borrower. ``c`` (collateral value / debt value) is drawn in
    ``(LIF, 1 / LLTV)`` (the collateral covers the debt with its incentive) or below LIF (it
    does not: bad debt); shares carry 1 to 1.5 assets per 1e6 (accrued interest), and the
    borrower holds 0.1-100 % of the market's borrow."""
    dec_c, dec_d = draw(DECIMALS), draw(DECIMALS)
    pc, pd = draw(usd_e8()), draw(usd_e8())
    price = pc * 10 ** (36 + dec_d - dec_c) // pd
    lltv = draw(st.integers(3 * 10**17, 98 * 10**16))
    lif = mo.liquidation_incentive_factor(lltv) / 1e18
    debt_usd = draw(log_uniform(1.0, 1e7))
    idx = draw(st.floats(1.0, 1.5))
    shares = int(debt_usd / (pd / 1e8) * 10**dec_d * 1e6 / idx)
    tbs = int(shares * draw(log_uniform(1.0, 1000.0)))
    tba = int(tbs * idx / 1e6)
    tsa = int(tba * draw(st.floats(1.0, 2.0)))
    c = draw(inside(0.05, lif) if draw(st.booleans()) else inside(lif, E18 / lltv))
    debt_wei = shares * (tba + 1) / (tbs + mo.VIRTUAL_SHARES)
    coll = int(debt_wei * c * 1e36 / price)
    market = mo.MarketState(tsa, tsa * mo.VIRTUAL_SHARES, tba, tbs)
    return MorphoState(dec_c, dec_d, pd, price, lltv, market, mo.Position(shares, coll))


@SETTINGS
@given(s=morpho_states())
def test_morpho_liquidate_all(s: MorphoState) -> None:
    """``liquidate_all`` against ``Morpho.liquidate``. When the float rule repays the whole
    debt, the exact call by all the borrower's shares seizes what it says, and seizing all
    the collateral would revert; when it seizes all the collateral, the exact call by seized
    assets repays what it says and writes off the rest as bad debt, and repaying all shares
    would revert (they would need more collateral than there is).

    Tolerance: the share conversions, ``wMul``/``wDiv`` by the LIF and the oracle ``mulDiv``
    each round by a wei of the loan token (at most 6 in all, the bad debt included), which is
    ``1e36 / price`` collateral wei; a wei rounded up before the multiplication by the LIF
    counts LIF times; the float LIF is within 1e-15 of the exact one (REL).
    """
    m, pos = s.market, s.position
    assume(pos.borrow_shares > 0 and pos.collateral > 0 and pos.borrow_shares <= m.total_borrow_shares)
    assume(not mo.is_healthy(m, pos, s.price, s.lltv))
    pd = s.pd / 1e8
    coll_price = s.price / 10 ** (36 + s.dec_d - s.dec_c) * pd  # USD per collateral token
    coll = pos.collateral / 10**s.dec_c
    debt = s.debt_wei / 10**s.dec_d
    lif = mo_fast.liquidation_incentive_factor(s.lltv / 1e18)
    repaid, seized, bad = mo_fast.liquidate_all(coll, coll_price, debt, pd, lif)
    exact_lif = mo.liquidation_incentive_factor(s.lltv)
    # not on the boundary "collateral covers debt * LIF": beyond the relative margin, and
    # beyond the integer rule's rounding (a few loan wei and one collateral wei, in loan wei)
    edge = s.debt_wei * exact_lif / 1e18
    assume(away(pos.collateral * s.price / 1e36, edge)
           and abs(pos.collateral * s.price / 1e36 - edge) > 8 + 2 * s.price / 1e36)
    event("bad debt" if bad > 0 else "debt repaid")

    loan_wei = 1 / 10**s.dec_d
    coll_wei = 1 / 10**s.dec_c
    by_shares = {"repaid_shares": pos.borrow_shares}
    by_seized = {"seized_assets": pos.collateral}
    if bad == 0:
        with pytest.raises(mo.ArithmeticUnderflow):
            mo.liquidate(m, pos, s.price, s.lltv, **by_seized)
        liq = mo.liquidate(m, pos, s.price, s.lltv, **by_shares)
        assert liq.bad_debt_assets == 0 and liq.position_after.collateral > 0
        assert_close("repaid", repaid, liq.repaid_assets * loan_wei, 2 * loan_wei)
        # repaid rounds up by < 1 loan wei and is then multiplied by the LIF; wMulDown drops
        # < 1 loan wei; mulDivDown drops < 1 collateral wei
        per_loan_wei = 1e36 / s.price  # collateral wei per loan wei
        assert_close("seized", seized, liq.seized_assets * coll_wei,
                     ((1 + exact_lif / 1e18) * per_loan_wei + 1) * coll_wei)
    else:
        with pytest.raises(mo.ArithmeticUnderflow):
            mo.liquidate(m, pos, s.price, s.lltv, **by_shares)
        liq = mo.liquidate(m, pos, s.price, s.lltv, **by_seized)
        assert liq.bad_debt_assets > 0 and liq.position_after == mo.Position(0, 0)
        assert seized == coll
        assert_close("repaid", repaid, liq.repaid_assets * loan_wei, 6 * loan_wei)
        assert_close("bad debt", bad, liq.bad_debt_assets * loan_wei, 6 * loan_wei, scale=debt)


# --- Euler v2 --------------------------------------------------------------------------------


@SETTINGS
@given(adj=st.integers(E18, 10**30), liability=st.integers(E18, 10**30), md=st.integers(0, eu.CONFIG_SCALE - 1))
def test_euler_discount_factor(adj: int, liability: int, md: int) -> None:
    """The health score floored at ``1 - maxLiquidationDiscount``: the exact one truncates
    to 1e-18; the floor binds for the same accounts."""
    assume(eu.is_liquidatable(adj, liability))
    exact = eu.discount_factor(adj, liability, md)
    fast = eu_fast.discount_factor(adj / liability, md / eu.CONFIG_SCALE)
    assert_close("discount factor", fast, exact / 1e18, 2e-18)
    if away(adj / liability, 1 - md / eu.CONFIG_SCALE):
        assert (fast == 1 - md / eu.CONFIG_SCALE) == (exact == eu.min_discount_factor(md))


def euler_full_repay_threshold(ltv: float, max_discount: float, other: float) -> float:
    """The health score above which one collateral covers the whole debt's yield.

    The yield is ``liability / df``; the collateral is worth ``(1 - other) * h * liability /
    ltv`` (``other``: the share of the adjusted value in other collaterals), so it suffices
    iff ``(1 - other) * h * max(h, 1 - max_discount) >= ltv``, increasing in ``h``.
    """
    k = ltv / (1 - other)
    floor = 1 - max_discount
    return k / floor if k <= floor * floor else math.sqrt(k)


@dataclass(frozen=True)
class EulerState(_WeiPrices):
    dec_c: int
    dec_d: int
    pc: int
    pd: int
    ltv: int  # bps
    md: int  # bps
    balance: int
    liability: int
    other_adjusted: int  # other collaterals' adjusted value, unit-of-account wei


@st.composite
def euler_states(draw) -> EulerState:
    """A violator (health ``h < 1``) drawn above or below the full-repay threshold, with
    0, 30 or 60 % of its adjusted collateral value in other collaterals."""
    dec_c, dec_d = draw(DECIMALS), draw(DECIMALS)
    pc, pd = draw(usd_e8()), draw(usd_e8())
    ltv = draw(st.integers(5000, 9500))
    md = draw(st.integers(0, 2500))
    other = draw(st.sampled_from((0.0, 0.0, 0.3, 0.6)))
    h_star = euler_full_repay_threshold(ltv / 1e4, md / 1e4, other)
    full = draw(st.booleans()) and h_star < 0.99
    h = draw(inside(h_star, 1.0) if full else inside(0.05, min(h_star, 1.0)))
    debt_usd = draw(log_uniform(1.0, 1e7))
    liability = int(debt_usd / (pd / 1e8) * 10**dec_d)
    coll_usd = (1 - other) * h * debt_usd / (ltv / 1e4)
    balance = int(coll_usd / (pc / 1e8) * 10**dec_c)
    return EulerState(dec_c, dec_d, pc, pd, ltv, md, balance, liability, int(other * h * debt_usd * 1e18))


@SETTINGS
@given(s=euler_states())
def test_euler_liquidate_call(s: EulerState) -> None:
    """``liquidate_call`` against ``Liquidation.liquidate`` with ``desired_repay`` max: same
    discount factor, repay and yield; when the float rule takes all of the collateral with
    debt left and no other collateral, the exact rule socializes that debt (and not
    otherwise).

    Tolerance: values are unit-of-account wei (1e-18 USD) and the discount factor 1e-18,
    so the truncations matter only through the final ``mulDiv`` to token amounts: 2 wei.
    """
    adj, lv, value = eu.liquidation_values(s.balance, s.price_c, s.liability, s.price_d, s.ltv, s.other_adjusted)
    assume(s.balance > 0 and s.liability > 0 and value > 0 and eu.is_liquidatable(adj, lv))
    exact = eu.liquidate(
        liability=s.liability, liability_value=lv, collateral_adjusted_value=adj, collateral_balance=s.balance,
        collateral_value=value, max_discount_bps=s.md, other_collateral=s.other_adjusted > 0,
    )
    assume(away(value * exact.discount_factor / 1e18, lv))
    assume(away(adj / lv, 1 - s.md / 1e4))

    coll, debt = s.balance / 10**s.dec_c, s.liability / 10**s.dec_d
    pc, pd = s.pc / 1e8, s.pd / 1e8
    w = coll * pc * s.ltv / 1e4 + s.other_adjusted / 1e18
    df = eu_fast.discount_factor(w / (debt * pd), s.md / 1e4)
    repaid, seized = eu_fast.liquidate_call(coll, pc, debt, pd, df)
    all_taken = seized == coll
    written_off = debt - repaid if all_taken and s.other_adjusted == 0 else 0.0
    event(("all collateral" if all_taken else "whole debt") + (", other collateral" if s.other_adjusted else ""))

    assert_close("discount factor", df, exact.discount_factor / 1e18, 2e-18)
    assert_close("repay", repaid, exact.repay / 10**s.dec_d, 2 / 10**s.dec_d)
    assert_close("yield", seized, exact.yield_balance / 10**s.dec_c, 2 / 10**s.dec_c)
    assert all_taken == (exact.collateral_after == 0)
    assert (written_off > 0) == (exact.socialized > 0)
    assert_close("socialized", written_off, exact.socialized / 10**s.dec_d, 2 / 10**s.dec_d, scale=debt)


# --- Maker Liquidations 2.0 ------------------------------------------------------------------

MAKER_HUGE = 10**58  # [rad] Hole/hole that never bind (mul(room, WAD) stays inside uint256)


@dataclass(frozen=True)
class MakerState:
    ink: int  # [wad]
    art: int  # [wad]
    rate: int  # [ray]
    price: int  # [ray] market (feed) price
    mat: int  # [ray]
    chop: int  # [wad]
    margin_bps: int

    @property
    def bid(self) -> int:
        """The keepers' bid [ray]: the market price less their margin."""
        return self.price * (10_000 - self.margin_bps) // 10_000


@st.composite
def maker_states(draw) -> MakerState:
    """An unsafe vault (collateral value / debt ``cr < mat``). ``x = cr * (1 - margin)`` (what
    the collateral raises at the bid, over the debt) is drawn in one of three regions: below
    1 (bad debt), between 1 and ``chop`` (the debt is covered, the penalty partly), above
    ``chop`` (the tab is covered and collateral goes back to the vault)."""
    ink = int(draw(log_uniform(0.01, 1e5)) * 1e18)
    price = draw(usd_e8(1.0, 1e5)) * 10**19
    margin_bps = draw(st.integers(0, 1000))
    chop = draw(st.integers(WAD, 12 * WAD // 10))
    rate = draw(st.integers(RAY, 3 * RAY // 2))
    mat = draw(st.integers(13 * RAY // 10, 175 * RAY // 100))
    g = 1 - margin_bps / 1e4
    bounds = {"bad debt": (0.1, 1.0), "penalty partly covered": (1.0, chop / 1e18),
              "collateral returned": (chop / 1e18, mat / 1e27 * g)}
    region = draw(st.sampled_from(sorted(bounds)))
    lo, hi = bounds[region]
    assume(lo < hi * (1 - 8 * MARGIN))
    cr = draw(inside(lo, hi)) / g
    art = int(ink * (price / rate) / cr)
    return MakerState(ink, art, rate, price, mat, chop, margin_bps)


@SETTINGS
@given(s=maker_states())
def test_maker_instant_take(s: MakerState) -> None:
    """``instant_take`` against ``bark`` and one ``take`` of the whole lot in an auction
    whose price is the keepers' bid (``top`` = bid, ``buf`` 1, taken at once): collateral
    sold, DAI raised, collateral returned to the vault, and the debt not covered
    (``due - owe``: the penalty part of the tab is not debt), with the same answer to
    "bad debt?" and "collateral returned?".

    Tolerance: ``tab = due * chop`` truncates to a rad unit and ``slice = owe / price`` to a
    wei: 2 wei of collateral, and 2 wei at the bid in DAI.
    """
    ilk = mk.Ilk(rate=s.rate, spot=mk.rdiv(s.price, s.mat), dust=0, chop=s.chop, hole=MAKER_HUGE)
    vault = mk.Vault(s.ink, s.art)
    assume(s.art > 0 and mk.mul(s.ink, ilk.spot) < mk.mul(s.art, s.rate))
    clip = mk.Clipper(calc=mk.LinearDecrease(tau=3600))
    b = mk.bark(ilk, vault, mk.Dog(Hole=MAKER_HUGE), clip, feed=s.bid, now=0)
    assert b.dink == s.ink and b.sale.top == s.bid
    t = mk.take(clip, b.sale, amt=b.sale.lot, max_price=s.bid, now=0, dog=b.dog, ilk=b.ilk)
    assert t.price == s.bid
    assume(away(s.ink * s.bid, b.due) and away(s.ink * s.bid, b.tab))

    debt = s.art * s.rate / RAD
    sold, raised, returned, shortfall = mk_fast.instant_take(
        s.ink / WAD, s.price / RAY, debt, s.chop / WAD, s.margin_bps / 1e4
    )
    exact_short = max(0, b.due - t.owe)
    event("bad debt" if exact_short else ("collateral returned" if t.returned else "penalty partly covered"))
    wei = 2 / WAD
    dai = 2 * s.bid / RAY / WAD + 2 / RAD
    assert_close("sold", sold, t.slice / WAD, wei)
    assert_close("raised", raised, t.owe / RAD, dai)
    assert_close("returned", returned, t.returned / WAD, wei, scale=s.ink / WAD)
    assert_close("bad debt", shortfall, exact_short / RAD, dai, scale=debt)
    assert (returned > 0) == (t.returned > 0)
    # away() keeps the exact shortfall either 0 or far from it; the float one may carry dust
    assert (shortfall > 1e-12 * debt) == (exact_short > 0)


@st.composite
def auction_cases(draw) -> tuple[int, int, int, int, int, int]:
    """``(curve, top, elapsed, tau, cut, step)``: ``top`` [ray] $1-$130k; stairstep cuts
    0.9-0.999 per step of 1-600 s, exponential 0.999-1 per second; elapsed time up to 30,000 s,
    with extra draws on the stairstep's step boundaries and the linear curve's end."""
    curve = draw(st.sampled_from((mk_fast.CURVE_LINEAR, mk_fast.CURVE_STAIRSTEP, mk_fast.CURVE_EXPONENTIAL)))
    top = draw(usd_e8(1.0, 1.3e5)) * 10**19
    tau = draw(st.integers(60, 50_000))
    step = draw(st.integers(1, 600))
    if curve == mk_fast.CURVE_STAIRSTEP:
        cut = draw(st.integers(9 * RAY // 10, 999 * RAY // 1000))
    else:
        cut = draw(st.integers(RAY - RAY // 1000, RAY))
    edge = {mk_fast.CURVE_LINEAR: tau, mk_fast.CURVE_STAIRSTEP: step * draw(st.integers(0, 50))}.get(curve, 0)
    elapsed = draw(st.integers(0, 30_000) | st.integers(-1, 1).map(lambda d: max(0, edge + d)))
    return curve, top, elapsed, tau, cut, step


@SETTINGS
@given(case=auction_cases())
def test_maker_auction_price(case: tuple[int, int, int, int, int, int]) -> None:
    """``auction_price`` against the abaci (``LinearDecrease``, ``StairstepExponentialDecrease``,
    ``ExponentialDecrease``) over elapsed time; the linear price is 0 from ``tau`` on in both.

    Tolerance: ``rpow`` rounds half up at most twice per bit of the exponent, each by half a
    ray unit, and the errors do not grow (every factor is at most 1); the final ``rmul`` and
    the linear fraction truncate once each. So ``(2 * bits + 2) * top / RAY + 2`` ray units.
    The float power loses ``n`` ulps of ``cut`` at most (3e-12 at n = 30,000: within REL).
    """
    curve, top, elapsed, tau, cut, step = case
    if curve == mk_fast.CURVE_LINEAR:
        exact, n = mk.linear_price(top, elapsed, tau), 1
    elif curve == mk_fast.CURVE_STAIRSTEP:
        exact, n = mk.stairstep_price(top, elapsed, cut, step), elapsed // step
    else:
        exact, n = mk.exponential_price(top, elapsed, cut), elapsed
    fast = mk_fast.auction_price(curve, top / RAY, float(elapsed), float(tau), cut / RAY, float(step))
    abs_tol = ((2 * n.bit_length() + 2) * top / RAY + 2) / RAY
    assert_close("auction price", fast, exact / RAY, abs_tol)
    if curve == mk_fast.CURVE_LINEAR:
        assert (fast == 0.0) == (exact == 0) == (elapsed >= tau)


# --- Liquity v1 ------------------------------------------------------------------------------

LV1_EXACT = {
    lv1_fast.MODE_NORMAL: lambda debt, coll, sp, price: lv1.offset_and_redistribution_vals(debt, coll, sp),
    lv1_fast.MODE_REDISTRIBUTE_ALL: lambda debt, coll, sp, price: lv1.redistribute_all_vals(debt, coll),
    lv1_fast.MODE_CAPPED: lambda debt, coll, sp, price: lv1.capped_offset_vals(debt, coll, price),
}


@dataclass(frozen=True)
class LiquityV1State:
    price: int  # [1e18] USD per ETH
    debt: int
    coll: int
    sp: int
    sys_debt: int
    sys_coll: int


@st.composite
def liquity_v1_states(draw) -> LiquityV1State:
    """A trove in a system of TCR ``tcr``: Normal Mode (TCR >= 150 %) with ICR below or above
    110 %, or Recovery Mode with ICR <= 100 %, in (100 %, 110 %), in [110 %, TCR) or >= TCR;
    a Stability Pool that is empty, covers part of the debt, exactly all of it, or more."""
    price = draw(st.integers(100 * E18, 10_000 * E18))
    debt = draw(st.integers(2000 * E18, 10**7 * E18))
    if draw(st.booleans()):
        zone = draw(st.sampled_from(("icr<=100%", "100%<icr<MCR", "MCR<=icr<TCR", "icr>=TCR")))
        tcr = draw(inside(1.12 if zone == "MCR<=icr<TCR" else 0.8, 1.5))
        bounds = {"icr<=100%": (0.2, 1.0), "100%<icr<MCR": (1.0, 1.1), "MCR<=icr<TCR": (1.1, tcr),
                  "icr>=TCR": (tcr, 3.0)}
    else:
        zone = draw(st.sampled_from(("icr<MCR", "icr>=MCR")))
        tcr = draw(inside(1.5, 4.0))
        bounds = {"icr<MCR": (0.2, 1.1), "icr>=MCR": (1.1, 4.0)}
    icr = draw(inside(*bounds[zone]))
    sp_kind = draw(st.sampled_from(("empty", "partial", "exact", "more")))
    sp = {"empty": 0, "exact": debt}.get(sp_kind) if sp_kind in ("empty", "exact") else int(
        debt * draw(inside(0.01, 1.0) if sp_kind == "partial" else inside(1.0, 3.0))
    )
    event(f"{zone}, SP {sp_kind}")
    coll = int(icr * debt / price * E18)
    k = max(draw(log_uniform(1.0, 100.0)), 1.01 * icr / tcr)  # the others' share of the system
    sys_debt = int(debt * k)
    sys_coll = int(tcr * sys_debt / price * E18)
    return LiquityV1State(price, debt, coll, sp, sys_debt, sys_coll)


@SETTINGS
@given(s=liquity_v1_states())
def test_liquity_v1_liquidate_trove(s: LiquityV1State) -> None:
    """``liquidate_trove`` against ``liquidateTroves`` (batch form, one trove): the exact
    rule liquidates iff the float rule does, its values are those of the float rule's mode
    (``_getOffsetAndRedistributionVals``, redistribute all, ``_getCappedOffsetVals``), and
    every amount agrees.

    Tolerance: each amount is one or two truncations of a wei (``coll / 200``,
    ``coll * offset / debt``, ``debt * MCR / price``): 2 wei.
    """
    assume(s.sys_coll > s.coll and s.sys_debt >= s.debt)
    icr_e = lv1.compute_cr(s.coll, s.debt, s.price)
    tcr_e = lv1.tcr(s.sys_coll, s.sys_debt, s.price)
    assume(all(away(icr_e, t) for t in (lv1.ONE_HUNDRED_PCT, lv1.MCR, tcr_e)) and away(tcr_e, lv1.CCR))
    trove = lv1.Trove(s.coll, s.debt, stake=s.coll)
    totals = lv1.SystemTotals(entire_system_coll=s.sys_coll, entire_system_debt=s.sys_debt, total_stakes=s.sys_coll)
    res = lv1.liquidate_troves_sequence([(0, trove)], s.price, s.sp, totals, batch=True, total_troves=10)

    p = s.price / E18
    debt, coll = s.debt / E18, s.coll / E18
    icr = coll * p / debt
    tcr = s.sys_coll / E18 * p / (s.sys_debt / E18)
    mode, off, to_sp, gas, rdebt, rcoll, surplus = lv1_fast.liquidate_trove(
        debt, coll, icr, tcr, s.sp / E18, lv1.MCR / E18, lv1.CCR / E18, 1 / lv1.PERCENT_DIVISOR
    )
    if mode == lv1_fast.MODE_NONE:
        assert not res.liquidated
        return
    v = res.liquidated[0]
    assert v == LV1_EXACT[mode](s.debt, s.coll, s.sp, s.price)
    wei = 2 / E18
    assert_close("debt offset", off, v.debt_to_offset / E18, wei)
    assert_close("coll to SP", to_sp, v.coll_to_send_to_sp / E18, wei)
    assert_close("coll gas", gas, v.coll_gas_compensation / E18, wei)
    assert_close("debt redistributed", rdebt, v.debt_to_redistribute / E18, wei, scale=debt)
    assert_close("coll redistributed", rcoll, v.coll_to_redistribute / E18, wei, scale=coll)
    assert_close("coll surplus", surplus, v.coll_surplus / E18, wei, scale=coll)


# --- Liquity v2 ------------------------------------------------------------------------------


@SETTINGS
@given(
    debt=st.integers(2000 * E18, 10**7 * E18),
    penalty=st.integers(0, 3 * 10**17),
    price=st.integers(100 * E18, 10_000 * E18),
    c=st.one_of(inside(0.2, 1.0), inside(1.0, 3.0)),
    pd=st.floats(0.9, 1.1),
)
def test_liquity_v2_penalty_cap(debt: int, penalty: int, price: int, c: float, pd: float) -> None:
    """``penalty_cap`` against ``_getCollPenaltyAndSurplus`` for collateral ``c`` times the
    cap ``debt * (1 + penalty) / price``: taken and surplus within a wei (one truncation),
    and a surplus exactly when the collateral exceeds the cap. ``pd`` is BOLD's price: only
    the ratio of the prices matters."""
    coll = int(c * debt * (E18 + penalty) / price)
    taken_e, surplus_e = lv2.coll_penalty_and_surplus(coll, debt, penalty, price)
    assume(away(coll, debt * (E18 + penalty) / price))
    taken, surplus = lv2_fast.penalty_cap(coll / E18, debt / E18, penalty / E18, price / E18 * pd, pd)
    assert_close("taken", taken, taken_e / E18, 1 / E18)
    assert_close("surplus", surplus, surplus_e / E18, 1 / E18, scale=coll / E18)
    assert (surplus > 0) == (surplus_e > 0)


@SETTINGS
@given(
    branch=st.sampled_from((lv2.WETH, lv2.LST)),
    price=st.integers(100 * E18, 10_000 * E18),
    debt=st.integers(2000 * E18, 10**7 * E18),
    icr=st.floats(0.2, 1.2),
    sp_kind=st.sampled_from(("empty", "below floor", "partial", "covers")),
    u=st.floats(0.0, 1.0),
    pd=st.floats(0.9, 1.1),
)
def test_liquity_v2_liquidate_trove(branch, price, debt, icr, sp_kind, u, pd) -> None:
    """``liquidate_trove`` against ``TroveManager.liquidate``: offset against the Stability
    Pool (which keeps 1 BOLD), gas compensation (0.5 %, capped at 2 tokens), the SP and
    redistribution penalty caps and the owner's surplus. Exact agreement on whether the pool
    is used, whether debt is redistributed and whether there is a surplus.

    Tolerance: each amount is a few truncations to the wei (pro-rata share, gas, two caps):
    4 wei; the surplus sign is compared outside that band.
    """
    icr *= branch.mcr / E18 / 1.2  # ICR below the branch's MCR
    floor = lv2.MIN_BOLD_IN_SP
    sp = {"empty": 0, "below floor": int(u * floor), "partial": floor + int(debt * (0.01 + 0.98 * u)),
          "covers": floor + int(debt * (1 + 2 * u))}[sp_kind]
    coll = int(icr * debt / price * E18)
    assume(coll > 0 and lv2.compute_cr(coll, debt, price) < branch.mcr)
    v = lv2.liquidate(branch, debt, coll, sp, price)
    off, to_sp, gas, rdebt, rcoll, surplus = lv2_fast.liquidate_trove(
        debt / E18, coll / E18, sp / E18, price / E18 * pd, pd, 1 / lv2.COLL_GAS_COMPENSATION_DIVISOR,
        lv2.COLL_GAS_COMPENSATION_CAP / E18, branch.liquidation_penalty_sp / E18,
        branch.liquidation_penalty_redistribution / E18, floor / E18,
    )
    event(f"SP {sp_kind}" + (", surplus" if v.coll_surplus else ""))
    wei = 4 / E18
    scale = debt / E18 + coll / E18
    assert_close("debt offset", off, v.debt_to_offset / E18, wei)
    assert_close("coll to SP", to_sp, v.coll_to_send_to_sp / E18, wei)
    assert_close("coll gas", gas, v.coll_gas_compensation / E18, wei)
    assert_close("debt redistributed", rdebt, v.debt_to_redistribute / E18, wei, scale=scale)
    assert_close("coll redistributed", rcoll, v.coll_to_redistribute / E18, wei, scale=scale)
    assert_close("coll surplus", surplus, v.coll_surplus / E18, wei, scale=scale)
    assert (off > 0) == (v.debt_to_offset > 0)
    assert (rdebt > 0) == (v.debt_to_redistribute > 0)
    assert_same_sign("coll surplus", surplus, v.coll_surplus / E18, wei + REL * scale)
