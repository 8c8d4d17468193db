"""Per-row flows of a static cascade, kept only for the accounts it liquidated.

The ``trades`` table needs what each call took from or cleared on each holding (``Tallies.flows``).
Recording them during the cascade needs a rows x ``N_FLOWS`` array over the whole book (the
kernels sweep the book in parallel chunks and write each row where it lies), most of it zeros: on
a 1M-account book a third or less of the rows belong to liquidated accounts. Instead the cascade
runs without flows, and the liquidated accounts alone are run again: a book of only their rows (as
they were before the shock), swept at each round's prices in turn, with flows for those rows only.

That gives the same numbers bit for bit when an account's calls depend only on its own rows, the
round's prices and the limits -- rules without global effects (Liquity's redistribution moves other
troves), without soft liquidation (LLAMMA's bands move before any call), without mutable scalars
(``BookArrays.state``), under the max close strategy (the others plan calls on the live venues):
each account then goes through the same calls in the same rounds in both runs, and a row's flows
are the sums of its calls in call order. The skipping bounds of the sweep skip only accounts that
cannot be eligible: the replay uses them as the cascade did (each account's bound starts at its
HF0 and moves with the rounds' price-move bound), so an account is checked in the replay when it was
in the cascade, or was outside the prefix the cascade looked at and so cannot be eligible. :func:`replay_flows` also checks
the result: the replayed accounts' rows and per-account tallies must equal the cascade's, bit for
bit, or it returns None (and the caller runs the cascade again with flows over the whole book).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Sequence

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.protocols.base import BookArrays, LiquidationLimits, LiquidationRules, ParamTable, Tallies

ACCOUNT_FIELDS = ("acct_seized_usd", "acct_repaid_usd", "acct_bad_debt_usd", "acct_calls", "acct_blocked")


@dataclass(frozen=True)
class RowFlows:
    """Flows of some working rows: ``flows[i]`` (``N_FLOWS`` columns) belongs to working row
    ``rows[i]``; the rows in the order the tables list accounts in (by original account, or for a
    book in health order by its ``output_rank``; an account's rows in turn)."""

    rows: np.ndarray
    flows: FloatArray
    accounts: np.ndarray
    """The original account of each of ``rows``."""


def replayable(rules: LiquidationRules, base: BookArrays, strategy: str) -> bool:
    """Whether :func:`replay_flows` can give a cascade's flows (see the module docstring)."""
    caps = rules.capabilities
    return (strategy == "max_close" and not caps.global_effects and not caps.soft_liquidation
            and base.state is None)


def replay_flows(
    rules: LiquidationRules, base: BookArrays, end: BookArrays, tallies: Tallies, touched: np.ndarray,
    account_order: np.ndarray, hf0: FloatArray, swept: Sequence[tuple[FloatArray, float]], limits: LiquidationLimits,
    row_index, output_rank: np.ndarray | None = None,
) -> RowFlows | None:
    """The flows of the rows of the ``touched`` accounts (working positions; ``account_order``:
    their original indexes, ``hf0``: their HF at the reference prices) of a cascade that started
    from ``base`` and ended at ``end`` with per-account ``tallies``, whose rounds swept the book
    at the prices and price-move bounds ``swept`` (in order); None when the replay does not end
    where the cascade did. ``row_index(starts, counts)`` spells out the rows of accounts.
    The rows are in the order the tables list accounts in: by original index, or by
    ``output_rank[original index]`` when given (a book in health order, ``PositionBook.output_rank``)."""
    acc = np.flatnonzero(touched)
    # in the tables' order: the trades table reads the flows in that order (each account is
    # replayed on its own, so the order of the replayed book does not change its numbers). The
    # rows of the replayed book are gathered out of working order here, once, rather than the
    # flows (16 columns a row) read out of memory order by the table
    listed = account_order[acc] if output_rank is None else output_rank[account_order[acc]]
    acc = acc[order_of_distinct(listed, account_order.shape[0])]
    del listed
    offsets = base.offsets
    counts = np.diff(offsets)[acc]
    rows = row_index(offsets[:-1][acc], counts)
    sub_offsets = np.zeros(acc.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=sub_offsets[1:])
    sub = replace(_take_rows(base, rows, base.coll.shape[0]), offsets=sub_offsets)
    n = acc.shape[0]
    t = Tallies.zeros(tallies.seized.shape[0], n, rows.shape[0])
    marks = np.zeros(n, dtype=np.bool_)
    q = hf0[acc]  # the skipping bounds, as the cascade starts them (the sweep refreshes them)
    for p, cum_bound in swept if n else ():
        t.reset_assets()
        rules.sweep(sub, p, n, t, limits, marks, q, cum_bound)
    same = (marks.all() and np.array_equal(sub.coll, end.coll[rows]) and np.array_equal(sub.debt, end.debt[rows])
            and all(np.array_equal(getattr(t, f), getattr(tallies, f)[acc]) for f in ACCOUNT_FIELDS))
    if not same:
        return None
    return RowFlows(rows.astype(np.int64, copy=False), t.flows, np.repeat(account_order[acc], counts))


def _take_rows(value, rows: np.ndarray, n_rows: int):
    """``value`` (a book's arrays, or a record of them) with every per-row array (``n_rows``
    long) cut to ``rows``; tables, scalars and None as they are. Generic over the fields, so
    that a column the rules add to :class:`BookArrays` is carried without an edit here."""
    if isinstance(value, ParamTable):  # per-key tables stay whole, whatever their length
        return replace(value, key=value.key[rows])
    if isinstance(value, np.ndarray):
        return value[rows] if value.ndim and value.shape[0] == n_rows else value
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: _take_rows(getattr(value, f.name), rows, n_rows)
                                 for f in fields(value) if f.init})
    return value


def order_of_distinct(keys: np.ndarray, n: int) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for distinct ``keys`` in ``0..n-1`` (accounts' numbers):
    each key's position put at the key, then read in key order (two passes, no comparison sort)."""
    at = np.empty(n, dtype=np.int64)
    at[keys] = np.arange(keys.shape[0])
    present = np.zeros(n, dtype=bool)
    present[keys] = True
    return at[present]
