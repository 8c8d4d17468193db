"""How keepers and buyers size a purchase from a protocol they resell on the market."""

from __future__ import annotations

import math


def largest_profitable_take(q_max: float, price: float, margin: float, exit_usd) -> float:
    """The largest ``q`` in ``[0, q_max]`` with ``exit_usd(q) * (1 - margin) >= price * q``.

    ``exit_usd`` is concave (the marginal sale price falls with size) and 0 at 0, so the
    condition holds on an interval from 0: check the end, then bisect."""
    if q_max <= 0.0:
        return 0.0
    keep = 1.0 - margin

    def ok(q: float) -> bool:
        v = exit_usd(q)
        return math.isfinite(v) and v * keep >= price * q

    if ok(q_max):
        return q_max
    tiny = q_max * 1e-9
    if not ok(tiny):
        return 0.0
    lo, hi = tiny, q_max
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo
