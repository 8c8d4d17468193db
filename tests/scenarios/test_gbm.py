"""Correlated GBM with Merton jumps against closed forms.

Each statistic is compared with its closed form within K standard errors of the estimator
(K = 4: a correct generator fails one such check with probability ~6e-5). Seeds are fixed, so
the tests are deterministic; the tolerances say how much sampling noise is expected.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from liqcascade.errors import ConfigError
from liqcascade.scenarios import SECONDS_PER_YEAR, Jumps, check_correlation, gbm

K = 4.0
P0 = {"ETH": 2000.0, "BTC": 60000.0, "SOL": 150.0}
VOL = {"ETH": 0.8, "BTC": 0.6, "SOL": 1.2}
DRIFT = {"ETH": 0.5, "BTC": -0.2}  # SOL: 0
CORR = [[1.0, 0.7, 0.3], [0.7, 1.0, 0.5], [0.3, 0.5, 1.0]]


@pytest.fixture(scope="module")
def daily():
    # daily blocks over ~548 years make the drift term ~5-14 standard errors from zero
    return gbm(P0, VOL, CORR, n_blocks=200_001, seed=7, drift=DRIFT, block_seconds=86_400)


def test_gbm_moments_match_closed_forms(daily):
    dt = 86_400 / SECONDS_PER_YEAR
    r = daily.log_returns()
    n = r.shape[0]
    sig = np.array([VOL[a] for a in daily.assets])
    mu = np.array([DRIFT.get(a, 0.0) for a in daily.assets])
    mean_cf = (mu - 0.5 * sig**2) * dt
    var_cf = sig**2 * dt
    se_mean = np.sqrt(var_cf / n)
    assert np.all(np.abs(r.mean(axis=0) - mean_cf) < K * se_mean)
    se_var = var_cf * math.sqrt(2.0 / (n - 1))  # normal returns
    assert np.all(np.abs(r.var(axis=0, ddof=1) - var_cf) < K * se_var)
    c = np.corrcoef(r, rowvar=False)
    rho = np.array(CORR)
    se_rho = (1 - rho**2) / math.sqrt(n)
    off = ~np.eye(3, dtype=bool)
    assert np.all(np.abs(c - rho)[off] < K * se_rho[off])


def test_ito_term_is_there(daily):
    # with zero drift the median path falls: mean log return -vol^2/2 per year, 14 SE from 0 here
    r = daily.log_returns()[:, daily.index("SOL")]
    dt = 86_400 / SECONDS_PER_YEAR
    assert r.mean() < -0.5 * 1.2**2 * dt / 2


def test_jump_moments_match_closed_forms():
    lam, m, s, sig, mu = 500.0, -0.02, 0.03, 0.5, 0.1
    p = gbm({"ETH": 2000.0}, sig, None, n_blocks=200_001, seed=11, drift=mu,
            jumps=Jumps(lam, {"ETH": m}, {"ETH": s}), block_seconds=3600)  # fmt: skip
    dt = 3600 / SECONDS_PER_YEAR
    r = p.log_returns()[:, 0]
    n = r.size
    k = lam * (math.exp(m + 0.5 * s * s) - 1.0)
    mean_cf = (mu - 0.5 * sig**2 - k) * dt + lam * dt * m
    var_cf = sig**2 * dt + lam * dt * (s * s + m * m)
    assert abs(r.mean() - mean_cf) < K * math.sqrt(var_cf / n)
    m4 = np.mean((r - r.mean()) ** 4)
    assert abs(r.var(ddof=1) - var_cf) < K * math.sqrt((m4 - var_cf**2) / n)


def test_jump_frequency():
    lam = 2000.0  # per year; 12-s blocks -> lambda*dt ~ 7.6e-4
    n = 400_000
    p = gbm({"ETH": 100.0, "BTC": 50.0}, 0.0, None, n_blocks=n + 1, seed=3,
            jumps=Jumps(lam, {"ETH": -0.05, "BTC": -0.03}, {"ETH": 0.02, "BTC": 0.01}, compensate=False))  # fmt: skip
    q = 1.0 - math.exp(-lam * 12 / SECONDS_PER_YEAR)  # P(at least one jump in a block)
    jumped = np.any(p.log_returns() != 0.0, axis=1)
    assert abs(jumped.sum() - n * q) < K * math.sqrt(n * q * (1 - q))
    # jumps are common to all assets, and recorded
    assert np.array_equal(jumped, p.meta["jump_counts"] > 0)
    assert np.array_equal(p.log_returns()[:, 0] != 0, p.log_returns()[:, 1] != 0)


def test_determinism_and_seed_sensitivity():
    jumps = Jumps(50.0, {"ETH": -0.1}, {"ETH": 0.05})
    kw = {"p0": P0, "vol": VOL, "corr": CORR, "n_blocks": 500, "jumps": jumps}
    a, b, c = gbm(seed=42, **kw), gbm(seed=42, **kw), gbm(seed=43, **kw)
    np.testing.assert_array_equal(a.prices, b.prices)
    assert not np.array_equal(a.prices, c.prices)
    ss = np.random.SeedSequence(42).spawn(2)
    d, e = gbm(seed=ss[0], **kw), gbm(seed=ss[1], **kw)
    assert not np.array_equal(d.prices, e.prices)
    assert a.prices[0].tolist() == [2000.0, 60000.0, 150.0]


def test_perfect_correlation_is_accepted():
    p = gbm({"A": 1.0, "B": 2.0}, 0.5, [[1.0, 1.0], [1.0, 1.0]], n_blocks=100, seed=1)
    r = p.log_returns()
    np.testing.assert_allclose(r[:, 0], r[:, 1], rtol=0, atol=1e-15)


def test_corr_not_psd_is_rejected_with_its_smallest_eigenvalue():
    # [[1,r,r],[r,1,r],[r,r,1]] has eigenvalues 1+2r and 1-r (twice): r=-0.6 -> -0.2
    bad = [[1.0, -0.6, -0.6], [-0.6, 1.0, -0.6], [-0.6, -0.6, 1.0]]
    with pytest.raises(ConfigError) as e:
        gbm(P0, VOL, bad, n_blocks=10, seed=0, source="scenario.toml")
    assert e.value.key == "corr" and e.value.file == "scenario.toml"
    assert "smallest eigenvalue" in str(e.value)
    assert e.value.got == pytest.approx(-0.2, abs=1e-12)


@pytest.mark.parametrize(
    "corr, match",
    [
        ([[1.0, 0.5], [0.4, 1.0]], "symmetric"),
        ([[1.0, 0.5], [0.5, 0.9]], "unit diagonal"),
        ([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]], "2x2"),
        ([[1.0, 1.5], [1.5, 1.0]], r"\[-1, 1\]"),
    ],
)
def test_corr_shape_symmetry_diagonal(corr, match):
    with pytest.raises(ConfigError, match=match):
        check_correlation(corr, 2)


def test_gbm_arguments_are_checked():
    with pytest.raises(ConfigError) as e:
        gbm({"A": 1.0, "B": 1.0}, {"A": 0.5}, None, 10, seed=0)
    assert e.value.key == "vol.B"
    with pytest.raises(ConfigError) as e:
        gbm({"A": 1.0}, 0.5, None, 10, seed=-1)
    assert e.value.key == "seed"
    with pytest.raises(ConfigError) as e:
        gbm({"A": 1.0}, 0.5, None, 10, seed=0, jumps=Jumps(-1.0, {}, {}))
    assert e.value.key == "jumps.intensity"
