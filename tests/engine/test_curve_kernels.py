"""The curve's first-round bounds (``engine/curve_kernels_python.py``, ``Direction`` in
``engine/curve.py``): hand cases, the compiled twin, and the bound below the HF at every shock."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade._jit import jit_functions
from liqcascade.engine import curve_kernels_python as plain
from liqcascade.engine.curve import Direction
from liqcascade.engine.static import MarketModel, StaticCascade
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from . import mechanism_books as mb

SAFE = plain.BOUND_SAFETY


def test_bounds_by_hand():
    # account 0: collateral 800 of the group (LT-weighted) and 100 other, debt 600 other:
    # at f = 0.5 HF = (400 + 100) / 600; account 1: no group exposure, HF 2 at any f;
    # account 2: no debt (left alone); account 3: beyond upto (left alone)
    wg, wo = np.array([800.0, 0.0, 5.0, 800.0]), np.array([100.0, 400.0, 0.0, 100.0])
    dg, do = np.array([0.0, 0.0, 0.0, 0.0]), np.array([600.0, 200.0, 0.0, 600.0])
    q = np.array([0.5, 1.0, 7.0, 0.1])
    plain.first_round_bounds(3, 0.5, 2.0, wg, wo, dg, do, q)
    assert q[0] == pytest.approx(500.0 / 600.0 * SAFE * 2.0, rel=1e-14) and q[0] < 500.0 / 600.0 * 2.0
    assert q[1] == pytest.approx(2.0 * SAFE * 2.0, rel=1e-14) and q[1] < 4.0
    assert q[2] == 7.0 and q[3] == 0.1


def test_a_bound_never_loosens_q():
    # debt in the group that falls: HF rises, but q already holds a larger valid bound
    q = np.array([9.0])
    plain.first_round_bounds(1, 0.5, 2.0, np.array([0.0]), np.array([100.0]), np.array([100.0]), np.array([0.0]), q)
    assert q[0] == 9.0


def test_compiled_bounds_are_the_plain_twin():
    compiled = jit_functions(plain.FUNCTIONS, enabled=True)["first_round_bounds"]
    rng = np.random.default_rng(2)
    n = 1000
    args = [rng.random(n) * 100 * (rng.random(n) < 0.7) for _ in range(4)]
    q0 = rng.random(n) * 3
    a, b = q0.copy(), q0.copy()
    plain.first_round_bounds(800, 0.37, 1.7, *args, a)
    compiled(800, 0.37, 1.7, *args, b)
    assert a.tobytes() == b.tobytes()


def test_direction_needs_one_group_moved_by_one_amount():
    book = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1000.0)])
    solver = StaticCascade(MarketModel(book, AaveV3Rules(mb.PARAMS, V3_3), mb.PRICES, mb.pool(1e6)))
    assert Direction.of(solver, np.array([[0.1, 0.1, 0.0], [0.0, 0.0, 0.0], [0.3, 0.3, 0.0]])) is not None
    assert Direction.of(solver, np.array([[0.1, 0.2, 0.0]])) is None  # two amounts in a row
    assert Direction.of(solver, np.array([[0.1, 0.0, 0.0], [0.0, 0.2, 0.0]])) is None  # two groups
    assert Direction.of(solver, np.array([[0.995, 0.0, 0.0]])) is None  # f below 0.01
    assert Direction.of(solver, np.zeros((2, 3))) is None
    liquity = mb.make_rules("liquity_v1", stability_pool=1e5)
    assert Direction.of(StaticCascade(MarketModel(book, liquity, mb.PRICES)), np.array([[0.1, 0.0, 0.0]])) is None


def test_direction_split_by_hand():
    # WETH 1 (LT 0.80 at $2,000) and WBTC 0.1 (LT 0.75 at $30,000) against 1,000 USDC and 0.5 WETH of debt
    book = mb.book([(0, "WETH", 1.0, 0.5), (0, "WBTC", 0.1, 0.0), (0, "USDC", 0.0, 1000.0)])
    solver = StaticCascade(MarketModel(book, AaveV3Rules(mb.PARAMS, V3_3), mb.PRICES))
    d = Direction.of(solver, np.array([[0.2, 0.0, 0.0]]))
    assert d.group.tolist() == [True, False, False]
    assert d.wg[0] == pytest.approx(1600.0, rel=1e-12) and d.wo[0] == pytest.approx(2250.0, rel=1e-12)
    assert d.dg[0] == pytest.approx(1000.0, rel=1e-12) and d.do[0] == pytest.approx(1000.0, rel=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["aave", "compound_v2", "morpho_blue", "euler_v2", "maker"]).flatmap(
           lambda p: st.tuples(st.just(p), mb.books("compound_v2" if p == "aave" else p, 1, 30))),
       st.lists(st.floats(-2.0, 0.99), min_size=1, max_size=5), st.sampled_from(["WETH", "WETH+WBTC", "all", "USDC"]))
def test_the_bound_is_below_the_hf_at_the_shocked_prices(protocol_book, shocks, group):
    """Whichever assets move together, the debt asset among them or alone."""
    protocol, book = protocol_book
    rules = AaveV3Rules(mb.PARAMS, V3_3) if protocol == "aave" else mb.make_rules(protocol)
    solver = StaticCascade(MarketModel(book, rules, mb.PRICES))
    moved = {"WETH": [1, 0, 0], "WETH+WBTC": [1, 1, 0], "all": [1, 1, 1], "USDC": [0, 0, 1]}[group]
    rows = np.array([[s * m for m in moved] for s in shocks])
    d = Direction.of(solver, rows)
    if d is None:
        assert any(1.0 - s < 0.01 for s in shocks) or all(s == 0.0 for s in shocks)
        return
    n = book.n_accounts
    for row in rows:
        p1 = mb.PRICES * (1.0 - row)
        hf1 = rules.health(solver.book_arrays, p1, np.arange(n)).hf
        q = np.zeros(n)
        plain.first_round_bounds(n, d.factor(row), 1.0, d.wg, d.wo, d.dg, d.do, q)
        assert (q <= hf1).all(), (q - hf1).max()
        # and tight: the split gives the HF itself, up to the safety factor and rounding
        has = rules.health(solver.book_arrays, p1, np.arange(n)).debt_usd > 0.0
        assert (q[has] >= hf1[has] * (1.0 - 1e-8)).all()


def test_split_by_hand_and_compiled():
    # w0 = 1.5 * 2000 = 3000 at the reference prices, wh = 2.0 * 1000 = 2000 with the group halved:
    # the group's part 2 * (3000 - 2000) = 2000, the rest 1000; debt 2000 and 1000: all in the group.
    # The second account has no debt: zeros.
    hf0, d0, hfh, dh = np.array([1.5, 1e300]), np.array([2000.0, 0.0]), np.array([2.0, 1e300]), np.array([1000.0, 0.0])
    compiled = jit_functions(plain.FUNCTIONS, enabled=True)["split_values"]
    for fn in (plain.split_values, compiled):
        out = [np.full(2, 9.0) for _ in range(4)]
        fn(hf0, d0, hfh, dh, *out)
        assert [o.tolist() for o in out] == [[2000.0, 0.0], [1000.0, 0.0], [2000.0, 0.0], [0.0, 0.0]]


# ------------------------------------------------------------ the held-asset bounds (later rounds)


def test_asset_masks_by_hand():
    # account 0: WETH collateral (bit 0), USDC debt (bit 2); account 1: WBTC both sides, a USDC
    # row of zeros (no bit); account 2: nothing
    offsets = np.array([0, 2, 4, 4])
    asset = np.array([0, 2, 1, 2], dtype=np.int32)
    coll = np.array([1.0, 0.0, 0.5, 0.0])
    debt = np.array([0.0, 900.0, 0.1, 0.0])
    for fn in (plain.asset_masks, jit_functions(plain.FUNCTIONS, enabled=True)["asset_masks"]):
        c, d = np.full(3, 7, dtype=np.uint32), np.full(3, 7, dtype=np.uint32)
        fn(offsets, asset, coll, debt, c, d)
        assert c.tolist() == [0b001, 0b010, 0] and d.tolist() == [0b100, 0b010, 0]


def test_byte_extremes_are_the_extremes_over_each_mask():
    rng = np.random.default_rng(3)
    ratio = rng.uniform(0.01, 5.0, 29)  # four bytes, the last one partly used
    lo, hi = np.empty((plain.MASK_BYTES, 256)), np.empty((plain.MASK_BYTES, 256))
    plain.byte_extremes(ratio, lo, hi)
    assert lo[0, 0] == np.inf and hi[3, 0] == -np.inf  # no asset: neutral
    assert lo[1, 0b101] == min(ratio[8], ratio[10]) and hi[1, 0b101] == max(ratio[8], ratio[10])
    assert lo[3, 0b11100000] == np.inf  # assets 29-31 do not exist
    for m in rng.integers(1, 2**29, 200):
        held = [a for a in range(29) if (int(m) >> a) & 1]
        assert min(lo[j, (int(m) >> (8 * j)) & 255] for j in range(4)) == ratio[held].min()
        assert max(hi[j, (int(m) >> (8 * j)) & 255] for j in range(4)) == ratio[held].max()


def test_held_bounds_by_hand():
    # ratios: WETH x0.5, WBTC x1 (bits 0, 1), USDC x1.2 (bit 2)
    ratio = np.array([0.5, 1.0, 1.2])
    lo, hi = np.empty((plain.MASK_BYTES, 256)), np.empty((plain.MASK_BYTES, 256))
    plain.byte_extremes(ratio, lo, hi)
    hf0 = np.array([2.0, 3.0, 1.5, 4.0, 2.0, 2.0])
    cmask = np.array([0b001, 0b010, 0b011, 0b010, 0, 0b001], dtype=np.uint32)
    dmask = np.array([0b100, 0b100, 0b100, 0, 0b100, 0b100], dtype=np.uint32)
    touched = np.array([False, False, False, False, False, True])
    q = np.array([0.1, 0.1, 5.0, 0.1, 0.1, 0.1])
    plain.held_bounds(6, 2.0, lo, hi, hf0, cmask, dmask, touched, q)
    # account 0: 2 * 0.5 / 1.2 (its WETH fell, its USDC debt rose), times cum 2
    assert q[0] == pytest.approx(2.0 * 0.5 / 1.2 * SAFE * 2.0, rel=1e-14) and q[0] < 2.0 * 0.5 / 1.2 * 2.0
    assert q[1] == pytest.approx(3.0 / 1.2 * SAFE * 2.0, rel=1e-14)  # holds no WETH
    assert q[2] == 5.0  # a larger bound stays
    assert q[3:].tolist() == [0.1, 0.1, 0.1]  # no debt, no collateral, touched: left alone


def test_compiled_held_bounds_are_the_plain_twin():
    compiled = jit_functions(plain.FUNCTIONS, enabled=True)
    rng = np.random.default_rng(4)
    n = 2000
    ratio = rng.uniform(0.001, 3.0, 25)
    tabs = [np.empty((plain.MASK_BYTES, 256)) for _ in range(4)]
    plain.byte_extremes(ratio, tabs[0], tabs[1])
    compiled["byte_extremes"](ratio, tabs[2], tabs[3])
    assert tabs[0].tobytes() == tabs[2].tobytes() and tabs[1].tobytes() == tabs[3].tobytes()
    hf0 = rng.uniform(0.5, 3.0, n)
    cmask = rng.integers(0, 2**25, n).astype(np.uint32) * (rng.random(n) < 0.9)
    dmask = rng.integers(0, 2**25, n).astype(np.uint32) * (rng.random(n) < 0.9)
    touched = rng.random(n) < 0.3
    q0 = rng.uniform(0.0, 4.0, n)
    a, b = q0.copy(), q0.copy()
    plain.held_bounds(1500, 1.7, tabs[0], tabs[1], hf0, cmask.astype(np.uint32), dmask.astype(np.uint32), touched, a)
    compiled["held_bounds"](1500, 1.7, tabs[0], tabs[1], hf0, cmask.astype(np.uint32), dmask.astype(np.uint32),
                            touched, b)
    assert a.tobytes() == b.tobytes()
    assert (a[1500:] == q0[1500:]).all() and (a >= q0).all() and (a > q0).any()


def test_held_assets_only_for_rules_priced_by_rows():
    from liqcascade.engine.curve import HeldAssets

    book = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1000.0)])
    aave = StaticCascade(MarketModel(book, AaveV3Rules(mb.PARAMS, V3_3), mb.PRICES))
    held = HeldAssets.of(aave)
    assert held is not None and held.cmask.tolist() == [0b001] and held.dmask.tolist() == [0b100]
    assert HeldAssets.of(StaticCascade(MarketModel(book, mb.make_rules("compound_v2"), mb.PRICES))) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mb.books("compound_v2", 1, 30), st.lists(st.floats(0.002, 20.0), min_size=3, max_size=3))
def test_the_held_bound_is_below_the_hf_at_any_prices(book, ratios):
    """Any price of each asset, the debt asset's included, up or down (Aave v3, the rules that
    are ``priced_by_rows``)."""
    from liqcascade.engine.curve import HeldAssets

    rules = AaveV3Rules(mb.PARAMS, V3_3)
    solver = StaticCascade(MarketModel(book, rules, mb.PRICES))
    held = HeldAssets.of(solver)
    n = book.n_accounts
    ratio = np.array(ratios)
    hf1 = rules.health(solver.book_arrays, mb.PRICES * ratio, np.arange(n)).hf
    lo, hi = np.empty((plain.MASK_BYTES, 256)), np.empty((plain.MASK_BYTES, 256))
    plain.byte_extremes(ratio, lo, hi)
    q = np.zeros(n)
    plain.held_bounds(n, 1.0, lo, hi, held.hf0, held.cmask, held.dmask, np.zeros(n, dtype=np.bool_), q)
    assert (q <= hf1).all(), (q - hf1).max()
    # and exact where the account's assets moved by one ratio on each side (one asset each)
    one = (np.bitwise_count(held.cmask) == 1) & (np.bitwise_count(held.dmask) == 1)
    assert (q[one] >= hf1[one] * (1.0 - 1e-8)).all()
