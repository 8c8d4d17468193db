"""Mark paths for perp Monte Carlo: the scenario's own path with its steps' moves resampled.

:func:`bootstrap_marks` draws each path's step log-returns with replacement from the base path's
(an i.i.d. bootstrap: the moves' sizes and signs as the base path had them, their order, and so
the crash's clustering, not kept), each path starting at the base path's first mark.
"""

from __future__ import annotations

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError

__all__ = ["bootstrap_marks"]


def bootstrap_marks(marks: FloatArray, n_paths: int, seed: int) -> FloatArray:
    """``n_paths`` × ``len(marks)`` marks (module docstring); reproducible from ``seed``."""
    m = np.asarray(marks, dtype=np.float64)
    if m.ndim != 1 or m.shape[0] < 2 or not np.all(np.isfinite(m) & (m > 0)):
        raise ConfigError("<python>", "marks", "a path of at least two finite prices > 0", m.shape)
    if not (isinstance(n_paths, int) and n_paths >= 1):
        raise ConfigError("<python>", "paths", "an integer ≥ 1", n_paths)
    r = np.diff(np.log(m))
    rng = np.random.default_rng(seed)
    draws = r[rng.integers(0, r.shape[0], size=(n_paths, r.shape[0]))]
    return m[0] * np.exp(np.concatenate([np.zeros((n_paths, 1)), np.cumsum(draws, axis=1)], axis=1))
