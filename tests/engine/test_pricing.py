"""The one-pass candidate pricing of the system's block loop gives NumPy's numbers bit for bit
(the expressions it replaces, written out below), compiled and plain."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import pricing, pricing_python


def _numpy(received, reward, paid, ca, da, market, gas_usd, elig, since, b, latency, min_profit):
    gross = received * market[ca] + reward - paid * market[da] - gas_usd
    waiting = b - since[elig] < latency
    ok = (gross >= min_profit) & ~waiting
    return gross, np.flatnonzero(ok), int(((gross < min_profit) & ~waiting).sum()), int(waiting.sum())


@pytest.mark.parametrize("fn", [pricing.price_candidates, pricing_python.price_candidates], ids=["jit", "python"])
@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), seed=st.integers(0, 2**32 - 1), latency=st.integers(0, 3),
       min_profit=st.sampled_from([0.0, 5.0, -1.0]), gas_usd=st.sampled_from([0.0, 3.7, 1e-3]))
def test_the_same_numbers_as_numpy(fn, n, seed, latency, min_profit, gas_usd):
    rng = np.random.default_rng(seed)
    market = rng.lognormal(0, 3, 5)
    market[rng.integers(0, 5)] = np.nan if seed % 7 == 0 else market[0]  # a NaN price now and then
    received, paid = rng.lognormal(0, 2, n), rng.lognormal(0, 2, n) * rng.choice([0.5, 1.0, 2.0], n)
    reward = rng.choice([0.0, 1.25], n)
    ca, da = rng.integers(0, 5, n), rng.integers(0, 5, n)
    since = rng.integers(-1, 8, 100)
    elig = np.sort(rng.choice(100, n, replace=False))
    b = 6
    want = _numpy(received, reward, paid, ca, da, market, gas_usd, elig, since, b, latency, min_profit)
    gross, okidx = np.empty(n), np.empty(n, dtype=np.int64)
    n_ok, unprof, waiting = fn(received, reward, paid, ca, da, market, gas_usd, elig, since, b, latency, min_profit,
                               gross, okidx)
    assert gross.tobytes() == want[0].tobytes()
    np.testing.assert_array_equal(okidx[:n_ok], want[1])
    assert (unprof, waiting) == want[2:]
