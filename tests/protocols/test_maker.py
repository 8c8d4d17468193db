"""Maker Liquidations 2.0 exact rule: bundled conformance vectors, hand-computed cases, abaci.t.sol
tolerance loops, and properties (price monotone between resets, rpow's rounding bound, take
conservation).

The tolerance tests port makerdao/dss@fa4f6630:src/test/abaci.t.sol (test_stairstep_exp_decrease,
test_continuous_exp_decrease); the vectors live in data/conformance/maker/liquidations2.yaml.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import liqcascade
from liqcascade.protocols.conformance import load_vector_file, run_vector_file
from liqcascade.errors import LiqcascadeError
from liqcascade.protocols.maker import exact as mk
from liqcascade.protocols.maker.exact import RAD, RAY, WAD

VECTORS = Path(liqcascade.__file__).parent / "data" / "conformance" / "maker" / "liquidations2.yaml"


# --- conformance ---------------------------------------------------------------------------


def test_vector_file_covers_reference_m1_to_m13() -> None:
    vf = load_vector_file(VECTORS)
    ids = {v.id for v in vf.vectors}
    assert {f"M{i}" for i in range(1, 14)} <= ids
    assert all(v.source.startswith("makerdao/dss@fa4f6630:src/") for v in vf.vectors)


@pytest.mark.parametrize("result", run_vector_file(VECTORS), ids=lambda r: r.id)
def test_bundled_maker_vector(result) -> None:
    assert result.passed, result.detail


# --- hand-computed cases --------------------------------------------------------------------


def test_fixed_point_floors_and_guards() -> None:
    assert mk.wmul(3, WAD // 2) == 1  # 1.5 floors to 1
    assert mk.rmul(RAY + 1, RAY - 1) == RAY - 1  # (R^2 - 1)/R floors
    assert mk.rdiv(1, 3) == RAY // 3
    with pytest.raises(mk.MathOverflow):
        mk.mul(2**128, 2**128)
    with pytest.raises(mk.MathOverflow):
        mk.sub(1, 2)
    with pytest.raises(mk.DivisionByZero):
        mk.rdiv(1, 0)
    assert issubclass(mk.MakerRevert, LiqcascadeError)


def test_feed_and_spot_prices() -> None:
    assert mk.feed_price(4 * WAD) == 4 * RAY
    assert mk.feed_price(4 * WAD, par=2 * RAY) == 2 * RAY  # par 2: one dai is worth 2 usd
    assert mk.spot_price(4 * WAD, mat=2 * RAY) == 2 * RAY
    assert mk.upchost(20 * RAD, 11 * WAD // 10) == 22 * RAD


def test_rpow_edge_cases() -> None:
    assert mk.rpow(0, 0, RAY) == RAY
    assert mk.rpow(RAY, 10**6, RAY) == RAY
    assert mk.rpow(3 * RAY, 1, RAY) == 3 * RAY  # n = 1 never squares
    # half-up: 0.5^2 in base 10 is 2.5 units -> 3
    assert mk.rpow(5, 2, 10) == 3
    with pytest.raises(mk.MathOverflow):
        mk.rpow(2**128, 2, RAY)
    with pytest.raises(mk.MathOverflow):
        mk.rpow(2**127, 4, 1)  # second squaring leaves uint256


def _base_state(**ilk_kw):
    ilk = mk.Ilk(rate=RAY, spot=2 * RAY, dust=20 * RAD, chop=11 * WAD // 10, hole=1000 * RAD)
    ilk = mk.Ilk(**{**ilk.__dict__, **ilk_kw})
    clip = mk.Clipper(
        calc=mk.StairstepExponentialDecrease(cut=99 * RAY // 100, step=1),
        buf=5 * RAY // 4,
        tail=3600,
        cusp=3 * RAY // 10,
        chost=mk.upchost(ilk.dust, ilk.chop),
    )
    return ilk, mk.Vault(40 * WAD, 100 * WAD), mk.Dog(Hole=1000 * RAD), clip


def test_bark_is_pure_and_tracks_dirt() -> None:
    ilk, vault, dog, clip = _base_state()
    b = mk.bark(ilk, vault, dog, clip, mk.feed_price(4 * WAD), now=1000)
    assert (vault.ink, vault.art, dog.Dirt, ilk.dirt) == (40 * WAD, 100 * WAD, 0, 0)  # inputs untouched
    assert b.sale == mk.Sale(tab=110 * RAD, lot=40 * WAD, tic=1000, top=5 * RAY)
    assert b.due == 100 * RAD and b.dog.Dirt == b.ilk.dirt == 110 * RAD
    # A second vault of the same ilk now has only 1000 - 110 dai of room.
    b2 = mk.bark(b.ilk, mk.Vault(4000 * WAD, 10_000 * WAD), b.dog, clip, mk.feed_price(4 * WAD), 1000)
    assert b2.tab <= 890 * RAD and b2.dog.Dirt == 110 * RAD + b2.tab


def test_take_reverts() -> None:
    ilk, vault, dog, clip = _base_state()
    sale = mk.bark(ilk, vault, dog, clip, mk.feed_price(4 * WAD), now=0).sale
    with pytest.raises(mk.NeedsReset):  # 5 * 0.99^120 = 1.49 < cusp 0.3 * 5
        mk.take(clip, sale, WAD, 5 * RAY, now=120)
    with pytest.raises(mk.MathOverflow):  # now before tic: dss's sub underflows
        mk.take(clip, mk.Sale(110 * RAD, 40 * WAD, tic=10, top=5 * RAY), WAD, 5 * RAY, now=5)
    with pytest.raises(mk.StoppedIncorrect):
        mk.take(mk.Clipper(**{**clip.__dict__, "stopped": 3}), sale, WAD, 5 * RAY, now=0)
    # stopped 2 blocks redo but not take
    mk.take(mk.Clipper(**{**clip.__dict__, "stopped": 2}), sale, WAD, 5 * RAY, now=0)
    with pytest.raises(mk.CutGtRay):
        mk.StairstepExponentialDecrease(cut=RAY + 1, step=1)
    with pytest.raises(mk.DivisionByZero):
        mk.stairstep_price(RAY, 10, RAY, 0)


def test_redo_resets_tic_and_top() -> None:
    ilk, vault, dog, clip = _base_state()
    sale = mk.bark(ilk, vault, dog, clip, mk.feed_price(4 * WAD), now=0).sale
    r = mk.redo(clip, sale, mk.feed_price(3 * WAD), now=3601)
    assert r.sale == mk.Sale(tab=sale.tab, lot=sale.lot, tic=3601, top=15 * RAY // 4)
    assert r.coin == 0  # no tip/chip configured
    with pytest.raises(mk.CannotReset):
        mk.redo(clip, r.sale, mk.feed_price(3 * WAD), now=3601)


# --- abaci.t.sol tolerance loops --------------------------------------------------------------


@pytest.mark.parametrize("top,tolerance", [(50_000_000 * RAY, 100_000_000), (RAY // 10_000_000, 1)])
@pytest.mark.parametrize("pct", [Fraction(11234567890, 10**12), Fraction(21234567890, 10**12)])
@pytest.mark.parametrize("step", [1, 5, 300])
def test_abaci_stairstep_exp_decrease(top: int, tolerance: int, pct: Fraction, step: int) -> None:
    # abaci.t.sol::test_stairstep_exp_decrease: each step multiplies the last price by cut (floor).
    cut = RAY - int(pct * RAY)
    price = mk.stairstep_price(top, 0, cut, step)
    assert price == top
    for i in range(1, 600):
        last, price = price, mk.stairstep_price(top, i, cut, step)
        want = last * cut // RAY if i % step == 0 else last
        assert abs(want - price) <= tolerance


def test_abaci_continuous_exp_decrease() -> None:
    # abaci.t.sol::test_continuous_exp_decrease: 15-minute half-life within 0.1 %.
    cut, top, expected = 999230132966 * 10**15, 4000 * RAY, 4000 * RAY
    for i in range(5):
        assert abs(mk.exponential_price(top, i * 900, cut) - expected) <= RAY // 1000
        expected //= 2


# --- properties -------------------------------------------------------------------------------

cuts = st.integers(min_value=0, max_value=RAY)
tops = st.integers(min_value=1, max_value=10**12 * RAY)
durs = st.integers(min_value=0, max_value=20_000)


@settings(max_examples=150, deadline=None)
@given(top=tops, cut=cuts, step=st.integers(1, 600), tau=st.integers(1, 50_000), d1=durs, d2=durs)
def test_price_non_increasing_in_time(top: int, cut: int, step: int, tau: int, d1: int, d2: int) -> None:
    a, b = sorted((d1, d2))
    for calc in (
        mk.LinearDecrease(tau),
        mk.StairstepExponentialDecrease(cut, step),
        mk.ExponentialDecrease(cut),
    ):
        pa, pb = calc.price(top, a), calc.price(top, b)
        assert pb <= pa <= top, (calc, a, b)


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from([10**9, WAD, RAY]),
    frac=st.fractions(min_value=0, max_value=1),
    n=st.integers(0, 600),
)
def test_rpow_within_half_up_bound(base: int, frac: Fraction, n: int) -> None:
    # For x <= base every operand is <= 1, so rounding errors are not amplified by the values:
    # squaring doubles the error of x (plus 1/2 unit), each multiply into z adds both errors
    # (plus 1/2). Summed over the bits of n that is at most n/2 + O(1) units; we allow n + 1.
    x = int(frac * base)
    exact = Fraction(x, base) ** n * base
    assert abs(mk.rpow(x, n, base) - exact) <= n + 1


@given(x=st.integers(0, 2**128 - 1), base=st.sampled_from([10, WAD, RAY]))
def test_rpow_square_is_one_half_up_product(x: int, base: int) -> None:
    try:
        z = mk.rpow(x, 2, base)
    except mk.MathOverflow:
        assert x * x + base // 2 > mk.UINT256_MAX
        return
    exact = Fraction(x * x, base)
    assert z == int(exact + Fraction(1, 2))  # floor(exact + 1/2): half rounds up


bids = st.lists(
    st.tuples(st.integers(0, 150), st.integers(1, 45 * WAD)),  # (wait seconds, amt)
    min_size=1,
    max_size=8,
)


@settings(max_examples=120, deadline=None)
@given(bids=bids, rate=st.integers(RAY, 2 * RAY))
def test_take_conserves_collateral_and_dirt(bids: list[tuple[int, int]], rate: int) -> None:
    ilk, vault, dog, clip = _base_state(rate=rate)
    feed = mk.feed_price(4 * WAD)
    b = mk.bark(ilk, vault, dog, clip, feed, now=0)
    sale, dog, ilk, now = b.sale, b.dog, b.ilk, 0
    lot0, tab0, dirt0 = sale.lot, sale.tab, dog.Dirt
    bought = paid = returned = 0
    for wait, amt in bids:
        if sale is None:
            break
        now += wait
        done, _ = mk.status(clip, sale, now)
        if done:
            sale = mk.redo(clip, sale, feed, now).sale
        try:
            t = mk.take(clip, sale, amt, mk.UINT256_MAX, now, dog, ilk)
        except mk.NoPartialPurchase:
            assert sale.tab <= clip.chost and amt < sale.lot
            continue
        assert t.dog is not None and t.ilk is not None
        assert t.owe <= sale.tab and t.slice <= min(amt, sale.lot)
        assert t.owe <= t.slice * t.price + t.price  # owe/price floors: under 1 wei of slice unpaid-for
        lot_after = 0 if t.sale is None else t.sale.lot
        tab_after = 0 if t.sale is None else t.sale.tab
        # collateral: to the buyer + back to the owner + still in auction = before
        assert t.slice + t.returned + lot_after == sale.lot
        # dai: the lot running out writes the unpaid tab off Dirt too
        assert t.digs == (sale.tab if sale.lot == t.slice else t.owe)
        assert dog.Dirt - t.dog.Dirt == t.digs == ilk.dirt - t.ilk.dirt
        if t.sale is not None:
            assert tab_after == sale.tab - t.owe
            assert tab_after >= clip.chost or tab_after == 0 or sale.tab <= clip.chost
        bought, paid, returned = bought + t.slice, paid + t.owe, returned + t.returned
        sale, dog, ilk = t.sale, t.dog, t.ilk
    lot_left = 0 if sale is None else sale.lot
    assert bought + returned + lot_left == lot0
    if sale is None:
        assert dog.Dirt == dirt0 - tab0 == 0
    else:
        assert sale.tab == tab0 - paid and dog.Dirt == dirt0 - paid


def test_eth_a_clipper_resets_on_cusp_before_tail() -> None:
    clip = mk.eth_a_clipper()
    assert clip.chost == 16_950 * RAD
    sale = mk.Sale(tab=1_000_000 * RAD, lot=400 * WAD, tic=0, top=3_000 * RAY)
    # 0.99^91 = 0.4007 >= cusp 0.40 but 0.99^92 = 0.3967 < 0.40, so the cusp fires at the
    # 92nd step (8280 s), two minutes before the 140-minute tail would.
    first = next(t for t in range(0, 9000, 90) if mk.status(clip, sale, t)[0])
    assert first == 92 * 90 < clip.tail
