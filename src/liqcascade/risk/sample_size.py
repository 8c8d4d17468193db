"""How many Monte Carlo paths a statistic needs for a target confidence-interval width.

Every estimator here is asymptotically normal with variance ``v / n``, ``v`` the variance of
its influence function per path, so a ``confidence`` interval of half-width ``h`` needs

    n = ceil(z^2 * v / h^2),   z = Phi^-1((1 + confidence) / 2),

where ``h`` is either absolute (``half_width``, in the statistic's units) or relative
(``rel_half_width * |estimate|``, 10 % by default). ``v`` is estimated from the sample at hand:

- ``mean``: ``v = s^2``, the sample variance (ddof 1).
- ``var`` (the ``level``-quantile ``q``): ``v = level (1 - level) / f(q)^2`` (the Bahadur
  representation; David & Nagaraja 2003, ch. 10). The *sparsity* ``1/f(q)`` is estimated by
  the Siddiqui (1960) / Bloch & Gastwirth (1968) difference quotient
  ``n (x_(k_hi) - x_(k_lo)) / (k_hi - k_lo)`` with ranks ``ceil(n (level -+ b))`` clipped to
  ``[1, n]`` and the Hall & Sheather (1988) bandwidth
  ``b = n^(-1/3) z^(2/3) (1.5 phi(Phi^-1(level))^2 / (2 Phi^-1(level)^2 + 1))^(1/3)``
  (Koenker 2005, *Quantile Regression*, ch. 3). On an atom (zero spacing) ``v = 0``.
- ``es``: ``v = Var((X - q)+) / (1 - level)^2``, the influence function of the ES at a
  continuous quantile, which needs no density (Chen 2008, "Nonparametric estimation of
  expected shortfall", J. Financial Econometrics 6(1), 87-107).
- ``probability`` (of ``X > threshold``): ``v = p (1 - p)``, the binomial variance.

For ``var`` and ``es`` the answer is at least the smallest ``n`` for which the order-statistic
interval of the VaR has finite ends, ``n >= ln((1-c)/2) / ln(min(level, 1 - level))``.

The answer is ``None`` when no number of paths reaches the target from what the sample shows:
a relative target around an estimate of 0 or +inf, a +inf in the sample (for the mean, the ES
and the sparsity), an estimated probability of exactly 0 or 1, or a sample too small to
estimate the sparsity. It is the *total* number of paths, to compare with the current ``n``.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.risk._common import (
    PY,
    check_fraction,
    check_number,
    check_positive,
    es_from_upper,
    order_index,
    sorted_sample,
    z_two_sided,
)

STATISTICS = ("mean", "var", "es", "probability")
"""The statistics :func:`paths_needed` knows (``var`` is the value at risk, not the variance)."""


def paths_needed(losses: Any, statistic: str, level: float | None = None, *,
                 threshold: float | None = None, rel_half_width: float = 0.10,
                 half_width: float | None = None, confidence: float = 0.95) -> int | None:
    """Total paths for a ``confidence`` interval of the given half-width (module docstring).

    ``level`` is required for ``var`` and ``es``, ``threshold`` for ``probability``;
    ``half_width`` (absolute), when given, replaces ``rel_half_width``.
    """
    if statistic not in STATISTICS:
        raise ConfigError(PY, "statistic", f"one of {list(STATISTICS)}", statistic)
    confidence = check_fraction(confidence, "confidence")
    rel = check_positive(rel_half_width, "rel_half_width")
    absolute = None if half_width is None else check_positive(half_width, "half_width")
    if statistic in ("var", "es"):
        if level is None:
            raise ConfigError(PY, "level", f"a level strictly between 0 and 1 for statistic {statistic!r}")
        level = check_fraction(level, "level")
    if statistic == "probability":
        threshold = check_number(threshold, "threshold",
                                 "a number (the loss to exceed) for statistic 'probability'")
    return paths_needed_sorted(sorted_sample(losses), statistic, level, threshold, rel, absolute, confidence)


def paths_needed_sorted(xs: np.ndarray, statistic: str, level: float | None, threshold: float | None,
                        rel_half_width: float, half_width: float | None, confidence: float) -> int | None:
    """:func:`paths_needed` on an already validated, sorted sample and checked arguments."""
    estimate, v = _estimate_and_variance(xs, statistic, level, threshold, confidence)
    if estimate is None:
        return None
    h = half_width if half_width is not None else rel_half_width * abs(estimate)
    return n_for_half_width(v, h, confidence, level if statistic in ("var", "es") else None)


def n_for_half_width(v: float, h: float, confidence: float, level: float | None = None) -> int | None:
    """``ceil(z^2 v / h^2)`` (at least 1, and at least the VaR interval's minimum when
    ``level`` is given); ``None`` when ``v`` or ``h`` make it undefined."""
    if not (math.isfinite(v) and math.isfinite(h)) or h <= 0.0:
        return None
    z = z_two_sided(confidence)
    n = max(1, math.ceil(z * z * v / (h * h)))
    if level is not None:
        n = max(n, min_paths_for_var_interval(level, confidence))
    return n


def min_paths_for_var_interval(level: float, confidence: float) -> int:
    """Smallest ``n`` whose order-statistic interval for the ``level``-quantile has finite ends:
    ``level^n <= (1-c)/2`` (upper end) and ``(1-level)^n <= (1-c)/2`` (lower end)."""
    alpha2 = math.log(0.5 * (1.0 - confidence))
    return math.ceil(max(alpha2 / math.log(level), alpha2 / math.log1p(-level)) - 1e-9)


def _estimate_and_variance(xs: np.ndarray, statistic: str, level: float | None,
                           threshold: float | None, confidence: float) -> tuple[float | None, float]:
    """The statistic's estimate and per-path asymptotic variance ``v`` (``None, nan`` when
    this sample cannot give them)."""
    n = xs.size
    if statistic == "probability":
        p = (n - int(np.searchsorted(xs, threshold, side="right"))) / n
        return (p, p * (1.0 - p)) if 0.0 < p < 1.0 else (None, math.nan)
    if n < 2:
        return None, math.nan
    if statistic == "var":
        return _quantile_variance(xs, level, confidence)
    if not np.isfinite(xs[-1]):
        return None, math.nan
    if statistic == "mean":
        return float(xs.mean()), float(xs.var(ddof=1))
    k = order_index(n, level)
    excess = np.maximum(xs - xs[k - 1], 0.0)
    es = float(es_from_upper(xs[k - 1], xs[k - 1:], n, level))
    return es, float(excess.var(ddof=1)) / (1.0 - level) ** 2


def _quantile_variance(xs: np.ndarray, level: float, confidence: float) -> tuple[float | None, float]:
    """VaR and ``level (1 - level) sparsity^2``, the sparsity by the Hall-Sheather difference
    quotient (+inf when the spacing reaches a +inf value)."""
    n = xs.size
    q = float(xs[order_index(n, level) - 1])
    b = hall_sheather_bandwidth(n, level, confidence)
    k_lo = min(n, max(1, math.ceil(n * (level - b))))
    k_hi = min(n, max(1, math.ceil(n * (level + b))))
    if k_hi == k_lo or not math.isfinite(q):
        return None, math.nan
    sparsity = n * (float(xs[k_hi - 1]) - float(xs[k_lo - 1])) / (k_hi - k_lo)
    return q, level * (1.0 - level) * sparsity * sparsity


def hall_sheather_bandwidth(n: int, level: float, confidence: float = 0.95) -> float:
    """Hall & Sheather (1988) bandwidth, in probability units, for the sparsity at ``level``."""
    nd = NormalDist()
    zq = nd.inv_cdf(level)
    return (n ** (-1.0 / 3.0) * z_two_sided(confidence) ** (2.0 / 3.0)
            * (1.5 * nd.pdf(zq) ** 2 / (2.0 * zq * zq + 1.0)) ** (1.0 / 3.0))
