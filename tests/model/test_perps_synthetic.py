"""The synthetic perp book (model/perps_synthetic.py): its documented distribution."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.model.perps_synthetic import SideDraw, synthetic_perp_book


@settings(max_examples=25, deadline=None)
@given(st.floats(1e3, 1e11), st.floats(1e3, 1e11), st.integers(1, 300), st.integers(1, 300), st.floats(0, 2),
       st.floats(0, 0.1), st.integers(0, 2**32))
def test_each_side_holds_its_open_interest_at_the_start_price(oi_l, oi_s, n_l, n_s, size_sigma, entry_sigma, seed):
    price = 100_000.0
    book = synthetic_perp_book("BTC", price, SideDraw(oi_l, n_l, 10.0, 0.5, 50.0, size_sigma, entry_sigma),
                               SideDraw(oi_s, n_s, 5.0, 0.5, 50.0, size_sigma, entry_sigma), seed)
    long, short = book.open_interest()
    assert long[0] * price == pytest.approx(oi_l, rel=1e-12) and short[0] * price == pytest.approx(oi_s, rel=1e-12)
    assert book.n_accounts == n_l + n_s and np.all(book.isolated)
    assert np.all(book.size[:n_l] > 0) and np.all(book.size[n_l:] < 0)
    # leverage at entry = entry notional / collateral, never above the cap
    lev = np.abs(book.size) * book.entry_price / book.collateral
    assert np.all(lev <= 50.0 * (1 + 1e-12))


def test_no_spread_gives_the_median_and_equal_sizes_and_a_seed_repeats_the_draw():
    d = SideDraw(1e6, 4, leverage_median=10.0)
    book = synthetic_perp_book("BTC", 50_000.0, d, d, seed=7)
    np.testing.assert_allclose(np.abs(book.size), 1e6 / 4 / 50_000.0)  # $250,000 each
    np.testing.assert_allclose(book.entry_price, 50_000.0)
    np.testing.assert_allclose(book.collateral, 25_000.0)  # 10x
    wide = SideDraw(1e6, 50, 10.0, 1.0, 20.0, 1.0, 0.05)
    a, b = synthetic_perp_book("BTC", 5e4, wide, wide, 3), synthetic_perp_book("BTC", 5e4, wide, wide, 3)
    assert np.array_equal(a.size, b.size) and np.array_equal(a.collateral, b.collateral)
    assert not np.array_equal(a.size, synthetic_perp_book("BTC", 5e4, wide, wide, 4).size)


@pytest.mark.parametrize("field, value", [("open_interest_usd", 0.0), ("n_accounts", 0), ("leverage_median", 0.5),
                                          ("size_sigma", -1.0)])
def test_bad_parameters_name_their_key(field, value):
    kw = dict(open_interest_usd=1e6, n_accounts=3, leverage_median=5.0)
    kw[field] = value
    with pytest.raises(ConfigError, match=f"perps.book.synthetic.short.{field}"):
        synthetic_perp_book("BTC", 1e5, SideDraw(1e6, 3, 5.0), SideDraw(**kw), 0)
