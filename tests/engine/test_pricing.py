"""The one-pass candidate pricing of the system's block loop gives the NumPy expressions'
numbers bit for bit (the expressions it replaced, written out below), compiled and plain."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import pricing, pricing_python


def _numpy(received, reward, paid, ca, da, market, gas_usd, elig, since, b, latency, min_profit, ix, skip):
    gross = received * market[ca] + reward - paid * market[da] - gas_usd
    waiting = b - since[elig] < latency
    if skip.size:  # those another population took count nowhere
        waiting &= ~skip
        left = ~waiting & ~skip
    else:
        left = ~waiting
    ok = (gross >= min_profit) & left
    okidx = np.flatnonzero(ok)
    parts = (okidx, gross[okidx], received[okidx], ix[ca[okidx]], (paid * market[da])[okidx])
    return parts, int(((gross < min_profit) & left).sum()), int(waiting.sum())


@pytest.mark.parametrize("fn", [pricing.price_into, pricing_python.price_into], ids=["jit", "python"])
@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), seed=st.integers(0, 2**32 - 1), latency=st.integers(0, 3),
       min_profit=st.sampled_from([0.0, 5.0, -1.0]), gas_usd=st.sampled_from([0.0, 3.7, 1e-3]),
       skipping=st.booleans())
def test_the_same_numbers_as_numpy(fn, n, seed, latency, min_profit, gas_usd, skipping):
    rng = np.random.default_rng(seed)
    market = rng.lognormal(0, 3, 5)
    market[rng.integers(0, 5)] = np.nan if seed % 7 == 0 else market[0]  # a NaN price now and then
    received, paid = rng.lognormal(0, 2, n), rng.lognormal(0, 2, n) * rng.choice([0.5, 1.0, 2.0], n)
    reward = rng.choice([0.0, 1.25], n)
    ca, da = rng.integers(0, 5, n), rng.integers(0, 5, n)
    since = rng.integers(-1, 8, 100)
    elig = np.sort(rng.choice(100, n, replace=False))
    ix = rng.permutation(9)[:5].astype(np.int64)
    skip = rng.random(n) < 0.3 if skipping else np.zeros(0, dtype=np.bool_)
    b, at = 6, 3  # written after 3 entries of another market
    parts, unprof, waiting = _numpy(received, reward, paid, ca, da, market, gas_usd, elig, since, b, latency,
                                    min_profit, ix, skip)
    m = at + n
    out = (np.full(m, -7, dtype=np.int64), np.empty(m, dtype=np.int64), np.empty(m), np.empty(m),
           np.empty(m, dtype=np.int64), np.empty(m))
    got = fn(received, reward, paid, ca, da, market, gas_usd, elig, since, b, latency, min_profit, ix, skip, 2, at,
             *out)
    n_ok = got[0]
    assert (got[1], got[2]) == (unprof, waiting)
    assert n_ok == parts[0].size
    assert (out[0][:at] == -7).all() and (out[0][at:at + n_ok] == 2).all()
    for arr, want in zip(out[1:], parts):
        assert arr[at:at + n_ok].tobytes() == want.tobytes()


@pytest.mark.parametrize("fn", [pricing.idle_counts, pricing_python.idle_counts], ids=["jit", "python"])
@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), rows=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), latency=st.integers(0, 3),
       min_profit=st.sampled_from([0.0, 5.0, -1.0]))
def test_idle_counts_are_the_matrix_of_numpy_passes(fn, n, rows, seed, latency, min_profit):
    """A run of quiet blocks judged at once: per block (row) the counts of the blocks x
    candidates NumPy matrix it replaced (quiet.py before), NaN prices counted in neither."""
    rng = np.random.default_rng(seed)
    market = rng.lognormal(0, 3, (rows, 5))
    if seed % 5 == 0:
        market[rng.integers(0, rows), rng.integers(0, 5)] = np.nan
    received, paid = rng.lognormal(0, 2, n), rng.lognormal(0, 2, n) * rng.choice([0.5, 1.0, 2.0], n)
    reward = rng.choice([0.0, 1.25], n)
    ca, da = rng.integers(0, 5, n), rng.integers(0, 5, n)
    since = rng.integers(-1, 8, 100)
    elig = np.sort(rng.choice(100, n, replace=False))
    gas_usd = rng.choice([0.0, 3.7, 1e-3], rows)
    b = 6
    gross = received * market[:, ca] + reward - paid * market[:, da] - gas_usd[:, None]
    waiting = np.arange(b, b + rows)[:, None] - since[elig] < latency
    unprof, wait, some = np.full(rows, -1), np.full(rows, -1), np.zeros(rows, dtype=np.bool_)
    fn(received, reward, paid, ca, da, market, gas_usd, elig, since, b, latency, min_profit, unprof, wait, some)
    assert unprof.tolist() == ((gross < min_profit) & ~waiting).sum(axis=1).tolist()
    assert wait.tolist() == waiting.sum(axis=1).tolist()
    assert some.tolist() == ((gross >= min_profit) & ~waiting).any(axis=1).tolist()


def test_idle_counts_by_hand():
    """Two candidates, two blocks: profit 2 x 10 - 1 x 12 - 1 = 7 and 2 x 5 - 12 - 1 = -3 at
    block 0, the second candidate still in its latency at block 0 (eligible since 0, latency 1)."""
    market = np.array([[10.0, 12.0], [5.0, 12.0]])
    one = np.ones(2)
    unprof, wait, some = np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.bool_)
    pricing.idle_counts(2 * one, np.zeros(2), one, np.zeros(2, dtype=np.int64), np.ones(2, dtype=np.int64), market,
                        np.ones(2), np.array([0, 1]), np.array([-5, 0]), 0, 1, 0.0, unprof, wait, some)
    # block 0: candidate 0 profit 7 (kept), candidate 1 waits; block 1: both profit -3, none waits
    assert unprof.tolist() == [0, 2] and wait.tolist() == [1, 0] and some.tolist() == [True, False]


@pytest.mark.parametrize("fn", [pricing.restart_clocks, pricing_python.restart_clocks], ids=["jit", "python"])
@settings(max_examples=60, deadline=None)
@given(prev=st.sets(st.integers(0, 49), max_size=30), seen=st.sets(st.integers(0, 49), max_size=30),
       seed=st.integers(0, 2**32 - 1))
def test_restart_clocks_is_the_masked_passes(fn, prev, seen, seed):
    """The clocks as the NumPy passes it replaced set them (steps.py before): those that left
    reset to -1, those seen without a clock started at the block, the others untouched."""
    prev, seen = np.array(sorted(prev), dtype=np.int64), np.array(sorted(seen), dtype=np.int64)
    since = np.random.default_rng(seed).integers(-1, 5, 50)
    want = since.copy()
    want[prev[~np.isin(prev, seen)]] = -1
    want[seen[want[seen] < 0]] = 7
    fn(prev, seen, since, 7)
    assert since.tolist() == want.tolist()


def test_restart_clocks_by_hand():
    """Account 1 leaves (reset), 3 stays with its clock (2), 4 arrives (starts at block 9), 2 is in
    neither set (untouched)."""
    since = np.array([-1, 5, 6, 2, -1], dtype=np.int64)
    pricing.restart_clocks(np.array([1, 3]), np.array([3, 4]), since, 9)
    assert since.tolist() == [-1, -1, 6, 2, 9]
