"""Keeper-managed owners: vaults run by an automation bot (DeFi Saver-style "repay" and
"boost"), told apart from the others by their history and fitted a band (pure NumPy/pandas;
the history is read in :mod:`liqcascade.execution.backtest`).

What marks a bot
----------------
A bot's adjustment is one transaction that moves both sides of the vault: a *repay* withdraws
collateral, sells it and repays debt with the proceeds; a *boost* draws debt, buys collateral
and deposits it. In the owners' records that is a **two-sided block**: a withdrawal and a
repayment (or a draw and a deposit) of the same vault in the same block. A person opening a
vault also deposits and draws in one block, so one or two such blocks say little; a bot makes
many. An owner is *keeper-managed* when, in the ``lookback_s`` before the window, its vault
has at least ``min_pairs`` two-sided blocks of which at least one is a repay (the bot
protects; a boost-only history shows no protective trigger to fit).

The band
--------
Each protective repay block (one that raised the ratio) gives the collateralisation
(collateral value / debt) just before it and just after it, at the opening price of its hour
(about the OSM's next price of that hour, which is what the bot reads). The **trigger** is the
median ratio before those repays (the bot repaid when its next price fell there; a repay that
lowered the ratio trimmed collateral and says nothing of the trigger), the **target** the
median ratio after them (where it put the vault back), and **max_repay** the most debt it
repaid in one block: what the recorded flows show it could move at once. The replay gives
these owners the OSM's next price one hop ahead (:mod:`liqcascade.engine.dynamic.keepers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from liqcascade.errors import ConfigError

HISTORY_COLUMNS = ("account", "block", "kind", "ratio_before", "ratio_after", "repaid")
"""One row per recorded action before the window: ``kind`` in deposit, withdraw, borrow,
repay; ``ratio_*`` the vault's collateral value / debt just before and after the action's
block (NaN without debt or price); ``repaid`` debt tokens repaid by the action (0 if none)."""


@dataclass(frozen=True)
class KeeperRule:
    """How an owner is classified keeper-managed (module docstring)."""

    min_pairs: int = 5
    lookback_s: int = 90 * 86400

    def __post_init__(self) -> None:
        if self.min_pairs < 1 or self.lookback_s <= 0:
            raise ConfigError("<python>", "KeeperRule", "min_pairs >= 1 and lookback_s > 0",
                              (self.min_pairs, self.lookback_s))


@dataclass(frozen=True)
class KeeperFit:
    """The classifier's result: per owner seen in the history, its two-sided blocks, repays,
    and (keeper-managed owners only) trigger, target and max_repay."""

    table: pd.DataFrame
    """account, pairs, repays, keeper (bool), trigger, target, max_repay."""

    @property
    def keepers(self) -> pd.DataFrame:
        """The keeper-managed owners' rows (account, trigger, target, max_repay)."""
        k = self.table[self.table["keeper"]]
        return k[["account", "trigger", "target", "max_repay"]].reset_index(drop=True)


def _blocks(history: pd.DataFrame) -> pd.DataFrame:
    """One row per (account, block): its kinds, the ratio before the block's first action and
    after its last, the debt repaid."""
    h = history.reset_index(drop=True)
    g = h.groupby(["account", "block"], sort=True)
    kinds = g["kind"].agg(lambda k: frozenset(k))
    out = pd.DataFrame({"kinds": kinds, "before": g["ratio_before"].first(), "after": g["ratio_after"].last(),
                        "repaid": g["repaid"].sum()}).reset_index()
    out["repay_pair"] = out["kinds"].map(lambda k: {"withdraw", "repay"} <= k)
    out["boost_pair"] = out["kinds"].map(lambda k: {"borrow", "deposit"} <= k)
    return out


def fit_keepers(history: pd.DataFrame, rule: KeeperRule = KeeperRule()) -> KeeperFit:
    """Classify every owner of ``history`` (:data:`HISTORY_COLUMNS`, already cut to the
    lookback) and fit the keeper-managed owners' bands (module docstring)."""
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ConfigError("<python>", "history", f"columns {list(HISTORY_COLUMNS)}", missing)
    cols = ["account", "pairs", "repays", "keeper", "trigger", "target", "max_repay"]
    if history.empty:
        return KeeperFit(pd.DataFrame({c: [] for c in cols}).astype({"keeper": bool}))
    b = _blocks(history)
    b["pair"] = b["repay_pair"] | b["boost_pair"]
    g = b.groupby("account")
    # protective repays only: a withdraw-and-repay that lowered the ratio was a bot trimming collateral
    rep = b[b["repay_pair"] & np.isfinite(b["before"]) & (b["after"] > b["before"])].groupby("account")
    t = pd.DataFrame({"pairs": g["pair"].sum().astype(np.int64), "repays": g["repay_pair"].sum().astype(np.int64)})
    t = t.join(pd.DataFrame({"trigger": rep["before"].median(), "target": rep["after"].median(),
                             "max_repay": rep["repaid"].max()}))
    band = (t["target"] > t["trigger"]) & (t["trigger"] > 0) & (t["max_repay"] > 0)
    t["keeper"] = (t["pairs"] >= rule.min_pairs) & (t["repays"] >= 1) & band.fillna(False)
    t.loc[~t["keeper"], ["trigger", "target", "max_repay"]] = np.nan
    return KeeperFit(t.reset_index()[cols])


@dataclass(frozen=True)
class KeeperBook:
    """Keeper-managed owners as the engine takes them: per owner its account label, the HF
    below which (at the OSM's next price) its bot repays, the HF it restores, and the most
    debt tokens it repays in one block (the account's largest debt row)."""

    account: np.ndarray
    trigger_hf: np.ndarray
    target_hf: np.ndarray
    max_repay: np.ndarray
    source: str = "<keepers>"

    def __post_init__(self) -> None:
        n = len(self.account)
        for name in ("trigger_hf", "target_hf", "max_repay"):
            v = np.asarray(getattr(self, name), dtype=np.float64)
            if v.shape != (n,) or not np.all(np.isfinite(v)) or np.any(v <= 0):
                raise ConfigError(self.source, f"keepers.{name}", f"{n} finite numbers > 0", v.shape)
        bad = np.flatnonzero(np.asarray(self.target_hf) <= np.asarray(self.trigger_hf))
        if bad.size:
            raise ConfigError(self.source, "keepers.target_hf", "a target above the trigger on every row",
                              f"row {int(bad[0]) + 1}")
        if len(set(np.asarray(self.account).astype(str).tolist())) != n:
            raise ConfigError(self.source, "keepers.account", "each account once", "a repeated account")


__all__ = ["HISTORY_COLUMNS", "KeeperBook", "KeeperFit", "KeeperRule", "fit_keepers"]
