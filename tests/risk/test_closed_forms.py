"""VaR and ES against closed forms, and by hand on small samples with ties.

Large-sample checks: each estimate must lie within K standard errors of the closed form, the
standard error being the estimator's asymptotic one, computed in closed form below:
``SE(VaR) = sqrt(tau (1 - tau) / n) / f(q)`` (Bahadur) and
``SE(ES) = sqrt(Var((X - q)+) / n) / (1 - tau)`` (Chen 2008). K = 5: a correct estimator fails
one such check with probability ~6e-7. Seeds are fixed, so the tests are deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from liqcascade.risk import expected_shortfall, value_at_risk

K = 5.0
N = 200_000
LEVELS = (0.95, 0.99)


def _normal(rng, tau, mu=2.0, sigma=3.0):
    z = stats.norm.ppf(tau)
    phi = stats.norm.pdf(z)
    q = mu + sigma * z
    m1 = sigma * (phi - z * (1 - tau))  # E[(X - q)+]
    m2 = sigma**2 * ((1 + z * z) * (1 - tau) - z * phi)  # E[(X - q)+^2]
    return rng.normal(mu, sigma, N), q, mu + sigma * phi / (1 - tau), phi / sigma, m1, m2


def _exponential(rng, tau, lam=0.5):
    q = -math.log(1 - tau) / lam
    m1, m2 = (1 - tau) / lam, 2 * (1 - tau) / lam**2
    return rng.exponential(1 / lam, N), q, q + 1 / lam, lam * (1 - tau), m1, m2


def _pareto(rng, tau, xm=1.0, a=3.0):
    # classical Pareto (numpy's pareto is the Lomax, shifted by 1); tail beyond q is Pareto(q, a)
    q = xm * (1 - tau) ** (-1 / a)
    m1 = (1 - tau) * q / (a - 1)
    m2 = (1 - tau) * q * q * 2 / ((a - 1) * (a - 2))
    return xm * (1 + rng.pareto(a, N)), q, a * q / (a - 1), a * xm**a / q ** (a + 1), m1, m2


def _uniform(rng, tau, lo=-5.0, hi=15.0):
    q = lo + tau * (hi - lo)
    return (rng.uniform(lo, hi, N), q, (q + hi) / 2, 1 / (hi - lo),
            (1 - tau) * (hi - q) / 2, (1 - tau) * (hi - q) ** 2 / 3)


@pytest.mark.parametrize("tau", LEVELS)
@pytest.mark.parametrize("dist", [_normal, _exponential, _pareto, _uniform])
def test_var_and_es_match_closed_forms(dist, tau):
    rng = np.random.default_rng(20240501)
    x, var_cf, es_cf, density, m1, m2 = dist(rng, tau)
    se_var = math.sqrt(tau * (1 - tau) / N) / density
    se_es = math.sqrt((m2 - m1 * m1) / N) / (1 - tau)
    assert abs(value_at_risk(x, tau) - var_cf) < K * se_var
    assert abs(expected_shortfall(x, tau) - es_cf) < K * se_es


# --------------------------------------------------------------------------- by hand
ATOM = np.r_[np.zeros(95), [50.0, 10.0, 40.0, 20.0, 30.0]]  # 95 paths without bad debt, unsorted tail


@pytest.mark.parametrize(
    ("level", "var", "es"),
    [
        # k = ceil(100 level); ES = mean of the worst (1 - level) share of the mass
        (0.95, 0.0, 30.0),  # VaR in the atom at 0; tail = the five positive values
        (0.955, 10.0, (0.01 * (50 + 40 + 30 + 20) + 0.005 * 10) / 0.045),  # half of the 10's mass
        (0.96, 10.0, 35.0),  # mean(20, 30, 40, 50)
        (0.97, 20.0, 40.0),  # rank 97, not the 98 a float 97.00000000000001 would give
        (0.99, 40.0, 50.0),
        (0.999, 50.0, 50.0),
        (0.5, 0.0, 150 / 50),  # tail of mass 0.5: 45 zeros and the five values
    ],
)
def test_atom_at_zero_by_hand(level, var, es):
    assert value_at_risk(ATOM, level) == var
    assert expected_shortfall(ATOM, level) == pytest.approx(es, rel=1e-12)


def test_ties_at_the_var_by_hand():
    x = [2.0, 5.0, 2.0, 1.0, 2.0]
    # level 0.5: k = 3 -> VaR 2; worst half of the mass: 0.2 at 5 and 0.3 of the atom at 2
    assert value_at_risk(x, 0.5) == 2.0
    assert expected_shortfall(x, 0.5) == pytest.approx((0.2 * 5 + 0.3 * 2) / 0.5, rel=1e-12)
    # the naive "mean of the values >= VaR" would give 11/4 = 2.75, not 3.2
    assert expected_shortfall(x, 0.5) == pytest.approx(3.2, rel=1e-12)


def test_single_value_and_infinities():
    assert value_at_risk([7.0], 0.99) == 7.0
    assert expected_shortfall([7.0], 0.99) == 7.0
    x = [1.0, 2.0, 3.0, np.inf]
    assert value_at_risk(x, 0.5) == 2.0
    assert expected_shortfall(x, 0.5) == np.inf  # the tail holds an unbounded path
    assert value_at_risk(x, 0.8) == np.inf
    assert expected_shortfall(x, 0.8) == np.inf
