"""A liquidation outcome as signed trades per asset: the ``trades`` table of static and
block-by-block results.

Each row is one party's net flow of one asset of one kind over the run, in tokens
(``amount``) and USD (``usd``, the value at the prices of the calls or sales, with the
same sign). The sign is the change of the party's balance of that asset: the account's
collateral (``seized`` < 0, ``received`` > 0) or its debt (``repaid`` < 0, ``written_off``
< 0; Liquity's redistribution moves collateral and debt between troves: < 0 on the
liquidated trove, > 0 on those that receive it; ``returned`` > 0: collateral the
protocol's own sales handed back); the liquidators' holdings (``received`` > 0: what the
calls gave them, ``sold`` < 0: what they sold into the venues, ``bought`` > 0: the debt
they bought back there in the static engine, the collateral they bought from the
protocol's own sales block by block); the protocol's (``fee`` > 0: the share of the seized
collateral it or its pool keeps; ``sold`` < 0 and ``returned`` < 0: what its own sales,
auctions or store front, sold to buyers and handed back to accounts; the buyers are
liquidators, whose ``bought`` then includes it).

Account-side rows come from the kernels' per-row ``Tallies.flows``, one per (account,
asset, kind); the liquidators' ``received`` and the protocol's ``fee`` are per account
too; sales and purchases in the venues are per asset (``account_id`` is then -1, or ""
when the book's ids are text). The sums over the rows are the run's tallies (tested):
per asset, the accounts' ``seized`` is the liquidators' ``received`` plus the protocol's
``fee``, the liquidators' ``received`` plus their ``sold`` is what they still hold, and
the accounts' ``repaid`` and ``written_off`` are the debt repaid and written off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from liqcascade.protocols.flows import (
    FLOW_FEE,
    FLOW_RECEIVED,
    FLOW_REDIST_COLL,
    FLOW_REDIST_DEBT,
    FLOW_REPAID,
    FLOW_RETURNED,
    FLOW_SEIZED,
    FLOW_USD,
    FLOW_WRITTEN_OFF,
)

COLUMNS = ("party", "account_id", "asset", "kind", "amount", "usd")
PARTIES = ("account", "liquidators", "protocol")

ACCOUNT_KINDS = (
    ("account", "seized", FLOW_SEIZED, -1.0),
    ("account", "received", FLOW_RECEIVED, 1.0),
    ("account", "returned", FLOW_RETURNED, 1.0),
    ("account", "repaid", FLOW_REPAID, -1.0),
    ("account", "written_off", FLOW_WRITTEN_OFF, -1.0),
    ("account", "redistributed_collateral", FLOW_REDIST_COLL, 1.0),
    ("account", "redistributed_debt", FLOW_REDIST_DEBT, 1.0),
    ("protocol", "fee", FLOW_FEE, 1.0),
)
"""(party, kind, flows column, sign) of the per-account rows (the liquidators' ``received``
is seized - fee, added apart)."""


@dataclass(frozen=True)
class BookRows:
    """How the engine's working rows map to the book: the working arrays' ``offsets`` and
    ``asset``, ``account_order[j]`` the original index of working account ``j``, and the
    book's account ids and asset symbols."""

    offsets: np.ndarray
    asset: np.ndarray
    account_order: np.ndarray
    account_ids: np.ndarray
    assets: Sequence[str]

    @classmethod
    def of(cls, offsets: np.ndarray, asset: np.ndarray, account_order: np.ndarray, account_ids: np.ndarray,
           assets: Sequence[str]) -> "BookRows":
        return cls(np.asarray(offsets), np.asarray(asset), np.asarray(account_order), account_ids, tuple(assets))

    @classmethod
    def listed(cls, offsets: np.ndarray, asset: np.ndarray, account_order: np.ndarray, book) -> "BookRows":
        """The rows of ``book`` (a ``PositionBook``) with its accounts numbered in the order it
        lists them: a book in health order as the book it was made from (``output_rank``), so
        that its tables are that book's."""
        rank = book.output_rank
        if rank is None:
            return cls.of(offsets, asset, account_order, book.account_ids, book.assets)
        ids = np.empty_like(book.account_ids)
        ids[rank] = book.account_ids
        return cls.of(offsets, asset, rank[account_order], ids, book.assets)

    def account(self, row: np.ndarray) -> np.ndarray:
        """The original account index of working rows ``row``: looked up for the few rows
        with a flow rather than spelled out for every row of the book."""
        return self.account_order[np.searchsorted(self.offsets, row, side="right") - 1]

    @property
    def no_account(self):
        """The ``account_id`` of rows that belong to no account (a party's sales)."""
        return "" if self.account_ids.dtype.kind in "OUS" else -1


@dataclass(frozen=True)
class AssetFlow:
    """A party's flow of one kind per asset (tokens and USD, signed as the table)."""

    party: str
    kind: str
    amount: np.ndarray
    usd: np.ndarray


@dataclass(frozen=True)
class _Rows:
    """Rows of the table: one party's flows, as arrays (``account``: the original account
    index, :data:`_NO_ACCOUNT` for per-asset rows; ``kind``: codes into ``kinds``)."""

    party: int
    account: np.ndarray
    asset: np.ndarray
    kind: np.ndarray
    kinds: tuple[str, ...]
    amount: np.ndarray
    usd: np.ndarray

    @classmethod
    def of_kind(cls, party: int, kind: str, account: np.ndarray, asset: np.ndarray, amount: np.ndarray,
                usd: np.ndarray) -> "_Rows":
        return cls(party, account, asset, np.zeros(amount.shape[0], dtype=np.int64), (kind,), amount, usd)


_NO_ACCOUNT = np.iinfo(np.int64).max
"""The sort key of a party's per-asset rows: after every account's rows of the party."""


def trades_table(flows: np.ndarray, rows: BookRows, per_asset: Sequence[AssetFlow],
                 flow_rows: np.ndarray | None = None, flow_accounts: np.ndarray | None = None) -> pd.DataFrame:
    """The ``trades`` table: per-account rows from ``flows`` (rows x ``N_FLOWS``, in the
    order of ``rows``; or, given ``flow_rows`` and ``flow_accounts``, ``flows[i]`` is working row
    ``flow_rows[i]``'s, listed in the table's account order already, the replay's
    :class:`~liqcascade.engine.flow_replay.RowFlows`, and ``flow_accounts[i]`` its account's index
    into ``rows.account_ids``), then the per-asset ``per_asset`` flows; zero flows are left out.
    Rows are ordered by party, account (book order; a party's per-asset rows last), asset and
    kind."""
    if flow_rows is not None:
        return _listed_table(flows, rows, per_asset, rows.asset[flow_rows], flow_accounts)
    # only the liquidated accounts' rows have flows: one pass finds them, everything after
    # works on those, and the frame is built once
    live = np.flatnonzero((flows[:, :FLOW_USD] != 0.0).any(axis=1))
    account, asset = rows.account(live), rows.asset[live]
    holding = account * np.int64(len(rows.assets)) + asset
    if not np.all(holding[1:] > holding[:-1]):  # not in book order already
        order = _stable_argsort(holding)
        holding = holding[order]
        if np.any(holding[1:] == holding[:-1]):  # an account with two rows of one asset
            return _sorted_table(flows, live, account, asset, rows, per_asset)
        live, account, asset = live[order], account[order], asset[order]
    return _in_order_table(flows, live, account, asset, rows, per_asset)


def _listed_table(flows: np.ndarray, rows: BookRows, per_asset: Sequence[AssetFlow], asset: np.ndarray,
                  account: np.ndarray) -> pd.DataFrame:
    """:func:`trades_table` of flows whose rows come in the table's account order (``account``:
    each row's index into ``rows.account_ids``, telling accounts apart): only an account's rows out
    of asset order (two rows of one holding) need the sort, by the accounts' order of appearance."""
    new = np.ones(asset.shape[0], dtype=np.bool_)
    np.not_equal(account[1:], account[:-1], out=new[1:])
    if np.any(~new[1:] & (asset[1:] <= asset[:-1])):
        listed = replace(rows, account_ids=rows.account_ids[account[new]])
        return _sorted_table(flows, np.arange(flows.shape[0]), np.cumsum(new) - 1, asset, listed, per_asset)
    return _in_order_table(flows, None, account, asset, rows, per_asset)


def _in_order_table(flows: np.ndarray, live: np.ndarray | None, account: np.ndarray, asset: np.ndarray,
                    rows: BookRows, per_asset: Sequence[AssetFlow]) -> pd.DataFrame:
    """The table of rows of distinct holdings in (account, asset) order: a party's rows are its
    kinds of each row in turn, and the table's rows need no sort."""
    by_party = [_asset_rows([a for a in per_asset if PARTIES.index(a.party) == party])
                for party in range(len(PARTIES))]
    cols = _party_rows(flows, live, account, asset, by_party, rows)
    if not cols.amount.shape[0]:
        return _empty(rows)
    return _columns_frame(cols, rows)


@dataclass(frozen=True)
class _Columns:
    """The table's rows as arrays, party by party: party ``p``'s are ``start[p]:start[p + 1]``,
    its per-account rows and then its per-asset rows; ``kind``: codes into ``kinds``;
    ``account_id``: the column itself (``ids``) or, when not, original account indexes (per-asset
    rows: ``_NO_ACCOUNT``)."""

    start: np.ndarray
    account_id: np.ndarray
    ids: bool
    asset: np.ndarray
    kind: np.ndarray
    kinds: tuple[str, ...]
    amount: np.ndarray
    usd: np.ndarray


class _Kind(NamedTuple):
    """A per-account kind of the table: ``flows[col] - flows[sub]`` (``sub`` -1: none) times
    ``sign``, written only when some row has ``flows[gate]`` (-1: always)."""

    name: str
    col: int
    sub: int
    sign: float
    gate: int


def _kind_spec() -> list[list[_Kind]]:
    """Per party (in :data:`PARTIES` order), its per-account kinds, by name: a kind no row has gives no table row; the
    liquidators' ``received`` (seized - fee) is there when some row has a seizure (its gate)."""
    out = []
    for party in range(len(PARTIES)):
        kinds = sorted((kind, col, sign) for p, kind, col, sign in ACCOUNT_KINDS if PARTIES.index(p) == party)
        if kinds:
            out.append([_Kind(kind, col, -1, sign, -1) for kind, col, sign in kinds])
        elif PARTIES[party] == "liquidators":
            out.append([_Kind("received", FLOW_SEIZED, FLOW_FEE, 1.0, FLOW_SEIZED)])
        else:
            out.append([])
    return out


def _party_rows(flows: np.ndarray, live: np.ndarray | None, account: np.ndarray, asset: np.ndarray,
                per_asset: Sequence[Sequence[_Rows]], rows: BookRows) -> _Columns:
    """The table's rows: each party's per-account rows from the rows ``live`` of ``flows`` (all
    when None), in (account, asset) order, ordered by row and then kind (by name), then its
    per-asset rows ``per_asset[party]`` (none or one part). One compiled kernel finds and writes
    the per-account rows, in two passes over the rows (``engine.kernels.flow_hits``), into
    columns with room for the per-asset rows."""
    from liqcascade.engine import kernels

    spec = _kind_spec()
    kinds = tuple(sorted({k.name for party in spec for k in party} | {k for ps in per_asset for p in ps for k in p.kinds}))
    flat = [(party, k) for party in range(len(PARTIES)) for k in spec[party]]
    ids = rows.account_ids.dtype == np.int64  # the id column written at once (text ids: looked up after)
    account = np.asarray(account, dtype=np.int64)
    extra = np.array([sum(p.amount.shape[0] for p in ps) for ps in per_asset], dtype=np.int64)
    every = live is None
    start, acc, ast, kind, amount, usd = kernels.flow_hits(
        flows, np.empty(0, dtype=np.int64) if every else np.asarray(live, dtype=np.int64), every,
        np.array([k.col for _, k in flat], dtype=np.int64), np.array([k.sub for _, k in flat], dtype=np.int64),
        np.array([k.sign for _, k in flat], dtype=np.float64), np.array([p for p, _ in flat], dtype=np.int64),
        np.array([kinds.index(k.name) for _, k in flat], dtype=np.int64),
        np.array([k.gate for _, k in flat], dtype=np.int64), len(PARTIES), FLOW_USD,
        rows.account_ids[account] if ids else account, np.asarray(asset, dtype=np.int64), extra)
    for party, ps in enumerate(per_asset):  # the per-asset rows into the room left for them
        at = int(start[party + 1]) - int(extra[party])
        for p in ps:
            to = slice(at, at + p.amount.shape[0])
            acc[to] = rows.no_account if ids else _NO_ACCOUNT
            ast[to], amount[to], usd[to] = p.asset, p.amount, p.usd
            kind[to] = np.array([kinds.index(k) for k in p.kinds], dtype=np.int64)[p.kind]
            at = to.stop
    return _Columns(start, acc, ids, ast, kind, kinds, amount, usd)


def _columns_frame(cols: _Columns, rows: BookRows) -> pd.DataFrame:
    """The frame of :func:`_party_rows`'s columns (each party's label repeated, not looked up row
    by row; the account ids looked up only for text ids)."""
    import pyarrow as pa

    n = np.diff(cols.start)
    party = pa.concat_arrays([pa.repeat(pa.scalar(PARTIES[p], pa.large_string()), int(n[p]))
                              for p in range(len(PARTIES)) if n[p]])
    account_id = cols.account_id
    if not cols.ids:
        account_id = np.full(cols.account_id.shape[0], rows.no_account, dtype=rows.account_ids.dtype)
        has = cols.account_id != _NO_ACCOUNT
        account_id[has] = rows.account_ids[cols.account_id[has]]
    return pd.DataFrame({
        "party": pd.Series(pd.array(party, dtype=pd.Series([""]).dtype)), "account_id": account_id,
        "asset": _labels(cols.asset, rows.assets), "kind": _labels(cols.kind, cols.kinds),
        "amount": cols.amount, "usd": cols.usd,
    }, copy=False)  # every column is a fresh array


def _asset_rows(flows: Sequence[AssetFlow]) -> list[_Rows]:
    """One party's per-asset rows, ordered by asset and kind (by name)."""
    if not flows:
        return []
    kinds = tuple(sorted({a.kind for a in flows}))
    hits = [np.flatnonzero(np.asarray(a.amount, float)) for a in flows]
    asset = np.concatenate(hits)
    kind = np.concatenate([np.full(h.shape[0], kinds.index(a.kind)) for a, h in zip(flows, hits)])
    order = np.lexsort((kind, asset))  # stable: an (asset, kind) given twice keeps its order
    amount = np.concatenate([np.asarray(a.amount, float)[h] for a, h in zip(flows, hits)])
    usd = np.concatenate([np.asarray(a.usd, float)[h] for a, h in zip(flows, hits)])
    return [_Rows(PARTIES.index(flows[0].party), np.full(order.shape[0], _NO_ACCOUNT), asset[order], kind[order],
                  kinds, amount[order], usd[order])]


def _sorted_table(flows: np.ndarray, live: np.ndarray, account: np.ndarray, asset: np.ndarray, rows: BookRows,
                  per_asset: Sequence[AssetFlow]) -> pd.DataFrame:
    """The table of a book with two rows of one (account, asset) (a book built without
    :meth:`PositionBook.from_rows`): a part per party and kind, sorted stably by party,
    account, asset and kind."""
    amounts = [flows[live, col] for col in range(FLOW_USD)]
    parts = [_account_rows(flows, live, amounts[col], account, asset, PARTIES.index(party), kind, col, sign)
             for party, kind, col, sign in ACCOUNT_KINDS]
    got = amounts[FLOW_SEIZED] - amounts[FLOW_FEE]
    hit = np.flatnonzero(got)
    parts.append(_Rows.of_kind(PARTIES.index("liquidators"), "received", account[hit], asset[hit], got[hit],
                               flows[live[hit], FLOW_USD + FLOW_SEIZED] - flows[live[hit], FLOW_USD + FLOW_FEE]))
    for a in per_asset:
        amount = np.asarray(a.amount, float)
        hit = np.flatnonzero(amount)
        parts.append(_Rows.of_kind(PARTIES.index(a.party), a.kind, np.full(hit.shape[0], _NO_ACCOUNT), hit,
                                   amount[hit], np.asarray(a.usd, float)[hit]))
    parts = [p for p in parts if p.amount.shape[0]]
    if not parts:
        return _empty(rows)
    kinds = sorted({p.kinds[0] for p in parts})
    # one int64 key (party, account, asset, kind) in bit fields: a stable argsort of it is the
    # stable sort by the four (a third of lexsort's cost)
    b_kind, b_asset = _bits(len(kinds)), _bits(len(rows.assets))
    b_acc = _bits(rows.account_ids.shape[0] + 1)
    no_acc = (1 << b_acc) - 1  # the per-asset rows' account field: after every account
    if b_kind + b_asset + b_acc + _bits(len(PARTIES)) > 63:
        raise ValueError(f"trades table: {rows.account_ids.shape[0]} accounts x {len(rows.assets)} assets "
                         "overflow the int64 sort key")
    key = np.concatenate([
        (((p.party << b_acc | np.minimum(p.account, no_acc)) << b_asset | p.asset) << b_kind) | kinds.index(p.kinds[0])
        for p in parts
    ])
    return _frame(parts, _stable_argsort(key), rows)


def _account_rows(flows: np.ndarray, live: np.ndarray, amount: np.ndarray, account: np.ndarray, asset: np.ndarray,
                  party: int, kind: str, col: int, sign: float) -> _Rows:
    """The rows of one kind: ``amount`` is ``flows[live, col]``."""
    hit = np.flatnonzero(amount)
    return _Rows.of_kind(party, kind, account[hit], asset[hit], sign * amount[hit],
                         sign * flows[live[hit], FLOW_USD + col])


def _frame(parts: Sequence[_Rows], order: np.ndarray, rows: BookRows) -> pd.DataFrame:
    """The frame of ``parts``, concatenated in order and then taken in ``order``."""
    kinds = sorted({k for p in parts for k in p.kinds})

    def column(get) -> np.ndarray:
        return np.concatenate([get(p) for p in parts])[order]

    def ids(p: _Rows) -> np.ndarray:
        if p.account.shape[0] and p.account[0] == _NO_ACCOUNT:  # a part is all per-account or all per-asset
            return np.full(p.account.shape[0], rows.no_account, dtype=rows.account_ids.dtype)
        return rows.account_ids[p.account]

    party = _labels(column(lambda p: np.full(p.amount.shape[0], p.party)), PARTIES)
    return pd.DataFrame({
        "party": party, "account_id": column(ids),
        "asset": _labels(column(lambda p: p.asset), rows.assets),
        "kind": _labels(column(lambda p: np.array([kinds.index(k) for k in p.kinds])[p.kind]), kinds),
        "amount": column(lambda p: p.amount), "usd": column(lambda p: p.usd),
    }, copy=False)  # every column is a fresh array


def _stable_argsort(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` for non-negative int64 keys, as a least-significant-first
    radix sort over 16-bit digits: NumPy sorts 16-bit integers stably by counting, twice as fast
    as its merge sort of int64 on a 1M-account table (whose keys have ~32 bits)."""
    order = np.argsort((key & 0xFFFF).astype(np.uint16), kind="stable")
    rest = key[order] >> 16
    while rest.any():
        step = np.argsort((rest & 0xFFFF).astype(np.uint16), kind="stable")
        order, rest = order[step], rest[step] >> 16
    return order


def _bits(n: int) -> int:
    """Bits that hold the values ``0..n-1``."""
    return max(1, (n - 1).bit_length())


def _labels(codes: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """``labels[codes]`` as the string column pandas builds from Python strings, through Arrow
    (three times faster than from an object array)."""
    import pyarrow as pa

    col = pa.array(list(labels), pa.large_string()).take(pa.array(codes))
    return pd.Series(pd.array(col, dtype=pd.Series([""]).dtype))


def _empty(rows: BookRows) -> pd.DataFrame:
    return pd.DataFrame({
        "party": pd.Series([], dtype=object), "account_id": pd.Series([], dtype=rows.account_ids.dtype),
        "asset": pd.Series([], dtype=object), "kind": pd.Series([], dtype=object),
        "amount": pd.Series([], dtype=float), "usd": pd.Series([], dtype=float),
    })


def totals_by_party(trades: pd.DataFrame) -> Mapping[tuple[str, str, str], float]:
    """Token sums of the table per (party, asset, kind): what the tallies are checked against."""
    return trades.groupby(["party", "asset", "kind"])["amount"].sum().to_dict()


def static_trades(model, out) -> pd.DataFrame:
    """The ``trades`` table of one static cascade (``model``: its market, ``out``: its
    :class:`~liqcascade.engine.static.CascadeOutcome`)."""
    # replayed flows are of touched accounts' rows, all in the working book; flows of every row
    # are read against the whole book
    a = out.arrays if out.flow_rows is None else out.working
    if out.flow_rows is None and out.tallies.flows.shape[0] != a.asset.shape[0]:
        raise ValueError("this cascade kept no per-row trades (run it with trades=True)")
    t = out.totals
    per_asset = [AssetFlow("liquidators", "sold", -t["sold"], -t["proceeds"]),
                 AssetFlow("liquidators", "bought", t["bought"], t["bought_cost"])]
    if out.flow_rows is not None:  # replayed in the tables' order: the ids by original account
        rows = BookRows.of(a.offsets, a.asset, out.account_order, model.book.account_ids, model.book.assets)
        return trades_table(out.tallies.flows, rows, per_asset, out.flow_rows, out.flow_accounts)
    rows = BookRows.listed(a.offsets, a.asset, out.account_order, model.book)
    return trades_table(out.tallies.flows, rows, per_asset)
