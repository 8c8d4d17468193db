"""Oracle kernels in plain Python (the twins of the compiled ones in ``oracle.py``).

These loops are the reference and are compiled by numba unchanged (``liqcascade._jit``).
Arrays: ``times`` int64 seconds per block (strictly increasing), ``market`` float64
``(n_blocks, n_assets)``. Only the ``out_*`` arrays are written.
"""

from __future__ import annotations

import math


def chainlink_push(times, market, deviation, heartbeat_s, delay_blocks, out_round, out_price, out_updated):
    """Chainlink-style push feed over every column of ``market``.

    Rounds: block 0 opens a round with answer ``market[0]``. At each later block ``i`` a
    new round opens, with answer ``market[i]``, when

        |market[i] / answer − 1| ≥ deviation   or   times[i] − answer_time ≥ heartbeat_s,

    where ``answer``/``answer_time`` belong to the last *round* (pending or visible), not to
    the price the protocol sees. A round opened at block ``i`` lands (becomes the price the
    protocol reads) at block ``i + delay_blocks``; before the first landing the protocol
    reads ``market[0]`` (the feed stood at that price before the path began).

    ``out_round[i, j]``: a round opened; ``out_updated[i, j]``: an answer landed;
    ``out_price[i, j]``: the price read at block ``i``. ``heartbeat_s`` and ``deviation``
    are float64 (``inf`` disables the rule).
    """
    n = market.shape[0]
    k = market.shape[1]
    for j in range(k):
        answer = market[0, j]
        answer_t = times[0]
        visible = market[0, j]
        for i in range(n):
            p = market[i, j]
            if i == 0:
                fire = True
            else:
                fire = abs(p / answer - 1.0) >= deviation or (times[i] - answer_t) >= heartbeat_s
            if fire:
                answer = p
                answer_t = times[i]
            out_round[i, j] = fire
            r = i - delay_blocks
            landed = False
            if r >= 0:
                if out_round[r, j]:
                    landed = True
                    visible = market[r, j]
            out_updated[i, j] = landed
            out_price[i, j] = visible


def chainlink_quiet(times, market, answer, answer_t, deviation, heartbeat_s):
    """How many leading rows (blocks) of ``market`` open no round of a push feed whose last
    round is ``answer`` / ``answer_t`` (per column), with every price finite and > 0: the
    first row with a price that deviates, a heartbeat due or a price ``step`` refuses stops
    the count (the same comparisons as ``ChainlinkPush.step``'s)."""
    for i in range(market.shape[0]):
        for j in range(market.shape[1]):
            m = market[i, j]
            if not (math.isfinite(m) and m > 0.0):
                return i
            if abs(m / answer[j] - 1.0) >= deviation or (times[i] - answer_t[j]) >= heartbeat_s:
                return i
    return market.shape[0]


def chainlink_step(m, t, answer, answer_t, visible, n_updates, deviation, heartbeat_s, out_answer, out_answer_t,
                   out_visible, out_fired, out_n_updates):
    """One block of a push feed without delay, per column: a round opens (and lands) where the
    price ``m`` deviates from the last answer or the heartbeat is due (``ChainlinkPush.step``'s
    comparisons); the ``out_*`` arrays get the state after the block."""
    for j in range(m.shape[0]):
        fire = abs(m[j] / answer[j] - 1.0) >= deviation or (t - answer_t[j]) >= heartbeat_s
        out_fired[j] = fire
        out_answer[j] = m[j] if fire else answer[j]
        out_answer_t[j] = t if fire else answer_t[j]
        out_visible[j] = m[j] if fire else visible[j]
        out_n_updates[j] = n_updates[j] + 1 if fire else n_updates[j]


FUNCTIONS = {"chainlink_push": chainlink_push, "chainlink_quiet": chainlink_quiet, "chainlink_step": chainlink_step}
# Serial on purpose: a 7,200-block day for 30 assets takes ~1 ms on one thread, while
# starting numba's thread pool costs several ms per call.
PARALLEL: frozenset[str] = frozenset()
