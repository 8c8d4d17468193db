"""Morpho Blue's liquidation kernel (plain Python; the shared loops of
:mod:`liqcascade.protocols.mechanisms.kernels_python` call it, compiled per protocol).

``bonus`` (per key, see ``ParamTable``) is the LIF - 1. One call takes the whole debt or all the collateral;
debt left without collateral is written off (socialized to the market's suppliers).
"""

from __future__ import annotations

from typing import NamedTuple

from liqcascade.protocols.mechanisms.kernels_python import (
    KernelSpec,
    apply_pair,
    no_call,
    pair_call,
    pick_pair,
    write_off_if_bare,
)
from liqcascade.protocols.morpho_blue.fast import liquidate_all as morpho_call


class MorphoParams(NamedTuple):
    """Morpho Blue has no scalar of its own: the LLTV and LIF are per row."""


def next_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state):
    """The next ``liquidate`` on the position of rows ``s:e`` (a ``Call``)."""
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, key, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0 or w >= d_total:
        return no_call()
    # the debt the collateral does not cover is written off by apply_call
    rep, sz, bad = morpho_call(coll[rc], prices[asset[rc]], debt[rd], prices[asset[rd]], 1.0 + bonus[key[rc]])
    return pair_call(rc, rd, rep, sz, 0.0)


def apply_call(k, s, e, call, rows, mp, state, acc):
    """Carry out the call; write off what no collateral is left against (then done)."""
    apply_pair(k, call, rows, acc)
    return write_off_if_bare(k, s, e, rows, acc)


FUNCTIONS = {"morpho_call": morpho_call, "next_call": next_call, "apply_call": apply_call}
KERNEL = KernelSpec("morpho_blue", FUNCTIONS)
