"""Tail metrics of a Monte Carlo loss sample: value at risk, expected shortfall, exceedance.

Losses are "larger is worse" (bad debt in USD, liquidated volume, time to clear), so the
risk sits in the upper tail and ``level`` is the confidence level of the tail (0.99 = the loss
exceeded on 1 % of paths). Samples are 1-D, non-empty, without NaN or -inf; +inf is allowed
(an unbounded outcome) and propagates.

Estimators (sample ``x_1..x_n``, order statistics ``x_(1) <= ... <= x_(n)``):

- ``VaR_level = x_(k)``, ``k = ceil(n * level)``: the inverse of the empirical CDF,
  ``inf{x : F_n(x) >= level}`` (Hyndman & Fan 1996, definition 1). No interpolation, so the
  estimate is always a loss that occurred, and it is the quantile of the empirical law the
  ES below is the tail mean of.
- ``ES_level = VaR_level + (1/n) sum (x_i - VaR_level)+ / (1 - level)`` (Acerbi & Tasche 2002,
  "On the coherence of expected shortfall", J. Banking & Finance 26(7), 1487-1503; the same
  value as the minimum in Rockafellar & Uryasev 2002, "Conditional value-at-risk for general
  loss distributions", J. Banking & Finance 26(7), 1443-1471). It is the mean of the worst
  ``1 - level`` share of the probability mass of the empirical law, counting only the needed
  fraction of an atom at the VaR, so it is correct with ties (many paths with zero bad debt)
  and never below the VaR; it is coherent (sub-additive), unlike the VaR.
- ``P(X > threshold) = #{x_i > threshold} / n`` with a Clopper-Pearson interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from liqcascade.risk._binomial import clopper_pearson
from liqcascade.risk._common import check_fraction, check_number, es_from_upper, order_index, sorted_sample
from liqcascade.risk.intervals import Estimate


def value_at_risk(losses: Any, level: float) -> float:
    """Empirical ``level``-quantile of ``losses``: the ``ceil(n * level)``-th smallest value."""
    level = check_fraction(level, "level")
    return var_sorted(sorted_sample(losses), level)


def expected_shortfall(losses: Any, level: float) -> float:
    """Expected shortfall (CVaR) of ``losses`` at ``level``: the Acerbi-Tasche tail mean
    ``VaR + E[(X - VaR)+] / (1 - level)`` of the empirical distribution (module docstring)."""
    level = check_fraction(level, "level")
    return es_sorted(sorted_sample(losses), level)


def exceedance_probability(losses: Any, threshold: float, confidence: float = 0.95) -> Estimate:
    """``P(loss > threshold)`` (strictly above, e.g. bad debt > reserves) as the share of
    paths above ``threshold``, with its Clopper-Pearson interval at ``confidence``."""
    threshold = check_number(threshold, "threshold", "a number (the loss to exceed)")
    confidence = check_fraction(confidence, "confidence")
    return exceedance_sorted(sorted_sample(losses), threshold, confidence)


def var_sorted(xs: np.ndarray, level: float) -> float:
    """:func:`value_at_risk` of an already validated, sorted sample."""
    return float(xs[order_index(xs.size, level) - 1])


def es_sorted(xs: np.ndarray, level: float) -> float:
    """:func:`expected_shortfall` of an already validated, sorted sample."""
    k = order_index(xs.size, level)
    return float(es_from_upper(xs[k - 1], xs[k - 1:], xs.size, level))


def exceedance_sorted(xs: np.ndarray, threshold: float, confidence: float) -> Estimate:
    """:func:`exceedance_probability` of an already validated, sorted sample."""
    n = xs.size
    k = n - int(np.searchsorted(xs, threshold, side="right"))
    lo, hi = clopper_pearson(k, n, confidence)
    return Estimate(k / n, lo, hi)
