"""Historical replay: the intrabar rule by hand, and resampling invariants as properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError, DataError
from liqcascade.scenarios import historical


def frame(rows, interval=60, t0=0, source="mem.csv"):
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close"], dtype=float)
    df.insert(0, "time", t0 + interval * np.arange(len(rows), dtype=np.int64))
    df["row"] = np.arange(1, len(rows) + 1)
    df.attrs = {"source": source, "interval": interval}
    return df


@pytest.mark.parametrize(
    "ohlc, rule, expected",
    [
        # bullish: O -> L -> H -> C on blocks 0, 1, 3, 4 of a 5-block (60 s / 12 s) candle
        ((100, 110, 80, 105), "ohlc_path", [100, 80, math.sqrt(80 * 110), 110, 105]),
        # bearish: O -> H -> L -> C
        ((100, 110, 80, 90), "ohlc_path", [100, 110, math.sqrt(110 * 80), 80, 90]),
        # bullish but the high is nearer the open (1 % vs 20 %): O -> H -> L -> C
        ((100, 101, 80, 100.5), "nearest_extreme", [100, 101, math.sqrt(101 * 80), 80, 100.5]),
        ((100, 101, 80, 100.5), "ohlc_path", [100, 80, math.sqrt(80 * 101), 101, 100.5]),
        # open -> close only, geometric steps
        ((100, 120, 80, 116.985856), "open_close", [100 * (1.16985856 ** (i / 4)) for i in range(5)]),
    ],
)
def test_intrabar_rule_on_one_candle(ohlc, rule, expected):
    p = historical({"ETH": frame([ohlc], t0=1_600_000_020)}, block_seconds=12, intrabar=rule)
    assert p.times.tolist() == [1_600_000_020 + 12 * i for i in range(5)]
    np.testing.assert_allclose(p["ETH"], expected, rtol=1e-13)
    assert p.meta["intrabar"] == rule


def test_hourly_candle_knots_and_a_midpoint():
    # 300 blocks: knots at 0, round(99.67)=100, round(199.33)=199, 299; block 50 halfway O -> L in log
    p = historical({"X": frame([(100, 130, 70, 120)], interval=3600)})
    x = p["X"]
    assert (x[0], x[100], x[199], x[299]) == (100.0, 70.0, 130.0, 120.0)
    assert x[50] == pytest.approx(math.sqrt(100 * 70), rel=1e-13)
    assert x.min() == 70.0 and x.max() == 130.0


def candles(n):
    return st.lists(
        st.tuples(
            st.floats(0.01, 1e5),
            st.floats(0.0, 0.2),
            st.floats(0.0, 0.2),
            st.floats(0.0, 1.0),
            st.floats(0.0, 1.0),
        ),
        min_size=1,
        max_size=n,
    )


def _ohlc(spec):
    rows = []
    for base, up, down, a, b in spec:
        hi, lo = base * (1 + up), base * (1 - down)
        o = lo + a * (hi - lo)
        c = lo + b * (hi - lo)
        rows.append((o, hi, lo, c))
    return rows


@settings(max_examples=60, deadline=None)
@given(
    spec=candles(12),
    bs=st.sampled_from([1, 5, 12, 15]),
    rule=st.sampled_from(["ohlc_path", "nearest_extreme"]),
)
def test_resampling_keeps_open_close_and_stays_in_range(spec, bs, rule):
    rows = _ohlc(spec)
    p = historical({"A": frame(rows), "B": frame(rows[::-1])}, block_seconds=bs, intrabar=rule)
    m = 60 // bs
    for j, rr in enumerate((rows, rows[::-1])):
        o, h, lw, c = (np.array(x) for x in zip(*rr))
        blocks = p.prices[:, j].reshape(len(rr), m)
        assert np.array_equal(blocks[:, 0], o)  # exactly, at the candle boundary
        assert np.array_equal(blocks[:, -1], c)
        assert np.all(blocks >= lw[:, None]) and np.all(blocks <= h[:, None])
        assert np.array_equal(blocks.max(axis=1), h) and np.array_equal(blocks.min(axis=1), lw)
    assert np.all(np.diff(p.times) == bs)


def test_assets_are_aligned_on_common_candles():
    a = frame([(10, 11, 9, 10)] * 5, t0=0)
    b = frame([(20, 21, 19, 20)] * 5, t0=120)  # starts two candles later
    p = historical({"A": a, "B": b}, block_seconds=12)
    assert p.times[0] == 120 and p.times[-1] == 240 + 48 and p.n_blocks == 3 * 5


def test_missing_candle_in_one_asset_names_its_file_and_row():
    a = frame([(10, 11, 9, 10)] * 5)
    b = frame([(20, 21, 19, 20)] * 5, source="b.csv").drop(index=2).reset_index(drop=True)
    with pytest.raises(DataError) as e:
        historical({"A": a, "B": b})
    assert e.value.file == "b.csv" and e.value.row == 4  # the file row right after the hole


def test_bad_candle_names_its_row():
    df = frame([(10, 11, 9, 10), (10, 9.5, 9, 10), (10, 11, 9, 10)])
    with pytest.raises(DataError) as e:
        historical({"A": df})
    assert e.value.row == 2


@pytest.mark.parametrize("kw, key", [({"block_seconds": 7}, "block_seconds"), ({"block_seconds": 30}, "block_seconds"),
                                     ({"intrabar": "random"}, "intrabar")])  # fmt: skip
def test_historical_arguments_are_checked(kw, key):
    with pytest.raises(ConfigError) as e:
        historical({"A": frame([(10, 11, 9, 10)] * 3)}, **kw)
    assert e.value.key == key


def test_open_close_allows_few_blocks_per_candle():
    p = historical({"A": frame([(10, 12, 9, 12), (12, 13, 11, 11)])}, block_seconds=30, intrabar="open_close")
    assert p["A"].tolist() == [10.0, 12.0, 12.0, 11.0]  # open, close of each candle
