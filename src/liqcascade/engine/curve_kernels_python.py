"""The cascade curve's loops in plain Python (compiled by numba in ``engine/curve_kernels.py``)."""

from __future__ import annotations

import numpy as np

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


MASK_BYTES = 4
"""Bytes of an account's asset masks that :func:`held_bounds` reads (a fixed count: the loop
over them is unrolled)."""

MASK_ASSETS = 8 * MASK_BYTES
"""Most assets a market may have for the held-asset bounds (:func:`asset_masks`)."""

def asset_masks(offsets, asset, coll, debt, cmask, dmask):
    """Per account ``k`` (rows ``offsets[k]:offsets[k+1]``), the bits of the assets it holds as
    collateral (``coll > 0``) in ``cmask[k]`` and owes (``debt > 0``) in ``dmask[k]``; assets
    below :data:`MASK_ASSETS`."""
    for k in range(offsets.shape[0] - 1):
        c = 0
        d = 0
        for r in range(offsets[k], offsets[k + 1]):
            bit = 1 << np.int64(asset[r])
            if coll[r] > 0.0:
                c |= bit
            if debt[r] > 0.0:
                d |= bit
        cmask[k] = c
        dmask[k] = d


def byte_extremes(ratio, lo_tab, hi_tab):
    """Lookup tables of the lowest and highest of ``ratio`` over sets of assets: for each byte
    ``j < MASK_BYTES`` of a mask (assets ``8 j .. 8 j + 7``; ``lo_tab`` and ``hi_tab`` are
    ``MASK_BYTES x 256``) and each value ``v`` of that byte,
    ``lo_tab[j, v]`` is the lowest ``ratio[8 j + i]`` over the bits ``i`` set in ``v``
    (``inf`` for none) and ``hi_tab[j, v]`` the highest (``-inf`` for none). A mask's extremes
    are then a lookup a byte, without a loop over its bits."""
    n = ratio.shape[0]
    for j in range(MASK_BYTES):
        for v in range(256):
            lo = np.inf
            hi = -np.inf
            for i in range(8):
                a = 8 * j + i
                if (v >> i) & 1 and a < n:
                    lo = min(lo, ratio[a])
                    hi = max(hi, ratio[a])
            lo_tab[j, v] = lo
            hi_tab[j, v] = hi


def held_bounds(upto, cum, lo_tab, hi_tab, hf0, cmask, dmask, touched, q):
    """Tighten the HF bounds ``q`` of the accounts among ``0..upto-1`` that no liquidation has
    touched in this cascade by the prices of the assets each one holds.

    Such an account has its reference rows, whose HF is ``hf0[k]``. For rules whose counted
    collateral value is a sum over the account's collateral rows of amount x price x a factor
    that does not depend on the prices, and its debt value one over its debt rows of amount x
    price (``Capabilities.priced_by_rows``), its HF at prices ``ratio`` times the reference
    ones is at least ``hf0[k] * min(ratio over cmask[k]) / max(ratio over dmask[k])``: every
    collateral term falls at most by the lowest of its assets' ratios, every debt term rises at
    most by the highest (the extremes from the tables of :func:`byte_extremes` of ``ratio``, a
    lookup a byte of the masks). Lowered by :data:`BOUND_SAFETY` and times ``cum`` (the round's
    ``cum_bound``, as the sweep keeps ``q``), it replaces ``q[k]`` when larger. The sweep's
    bound takes the extremes over every asset; an account holding none of the assets that
    moved most keeps its HF, and the round skips it without reading its rows.

    Every account is visited without a branch (selects, a fixed number of lookups): most
    would fail a test of whether the round checks it at random, and a mispredicted branch
    costs more than the bound.
    """
    for k in range(upto):
        c = cmask[k]
        d = dmask[k]
        lo = np.inf
        hi = -np.inf
        for j in range(MASK_BYTES):
            lo = min(lo, lo_tab[j, (c >> (8 * j)) & 255])
            hi = max(hi, hi_tab[j, (d >> (8 * j)) & 255])
        b = hf0[k] * (lo / hi) * BOUND_SAFETY * cum
        ok = (c != 0) & (d != 0) & (not touched[k])  # an account without debt or collateral: no bound
        q[k] = max(q[k], b if ok else 0.0)


FUNCTIONS = {
    "first_round_bounds": first_round_bounds, "split_values": split_values, "asset_masks": asset_masks,
    "byte_extremes": byte_extremes, "held_bounds": held_bounds,
}
