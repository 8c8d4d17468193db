"""Mark paths for perp Monte Carlo: the scenario's own path with its steps' moves resampled.

:func:`bootstrap_path` draws one path's step log-returns with replacement from the base path's
(an i.i.d. bootstrap: the moves' sizes and signs as the base path had them, their order, and so
the crash's clustering, not kept), starting at the base path's first mark. Path ``i`` of root
seed ``s`` draws from ``SeedSequence(s, spawn_key=(i,))`` (as the lending Monte Carlo's paths):
it depends on ``(s, i)`` only, never on how many paths are drawn or how they are cut into
chunks. :func:`bootstrap_marks` stacks paths ``0 .. n-1``.
"""

from __future__ import annotations

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError

__all__ = ["bootstrap_marks", "bootstrap_path"]


def _checked(marks: FloatArray) -> FloatArray:
    m = np.asarray(marks, dtype=np.float64)
    if m.ndim != 1 or m.shape[0] < 2 or not np.all(np.isfinite(m) & (m > 0)):
        raise ConfigError("<python>", "marks", "a path of at least two finite prices > 0", m.shape)
    return m


def _draw(m: FloatArray, seed: int, index: int) -> FloatArray:
    r = np.diff(np.log(m))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    draws = r[rng.integers(0, r.shape[0], size=r.shape[0])]
    return m[0] * np.exp(np.concatenate([np.zeros(1), np.cumsum(draws)]))


def bootstrap_path(marks: FloatArray, seed: int, index: int) -> FloatArray:
    """Path ``index`` of root seed ``seed``: ``len(marks)`` marks (module docstring)."""
    if not (isinstance(index, (int, np.integer)) and index >= 0):
        raise ConfigError("<python>", "index", "a path index ≥ 0", index)
    return _draw(_checked(marks), seed, int(index))


def bootstrap_marks(marks: FloatArray, n_paths: int, seed: int) -> FloatArray:
    """``n_paths`` × ``len(marks)`` marks: paths ``0 .. n_paths-1`` of :func:`bootstrap_path`."""
    m = _checked(marks)
    if not (isinstance(n_paths, int) and n_paths >= 1):
        raise ConfigError("<python>", "paths", "an integer ≥ 1", n_paths)
    return np.stack([_draw(m, seed, i) for i in range(n_paths)])
