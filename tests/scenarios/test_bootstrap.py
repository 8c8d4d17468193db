"""Block bootstrap: only real (joint) returns, never across a gap, in runs of block_hours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import DataError
from liqcascade.scenarios import block_bootstrap


def hourly(times, closes, source):
    df = pd.DataFrame({"time": np.asarray(times, dtype=np.int64), "close": closes})
    df.attrs = {"source": source, "interval": 3600}
    return df


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(8, 40),
    holes=st.sets(st.integers(1, 38), max_size=4),
    block_hours=st.integers(1, 3),
    bs=st.sampled_from([600, 1200, 3600]),
    hours=st.integers(1, 20),
    seed=st.integers(0, 2**32),
    data=st.data(),
)
def test_only_source_returns_are_used(n, holes, block_hours, bs, hours, seed, data):
    keep = np.array([i for i in range(n) if i not in holes])
    t = 3600 * keep
    la = data.draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n))
    lb = data.draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n))
    ca = 100 * np.exp(np.cumsum(la))[keep]
    cb = 5 * np.exp(np.cumsum(lb))[keep]
    # usable joint returns, computed independently: consecutive kept hours only
    ok = np.flatnonzero(np.diff(keep) == 1)
    src = np.column_stack([np.diff(np.log(ca)), np.diff(np.log(cb))])[ok]
    runs = [i for i in range(len(keep) - block_hours) if np.all(np.diff(keep[i : i + block_hours + 1]) == 1)]
    sources = {"A": hourly(t, ca, "a.csv"), "B": hourly(t, cb, "b.csv")}
    if not runs:
        with pytest.raises(DataError):
            block_bootstrap(sources, 2, block_hours, seed)
        return
    n_blocks = hours * 3600 // bs + 1
    p = block_bootstrap(sources, n_blocks, block_hours, seed, p0={"A": 1.0, "B": 2.0}, block_seconds=bs)
    step = 3600 // bs
    r = np.diff(np.log(p.prices[::step]), axis=0)  # hour-to-hour returns of the path
    assert r.shape == (hours, 2)
    for row in r:  # each is one of the usable joint returns (same hour for both assets)
        assert np.min(np.max(np.abs(src - row), axis=1)) < 1e-9
    # and they come in runs of block_hours consecutive source hours starting at drawn_times
    starts = p.meta["drawn_times"]
    for d, t0 in enumerate(starts):
        i = int(np.searchsorted(t, t0))
        seg = r[d * block_hours : (d + 1) * block_hours]
        want = np.column_stack([np.diff(np.log(ca)), np.diff(np.log(cb))])[i : i + len(seg)]
        np.testing.assert_allclose(seg, want, rtol=0, atol=1e-9)
    assert p.prices[0].tolist() == [1.0, 2.0]


def test_log_linear_within_the_hour_and_deterministic():
    t = 3600 * np.arange(3)
    src = {"A": hourly(t, [100.0, 110.0, 121.0], "a.csv")}  # both returns log(1.1)
    p = block_bootstrap(src, n_blocks=7, block_hours=1, seed=5, p0={"A": 10.0}, block_seconds=1200)
    np.testing.assert_allclose(p["A"], 10.0 * 1.1 ** (np.arange(7) / 3), rtol=1e-13)
    q = block_bootstrap(src, n_blocks=7, block_hours=1, seed=5, p0={"A": 10.0}, block_seconds=1200)
    np.testing.assert_array_equal(p.prices, q.prices)


def test_seeds_differ_and_default_p0_is_last_close():
    rng = np.random.default_rng(0)
    t = 3600 * np.arange(500)
    src = {"A": hourly(t, 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500))), "a.csv")}
    a = block_bootstrap(src, 3001, 4, seed=1)
    b = block_bootstrap(src, 3001, 4, seed=2)
    assert not np.array_equal(a.prices, b.prices)
    assert a.prices[0, 0] == src["A"]["close"].iloc[-1]


def test_bad_close_names_file_and_row():
    src = {"A": hourly(3600 * np.arange(4), [1.0, 2.0, -1.0, 3.0], "a.csv")}
    with pytest.raises(DataError) as e:
        block_bootstrap(src, 10, 1, seed=0)
    assert (e.value.file, e.value.row) == ("a.csv", 3)
