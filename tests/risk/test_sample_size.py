"""paths_needed: hand cases, the quantile formula against a known density, monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from liqcascade.risk import order_statistic_ranks, paths_needed
from liqcascade.risk.sample_size import min_paths_for_var_interval

Z2 = stats.norm.ppf(0.975) ** 2  # 3.8414588...


def test_probability_by_hand():
    # p = 0.1, half-width 10 % of it = 0.01: n = z^2 p (1 - p) / h^2 = 3.8414588 * 0.09 / 1e-4 = 3457.3
    x = np.r_[np.zeros(900), np.ones(100)]
    assert paths_needed(x, "probability", threshold=0.5) == 3458
    assert paths_needed(x, "probability", threshold=0.5, half_width=0.02) == math.ceil(Z2 * 0.09 / 0.02**2)


def test_mean_by_hand():
    # 50 zeros and 50 twos: mean 1, s^2 = 100/99; h = 0.1: n = 3.8414588 * 1.010101 / 0.01 = 388.03
    x = np.r_[np.zeros(50), np.full(50, 2.0)]
    assert paths_needed(x, "mean") == 389


def test_es_by_hand():
    # 95 zeros and five 10s, level 0.95: VaR 0, ES 10, (X - VaR)+ = X with s^2 = 475/99;
    # v = s^2 / 0.05^2 = 1919.19; h = 1: n = 3.8414588 * 1919.19 = 7372.6
    x = np.r_[np.zeros(95), np.full(5, 10.0)]
    assert paths_needed(x, "es", 0.95) == 7373


def test_quantile_on_an_atom_needs_only_a_finite_interval():
    # the median sits inside the atom at 0: zero spacing, v = 0; the answer is the smallest n
    # whose order-statistic interval is finite: 0.5^n <= 0.025, n >= 5.32
    x = np.r_[np.zeros(95), np.full(5, 10.0)]
    assert paths_needed(x, "var", 0.5, rel_half_width=0.1, half_width=1.0) == 6


def test_min_paths_for_a_finite_var_interval():
    # ln(0.025) / ln(0.999) = 3687.04 -> 3688; one path fewer leaves the upper end infinite
    assert min_paths_for_var_interval(0.999, 0.95) == 3688
    assert order_statistic_ranks(3688, 0.999)[1] <= 3688
    assert order_statistic_ranks(3687, 0.999)[1] == 3688  # rank n + 1: +inf


def test_quantile_formula_against_the_true_density():
    # Exponential(1) at level 0.99: n = z^2 tau (1 - tau) / (h^2 f(q)^2), f(q) = 1 - tau.
    # The sparsity is estimated from ~2m spacings, m = n * bandwidth (~380 here), so n has a
    # relative standard error of about sqrt(2/m) ~ 7 %; 30 % is ~4 of them.
    tau = 0.99
    q = -math.log(1 - tau)
    x = np.random.default_rng(8).exponential(size=400_000)
    expected = Z2 * tau * (1 - tau) / ((0.1 * q) ** 2 * (1 - tau) ** 2)
    assert paths_needed(x, "var", tau) == pytest.approx(expected, rel=0.30)


def test_undefined_relative_targets_give_none():
    x = np.r_[np.zeros(95), np.full(5, 10.0)]
    assert paths_needed(x, "var", 0.95) is None  # VaR = 0: 10 % of 0 is no width
    assert paths_needed(x, "probability", threshold=10.0) is None  # no path above: p = 0
    assert paths_needed([1.0, np.inf, 2.0], "mean") is None
    assert paths_needed([1.0, np.inf, 2.0], "es", 0.5) is None


@settings(max_examples=60, deadline=None)
@given(st.floats(0.005, 0.5), st.floats(1.01, 4.0), st.sampled_from(["mean", "var", "es", "probability"]))
def test_non_increasing_in_the_target_width(width, factor, statistic):
    x = np.random.default_rng(9).lognormal(size=2000)
    kw = {"level": 0.95} if statistic in ("var", "es") else {}
    if statistic == "probability":
        kw = {"threshold": 3.0}
    narrow = paths_needed(x, statistic, rel_half_width=width, **kw)
    wide = paths_needed(x, statistic, rel_half_width=width * factor, **kw)
    assert wide <= narrow
    # the formula is ~ 1/h^2 above the finite-interval minimum
    assert wide >= narrow / factor**2 - 1
