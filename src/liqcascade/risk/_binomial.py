"""The binomial distribution, as much as the exact intervals need (private).

No SciPy at run time: the probability mass is built on a window of +-(40 sd + 40) around the
mean by the ratio recursion ``pmf(j+1)/pmf(j) = (n-j)/(j+1) * p/(1-p)`` in logs and then
normalized, so no large log-factorials cancel. The mass outside the window is below
``exp(-60)`` by the Chernoff bound ``P(|B - np| >= t) <= 2 exp(-t^2 / (2 (np(1-p) + t/3)))``,
far under any confidence a caller can ask for.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from liqcascade._typing import FloatArray

_WINDOW_SD = 40.0
_WINDOW_MIN = 40.0
_BISECTIONS = 64  # 2^-64 ~ 5e-20: below float spacing for any p that matters


def pmf_window(n: int, p: float) -> tuple[int, FloatArray]:
    """``(a, pmf)``: the Binomial(n, p) mass at ``a, a+1, ..., a+len(pmf)-1``, 0 < p < 1,
    normalized over a window that holds all but ``exp(-60)`` of it (module docstring)."""
    half = _WINDOW_SD * math.sqrt(n * p * (1.0 - p)) + _WINDOW_MIN
    a = max(0, math.floor(n * p - half))
    b = min(n, math.ceil(n * p + half))
    j = np.arange(a, b, dtype=np.float64)
    step = np.log(n - j) - np.log(j + 1.0) + (math.log(p) - math.log1p(-p))
    logpmf = np.concatenate(([0.0], np.cumsum(step)))
    pmf = np.exp(logpmf - logpmf.max())
    return a, pmf / pmf.sum()


def cdf(k: int, n: int, p: float) -> float:
    """``P(B <= k)`` for ``B ~ Binomial(n, p)``, any ``0 <= p <= 1``."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    a, pmf = pmf_window(n, p)
    return float(min(1.0, pmf[: max(0, k - a + 1)].sum()))


def order_statistic_ranks(n: int, level: float, confidence: float) -> tuple[int, int]:
    """1-based ranks ``(l, u)`` of the distribution-free interval ``[X_(l), X_(u)]`` for the
    ``level``-quantile of ``n`` i.i.d. values (rank 0 means -inf, rank ``n + 1`` means +inf).

    With ``B ~ Binomial(n, level)`` and ``a = (1 - confidence)/2``: ``l - 1`` is the largest
    ``j`` with ``P(B <= j) <= a`` and ``u - 1`` the smallest ``j`` with ``P(B <= j) >= 1 - a``,
    so each end misses with probability at most ``a`` and the coverage
    ``P(l <= B <= u - 1)`` is at least ``confidence`` for every distribution, continuous or
    not (David & Nagaraja, *Order Statistics*, 3rd ed., 2003, sec. 7.1).
    """
    a, pmf = pmf_window(n, level)
    cum = np.cumsum(pmf)
    alpha2 = 0.5 * (1.0 - confidence)
    below = int(np.searchsorted(cum, alpha2, side="right")) - 1  # last window index with F <= alpha/2
    above = int(np.searchsorted(cum, 1.0 - alpha2, side="left"))  # first window index with F >= 1 - alpha/2
    lo = a + below + 1
    hi = min(n + 1, a + min(above, cum.size - 1) + 1)
    return lo, hi


@functools.lru_cache(maxsize=4096)
def clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Exact (Clopper & Pearson 1934) interval for a binomial proportion, ``k`` successes in ``n``.

    ``lo`` solves ``P(B >= k; lo) = a`` (0 when ``k = 0``) and ``hi`` solves ``P(B <= k; hi) = a``
    (1 when ``k = n``), ``a = (1 - confidence)/2``, by bisection: both tail probabilities are
    monotone in ``p``. Coverage is at least ``confidence`` for every ``p``.
    """
    alpha2 = 0.5 * (1.0 - confidence)
    lo = 0.0 if k == 0 else _bisect(lambda p: 1.0 - cdf(k - 1, n, p) >= alpha2)
    hi = 1.0 if k == n else _bisect(lambda p: cdf(k, n, p) <= alpha2)
    return lo, hi


def _bisect(past: Callable[[float], bool]) -> float:
    """The boundary in [0, 1] where the monotone predicate ``past`` turns from False to True."""
    left, right = 0.0, 1.0
    for _ in range(_BISECTIONS):
        mid = 0.5 * (left + right)
        if past(mid):
            right = mid
        else:
            left = mid
    return 0.5 * (left + right)
