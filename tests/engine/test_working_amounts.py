"""A solver's working amounts are its sorted book's amounts (issue 14): a sorting gathers the
sorted accounts' amounts straight into the columns the runs write, with no sorted copy beside
them; the book as it was (a reset, a twin, the accounts table, the replay) is read from the
model's book. The numbers are those of a fresh solver, bit for bit, run after run."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine.static import MarketModel, StaticCascade
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from .test_static_properties import rich_books

PRICES = np.array([2000.0, 1900.0, 1.0, 1.0])


def _model(pb, book=None):
    params, drawn = pb
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 1e5),
              "stETH": ConstantProductPool.from_price_depth("stETH", 1900.0, 5e4)}
    return MarketModel(drawn if book is None else book, AaveV3Rules(params, V3_3), PRICES, venues)


def _gathered(x: np.ndarray, offsets: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """``x``'s rows account by account in ``perm`` order (the sorted book's rows, by hand)."""
    return np.concatenate([x[offsets[k]: offsets[k + 1]] for k in perm] + [np.zeros(0)])


def _same(a, b) -> None:
    assert a.rounds == b.rounds
    np.testing.assert_array_equal(a.prices_final, b.prices_final)
    for name in a.totals:
        np.testing.assert_array_equal(a.totals[name], b.totals[name], err_msg=name)
    for name in ("acct_seized_usd", "acct_repaid_usd", "acct_bad_debt_usd", "acct_calls"):
        np.testing.assert_array_equal(a.per_account(getattr(a.tallies, name)), b.per_account(getattr(b.tallies, name)))
    # the end book's rows in the model's account order (the two may have sorted different parts)
    rows = [[_gathered(x, o.arrays.offsets, np.argsort(o.account_order)) for x in (o.arrays.coll, o.arrays.debt)]
            for o in (a, b)]
    for x, y in zip(*rows):
        np.testing.assert_array_equal(x, y)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.lists(st.floats(-0.3, 0.85), min_size=2, max_size=4))
def test_runs_after_runs_are_a_fresh_solvers(pb, shocks):
    """One solver run with several shocks in turn (its rows reset from the model's book between
    runs) gives each run's numbers as a fresh solver does, and leaves the model's book alone;
    the book it reports (``book_arrays``, ``hf_before``) is the model's, sorted."""
    model = _model(pb)
    book = model.book
    before = (book.collateral.copy(), book.debt.copy())
    solver = StaticCascade(model)
    for s in shocks:
        shock = {"WETH": s, "stETH": s}
        _same(solver.run(shock), StaticCascade(model).run(shock))
    np.testing.assert_array_equal(book.collateral, before[0])
    np.testing.assert_array_equal(book.debt, before[1])
    fresh = StaticCascade(model)
    np.testing.assert_array_equal(solver.hf_before.hf, fresh.hf_before.hf)
    got = solver.book_arrays
    np.testing.assert_array_equal(got.coll, _gathered(book.collateral, book.offsets, solver._perm))
    np.testing.assert_array_equal(got.debt, _gathered(book.debt, book.offsets, solver._perm))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.floats(0.0, 0.85), st.floats(0.0, 0.85))
def test_a_twin_and_the_tables_after_a_run_read_the_book_as_it_was(pb, first, second):
    """After a run has changed the working amounts: the accounts table of that run is a fresh
    solver's, and a twin made then (its own copy of the book) runs as a fresh solver does."""
    model = _model(pb)
    solver = StaticCascade(model)
    shock = {"WETH": first, "stETH": first}
    out = solver.run(shock)
    ref = StaticCascade(model)
    assert solver.account_frame(out).equals(ref.account_frame(ref.run(shock)))
    twin = solver.twin()
    assert not np.shares_memory(twin._base.coll, solver._coll)
    shock = {"WETH": second, "stETH": second}
    _same(twin.run(shock), StaticCascade(model).run(shock))
    _same(solver.run(shock), StaticCascade(model).run(shock))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books())
def test_only_a_book_in_health_order_has_a_second_copy_of_its_amounts(pb):
    """On a drawn book the sorted book's amounts are the working columns themselves; on a book in
    health order (the sorted book is the model's own columns, never written) the runs work on a
    copy of them."""
    model = _model(pb)
    drawn = StaticCascade(model)
    drawn.sort_all()
    assert np.shares_memory(drawn._base.coll, drawn._coll) and np.shares_memory(drawn._base.debt, drawn._debt)
    ordered_book = model.book.in_health_order(model.rules, model.prices)
    ordered = StaticCascade(_model(pb, ordered_book))
    assert ordered._base.coll is ordered_book.collateral
    assert not np.shares_memory(ordered._coll, ordered_book.collateral)
    ordered.run({"WETH": 0.5, "stETH": 0.5}, keep_arrays=False)
    np.testing.assert_array_equal(ordered._base.coll, ordered_book.collateral)
