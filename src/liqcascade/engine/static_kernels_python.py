"""The static solver's own loops in plain Python (compiled by numba in ``engine/static_kernels.py``)."""

from __future__ import annotations


def reset_touched(upto, offsets, touched, q, hf0, amounts, base, usd, counts):
    """Undo one cascade on the accounts ``0..upto-1`` (working positions) of a solver's buffers.

    Every account's HF bound ``q`` goes back to its HF0 (a sweep refreshes the bound of each
    account it checks). Each account marked in ``touched`` gets the base book's amounts back on
    its rows (``amounts = (coll, debt)`` from ``base = (coll, debt)``), zero tallies (``usd =
    (seized, repaid, bad debt)``, ``counts = (calls, blocked)``) and its mark cleared. Right
    only for rules that change the rows and tallies of no account they do not mark
    (``Capabilities.touched_only``): an unmarked account's rows and tallies are not read.
    One pass in account order: the marks and bounds are read and written in sequence, and
    only the touched accounts' rows are written (a cascade at a small shock touches few).
    """
    coll, debt = amounts
    base_coll, base_debt = base
    seized_usd, repaid_usd, bad_debt_usd = usd
    calls, blocked = counts
    for k in range(upto):
        q[k] = hf0[k]
        if touched[k]:
            for r in range(offsets[k], offsets[k + 1]):
                coll[r] = base_coll[r]
                debt[r] = base_debt[r]
            seized_usd[k] = 0.0
            repaid_usd[k] = 0.0
            bad_debt_usd[k] = 0.0
            calls[k] = 0
            blocked[k] = 0
            touched[k] = False


FUNCTIONS = {"reset_touched": reset_touched}
