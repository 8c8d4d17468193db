"""Owners across the markets of a system, and the stablecoins its markets issue, as tables.

An owner links accounts of several markets (``SystemModel.owners``): DAI minted on Maker and
supplied on Aave, wstETH looped across Aave and Morpho. Each market still liquidates each
account by its own rules; these tables only add up, per owner, what happened to the owner's
accounts.

- :func:`owner_table` -- one row per owner: positions (accounts), markets, the markets where
  an account of the owner was liquidated, collateral and debt at the reference prices,
  collateral seized and debt repaid (USD at the prices of the calls), the owner's loss to
  liquidation (seized - repaid: the bonus and the protocol fees paid) and bad debt left;
- :func:`coin_table` -- one row per issued stablecoin of a static run;
- :func:`peg_round_table` -- per round and pegged coin, its supply and peg arbitrage.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from liqcascade.engine.system import IssuedCoin, SystemModel, SystemOutcome
from liqcascade.engine.system_pegs import PEG_ROUND_COLUMNS, PegState

OWNER_COLUMNS = (
    "owner", "positions", "markets", "markets_liquidated", "accounts_liquidated", "collateral_usd_before",
    "debt_usd_before", "collateral_seized_usd", "debt_repaid_usd", "loss_usd", "bad_debt_usd",
)
OUTCOME_COLUMNS = ("collateral_seized_usd", "debt_repaid_usd", "bad_debt_usd", "liquidation_calls")
"""What :func:`owner_table` reads per account from each market's outcome frame."""
COIN_COLUMNS = ("asset", "issuer", "buy_share", "price_reference", "price_shocked", "price_final", "price_change",
                "debt_repaid", "bought", "bought_cost_usd", "rounds_bought")
PEG_COLUMNS = ("supply_start", "supply_end", "psm_minted", "psm_burnt", "psm_gem_start", "psm_gem_end", "redeemed",
               "redemption_debt_cancelled", "redemption_collateral_drawn", "redemption_collateral_fee",
               "redemption_cost_usd", "troves_closed", "base_rate_end")
"""Added to ``stablecoins`` when a coin declares a supply, a PSM or redemptions (a system
without them keeps its table as it was)."""


def owned_accounts(system: SystemModel, outcomes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every linked account: market, account_id, owner, collateral and debt USD at the
    reference prices, and its outcome (``OUTCOME_COLUMNS``; 0 where the account was not touched).
    ``outcomes`` holds per market a frame with ``account_id`` and ``OUTCOME_COLUMNS``."""
    parts = []
    for name, labels in system.owners.items():
        m = system.markets[name]
        labels = np.asarray(labels, dtype=object)
        linked = np.flatnonzero(pd.notna(labels))
        if not linked.size:
            continue
        b, p = m.book, np.asarray(m.prices, dtype=np.float64)
        coll = np.bincount(b.account, weights=b.collateral * p[b.asset], minlength=b.n_accounts)
        debt = np.bincount(b.account, weights=b.debt * p[b.asset], minlength=b.n_accounts)
        frame = pd.DataFrame({"market": name, "account_id": b.account_ids[linked], "owner": labels[linked],
                              "collateral_usd_before": coll[linked], "debt_usd_before": debt[linked]})
        got = outcomes.get(name)
        if got is not None and len(got):
            # matched as text: a market whose book grew during a run (new accounts) has text labels
            per = got.groupby(got["account_id"].astype(str), sort=False)[list(OUTCOME_COLUMNS)].sum()
            key = frame["account_id"].astype(str)
            for col in OUTCOME_COLUMNS:
                frame[col] = key.map(per[col])
        for col in OUTCOME_COLUMNS:
            frame[col] = frame[col].fillna(0.0) if col in frame else 0.0
        parts.append(frame)
    cols = ["market", "account_id", "owner", "collateral_usd_before", "debt_usd_before", *OUTCOME_COLUMNS]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def owner_table(system: SystemModel, outcomes: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per owner (sorted by label; columns ``OWNER_COLUMNS``), from
    :func:`owned_accounts`. ``markets`` and ``markets_liquidated`` list market names joined by
    ``+`` in the system's market order."""
    acc = owned_accounts(system, outcomes)
    if not len(acc):
        return pd.DataFrame(columns=list(OWNER_COLUMNS))
    order = {n: k for k, n in enumerate(system.names)}
    acc = acc.assign(owner=acc["owner"].astype(str), liquidated=acc["liquidation_calls"] > 0,
                     rank=acc["market"].map(order)).sort_values(["owner", "rank"], kind="stable")
    g = acc.groupby("owner", sort=True)
    out = g.agg(
        positions=("account_id", "size"),
        collateral_usd_before=("collateral_usd_before", "sum"),
        debt_usd_before=("debt_usd_before", "sum"),
        collateral_seized_usd=("collateral_seized_usd", "sum"),
        debt_repaid_usd=("debt_repaid_usd", "sum"),
        bad_debt_usd=("bad_debt_usd", "sum"),
        accounts_liquidated=("liquidated", "sum"),
    )
    out["markets"] = g["market"].agg(lambda s: "+".join(dict.fromkeys(s)))
    hit = acc[acc["liquidated"]].groupby("owner", sort=True)["market"].agg(lambda s: "+".join(dict.fromkeys(s)))
    out["markets_liquidated"] = hit.reindex(out.index).fillna("")
    # what liquidation cost the owner beyond the debt it cancelled: the bonus and the fees
    out["loss_usd"] = out["collateral_seized_usd"] - out["debt_repaid_usd"]
    out["accounts_liquidated"] = out["accounts_liquidated"].astype(np.int64)
    return out.reset_index()[list(OWNER_COLUMNS)]


def static_outcomes(accounts: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per market, the static run's ``accounts`` table (touched accounts) as owner outcomes."""
    return {str(n): f for n, f in accounts.groupby("market", sort=False)} if len(accounts) else {}


def dynamic_outcomes(events: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per market, a simulation's ``events`` (one row per liquidated account and block) as
    owner outcomes (bad debt: what was written off on the account)."""
    if not len(events):
        return {}
    e = events.rename(columns={"bad_debt_written_off_usd": "bad_debt_usd", "calls": "liquidation_calls"})
    return {str(n): f for n, f in e.groupby("market", sort=False)}


def coin_table(system: SystemModel, out: SystemOutcome) -> pd.DataFrame:
    """One row per issued coin whose issuer ran: its price before the cascade and at the
    end (its venue's marginal price), the issuer's debt repaid in it (burnt), the tokens
    liquidators bought on its venue for that and their cost."""
    rows = []
    tr = out.trace
    share = {c.asset: c.buy_share for c in system.issued}
    coins = {c.asset: c for c in system.issued}
    for a, t in out.coins.items():
        i = system.assets.index(a)
        rows.append({
            "asset": a, "issuer": t.issuer, "buy_share": float(share[a]), "price_reference": float(tr.prices0[i]),
            "price_shocked": float(tr.prices_shocked[i]), "price_final": float(tr.prices_final[i]),
            "price_change": float(tr.prices_final[i] / tr.prices_shocked[i] - 1.0), "debt_repaid": t.repaid,
            "bought": t.bought, "bought_cost_usd": t.cost_usd, "rounds_bought": t.rounds,
            **peg_fields(coins[a], t.peg),
        })
    cols = COIN_COLUMNS + (PEG_COLUMNS if any(c.pegged for c in system.issued) else ())
    return pd.DataFrame(rows, columns=cols)


def peg_fields(coin: IssuedCoin, st: PegState | None) -> dict[str, float]:
    """A coin's :data:`PEG_COLUMNS` from its end state (NaN where it declares nothing)."""
    if st is None:
        return dict.fromkeys(PEG_COLUMNS, math.nan)
    gem0 = math.nan if coin.psm is None else float(coin.psm.gem_balance)
    return {
        "supply_start": math.nan if coin.supply is None else float(coin.supply), "supply_end": st.supply,
        "psm_minted": st.minted, "psm_burnt": st.psm_burnt, "psm_gem_start": gem0,
        "psm_gem_end": math.nan if coin.psm is None else st.gem, "redeemed": st.redeemed,
        "redemption_debt_cancelled": st.debt_cancelled, "redemption_collateral_drawn": st.collateral_drawn,
        "redemption_collateral_fee": st.collateral_fee, "redemption_cost_usd": st.redemption_cost_usd,
        "troves_closed": float(st.troves_closed),
        "base_rate_end": math.nan if coin.redemptions is None else st.base_rate,
    }


def peg_round_table(out: SystemOutcome) -> pd.DataFrame:
    """``stablecoin_rounds``: per static round and pegged coin, the arbitrage at the round's
    start (:data:`~liqcascade.engine.system_pegs.PEG_ROUND_COLUMNS`)."""
    rows = [r for t in out.coins.values() if t.peg is not None for r in t.peg.log]
    return pd.DataFrame(rows, columns=list(PEG_ROUND_COLUMNS))
