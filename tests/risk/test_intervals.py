"""Confidence intervals: hand cases, an independent SciPy reference, and coverage.

Coverage tests repeat a seeded experiment R times and count how often the interval holds the
true value. For the order-statistic and Clopper-Pearson intervals the count is exactly
Binomial(R, c), ``c`` the interval's exact coverage (computed here with SciPy from the ranks or
by enumerating the binomial law); the tests check ``c >= confidence`` and that the count is
within K = 4 standard deviations ``sqrt(R c (1 - c))`` of ``R c`` (a correct implementation
fails with probability ~6e-5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from liqcascade.risk import (
    es_interval,
    expected_shortfall,
    order_statistic_ranks,
    probability_interval,
    var_interval,
)
from liqcascade.risk import _bootstrap

K = 4.0
R = 1000


def _ranks_from_scipy(n, level, confidence):
    """The same ranks, derived independently from scipy.stats.binom."""
    a = (1 - confidence) / 2
    j = np.arange(-1, n + 1)
    cdf = stats.binom.cdf(j, n, level)
    lo = int(j[cdf <= a].max()) + 1
    hi = int(j[cdf >= 1 - a].min()) + 1
    return lo, hi


def _exact_coverage(n, level, lo, hi):
    """P(lo <= B <= hi - 1), B ~ Binomial(n, level): coverage for a continuous distribution."""
    return stats.binom.cdf(hi - 1, n, level) - stats.binom.cdf(lo - 1, n, level)


# --------------------------------------------------------------------------- by hand
def test_median_of_20_by_the_classic_table():
    # P(B <= 5) = 0.0207 <= 0.025 < P(B <= 6) = 0.0577; P(B <= 14) = 0.9793 >= 0.975 > P(B <= 13)
    assert order_statistic_ranks(20, 0.5, 0.95) == (6, 15)
    assert var_interval(np.arange(20.0, 0.0, -1.0), 0.5) == (6.0, 15.0)


def test_ends_are_infinite_when_the_sample_is_too_small():
    # n = 5, median: P(B <= 0) = 1/32 > 0.025 and P(B <= 4) = 31/32 < 0.975
    assert var_interval([3.0, 1.0, 2.0, 5.0, 4.0], 0.5) == (-math.inf, math.inf)
    # 99 % quantile of 100 paths: P(all 100 below) = 0.99^100 = 0.366 > 0.025
    lo, hi = var_interval(np.arange(100.0), 0.99)
    assert hi == math.inf and math.isfinite(lo)


@pytest.mark.parametrize(("n", "level", "confidence"),
                         [(20, 0.5, 0.95), (200, 0.9, 0.95), (1000, 0.99, 0.9), (10_000, 0.999, 0.95),
                          (50, 0.05, 0.99), (3688, 0.999, 0.95), (3687, 0.999, 0.95), (10**6, 0.95, 0.95)])
def test_ranks_match_an_independent_scipy_derivation(n, level, confidence):
    lo, hi = order_statistic_ranks(n, level, confidence)
    assert (lo, hi) == _ranks_from_scipy(n, level, confidence)
    assert _exact_coverage(n, level, lo, hi) >= confidence


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 2000), st.floats(0.001, 0.999), st.floats(0.5, 0.999))
def test_ranks_match_scipy_everywhere(n, level, confidence):
    assert order_statistic_ranks(n, level, confidence) == _ranks_from_scipy(n, level, confidence)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5000), st.floats(0.0, 1.0), st.floats(0.5, 0.999))
def test_clopper_pearson_matches_beta_quantiles_everywhere(n, share, confidence):
    k = round(share * n)
    a = (1 - confidence) / 2
    lo, hi = probability_interval(k, n, confidence)
    assert lo == (0.0 if k == 0 else pytest.approx(stats.beta.ppf(a, k, n - k + 1), rel=1e-8))
    assert hi == (1.0 if k == n else pytest.approx(stats.beta.ppf(1 - a, k + 1, n - k), rel=1e-8))


def test_clopper_pearson_closed_forms_at_the_edges():
    a = 0.025
    for n in (1, 10, 1000):
        assert probability_interval(0, n) == pytest.approx((0.0, 1 - a ** (1 / n)), rel=1e-12, abs=0)
        assert probability_interval(n, n) == pytest.approx((a ** (1 / n), 1.0), rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (5, 100), (3, 10_000), (500, 1000), (999, 1000), (37, 40)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_clopper_pearson_matches_beta_quantiles(k, n, confidence):
    a = (1 - confidence) / 2
    lo, hi = probability_interval(k, n, confidence)
    assert lo == pytest.approx(stats.beta.ppf(a, k, n - k + 1), rel=1e-9)
    assert hi == pytest.approx(stats.beta.ppf(1 - a, k + 1, n - k), rel=1e-9)


# --------------------------------------------------------------------------- coverage
def test_var_interval_coverage_continuous():
    n, level = 200, 0.9
    q = math.log(10.0)  # Exponential(1): P(X <= ln 10) = 0.9
    rng = np.random.default_rng(11)
    hits = sum(lo <= q <= hi for lo, hi in (var_interval(rng.exponential(size=n), level) for _ in range(R)))
    c = _exact_coverage(n, level, *order_statistic_ranks(n, level))
    assert c >= 0.95
    assert abs(hits - R * c) <= K * math.sqrt(R * c * (1 - c))


@pytest.mark.parametrize(("draw", "level", "q"), [
    (lambda rng, n: rng.poisson(3.0, n).astype(float), 0.9, 5.0),  # P(X <= 4) = 0.815, P(X <= 5) = 0.916
    (lambda rng, n: np.where(rng.random(n) < 0.96, 0.0, rng.exponential(size=n)), 0.95, 0.0),  # atom at q
])
def test_var_interval_coverage_with_atoms_is_at_least_nominal(draw, level, q):
    n = 150
    rng = np.random.default_rng(12)
    hits = sum(lo <= q <= hi for lo, hi in (var_interval(draw(rng, n), level) for _ in range(R)))
    assert hits >= R * 0.95 - K * math.sqrt(R * 0.95 * 0.05)


@pytest.mark.parametrize(("n", "p"), [(500, 0.02), (1000, 0.001), (50, 0.5), (10_000, 0.0003)])
def test_probability_interval_exact_coverage_by_enumeration(n, p):
    k = np.arange(n + 1)
    pmf = stats.binom.pmf(k, n, p)
    support = k[pmf > 1e-15]
    held = np.array([lo <= p <= hi for lo, hi in (probability_interval(int(i), n) for i in support)])
    cover = pmf[support][held].sum()
    assert cover >= 0.95 - 1e-12


def test_probability_interval_coverage_simulated():
    n, p = 500, 0.02
    rng = np.random.default_rng(13)
    ks = rng.binomial(n, p, size=R)
    hits = sum(lo <= p <= hi for lo, hi in (probability_interval(int(k), n) for k in ks))
    pmf = stats.binom.pmf(np.arange(n + 1), n, p)
    support = np.flatnonzero(pmf > 1e-15)
    intervals = {int(j): probability_interval(int(j), n) for j in support}
    c = sum(pmf[j] for j, (lo, hi) in intervals.items() if lo <= p <= hi)
    assert c >= 0.95
    assert abs(hits - R * c) <= K * math.sqrt(R * c * (1 - c))


# --------------------------------------------------------------------------- ES bootstrap
def test_es_interval_width_matches_the_asymptotic_standard_error():
    # Normal(0, 1), level 0.95: SE(ES) = sqrt(Var((X - q)+) / n) / (1 - level) (Chen 2008).
    # The percentile interval's half-width / z estimates it; its own error is a few % from
    # 2000 resamples and from the sample, so 15 % is ~4 of those standard errors.
    n, tau = 20_000, 0.95
    z = stats.norm.ppf(tau)
    phi = stats.norm.pdf(z)
    m1 = phi - z * (1 - tau)
    m2 = (1 + z * z) * (1 - tau) - z * phi
    se = math.sqrt((m2 - m1 * m1) / n) / (1 - tau)
    x = np.random.default_rng(21).normal(size=n)
    lo, hi = es_interval(x, tau, n_boot=2000, seed=5)
    assert lo < expected_shortfall(x, tau) < hi
    assert (hi - lo) / (2 * stats.norm.ppf(0.975)) == pytest.approx(se, rel=0.15)


def test_es_interval_coverage_is_near_nominal_with_a_full_tail():
    # The percentile bootstrap is only asymptotically exact (docs/risk.md: measured 0.92-0.95
    # with 50-500 tail paths). Allow 3 points of finite-sample shortfall plus K binomial
    # standard deviations of R = 200 replications: an interval half as wide would cover ~68 %.
    n, tau, reps = 4000, 0.95, 200
    es = -math.log(1 - tau) + 1.0  # Exponential(1)
    rng = np.random.default_rng(31)
    hits = sum(lo <= es <= hi for lo, hi in (es_interval(rng.exponential(size=n), tau, n_boot=1000, seed=r)
                                             for r in range(reps)))
    assert hits >= reps * (0.95 - 0.03) - K * math.sqrt(reps * 0.95 * 0.05)


def test_es_interval_is_seeded():
    x = np.random.default_rng(3).lognormal(size=5000)
    assert es_interval(x, 0.99, seed=7) == es_interval(x, 0.99, seed=7)
    assert es_interval(x, 0.99, seed=7) != es_interval(x, 0.99, seed=8)
    assert es_interval(x, 0.99, seed=np.random.SeedSequence(7)) == es_interval(x, 0.99, seed=7)


def _replicates(monkeypatch, x, levels, n_boot, margin_sd, margin_min, seed):
    monkeypatch.setattr(_bootstrap, "_TAIL_MARGIN_SD", margin_sd)
    monkeypatch.setattr(_bootstrap, "_TAIL_MARGIN_MIN", margin_min)
    return _bootstrap.bootstrap_es(np.sort(x), levels, n_boot, np.random.default_rng(seed))


def test_tail_resampling_has_the_law_of_the_full_bootstrap(monkeypatch):
    # A huge margin makes the tail block the whole sample: the textbook bootstrap. A zero
    # margin makes about half the resamples fall back to a full redraw. All three must give
    # the same distribution of replicates (two-sample KS, 3000 each; p < 1e-4 would flag).
    x = np.random.default_rng(4).standard_t(4, size=2000)
    levels = (0.9, 0.99)
    full = _replicates(monkeypatch, x, levels, 3000, 1e9, 10**9, 1)
    tail = _replicates(monkeypatch, x, levels, 3000, 8.0, 64, 2)
    edge = _replicates(monkeypatch, x, levels, 3000, 0.0, 0, 3)
    for j in range(len(levels)):
        assert stats.ks_2samp(full[:, j], tail[:, j]).pvalue > 1e-4
        assert stats.ks_2samp(full[:, j], edge[:, j]).pvalue > 1e-4


def test_tail_resampling_on_an_atom(monkeypatch):
    # 90 % of paths without bad debt: the level-0.95 VaR of a resample is 0 unless more than
    # 5 % of its draws land among the 10 % positive values; compare with the full bootstrap
    x = np.r_[np.zeros(1800), np.random.default_rng(6).exponential(size=200)]
    full = _replicates(monkeypatch, x, (0.95,), 3000, 1e9, 10**9, 1)
    edge = _replicates(monkeypatch, x, (0.95,), 3000, 0.0, 0, 2)
    assert stats.ks_2samp(full[:, 0], edge[:, 0]).pvalue > 1e-4
