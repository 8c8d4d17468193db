"""Index, mark and oracle prices against hand calculations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.markets.perp_prices import basis_moving_average, binance_mark_price, index_price, oracle_price


def test_index_is_the_median_of_the_venues_leaving_out_missing_ones():
    p = np.array([
        [100.0, 101.0, 250.0],  # an outlier does not move the median
        [100.0, 102.0, np.nan],  # two venues: the mean of the middle two
        [np.nan, np.nan, 99.0],
    ])  # fmt: skip
    assert index_price(p).tolist() == [101.0, 101.0, 99.0]
    out = index_price(p, min_venues=2)
    assert out[:2].tolist() == [101.0, 101.0] and np.isnan(out[2])


@given(st.lists(st.floats(1.0, 1e6), min_size=1, max_size=9))
def test_index_lies_between_the_venues(prices):
    out = index_price(np.array([prices]))[0]
    assert min(prices) <= out <= max(prices)


def test_bad_spot_price_names_its_cell():
    with pytest.raises(ConfigError, match=r"spot_prices\[1, 0\]"):
        index_price(np.array([[1.0], [-1.0]]))


def test_basis_moving_average_over_the_last_window_samples():
    index = np.array([100.0, 100.0, 100.0, 100.0])
    mid = np.array([101.0, 103.0, 102.0, 96.0])  # basis 1, 3, 2, -4
    assert basis_moving_average(index, mid, window=3).tolist() == pytest.approx([1.0, 2.0, 2.0, 1.0 / 3.0])


def test_mark_is_the_median_of_funding_basis_and_last_price():
    # Price 1 = 100 (1 + 0.0001 * 4 h / 8 h) = 100.005; Price 2 = 100 + 1 = 101; last 103 -> 101
    mark = binance_mark_price([100.0], [101.0], 103.0, 0.0001, 4 * 3600.0)
    assert mark[0] == pytest.approx(101.0)
    # last price below both: Price 1 (100.005) is the median of (100.005, 101, 99)
    assert binance_mark_price([100.0], [101.0], 99.0, 0.0001, 4 * 3600.0)[0] == pytest.approx(100.005)


def test_mark_needs_time_to_funding_within_the_interval():
    with pytest.raises(ConfigError, match="time_to_funding_s"):
        binance_mark_price([100.0], [100.0], 100.0, 0.0, 9 * 3600.0)


def test_oracle_holds_between_updates_on_its_cadence():
    t = np.arange(10.0)
    p = 100.0 + t  # the source moves by 1 a second
    assert oracle_price(t, p, cadence_s=3.0).tolist() == [100, 100, 100, 103, 103, 103, 106, 106, 106, 109]


def test_oracle_publishes_after_its_delay():
    t = np.arange(8.0)
    p = 100.0 + t
    # reads at 0, 3, 6, visible 2 s later; before the first publication: the first price
    assert oracle_price(t, p, cadence_s=3.0, delay_s=2.0).tolist() == [100, 100, 100, 100, 100, 103, 103, 103]


def test_oracle_bad_cadence_is_an_error():
    with pytest.raises(ConfigError, match="cadence_s"):
        oracle_price([0.0], [1.0], cadence_s=0.0)
