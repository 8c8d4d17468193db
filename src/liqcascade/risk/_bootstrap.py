"""Nonparametric bootstrap of the expected shortfall, drawing only the tail (private).

A bootstrap resample is ``n`` draws with replacement from the sorted sample ``s_1 <= ... <= s_n``
(Efron 1979). Its ES at level ``tau`` depends only on its ``t = n - k + 1`` largest values
(``k = ceil(n tau)``): the VaR is the ``t``-th largest and nothing below it adds to the excess.
So instead of drawing all ``n`` indices we draw, for each resample,

1. ``C ~ Binomial(n, T/n)``, how many of its ``n`` draws land in the top ``T`` values of the
   sample, and then
2. those ``C`` draws, uniformly among the top ``T`` values,

which is exactly the law of the full resample restricted to the top block. When ``C >= t``
the resample's ``t`` largest values are all among these draws and its ES is computed exactly
from them; a resample with ``C < t`` (probability below ~1e-14 with the margin used here)
is completed, keeping its ``C`` tail draws, with ``n - C`` uniform draws from the values
below the block (redrawing it from scratch instead would bias the law towards ``C >= t``).
The result has the same distribution as the textbook bootstrap, at a cost proportional to
``n (1 - tau)`` instead of ``n`` per resample. With ``T = n`` it *is* the textbook bootstrap.

Resamples are processed in chunks of at most ``_CHUNK_ELEMENTS`` matrix cells: one
``np.partition`` per chunk at all the levels' ranks at once.
"""

from __future__ import annotations

import math

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.risk._common import es_from_upper, order_index

_TAIL_MARGIN_SD = 8.0
_TAIL_MARGIN_MIN = 64
_CHUNK_ELEMENTS = 1 << 22


def bootstrap_es(xs: FloatArray, levels: tuple[float, ...], n_boot: int,
                 rng: np.random.Generator) -> FloatArray:
    """``(n_boot, len(levels))`` bootstrap replicates of the ES of the sorted sample ``xs``."""
    n = xs.size
    t = np.array([n - order_index(n, lv) + 1 for lv in levels], dtype=np.int64)
    t_max = int(t.max())
    top = min(n, t_max + math.ceil(_TAIL_MARGIN_SD * math.sqrt(t_max)) + _TAIL_MARGIN_MIN)
    tail = xs[n - top:]
    rows = max(1, _CHUNK_ELEMENTS // (top + _TAIL_MARGIN_MIN))
    out = np.empty((n_boot, len(levels)))
    for start in range(0, n_boot, rows):
        b = min(rows, n_boot - start)
        counts = rng.binomial(n, top / n, size=b) if top < n else np.full(b, n, dtype=np.int64)
        full = counts < t_max
        chunk = out[start:start + b]
        short = counts[~full]
        chunk[~full] = _es_rows(_draw(tail, short, int(short.max(initial=0)), None, rng), t, n, levels)
        if full.any():
            chunk[full] = _es_rows(_draw(tail, counts[full], n, xs[:n - top], rng), t, n, levels)
    return out


def _draw(tail: FloatArray, counts: np.ndarray, width: int, rest: FloatArray | None,
          rng: np.random.Generator) -> FloatArray:
    """Rows of ``width`` cells: the first ``counts[i]`` drawn uniformly from ``tail``, the
    others uniformly from ``rest`` (the values below the tail), or -inf when ``rest`` is None.
    With ``rest`` and ``width = n`` a row is a complete resample that keeps its tail count."""
    mat = np.full((counts.size, width), -np.inf)
    in_tail = np.arange(width) < counts[:, None]
    n_tail = int(counts.sum())
    mat[in_tail] = tail[rng.integers(0, tail.size, size=n_tail)]
    if rest is not None:
        mat[~in_tail] = rest[rng.integers(0, rest.size, size=mat.size - n_tail)]
    return mat


def _es_rows(mat: FloatArray, t: np.ndarray, n: int, levels: tuple[float, ...]) -> FloatArray:
    """ES of each row of ``mat`` (a resample's top values, -inf padded) at each level, where
    level ``j``'s VaR is the row's ``t[j]``-th largest value. Partitions ``mat`` in place."""
    out = np.empty((mat.shape[0], len(levels)))
    if mat.shape[0] == 0:
        return out
    width = mat.shape[1]
    mat.partition(np.unique(width - t), axis=1)
    for j, level in enumerate(levels):
        pos = width - int(t[j])
        out[:, j] = es_from_upper(mat[:, pos:pos + 1], mat[:, pos:], n, level)
    return out
