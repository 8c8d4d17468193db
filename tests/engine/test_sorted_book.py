"""The lazily sorted book (issue 14): a solver sorts only the accounts a run's bound can reach,
and what it sorts is the front of the full stable sort, rows and all, so the cascade's numbers
are the same bit for bit as on a book sorted at once."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade._jit import jit_functions
from liqcascade.engine import kernels_python
from liqcascade.engine.static import (
    CascadeSettings, MarketModel, SortedBook, StaticCascade, _row_index, stable_argsort,
)
from liqcascade.engine.flow_replay import order_of_distinct
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.aave_v3 import V3_0, V3_3, V3_7
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from .test_static_properties import rich_books

PRICES = np.array([2000.0, 1900.0, 1.0, 1.0])


def _model(pb, version=V3_3):
    params, book = pb
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 1e5),
              "stETH": ConstantProductPool.from_price_depth("stETH", 1900.0, 5e4)}
    return MarketModel(book, AaveV3Rules(params, version), PRICES, venues)


def _rows(sb: SortedBook, upto: int):
    b = sb.base
    r = int(b.offsets[upto])
    rows = np.arange(r)
    t = b.params
    cols = (b.asset, b.coll, b.debt, t.lt_of(rows), t.bonus_of(rows), t.fee_of(rows))
    return [x[:r].tobytes() for x in cols] + [b.offsets[: upto + 1].tobytes()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.lists(st.floats(0.0, 5.0), min_size=1, max_size=3))
def test_a_partly_sorted_book_is_the_front_of_the_full_sort(pb, cuts):
    """Sorting below a growing sequence of cuts: every account with HF0 below the last cut is
    in the prefix, which is the full sort's first accounts with the same rows; the order is a
    permutation of the accounts; the prefix's accounts have their own rows in the working book
    (which holds no others), the rest are read from the prepared book in original order."""
    model = _model(pb)
    full = SortedBook.of(model)
    sb = SortedBook.partial(model, 0.0)
    assert sb.n_sorted == 0
    for cut in np.maximum.accumulate(cuts):
        sb = sb.sort_below(float(cut))
        m = sb.n_sorted
        assert m == int((full.hf0_sorted < cut).sum())
        np.testing.assert_array_equal(sb.perm[:m], full.perm[:m])
        np.testing.assert_array_equal(sb.hf0_sorted[:m], full.hf0_sorted[:m])
        assert _rows(sb, m) == _rows(full, m)
        assert (sb.hf0_sorted[m:] >= cut).all()
        assert sorted(sb.perm.tolist()) == list(range(model.book.n_accounts))
        assert sb.base.n_accounts == m and sb.base.coll.shape[0] == int(sb.base.offsets[m])
        for j in range(m):  # each sorted account's own rows
            k = sb.perm[j]
            s, e = sb.base.offsets[j], sb.base.offsets[j + 1]
            s0, e0 = model.book.offsets[k], model.book.offsets[k + 1]
            np.testing.assert_array_equal(sb.base.coll[s:e], model.book.collateral[s0:e0])
            np.testing.assert_array_equal(sb.base.asset[s:e], model.book.asset[s0:e0])
        if m < model.book.n_accounts:  # the others' rows where the book has them
            src = sb.source
            np.testing.assert_array_equal(src.offsets, model.book.offsets)
            np.testing.assert_array_equal(src.coll, model.book.collateral)
            np.testing.assert_array_equal(src.asset, model.book.asset)
        else:
            assert sb.source is None and sb.room is None
        whole = sb.whole  # every account's own rows, in working order, the prefix's as they are
        assert whole.n_accounts == model.book.n_accounts and _rows(sb, m) == _rows(replace(sb, base=whole), m)
        for j, k in enumerate(sb.perm):
            s, e = whole.offsets[j], whole.offsets[j + 1]
            s0, e0 = model.book.offsets[k], model.book.offsets[k + 1]
            for got, own in ((whole.coll, model.book.collateral), (whole.debt, model.book.debt),
                             (whole.asset, model.book.asset)):
                np.testing.assert_array_equal(got[s:e], own[s0:e0])
    sb = sb.sort_below(np.inf)
    np.testing.assert_array_equal(sb.perm, full.perm)
    assert _rows(sb, model.book.n_accounts) == _rows(full, model.book.n_accounts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.sampled_from([V3_3, V3_7]),
       st.lists(st.floats(-0.3, 0.85), min_size=3, max_size=3), st.booleans())
def test_lazy_sorting_changes_no_number(pb, version, shocks, trades):
    """Runs of growing and shrinking shocks on one lazy solver (buffers reused, more of the
    book sorted between runs and within them) equal runs on a solver sorted at once."""
    model = _model(pb, version)
    lazy = StaticCascade(model, CascadeSettings())
    eager = StaticCascade(model, CascadeSettings())
    eager.sort_all()
    for s in shocks:
        shock = {"WETH": s, "stETH": s}
        a, b = lazy.run(shock, trades=trades), eager.run(shock, trades=trades)
        assert a.rounds == b.rounds
        np.testing.assert_array_equal(a.prices_final, b.prices_final)
        for name in a.totals:
            np.testing.assert_array_equal(a.totals[name], b.totals[name], err_msg=name)
        np.testing.assert_array_equal(a.per_account(a.tallies.acct_seized_usd), b.per_account(b.tallies.acct_seized_usd))
        assert lazy.account_frame(a).equals(eager.account_frame(b))
        assert lazy.summarize(a) == eager.summarize(b)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.0 + 1e-16, 2.0, 1e300, np.inf, np.nan]) | st.floats(0, 3),
                max_size=300))
def test_stable_argsort_is_numpys_stable_sort(values):
    """Many ties (equal values, both zeros, NaNs, HF_INF): the same permutation as NumPy's
    stable sort."""
    x = np.array(values, dtype=np.float64)
    np.testing.assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))


def test_stable_argsort_on_a_large_array_with_tie_runs():
    rng = np.random.default_rng(3)
    x = np.round(rng.lognormal(0, 1, 200_000), 2)  # runs of equal values
    x[rng.random(x.size) < 0.2] = 1e300
    np.testing.assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.floats(0.0, 0.8))
def test_hf_before_is_the_books_own_health_in_original_order(pb, shock):
    """Computed when asked, before and after runs that sort part or all of the book: the
    health of the book as given, account by account."""
    model = _model(pb)
    rules = model.rules
    direct = rules.health(rules.prepare(model.book), model.prices)
    solver = StaticCascade(model)
    for _ in range(2):
        view = solver.hf_before
        np.testing.assert_array_equal(view.hf, direct.hf)
        np.testing.assert_array_equal(view.collateral_usd, direct.collateral_usd)
        np.testing.assert_array_equal(view.debt_usd, direct.debt_usd)
        solver.run({"WETH": shock, "stETH": shock})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.sampled_from([V3_0, V3_3, V3_7]), st.floats(0.0, 5.0))
def test_the_bad_debt_before_from_the_health_pass_is_the_second_passs(pb, version, cut):
    """Aave declares ``unrecoverable_from_health``: the sorted book takes the bad debt before
    from the HF0 pass (debt of the accounts with no counted collateral), the same number, bit
    for bit, as the rules' own pass over every account."""
    model = _model(pb, version)
    rules = model.rules
    assert rules.capabilities.unrecoverable_from_health
    base = rules.prepare(model.book)
    everyone = np.arange(model.book.n_accounts)
    want = float(rules.unrecoverable_debt(base, PRICES, everyone).sum())
    for sb in (SortedBook.partial(model, cut), SortedBook.of(model)):
        assert sb.bad_before_usd == want


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 4)), max_size=40))
def test_the_row_index_is_each_accounts_rows_in_turn(segments):
    """By definition: for each account its rows ``start .. start + count - 1``, accounts with
    no rows contributing nothing."""
    starts = np.array([s for s, _ in segments], dtype=np.int64)
    counts = np.array([c for _, c in segments], dtype=np.int64)
    want = [r for s, c in segments for r in range(s, s + c)]
    assert _row_index(starts, counts).tolist() == want
    small = _row_index(starts, counts, np.int32)
    assert small.dtype == np.int32 and small.tolist() == want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.floats(0.0, 5.0))
def test_a_sorting_in_steps_moves_each_accounts_own_rows(pb, cut):
    """Two sortings after a first: every account's rows are its own rows of the model's book,
    in order, in every column the gather moves; the first sorting's prefix keeps its rows."""
    model = _model(pb)
    first = SortedBook.partial(model, float(cut) / 2)
    sb = first.sort_below(float(cut)).sort_below(np.inf)
    b, book = sb.base, model.book
    key = model.rules.param_table(book).key
    assert sorted(sb.perm.tolist()) == list(range(book.n_accounts))
    for j, k in enumerate(sb.perm):
        s, e = b.offsets[j], b.offsets[j + 1]
        s0, e0 = book.offsets[k], book.offsets[k + 1]
        for got, own in ((b.coll, book.collateral), (b.debt, book.debt), (b.asset, book.asset),
                         (b.params.key, key)):
            np.testing.assert_array_equal(got[s:e], own[s0:e0])
    m = first.n_sorted
    assert _rows(sb, m) == _rows(first, m)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=30).flatmap(
    lambda c: st.tuples(st.just(c), st.lists(st.integers(0, len(c) - 1), max_size=40))),
    st.integers(0, 7), st.sampled_from([np.int32, np.int64]))
def test_the_row_spans_and_numbers_are_each_accounts_rows_in_turn(case, r0, row_type):
    """By definition, compiled and plain: for ``accounts`` of a book with these row counts, each
    one's first row, where its rows end when written in turn from row ``r0``, and the row index
    of all of them (each account's rows ``start .. start + count - 1``, none for an empty one)."""
    counts, picks = case
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    accounts = np.array(picks, dtype=np.int32)
    want_rows = [r for a in picks for r in range(offsets[a], offsets[a + 1])]
    want_ends = (r0 + np.cumsum([counts[a] for a in picks])).tolist()
    compiled = jit_functions(kernels_python.FUNCTIONS, parallel=kernels_python.PARALLEL, enabled=True)
    for spans, numbers in ((kernels_python.row_spans, kernels_python.row_numbers),
                           (compiled["row_spans"], compiled["row_numbers"])):
        starts, ends = np.full(len(picks), -1, dtype=row_type), np.full(len(picks), -1, dtype=np.int64)
        assert spans(offsets, accounts, r0, starts, ends) == r0 + len(want_rows)
        assert starts.tolist() == [int(offsets[a]) for a in picks] and ends.tolist() == want_ends
        rows = np.full(len(want_rows), -1, dtype=row_type)
        numbers(starts, ends, r0, rows)
        assert rows.tolist() == want_rows


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n - 1), max_size=50))),
       st.booleans(), st.sampled_from([np.int32, np.int64]), st.sampled_from([np.int16, np.int32]))
def test_the_gather_kernel_and_its_twin_take_each_row(case, own_key, row_type, id_type):
    """By definition, compiled and plain: output row ``i`` of every column is source row
    ``rows[i]``; a key that is the asset column (passed twice, with its output) comes out as the
    asset ids; asset ids and keys int16 (a book's, ``model.asset_dtype``) or int32."""
    n, picks = case
    rng = np.random.default_rng(n)
    asset = rng.integers(0, 9, n).astype(id_type)
    key = (asset + 9 * rng.integers(0, 3, n)).astype(id_type) if own_key else asset
    coll, debt = rng.random(n), rng.random(n)
    rows = np.array(picks, dtype=row_type)
    compiled = jit_functions(kernels_python.FUNCTIONS, parallel=kernels_python.PARALLEL, enabled=True)["gather_rows"]
    for gather in (kernels_python.gather_rows, compiled):
        k = rows.shape[0]
        out_asset, out_key = np.full(k, -1, dtype=id_type), np.full(k, -1, dtype=id_type)
        out_coll, out_debt = np.full(k, np.nan), np.full(k, np.nan)
        gather(rows, asset, key, coll, debt, out_asset, out_key if own_key else out_asset, out_coll, out_debt)
        assert out_asset.tolist() == [int(asset[r]) for r in picks]
        if own_key:
            assert out_key.tolist() == [int(key[r]) for r in picks]
        assert out_coll.tolist() == [float(coll[r]) for r in picks]
        assert out_debt.tolist() == [float(debt[r]) for r in picks]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.floats(0.0, 5.0))
def test_a_later_sorting_leaves_the_earlier_book_and_the_models_alone(pb, cut):
    """A sorting writes the rows it adds after the prefix's: the book it was sorted from keeps
    its rows (an outcome holds them), the model's book is untouched, and the steps end at the
    book sorted at once."""
    model = _model(pb)
    before = [x.copy() for x in (model.book.asset, model.book.collateral, model.book.debt, model.book.offsets)]
    first = SortedBook.partial(model, float(cut) / 2)
    m = first.n_sorted
    kept = _rows(first, m)
    got = first.sort_below(float(cut)).sort_below(np.inf)
    assert _rows(first, m) == kept and first.base.n_accounts == m
    n = model.book.n_accounts
    want = SortedBook.of(model)
    assert _rows(got, n) == _rows(want, n)
    np.testing.assert_array_equal(got.perm, want.perm)
    after = (model.book.asset, model.book.collateral, model.book.debt, model.book.offsets)
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.floats(0.0, 0.2), st.floats(0.5, 0.9))
def test_a_kept_outcome_survives_a_later_sorting(pb, small, large):
    """An outcome kept from a run keeps its own layout when a later run sorts more of the book
    (the sorting drops the solver's old columns, never rewrites them)."""
    model = _model(pb)
    solver = StaticCascade(model)
    out = solver.run({"WETH": small, "stETH": small})
    a = out.arrays
    kept = [x.copy() for x in (a.offsets, a.asset, a.coll, a.debt, a.params.key, a.params.lt, a.params.bonus)]
    solver.run({"WETH": large, "stETH": large})
    solver.sort_all()
    for x, y in zip(kept, (a.offsets, a.asset, a.coll, a.debt, a.params.key, a.params.lt, a.params.bonus)):
        np.testing.assert_array_equal(x, y)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300).flatmap(lambda n: st.tuples(st.just(n), st.permutations(range(n)), st.integers(0, n))))
def test_order_of_distinct_is_the_stable_argsort(case):
    """The accounts table's order of the touched accounts by number, without a comparison sort: for
    distinct keys in ``0..n-1`` it is ``np.argsort(keys, kind="stable")`` (a definition, not a
    recording: the sorted keys read through it are ascending and it is a permutation of them)."""
    n, perm, m = case
    keys = np.asarray(perm[:m], dtype=np.int64)
    order = order_of_distinct(keys, n)
    assert sorted(order.tolist()) == list(range(m))
    assert keys[order].tolist() == sorted(keys.tolist())
