"""How keepers and buyers size a purchase from a protocol they resell on the market."""

from __future__ import annotations

import math


def profitable_take(q_max: float, price: float, margin: float, depth: float, already: float = 0.0) -> float:
    """What a buyer who resells at once takes at ``price``: up to the size where their
    marginal sale price falls to ``price / (1 - margin)`` (they keep ``margin`` of the
    sale), which maximises their profit.

    ``depth`` is the amount the market absorbs before its marginal price falls to that
    level (``inf`` when it never does); ``already`` was sold into it this block."""
    if q_max <= 0.0 or not (price > 0.0):
        return 0.0
    room = depth - already
    if not (room > 0.0):
        return 0.0
    return q_max if math.isinf(room) else min(q_max, room)
