"""Checks and small helpers shared by the risk metrics (private).

Every public risk function validates its arguments here before any work, so a bad level,
confidence, budget or sample raises :class:`~liqcascade.errors.ConfigError` naming the
argument (``file`` is ``"<python>"``: these are Python arguments, not a config file).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from statistics import NormalDist
from typing import Any

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError

PY = "<python>"


def check_fraction(value: Any, key: str) -> float:
    """``value`` as a float strictly between 0 and 1 (a level or a confidence)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < 1.0:
        raise ConfigError(PY, key, "a number strictly between 0 and 1 (e.g. 0.99)", value)
    return float(value)


def check_positive(value: Any, key: str) -> float:
    """``value`` as a finite float > 0 (an interval half-width)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < float(value) < math.inf:
        raise ConfigError(PY, key, "a finite number > 0", value)
    return float(value)


def check_number(value: Any, key: str, expected: str) -> float:
    """``value`` as a float that is not NaN (``expected`` says what it is for)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(float(value)):
        raise ConfigError(PY, key, expected, value)
    return float(value)


def check_levels(levels: Any, key: str = "levels") -> tuple[float, ...]:
    """A non-empty sequence of levels, each strictly between 0 and 1."""
    if isinstance(levels, (str, bytes)) or not hasattr(levels, "__iter__"):
        raise ConfigError(PY, key, "a non-empty sequence of levels strictly between 0 and 1", levels)
    out = tuple(check_fraction(v, f"{key}[{i}]") for i, v in enumerate(levels))
    if not out:
        raise ConfigError(PY, key, "at least one level strictly between 0 and 1", levels)
    return out


def check_seed(seed: Any, key: str = "seed") -> np.random.SeedSequence:
    """An explicit seed (an int >= 0 or a SeedSequence) as a SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ConfigError(PY, key, "an integer >= 0 or a numpy SeedSequence", seed)
    return np.random.SeedSequence(int(seed))


def check_n_boot(n_boot: Any, confidence: float, key: str = "n_boot") -> int:
    """Bootstrap resamples: an integer >= 100 and large enough that each tail of the
    percentile interval holds at least one resample (``n_boot * (1 - confidence) / 2 >= 1``)."""
    need = max(100, math.ceil(2.0 / (1.0 - confidence) - 1e-9))
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or int(n_boot) < need:
        raise ConfigError(PY, key, f"an integer >= {need} (at confidence {confidence})", n_boot)
    return int(n_boot)


def as_sample(values: Any, key: str = "losses") -> FloatArray:
    """A 1-D float64 sample with at least one value, no NaN and no -inf (+inf is allowed:
    an unbounded outcome, such as a path that never cleared)."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(PY, key, "a 1-D array of numbers", type(values).__name__) from None
    if x.ndim != 1:
        raise ConfigError(PY, key, "a 1-D array of numbers", f"an array of shape {x.shape}")
    if x.size == 0:
        raise ConfigError(PY, key, "a non-empty sample (at least one value)", "an empty array")
    bad = np.flatnonzero(np.isnan(x) | np.isneginf(x))
    if bad.size:
        raise ConfigError(PY, key, "numbers or +inf, no NaN or -inf",
                          f"{x[bad[0]]} at index {int(bad[0])}")
    return x


def sorted_sample(values: Any, key: str = "losses") -> FloatArray:
    """:func:`as_sample`, sorted ascending (a new array; the caller's is untouched)."""
    return np.sort(as_sample(values, key))


def order_index(n: int, level: float) -> int:
    """1-based rank ``k = ceil(n * level)`` of the empirical ``level``-quantile of ``n`` values.

    ``level`` is read as the shortest decimal that prints it (``repr``), and the product is
    exact, so ``0.97 * 100`` gives rank 97, not the 98 that float rounding (97.00000000000001)
    would give. The result lies in ``[1, n]`` for ``level`` in (0, 1).
    """
    return min(n, max(1, math.ceil(n * _decimal(level))))


def tail_count(n: int, level: float) -> float:
    """``n * (1 - level)``, the number of paths' worth of probability mass in the tail, computed
    exactly from the decimal ``level`` (so 100 paths at 0.95 give 5.0, not 4.9999999999999956)."""
    return float(n * (1 - _decimal(level)))


def _decimal(level: float) -> Fraction:
    return Fraction(repr(float(level)))


def z_two_sided(confidence: float) -> float:
    """Standard normal quantile ``z`` with ``P(|Z| <= z) = confidence``."""
    return NormalDist().inv_cdf(0.5 + 0.5 * confidence)


def es_from_upper(var: Any, upper: Any, n: int, level: float) -> Any:
    """Expected shortfall from the value at risk and the values at or above it.

    ``ES = VaR + sum((x - VaR)+) / (n (1 - level))`` (Acerbi & Tasche 2002, Rockafellar &
    Uryasev 2002): ``upper`` holds the sample's values ``>= var`` (last axis), the others add
    nothing to the sum. Works on scalars or on rows (``var`` of shape ``(b, 1)``, ``upper``
    ``(b, t)``). An infinite VaR gives an infinite ES.
    """
    with np.errstate(invalid="ignore"):  # inf - inf where VaR is inf; replaced below
        excess = np.maximum(np.asarray(upper) - var, 0.0).sum(axis=-1)
    var = np.asarray(var).reshape(np.shape(excess))
    return np.where(np.isposinf(var), np.inf, var + excess / tail_count(n, level))

