"""The tables of a finished simulation (columns as :mod:`.schema` names them)."""

from __future__ import annotations

from typing import Collection, Mapping

import numpy as np
import pandas as pd

from liqcascade.engine.dynamic.schema import ASSETS, EVENTS, STEPS, TRADES
from liqcascade.engine.dynamic.state import RunInputs, SimulationState
from liqcascade.engine.result import Result, _clean
from liqcascade.engine.trades import AssetFlow, BookRows, trades_table
from liqcascade.errors import ConfigError
from liqcascade.protocols.flows import FLOW_RETURNED, FLOW_USD


def tracked_assets(run: RunInputs, st: SimulationState) -> np.ndarray:
    """Asset indexes the tables show: on the path, or whose reference or oracle moved, or seized."""
    rec = st.records
    moved = (np.ptp(rec.reference, axis=0) > 0) | (np.ptp(rec.oracle, axis=0) > 0) | (st.totals.seized > 0)
    on_path = {run.model.assets.index(a) for a in run.path.assets}
    return np.array(sorted(set(np.flatnonzero(moved)) | on_path), dtype=np.int64)


def steps_table(run: RunInputs, st: SimulationState, cols: np.ndarray) -> pd.DataFrame:
    rec, nb, m = st.records, run.n_blocks, len(cols)
    per_block = {
        "eligible_accounts": rec.eligible, "accounts_liquidated": rec.liquidated, "liquidation_calls": rec.calls,
        "left_unprofitable": rec.unprofitable, "left_over_capacity": rec.over_capacity,
        "waiting_latency": rec.waiting, "collateral_seized_usd": rec.seized_usd, "debt_repaid_usd": rec.repaid_usd,
        "bad_debt_written_off_usd": rec.written_off_usd, "eligible_shortfall_usd": rec.shortfall_usd,
        "gas_gwei": rec.gas_gwei,
    }
    data = {
        "block": np.repeat(np.arange(nb), m),
        "time": np.repeat(run.times, m),
        "asset": np.tile(np.asarray(run.model.assets, dtype=object)[cols], nb),
        "reference_price": rec.reference[:, cols].ravel(),
        "market_price": rec.market[:, cols].ravel(),
        "oracle_price": rec.oracle[:, cols].ravel(),
        **{name: np.repeat(values, m) for name, values in per_block.items()},
    }
    return pd.DataFrame({name: data[name] for name in STEPS.names})


def events_table(run: RunInputs, st: SimulationState) -> pd.DataFrame:
    if not st.events:
        return pd.DataFrame(columns=EVENTS.names)
    ids = run.model.book.account_ids[run.book.perm[np.concatenate([e.account for e in st.events])]]
    ev = pd.DataFrame(
        {
            "block": np.concatenate([np.full(len(e.account), e.block) for e in st.events]),
            "account_id": ids,
            "calls": np.concatenate([e.calls for e in st.events]),
            "collateral_seized_usd": np.concatenate([e.seized_usd for e in st.events]),
            "debt_repaid_usd": np.concatenate([e.repaid_usd for e in st.events]),
            "bad_debt_written_off_usd": np.concatenate([e.bad_debt_usd for e in st.events]),
            "expected_profit_usd": np.concatenate([e.expected_profit_usd for e in st.events]),
        }
    )
    ev.insert(1, "time", run.times[ev["block"].to_numpy()])
    return ev[EVENTS.names]


def assets_table(run: RunInputs, st: SimulationState, cols: np.ndarray) -> pd.DataFrame:
    rec, totals = st.records, st.totals
    rows = []
    for i, a in enumerate(run.model.assets):
        if totals.seized[i] or totals.repaid[i] or totals.returned[i] or i in cols:  # returned: LLAMMA's stablecoin
            rows.append({
                "asset": a,
                "price_start": float(rec.reference[0, i]),
                "reference_min": float(rec.reference[:, i].min()),
                "market_min": float(rec.market[:, i].min()),
                "oracle_min": float(rec.oracle[:, i].min()),
                "reference_end": float(rec.reference[-1, i]),
                **{name: float(v[i]) for name, v in totals.items()},
                "inventory_end": float(st.inventory[i]),
            })
    out = pd.DataFrame(rows)
    return out[ASSETS.names] if rows else out


def summary_row(run: RunInputs, st: SimulationState) -> dict[str, object]:
    """One row: the rules' facts, the run's totals and end state, the aftermarket's facts."""
    model, rules, rec, after = run.model, run.model.rules, st.records, st.aftermarket
    nb, o_final, arrays = run.n_blocks, st.o_prev, st.arrays
    everyone = np.arange(model.book.n_accounts, dtype=np.int64)
    end = rules.health(arrays, o_final, everyone)
    below = (end.hf < 1.0) & (end.collateral_usd > 0)
    shortfall = float(np.clip(end.debt_usd[below] - end.collateral_usd[below], 0.0, None).sum())
    bs = float(run.path.block_seconds)
    first_b, last_b = st.first_eligible_block, st.last_liquidation_block
    clear = cleared(run, st)
    return {
        **rules.describe(),
        **rules.outcome_facts(arrays, o_final),
        "accounts": model.book.n_accounts,
        "blocks": nb,
        "block_seconds": bs,
        **totals_row(run, st),
        "below_hf1_accounts_end": int(below.sum()),
        "below_hf1_debt_usd_end": float(end.debt_usd[below].sum()),
        "shortfall_end_usd": shortfall,
        "eligible_accounts_end": int(rec.eligible[-1]) if nb else 0,
        "left_unprofitable_block_max": int(rec.unprofitable.max()) if nb else 0,
        "left_over_capacity_block_max": int(rec.over_capacity.max()) if nb else 0,
        "first_eligible_block": first_b,
        "last_liquidation_block": last_b,
        "cleared": clear,
        # from the first eligible account to the last liquidation, when everything cleared
        "time_to_clear_s": ((last_b - first_b + 1) * bs if first_b >= 0 and last_b >= first_b else 0.0)
        if clear else float("nan"),
        "inventory_unsold_usd": float((st.inventory * rec.market[-1]).sum()) if nb else 0.0,
        "protocol_holdings_usd": float((after.holdings() * rec.market[-1]).sum()) if after is not None and nb else 0.0,
        **(after.facts() if after is not None else {}),
    }


def totals_row(run: RunInputs, st: SimulationState) -> dict[str, object]:
    """The summary's totals, from ``accounts_liquidated`` to ``bad_debt_before_usd`` (a Monte
    Carlo path's row reads these without the rest of the summary)."""
    rules, tallies, after, arrays, o_final = run.model.rules, st.tallies, st.aftermarket, st.arrays, st.o_prev
    everyone = np.arange(run.model.book.n_accounts, dtype=np.int64)
    # what was already unrecoverable before the run, valued at the same (final) prices
    before = rules.unrecoverable_debt(run.book.base, o_final, everyone)
    unrec_before = float(before.sum())
    changed = changed_accounts(run.book.base, arrays) if run.capabilities.unrecoverable_from_health else None
    if changed is None:
        unrec = float(rules.unrecoverable_debt(arrays, o_final, everyone).sum())
    else:  # an account whose rows are as they were has the same value: only the others are read again
        now = before.copy()
        now[changed] = rules.unrecoverable_debt(arrays, o_final, changed)
        unrec = float(now.sum())  # the same array, summed the same way, as the pass over everyone
    # auctions and store-front sales that finished short (Maker: debt the lot did not cover)
    after_bad = float(after.facts().get("auction_bad_debt_usd", 0.0)) if after is not None else 0.0
    return {
        "accounts_liquidated": int(np.flatnonzero(tallies.acct_calls > 0).size),
        "liquidation_calls": int(tallies.acct_calls.sum()),
        "collateral_seized_usd": float(tallies.acct_seized_usd.sum()),
        "debt_repaid_usd": float(tallies.acct_repaid_usd.sum()),
        "liquidator_proceeds_usd": float(st.totals.proceeds.sum()),
        "bad_debt_written_off_usd": float(tallies.acct_bad_debt_usd.sum()),
        "bad_debt_unrecoverable_usd": unrec - unrec_before,
        "bad_debt_aftermarket_usd": after_bad,
        "bad_debt_usd": float(tallies.acct_bad_debt_usd.sum()) + unrec - unrec_before + after_bad,
        "bad_debt_before_usd": unrec_before,
    }


def changed_accounts(base, arrays) -> np.ndarray | None:
    """The accounts (ascending) some of whose amounts differ between two books of one layout,
    parameters and no per-account state (None when they do not share them: any may differ)."""
    if not (arrays.offsets is base.offsets and arrays.asset is base.asset and arrays.params is base.params
            and arrays.aux is base.aux and arrays.state is None and base.state is None):
        return None
    rows = np.flatnonzero((arrays.coll != base.coll) | (arrays.debt != base.debt))
    return np.unique(np.searchsorted(arrays.offsets, rows, side="right") - 1).astype(np.int64)


def cleared(run: RunInputs, st: SimulationState) -> bool:
    """Whether no account was left eligible at the last block."""
    return bool(run.n_blocks and st.records.eligible[-1] == 0)


def trades(run: RunInputs, st: SimulationState) -> pd.DataFrame:
    """The ``trades`` table (:mod:`liqcascade.engine.trades`): the accounts' flows from the
    kernels' per-row tallies; the liquidators' sales into the venues and the protocol's own
    sales (bought by liquidators) and returns, per asset."""
    a, t = st.arrays, st.totals
    rows = BookRows.listed(a.offsets, a.asset, run.book.perm, run.model.book)
    # what the protocol's sales handed back, from the rows (``totals.returned`` also counts
    # the stablecoin arbitrageurs pay into crvUSD's bands: the accounts' ``received``)
    returned, returned_usd = np.zeros(len(run.model.assets)), np.zeros(len(run.model.assets))
    np.add.at(returned, a.asset, st.tallies.flows[:, FLOW_RETURNED])
    np.add.at(returned_usd, a.asset, st.tallies.flows[:, FLOW_USD + FLOW_RETURNED])
    out = trades_table(st.tallies.flows, rows, [
        AssetFlow("liquidators", "sold", -t.sold, -t.proceeds),
        AssetFlow("liquidators", "bought", t.protocol_sold, t.protocol_proceeds),
        AssetFlow("protocol", "sold", -t.protocol_sold, -t.protocol_proceeds),
        AssetFlow("protocol", "returned", -returned, -returned_usd),
    ])
    return out[TRADES.names]


TABLES = ("summary", "steps", "events", "assets", "trades")
"""The tables of a simulation's result (``conflicts`` too when the book moves)."""


def build_result(run: RunInputs, st: SimulationState, config: Mapping[str, object] | None,
                 tables: Collection[str] | None = None) -> Result:
    """The result's tables; ``tables`` (names from :data:`TABLES`) builds only those (a Monte
    Carlo path reads three of them: the ``events`` and ``trades`` tables were a fifth of its time)."""
    want = TABLES if tables is None else tuple(tables)
    unknown = [t for t in want if t not in TABLES]
    if unknown:
        raise ConfigError("<python>", "tables", f"names of a simulation's tables {list(TABLES)}", unknown[0])
    cols = tracked_assets(run, st)
    build = {"summary": lambda: pd.DataFrame([summary_row(run, st)]), "steps": lambda: steps_table(run, st, cols),
             "events": lambda: _clean(events_table(run, st)), "assets": lambda: assets_table(run, st, cols),
             "trades": lambda: trades(run, st)}
    out = {name: build[name]() for name in TABLES if name in want}
    if st.owners is not None:
        from liqcascade.engine.dynamic.owners import conflicts_table, owner_facts

        out["conflicts"] = conflicts_table(run, st.owners)
        if "summary" in out:
            out["summary"] = out["summary"].assign(**owner_facts(st.owners, run.model))
    return Result("simulation", out, dict(config or {}))
