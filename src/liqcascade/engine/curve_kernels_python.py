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


def split_values(hf0, d0, hfh, dh, wg, wo, dg, do):
    """Each account's counted collateral value ``w = hf * d`` and debt value ``d`` split into the
    part of a group of assets (``wg``, ``dg``) and the rest (``wo``, ``do``), from its HF and debt
    value at the reference prices (``hf0``, ``d0``) and with the group's prices halved (``hfh``,
    ``dh``): halving the group's prices halves the group's part, so ``v0 - vh`` is half of it.
    An account without debt (its HF a placeholder) gets zeros."""
    for k in range(hf0.shape[0]):
        if d0[k] > 0.0 and dh[k] > 0.0:
            w0 = hf0[k] * d0[k]
            wh = hfh[k] * dh[k]
            wg[k] = 2.0 * (w0 - wh)
            wo[k] = 2.0 * wh - w0
            dg[k] = 2.0 * (d0[k] - dh[k])
            do[k] = 2.0 * dh[k] - d0[k]
        else:
            wg[k] = 0.0
            wo[k] = 0.0
            dg[k] = 0.0
            do[k] = 0.0


FUNCTIONS = {"first_round_bounds": first_round_bounds, "split_values": split_values}
