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

from dataclasses import dataclass
from typing import Mapping, Sequence

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
    """How the engine's working rows map to the book: each row's original account index
    and asset index, and the book's account ids and asset symbols."""

    account: np.ndarray
    asset: np.ndarray
    account_ids: np.ndarray
    assets: Sequence[str]

    @classmethod
    def of(cls, offsets: np.ndarray, asset: np.ndarray, account_order: np.ndarray, account_ids: np.ndarray,
           assets: Sequence[str]) -> "BookRows":
        """``offsets``/``asset`` of the working arrays, ``account_order[j]`` the original
        index of working account ``j``."""
        working = np.repeat(np.arange(offsets.shape[0] - 1, dtype=np.int64), np.diff(offsets))
        return cls(np.asarray(account_order)[working], np.asarray(asset), account_ids, tuple(assets))

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


def trades_table(flows: np.ndarray, rows: BookRows, per_asset: Sequence[AssetFlow]) -> pd.DataFrame:
    """The ``trades`` table: per-account rows from ``flows`` (rows x ``N_FLOWS``, in the
    order of ``rows``), then the per-asset ``per_asset`` flows; zero flows are left out.
    Rows are ordered by party, account (book order; a party's per-asset rows last), asset
    and kind."""
    # a frame only where a flow is non-zero: building an empty DataFrame costs ~1 ms, and a
    # short simulation's whole run can be a few of those
    parts = [_account_part(flows, rows, party, kind, col, sign) for party, kind, col, sign in ACCOUNT_KINDS
             if flows[:, col].any()]
    got = flows[:, FLOW_SEIZED] - flows[:, FLOW_FEE]
    got_usd = flows[:, FLOW_USD + FLOW_SEIZED] - flows[:, FLOW_USD + FLOW_FEE]
    if got.any():
        parts.append(_frame(rows, np.flatnonzero(got != 0.0), "liquidators", "received", got, got_usd))
    for f in per_asset:
        hit = np.flatnonzero(np.asarray(f.amount) != 0.0)
        if not hit.size:
            continue
        parts.append(pd.DataFrame({
            "party": f.party, "account_id": np.full(hit.shape[0], rows.no_account, dtype=rows.account_ids.dtype),
            "asset": [rows.assets[i] for i in hit], "kind": f.kind, "amount": np.asarray(f.amount, float)[hit],
            # after every account's rows of the party
            "usd": np.asarray(f.usd, float)[hit], "_account": np.iinfo(np.int64).max, "_asset": hit,
        }))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if out is None:
        return _empty(rows)
    out["_party"] = out["party"].map({p: i for i, p in enumerate(PARTIES)})
    out = out.sort_values(["_party", "_account", "_asset", "kind"], kind="stable", ignore_index=True)
    return out[list(COLUMNS)]


def _account_part(flows, rows: BookRows, party: str, kind: str, col: int, sign: float) -> pd.DataFrame:
    hit = np.flatnonzero(flows[:, col] != 0.0)
    return _frame(rows, hit, party, kind, sign * flows[:, col], sign * flows[:, FLOW_USD + col])


def _frame(rows: BookRows, hit: np.ndarray, party: str, kind: str, amount: np.ndarray, usd: np.ndarray):
    acct = rows.account[hit]
    asset = rows.asset[hit]
    return pd.DataFrame({
        "party": party, "account_id": rows.account_ids[acct], "asset": [rows.assets[i] for i in asset], "kind": kind,
        "amount": amount[hit], "usd": usd[hit], "_account": acct, "_asset": asset,
    })


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
    a = out.arrays
    if out.tallies.flows.shape[0] != a.asset.shape[0]:
        raise ValueError("this cascade kept no per-row trades (run it with trades=True)")
    rows = BookRows.of(a.offsets, a.asset, out.account_order, model.book.account_ids, model.assets)
    t = out.totals
    return trades_table(out.tallies.flows, rows, [
        AssetFlow("liquidators", "sold", -t["sold"], -t["proceeds"]),
        AssetFlow("liquidators", "bought", t["bought"], t["bought_cost"]),
    ])
