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
