"""Maker's liquidation kernels (plain Python; the shared loops of
:mod:`liqcascade.protocols.mechanisms.kernels_python` call them, compiled per protocol).

``bonus`` (per key, see ``ParamTable``) is chop - 1. Two kernels:

- :data:`KERNEL` (instant): ``bark`` and an auction taken at ``price * (1 - keeper
  margin)``; collateral beyond the tab returns to the vault.
- :data:`BARK_KERNEL`: ``bark`` alone; the protocol keeps the lot and the debt for the
  auctions the dynamic engine runs (``maker/clipper.py``). The tab is capped by the Dog's
  room in ``state`` (``ST_DOG_ROOM``, and each ilk's at ``N_STATE + 2 a`` for collateral
  asset ``a``), which each bark lowers; a capped bark is partial, with the ilk's ``dust``
  (USD, ``state[N_STATE + 2 a + 1]``) as in ``dog.sol``: a vault it would leave dusty is
  barked whole, a partial auction that would itself be dusty is not made
  (``maker/fast.py`` ``dog_bark``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from liqcascade.protocols.maker.fast import BARK_DUSTY_PARTIAL, BARK_NONE, BARK_PARTIAL, dog_bark, instant_take
from liqcascade.protocols.mechanisms.kernels_python import (
    N_STATE,
    ST_DOG_ROOM,
    Call,
    KernelSpec,
    apply_pair,
    no_call,
    pick_pair,
)


class MakerParams(NamedTuple):
    keeper_margin: float
    """Discount to the market price at which keepers take an auction (instant kernel)."""
    tip: float
    """The Clipper's flat reward to the keeper who barks (DAI; bark kernel)."""
    chip: float
    """The Clipper's reward to the keeper who barks, as a share of the tab (bark kernel)."""


def next_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state):
    """``bark`` and an auction taken at once on the vault of rows ``s:e`` (a ``Call``)."""
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, key, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0 or w >= d_total:
        return no_call()
    pc = prices[asset[rc]]
    pd = prices[asset[rd]]
    debt_usd = debt[rd] * pd
    sold, raised, returned, shortfall = instant_take(coll[rc], pc, debt_usd, 1.0 + bonus[key[rc]], mp.keeper_margin)
    covered = raised if raised < debt_usd else debt_usd
    return Call(rc, rd, covered / pd, sold, 0.0, raised / pd, sold, 0.0, shortfall / pd, 0.0, 0.0, 0.0)


def apply_call(k, s, e, call, rows, mp, state, acc):
    """The collateral beyond the tab stays with the vault; the debt is gone (what the
    auction did not cover is written off)."""
    apply_pair(k, call, rows, acc)
    rows.debt[call.rd] = 0.0
    return True


def bark_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state):
    """``bark`` alone on the vault of rows ``s:e`` (a ``Call``): the lot and the debt go to
    an auction the caller runs over time; the keeper who barks earns tip + chip * tab. The
    Dog puts up at most its room (min(Hole - Dirt, hole - dirt)) as tab: a partial bark
    takes the same share of the debt and the collateral (dart = room / (rate * chop), dink
    = ink * dart / art), with the ilk's dust rules (``dog_bark``)."""
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, key, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0 or w >= d_total:
        return no_call()
    j = N_STATE + 2 * asset[rc]
    tab = debt[rd] * prices[asset[rd]] * (1.0 + bonus[key[rc]])
    room = min(state[ST_DOG_ROOM], state[j])
    case, f = dog_bark(tab, 1.0 + bonus[key[rc]], room, state[j + 1])
    if case == BARK_NONE or case == BARK_DUSTY_PARTIAL:
        return no_call()
    if case != BARK_PARTIAL:
        return Call(rc, rd, debt[rd], coll[rc], coll[rc], 0.0, 0.0, mp.tip + mp.chip * tab, 0.0, 0.0, 0.0, 0.0)
    sz = coll[rc] * f
    return Call(rc, rd, debt[rd] * f, sz, sz, 0.0, 0.0, mp.tip + mp.chip * room, 0.0, 0.0, 0.0, 0.0)


def use_room(state, j, tab):
    """Lower the Dog's room ``state[j]`` by a bark's ``tab`` (left at inf when unlimited;
    a rounding remainder below 1e-9 of it is none)."""
    r = state[j]
    if np.isinf(r):
        return
    left = r - tab
    state[j] = left if left > 1e-9 * r else 0.0


def apply_bark(k, s, e, call, rows, mp, state, acc):
    """The protocol takes the lot and the debt barked (all, or the share the room allows)
    and the Dog's room falls by the tab; the vault is done at these prices."""
    apply_pair(k, call, rows, acc)
    tab = call.repaid * rows.prices[rows.asset[call.rd]] * (1.0 + rows.bonus[rows.key[call.rc]])
    use_room(state, ST_DOG_ROOM, tab)
    use_room(state, N_STATE + 2 * rows.asset[call.rc], tab)
    return True


FUNCTIONS = {"instant_take": instant_take, "next_call": next_call, "apply_call": apply_call}
KERNEL = KernelSpec("maker", FUNCTIONS)
BARK_FUNCTIONS = {"dog_bark": dog_bark, "use_room": use_room, "next_call": bark_call, "apply_call": apply_bark}
BARK_KERNEL = KernelSpec("maker_bark", BARK_FUNCTIONS)
