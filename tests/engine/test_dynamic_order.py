"""The block loop's fast orderings are numpy's own, element for element: ``stable_order`` is
``argsort(kind="stable")`` (ties and NaNs in index order), ``in_sorted`` is ``isin`` on ascending arrays, and the
sales grid's ``present`` is ``unique``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from liqcascade.engine.dynamic.candidates import STABLE_BELOW, in_sorted, stable_order
from liqcascade.engine.dynamic.steps import present

# few distinct values, so that ties (and -0.0 beside 0.0, NaN beside NaN) are common
_VALUES = st.sampled_from([0.0, -0.0, 1.5, -2.0, 3.25, np.nan, np.inf, -np.inf, 1e-300])


@given(hnp.arrays(np.float64, st.integers(0, 300), elements=_VALUES | st.floats(-1e6, 1e6)))
def test_stable_order_is_the_stable_argsort(values):
    np.testing.assert_array_equal(stable_order(values), np.argsort(values, kind="stable"))


@given(hnp.arrays(np.float64, st.integers(1, 300), elements=_VALUES | st.floats(-1e6, 1e6)))
def test_stable_order_is_the_stable_argsort_when_large(values):
    # at STABLE_BELOW values and beyond, the unstable sort and the ties put back in order
    big = np.tile(values, STABLE_BELOW // values.size + 1)
    assert big.size >= STABLE_BELOW
    np.testing.assert_array_equal(stable_order(big), np.argsort(big, kind="stable"))


def test_stable_order_by_hand():
    # ties keep index order: the two 1.0 at 1 and 3, the NaNs at 0 and 4 last
    np.testing.assert_array_equal(stable_order(np.array([np.nan, 1.0, -5.0, 1.0, np.nan, 0.0])), [2, 5, 1, 3, 0, 4])


@settings(deadline=None)  # the first example compiles the kernel
@given(st.lists(st.integers(0, 50), max_size=60), st.sets(st.integers(0, 50), max_size=40))
def test_in_sorted_is_isin(values, pool):
    v = np.array(sorted(values), dtype=np.int64)  # ascending, repeats allowed
    s = np.array(sorted(pool), dtype=np.int64)
    np.testing.assert_array_equal(in_sorted(v, s), np.isin(v, s))


@given(st.lists(st.integers(0, 7), max_size=80))
def test_present_is_unique(assets):
    a = np.array(assets, dtype=np.int64)
    assert present(a, 8) == np.unique(a).tolist()


@settings(deadline=None)
@given(st.lists(st.booleans(), max_size=40), st.integers(0, 10), st.randoms(use_true_random=False))
def test_merge_kept_is_the_masked_merge(keep, n_new, rnd):
    from liqcascade.engine.dynamic.pricing import merge_kept

    keep = np.array(keep, dtype=np.bool_)
    old = np.arange(keep.size, dtype=np.float64) * 1.5
    slots = [False] * int(keep.sum()) + [True] * n_new  # a slot per kept entry and per new one
    rnd.shuffle(slots)
    from_new = np.array(slots, dtype=np.bool_)
    new = -np.arange(1, n_new + 1, dtype=np.float64)
    out = np.empty(from_new.size)
    merge_kept(old, keep, new, from_new, out)
    want = np.empty(from_new.size)
    want[~from_new] = old[keep]
    want[from_new] = new
    np.testing.assert_array_equal(out, want)
