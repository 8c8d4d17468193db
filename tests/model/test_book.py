"""``PositionBook.take_accounts``: the book with its accounts reordered, each with its own rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.model import PositionBook


def test_by_hand():
    """Accounts a (2 rows), b (none but one zero row), c (1 row) taken as c, a, b."""
    book = PositionBook.from_rows(["a", "a", "b", "c"], [0, 2, 1, 1], [1.0, 0.0, 0.0, 3.0], [0.0, 5.0, 0.0, 0.0],
                                  ("X", "Y", "Z"), emode={"c": 2})
    got = book.take_accounts(np.array([2, 0, 1]))
    assert got.account_ids.tolist() == ["c", "a", "b"]
    assert got.offsets.tolist() == [0, 1, 3, 4]
    assert got.account.tolist() == [0, 1, 1, 2]
    assert got.asset.tolist() == [1, 0, 2, 1]
    assert got.collateral.tolist() == [3.0, 1.0, 0.0, 0.0]
    assert got.debt.tolist() == [0.0, 0.0, 5.0, 0.0]
    assert got.emode.tolist() == [2, 0, 0]
    assert got.assets == book.assets
    assert got.account.dtype == book.account.dtype and got.asset.dtype == book.asset.dtype


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3), st.floats(0, 10)), min_size=1, max_size=40),
       st.randoms(use_true_random=False))
def test_each_account_keeps_its_rows(rows, rnd):
    ids, assets, amounts = zip(*rows)
    book = PositionBook.from_rows(list(ids), list(assets), list(amounts), [0.0] * len(rows), ("A", "B", "C", "D"))
    order = list(range(book.n_accounts))
    rnd.shuffle(order)
    got = book.take_accounts(np.array(order))
    assert got.n_rows == book.n_rows and got.account_ids.tolist() == [book.account_ids[k] for k in order]
    for j, k in enumerate(order):
        s, e = got.offsets[j], got.offsets[j + 1]
        s0, e0 = book.offsets[k], book.offsets[k + 1]
        assert got.asset[s:e].tolist() == book.asset[s0:e0].tolist()
        assert got.collateral[s:e].tolist() == book.collateral[s0:e0].tolist()
        assert (got.account[s:e] == j).all()
    back = got.take_accounts(np.argsort(order))  # the inverse permutation gives the book back
    for name in ("account", "asset", "collateral", "debt", "emode", "offsets"):
        np.testing.assert_array_equal(getattr(back, name), getattr(book, name))
