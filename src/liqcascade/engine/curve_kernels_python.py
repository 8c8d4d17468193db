"""The cascade curve's loops in plain Python (compiled by numba in ``engine/curve_kernels.py``)."""

from __future__ import annotations

BOUND_SAFETY = 1.0 - 1e-9
"""A point's first-round HF estimate is lowered by this factor before it is used as a bound: the
estimate comes from sums taken at other prices (rounding of relative size ~1e-13 at the shocks a
curve allows), so the bound stays below the HF the sweep computes, far beyond that rounding."""


def first_round_bounds(upto, f, c1, wg, wo, dg, do, q):
    """Tighten the HF bounds ``q`` of accounts ``0..upto-1`` for a cascade's first round.

    Account ``k``'s counted collateral and debt values at prices where the shocked assets stand
    at ``f`` times their reference price are ``wg[k] * f + wo[k]`` and ``dg[k] * f + do[k]`` (the
    shocked assets' part scales, the rest does not). Their ratio, lowered by
    :data:`BOUND_SAFETY`, is a lower bound on its HF at the shocked prices; times ``c1`` (the
    first round's price-move bound, as the sweep keeps ``q``) it replaces ``q[k]`` when larger.
    ``q[k]`` keeps a valid bound either way: the larger of two lower bounds is one.
    """
    for k in range(upto):
        d = dg[k] * f + do[k]
        if d > 0.0:
            b = (wg[k] * f + wo[k]) / d * BOUND_SAFETY * c1
            if b > q[k]:
                q[k] = b


FUNCTIONS = {"first_round_bounds": first_round_bounds}
