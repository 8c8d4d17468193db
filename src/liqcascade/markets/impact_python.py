"""The power-law impact venue's quote loop: a plain-Python kernel (compiled by numba in
:mod:`liqcascade.markets.impact`, unchanged; ``LIQCASCADE_DISABLE_JIT=1`` runs it as is)."""

from __future__ import annotations

import math


def impact_quotes(amounts, net_sold, p0, d, k, q_star, c0, out):
    """``PowerLawImpact.quote_sell`` of each amount into ``out``: ``_cash(Q + a) - _cash(Q)``
    with the constants computed once (``k``, ``q*``, ``c0 = _cash(Q)``), each expression as
    :meth:`~liqcascade.markets.impact.PowerLawImpact.quote_sells` writes it, in the same
    order (``min`` and ``max`` as Python's: the first argument unless the second is smaller /
    larger). Returns -1, or the position of the first amount that is negative or not finite
    (``out`` is then incomplete: the caller raises)."""
    for j in range(amounts.shape[0]):
        a = amounts[j]
        if not (a >= 0.0 and math.isfinite(a)):
            return j
        if a == 0.0:
            out[j] = 0.0
            continue
        q = net_sold + a
        if q >= 0.0:
            q = q_star if q_star < q else q
            c = p0 * (q - k * q ** (1.0 + d))
        else:
            c = -p0 * (-q + k * (-q) ** (1.0 + d))
        x = c - c0
        out[j] = 0.0 if 0.0 > x else x
    return -1


FUNCTIONS = {"impact_quotes": impact_quotes}
PARALLEL: frozenset[str] = frozenset()
