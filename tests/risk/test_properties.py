"""Invariants of VaR and ES on arbitrary samples (hypothesis).

Exact equalities where float arithmetic allows them: the VaR is one of the sample's values, and
adding ``c`` or multiplying by ``a > 0`` rounds monotonically, so ``VaR(X + c)`` is exactly
``fl(VaR(X) + c)``. ES involves sums, so its checks allow a rounding tolerance.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.risk import expected_shortfall, value_at_risk

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=1, max_size=60)
levels = st.floats(0.01, 0.999)


def _tol(x, *extra):
    return 1e-9 * (max(abs(v) for v in list(x) + list(extra)) + 1.0)


@settings(max_examples=200, deadline=None)
@given(samples, levels, levels)
def test_var_and_es_non_decreasing_in_level(x, l1, l2):
    lo, hi = sorted((l1, l2))
    assert value_at_risk(x, lo) <= value_at_risk(x, hi)
    assert expected_shortfall(x, lo) <= expected_shortfall(x, hi) + _tol(x)


@settings(max_examples=200, deadline=None)
@given(samples, levels)
def test_es_at_least_var_and_mean(x, level):
    es = expected_shortfall(x, level)
    assert es >= value_at_risk(x, level)
    assert es >= np.mean(x) - _tol(x)


@settings(max_examples=200, deadline=None)
@given(samples, levels, finite)
def test_translation_equivariance(x, level, c):
    shifted = [v + c for v in x]
    assert value_at_risk(shifted, level) == value_at_risk(x, level) + c
    assert abs(expected_shortfall(shifted, level) - (expected_shortfall(x, level) + c)) <= _tol(x, c)


@settings(max_examples=200, deadline=None)
@given(samples, levels, st.floats(1e-3, 1e3))
def test_positive_homogeneity(x, level, a):
    scaled = [a * v for v in x]
    assert value_at_risk(scaled, level) == a * value_at_risk(x, level)
    es = expected_shortfall(x, level)
    assert abs(expected_shortfall(scaled, level) - a * es) <= a * _tol(x)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-1000, 1000), min_size=1, max_size=50), st.integers(1, 999))
def test_es_is_the_acerbi_tasche_tail_mean(x, per_mille):
    # Acerbi & Tasche (2002), in loss form, with exact rationals:
    # ES = (E[X 1{X > q}] + q (F(q) - level)) / (1 - level), q the lower level-quantile
    level = per_mille / 1000
    tau = Fraction(per_mille, 1000)
    n = len(x)
    xs = sorted(x)
    q = next(v for v in xs if Fraction(sum(1 for w in xs if w <= v), n) >= tau)
    above = Fraction(sum(v for v in xs if v > q), n)
    f_q = Fraction(sum(1 for v in xs if v <= q), n)
    es = (above + q * (f_q - tau)) / (1 - tau)
    assert value_at_risk(x, level) == q
    assert abs(expected_shortfall(x, level) - float(es)) <= 1e-9 * (1 + abs(float(es)))


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, min_size=20, max_size=20))
def test_es_is_the_mean_of_the_worst_paths_when_they_fill_the_tail(x):
    # 20 paths at level 0.9: the tail holds exactly the 2 worst paths
    assert abs(expected_shortfall(x, 0.9) - np.mean(sorted(x)[-2:])) <= _tol(x)
