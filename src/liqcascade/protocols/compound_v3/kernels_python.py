"""Compound v3 (Comet)'s liquidation kernel (plain Python; the shared loops of
:mod:`liqcascade.protocols.mechanisms.kernels_python` call it, compiled per protocol).

``bonus`` (per key, see ``ParamTable``) is 1 - the liquidation factor. ``absorb`` takes every collateral and the
debt; the shortfall comes out of reserves. With ``resale`` the collateral is sold on
(``buyCollateral``); without, the protocol keeps it (reserves at target).
"""

from __future__ import annotations

from typing import NamedTuple

from liqcascade.protocols.compound_v3.fast import absorb_values, store_front_price
from liqcascade.protocols.mechanisms.kernels_python import Call, KernelSpec, add_repaid, add_seized, no_call, pick_pair


class CometParams(NamedTuple):
    store_front_factor: float
    """``storeFrontPriceFactor``: the share of the liquidation discount buyers get."""
    resale: float
    """1: buyers take the absorbed collateral at the store front; 0: the protocol keeps it."""


def next_call(s, e, asset, coll, debt, prices, key, lt, bonus, mp, state):
    """The ``absorb`` of the account of rows ``s:e`` (a ``Call``; ``seized`` is the pair's
    collateral row, the absorb takes every row)."""
    rc, rd, w, c_total, d_total = pick_pair(s, e, asset, coll, debt, prices, key, lt)
    if rc < 0 or rd < 0 or d_total <= 0.0 or w >= d_total:
        return no_call()
    pc = prices[asset[rc]]
    pd = prices[asset[rd]]
    lf_value = 0.0
    coll_value = 0.0  # every collateral at the oracle, USD
    store_value = 0.0  # what buyers pay for all of it at the store front, USD
    for r in range(s, e):
        if lt[key[r]] > 0.0 and coll[r] > 0.0:
            pr = prices[asset[r]]
            lf_value += coll[r] * pr * (1.0 - bonus[key[r]])
            coll_value += coll[r] * pr
            store_value += coll[r] * store_front_price(pr, 1.0 - bonus[key[r]], mp.store_front_factor)
    covered, shortfall, surplus = absorb_values(lf_value, d_total)
    kept = coll[rc] if mp.resale == 0.0 else 0.0
    # resale: buyers take every collateral the absorb took; what they receive is counted
    # in tokens of the pair's collateral (all of it at the oracle over that price), what
    # they pay at each collateral's own store-front price
    received = 0.0 if mp.resale == 0.0 else coll_value / pc
    paid = 0.0 if mp.resale == 0.0 else store_value / pd
    return Call(rc, rd, covered / pd, coll[rc], kept, paid, received, 0.0, shortfall / pd, 0.0, 0.0, 0.0)


def apply_call(k, s, e, call, rows, mp, state, acc):
    """``absorb``: every collateral row and the whole debt; the account is done."""
    for r in range(s, e):
        if rows.lt[rows.key[r]] > 0.0 and rows.coll[r] > 0.0:
            x = rows.coll[r]
            add_seized(k, r, x, x if mp.resale == 0.0 else 0.0, rows, acc)
            rows.coll[r] = 0.0
    rows.debt[call.rd] = 0.0
    add_repaid(k, call.rd, call.repaid, call.written_off, rows, acc)
    return True


FUNCTIONS = {
    "absorb_values": absorb_values, "store_front_price": store_front_price, "next_call": next_call,
    "apply_call": apply_call,
}
KERNEL = KernelSpec("compound_v3", FUNCTIONS)
