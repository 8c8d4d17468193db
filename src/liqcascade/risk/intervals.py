"""Confidence intervals for the risk metrics.

Which interval each statistic gets, and why:

- **VaR** (a quantile): the distribution-free order-statistic interval ``[X_(l), X_(u)]``, ranks
  from the exact Binomial(n, level) law (David & Nagaraja 2003, sec. 7.1). Coverage is at least
  the nominal confidence for *every* loss distribution, atoms included; an end is +-inf when
  ``n`` is too small for it (e.g. ``level ** n > (1 - confidence)/2`` gives ``hi = +inf``).
- **ES**: the percentile bootstrap (Efron 1979; Efron & Tibshirani 1993, ch. 13): the
  ``(1-c)/2`` and ``(1+c)/2`` quantiles (``inverted_cdf``, no interpolation) of ``n_boot``
  seeded resamples' ES. Not BCa: the acceleration needs a jackknife over all ``n`` paths, and
  the tail-only resampling (``_bootstrap.py``) keeps the cost at ``n (1 - level)`` per resample.
  It is approximate: for heavy tails and small ``n (1 - level)`` it under-covers
  (docs/risk.md gives measured coverage).
- **Probabilities** (exceedance, insolvency): Clopper & Pearson (1934), exact and conservative
  (coverage >= nominal for every ``p``), preferred to Wilson's interval for the small
  probabilities risk teams look at, where Wilson's coverage dips below nominal
  (Brown, Cai & DasGupta 2001).
- **Mean**: the normal (CLT) interval ``mean +- z s / sqrt(n)``, ``s`` the sample standard
  deviation (ddof 1); infinite when a value is +inf.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.risk import _binomial
from liqcascade.risk._bootstrap import bootstrap_es
from liqcascade.risk._common import (
    PY,
    check_fraction,
    check_n_boot,
    check_seed,
    sorted_sample,
    z_two_sided,
)


class Interval(NamedTuple):
    """A two-sided confidence interval ``[lo, hi]`` (ends may be +-inf)."""

    lo: float
    hi: float


class Estimate(NamedTuple):
    """A point estimate with its confidence interval."""

    estimate: float
    lo: float
    hi: float


def order_statistic_ranks(n: int, level: float, confidence: float = 0.95) -> tuple[int, int]:
    """1-based ranks ``(l, u)`` of the order-statistic interval for the ``level``-quantile of
    ``n`` values; rank 0 stands for -inf and ``n + 1`` for +inf.

    ``l - 1`` is the largest ``j`` with ``P(B <= j) <= (1-c)/2`` and ``u - 1`` the smallest with
    ``P(B <= j) >= (1+c)/2``, ``B ~ Binomial(n, level)``, ``c = confidence``. Since
    ``X_(l) <= q`` iff at least ``l`` values are ``<= q``, each end misses the true quantile
    with probability at most ``(1-c)/2``, for any distribution.
    """
    _check_count(n, "n", minimum=1)
    return _binomial.order_statistic_ranks(int(n), check_fraction(level, "level"),
                                           check_fraction(confidence, "confidence"))


def var_interval(losses: Any, level: float, confidence: float = 0.95) -> Interval:
    """Distribution-free confidence interval for the ``level``-VaR (see
    :func:`order_statistic_ranks`); exact coverage >= ``confidence``."""
    level = check_fraction(level, "level")
    confidence = check_fraction(confidence, "confidence")
    return var_interval_sorted(sorted_sample(losses), level, confidence)


def var_interval_sorted(xs: np.ndarray, level: float, confidence: float) -> Interval:
    """:func:`var_interval` on an already validated, sorted sample."""
    lo, hi = _binomial.order_statistic_ranks(xs.size, level, confidence)
    return Interval(float(xs[lo - 1]) if lo >= 1 else -math.inf,
                    float(xs[hi - 1]) if hi <= xs.size else math.inf)


def es_interval(losses: Any, level: float, confidence: float = 0.95, n_boot: int = 2000,
                seed: int | np.random.SeedSequence = 0) -> Interval:
    """Percentile-bootstrap interval for the ``level``-ES (CVaR), ``n_boot`` resamples drawn
    from ``numpy.random.default_rng(seed)``: the same seed gives the same interval."""
    level = check_fraction(level, "level")
    confidence = check_fraction(confidence, "confidence")
    n_boot = check_n_boot(n_boot, confidence)
    rng = np.random.default_rng(check_seed(seed))
    return percentile_intervals(bootstrap_es(sorted_sample(losses), (level,), n_boot, rng), confidence)[0]


def percentile_intervals(replicates: np.ndarray, confidence: float) -> list[Interval]:
    """Percentile intervals from bootstrap replicates, one per column."""
    alpha2 = 0.5 * (1.0 - confidence)
    ends = np.quantile(replicates, [alpha2, 1.0 - alpha2], axis=0, method="inverted_cdf")
    return [Interval(float(lo), float(hi)) for lo, hi in ends.T]


def probability_interval(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Clopper-Pearson interval for a probability estimated as ``k`` events in ``n`` paths."""
    n = _check_count(n, "n", minimum=1)
    k = _check_count(k, "k", minimum=0)
    if k > n:
        raise ConfigError(PY, "k", f"a count of events between 0 and n={n}", k)
    return Interval(*_binomial.clopper_pearson(k, n, check_fraction(confidence, "confidence")))


def mean_interval(values: Any, confidence: float = 0.95) -> Estimate:
    """The sample mean with its normal (CLT) interval ``mean +- z s/sqrt(n)``; the interval is
    ``(-inf, inf)`` for a single value and ``(inf, inf)`` when a value is +inf."""
    confidence = check_fraction(confidence, "confidence")
    return mean_interval_sorted(sorted_sample(values, "values"), confidence)


def mean_interval_sorted(xs: np.ndarray, confidence: float) -> Estimate:
    """:func:`mean_interval` on an already validated sample."""
    mean = float(xs.mean())
    if not math.isfinite(mean):
        return Estimate(mean, mean, mean)
    if xs.size < 2:
        return Estimate(mean, -math.inf, math.inf)
    half = z_two_sided(confidence) * float(xs.std(ddof=1)) / math.sqrt(xs.size)
    return Estimate(mean, mean - half, mean + half)


def _check_count(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < minimum:
        raise ConfigError(PY, key, f"an integer >= {minimum}", value)
    return int(value)
