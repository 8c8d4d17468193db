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
has at least ``min_pairs`` two-sided blocks of which at least one is a repay, or at least
``min_boosts`` are *boosts*: a draw and a deposit that lowered the ratio of a vault already in
debt (an opening has no debt before it). Boosting is automation's other half (DeFi Saver and
Instadapp run both): over the shipped ETH-B history most owners who boost this way later
deleverage in bot fashion (docs/backtests.md, "Boosts").

The band
--------
Each protective repay block (one that raised the ratio) gives the collateralisation
(collateral value / debt) just before it and just after it, at the opening price of its hour
(about the OSM's next price of that hour, which is what the bot reads). The **trigger** is the
median ratio before those repays (the bot repaid when its next price fell there; a repay that
lowered the ratio trimmed collateral and says nothing of the trigger), the **target** the
median ratio after them (where it put the vault back), and **max_repay** the most debt it
repaid in one block: what the recorded flows show it could move at once. An owner qualified
by its boosts before any protective repay gets the band of its boosts: the **trigger** the
lowest ratio a boost left the vault at (the bot drew it there itself, so it repays only
below), the **target** the median ratio after its boosts (where it holds the vault), and
**max_repay** the most debt it drew in one boost (the ``drawn`` column; without it no
boost band). The replay gives these owners the OSM's next price one hop ahead
(:mod:`liqcascade.engine.dynamic.keepers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from liqcascade.errors import ConfigError

HISTORY_COLUMNS = ("account", "block", "kind", "ratio_before", "ratio_after", "repaid")
"""One row per recorded action before the window: ``kind`` in deposit, withdraw, borrow,
repay; ``ratio_*`` the vault's collateral value / debt just before and after the action's
block (NaN without debt or price); ``repaid`` debt tokens repaid by the action (0 if none).
An optional ``time`` column (Unix s, non-decreasing with ``block`` per account) joins actions
less than ``KeeperRule.pair_gap_s`` apart into one operation and dates the owners' onsets; an
optional ``drawn`` column (debt tokens drawn by the action, 0 if none) gives boost-only owners
their ``max_repay`` (module docstring)."""


@dataclass(frozen=True)
class KeeperRule:
    """How an owner is classified keeper-managed (module docstring)."""

    min_pairs: int = 5
    lookback_s: int = 90 * 86400
    pair_gap_s: int = 600
    """Actions of one vault less than this apart are one operation (a deleverage in several
    transactions); 600 s, one replay block of the ETH-B windows."""
    min_boosts: int = 3
    """Boosts (module docstring) that, with ``min_pairs`` two-sided operations, qualify an
    owner without a repay."""

    def __post_init__(self) -> None:
        if self.min_pairs < 1 or self.lookback_s <= 0 or self.pair_gap_s < 0 or self.min_boosts < 1:
            raise ConfigError("<python>", "KeeperRule",
                              "min_pairs >= 1, lookback_s > 0, pair_gap_s >= 0 and min_boosts >= 1",
                              (self.min_pairs, self.lookback_s, self.pair_gap_s, self.min_boosts))


@dataclass(frozen=True)
class KeeperFit:
    """The classifier's result: per owner seen in the history, its two-sided blocks, repays,
    and (keeper-managed owners only) trigger, target and max_repay."""

    table: pd.DataFrame
    """account, pairs, repays, keeper (bool), trigger, target, max_repay, active_from (Unix s
    from which the owner is keeper-managed: -inf for an owner qualified before the window)."""

    @property
    def keepers(self) -> pd.DataFrame:
        """The keeper-managed owners' rows (account, trigger, target, max_repay, active_from)."""
        k = self.table[self.table["keeper"]]
        return k[["account", "trigger", "target", "max_repay", "active_from"]].reset_index(drop=True)


def operations(history: pd.DataFrame, gap_s: int) -> pd.DataFrame:
    """One row per operation of an account (module docstring): its kinds, the ratio before its
    first action and after its last, the debt repaid and drawn, and its first and last action's time."""
    h = history.reset_index(drop=True)
    if "drawn" not in h.columns:
        h = h.assign(drawn=0.0)
    if "time" in h.columns:
        h = h.sort_values(["account", "time", "block"], kind="stable")
        t = h["time"].to_numpy(dtype=np.float64)
        # a new operation where the account changes or its action comes gap_s or more after the last
        new = np.ones(len(h), dtype=bool)
        same = h["account"].to_numpy()[1:] == h["account"].to_numpy()[:-1]
        new[1:] = ~same | (np.diff(t) >= max(gap_s, 1e-9))
        h = h.assign(op=np.cumsum(new), t=t)
    else:
        h = h.sort_values(["account", "block"], kind="stable").assign(t=-np.inf)
        h = h.assign(op=h.groupby(["account", "block"], sort=False).ngroup())
    g = h.groupby(["account", "op"], sort=True)
    out = pd.DataFrame({"kinds": g["kind"].agg(lambda k: frozenset(k)), "before": g["ratio_before"].first(),
                        "after": g["ratio_after"].last(), "repaid": g["repaid"].sum(), "drawn": g["drawn"].sum(),
                        "start": g["t"].min(),
                        "end": g["t"].max()}).reset_index()
    out["repay_pair"] = out["kinds"].map(lambda k: {"withdraw", "repay"} <= k)
    out["boost_pair"] = out["kinds"].map(lambda k: {"borrow", "deposit"} <= k)
    out["pair"] = out["repay_pair"] | out["boost_pair"]
    # a boost: draw-and-deposit that lowered the ratio of a vault in debt before it (not an opening)
    out["boost"] = out["boost_pair"] & ~out["repay_pair"] & np.isfinite(out["before"]) & (out["after"] < out["before"])
    # protective repays only: a withdraw-and-repay that lowered the ratio was a bot trimming collateral
    out["protective"] = out["repay_pair"] & np.isfinite(out["before"]) & (out["after"] > out["before"])
    return out.sort_values(["account", "start"], kind="stable").reset_index(drop=True)


def _band(ops: pd.DataFrame, min_boosts: int) -> tuple[float, float, float] | None:
    """(trigger, target, max_repay) of an owner's operations, or None without a valid band:
    from its protective repays, or without any from its boosts if at least ``min_boosts``."""
    p = ops[ops["protective"]]
    if not p.empty:
        trigger, target, cap = float(p["before"].median()), float(p["after"].median()), float(p["repaid"].max())
    else:
        b = ops[ops["boost"]]
        if len(b) < min_boosts:
            return None
        trigger, target, cap = float(b["after"].min()), float(b["after"].median()), float(b["drawn"].max())
    return (trigger, target, cap) if target > trigger > 0 and cap > 0 else None


def _classify(ops: pd.DataFrame, rule: KeeperRule, start: float) -> dict:
    """One owner's row: counts over all its operations; keeper-managed from the first moment
    its operations so far (those before ``start`` together) qualify it, with their band."""
    n = len(ops)
    before = int((ops["start"] < start).sum())
    # the record before the window, then the record up to each operation in it
    cut = [before] + [i + 1 for i in range(before, n)]
    row = {"pairs": int(ops["pair"].sum()), "repays": int(ops["repay_pair"].sum()), "keeper": False,
           "trigger": np.nan, "target": np.nan, "max_repay": np.nan, "active_from": np.nan}
    for k in cut:
        seen = ops.iloc[:k]
        if int(seen["pair"].sum()) < rule.min_pairs or not (
                seen["repay_pair"].any() or int(seen["boost"].sum()) >= rule.min_boosts):
            continue
        band = _band(seen, rule.min_boosts)
        if band is None:
            continue
        row.update(keeper=True, trigger=band[0], target=band[1], max_repay=band[2],
                   active_from=-np.inf if k == before else float(seen["end"].iloc[-1]))
        break
    return row


def fit_keepers(history: pd.DataFrame, rule: KeeperRule = KeeperRule(), start: float = np.inf) -> KeeperFit:
    """Classify every owner of ``history`` (:data:`HISTORY_COLUMNS`, already cut to the
    lookback) and fit the keeper-managed owners' bands (module docstring). Actions from
    ``start`` (Unix s; needs the ``time`` column) are the window's: an owner they qualify is
    keeper-managed from then on (``active_from``); by default every action is before it."""
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ConfigError("<python>", "history", f"columns {list(HISTORY_COLUMNS)}", missing)
    if np.isfinite(start) and "time" not in history.columns:
        raise ConfigError("<python>", "history", "a time column to split the history at start",
                          list(history.columns))
    cols = ["account", "pairs", "repays", "keeper", "trigger", "target", "max_repay", "active_from"]
    if history.empty:
        return KeeperFit(pd.DataFrame({c: [] for c in cols}).astype({"keeper": bool}))
    ops = operations(history, rule.pair_gap_s)
    rows = [{"account": a, **_classify(g, rule, start)} for a, g in ops.groupby("account", sort=True)]
    return KeeperFit(pd.DataFrame(rows)[cols])


@dataclass(frozen=True)
class KeeperBook:
    """Keeper-managed owners as the engine takes them: per owner its account label, the HF
    below which (at the OSM's next price) its bot repays, the HF it restores, the most debt
    tokens it repays in one block (the account's largest debt row), and the time (Unix s)
    from which it acts (``active_from``; None: every owner from the start)."""

    account: np.ndarray
    trigger_hf: np.ndarray
    target_hf: np.ndarray
    max_repay: np.ndarray
    source: str = "<keepers>"
    active_from: np.ndarray | None = None
    idle_move: np.ndarray | None = None
    """Per owner, the oracle's movement (sum of absolute log changes) since its owner's last
    recorded action, at the run's start (None: 0 for every owner)."""
    max_idle_move: float = np.inf
    """A bot counts as stopped while the oracle has moved more than this since its owner's last
    recorded action (a bot that stops leaves no record: only its silence while the price moves
    shows it; inf: bots never stop)."""

    def __post_init__(self) -> None:
        n = len(self.account)
        if self.idle_move is not None:
            v = np.asarray(self.idle_move, dtype=np.float64)
            if v.shape != (n,) or not np.all(np.isfinite(v)) or np.any(v < 0):
                raise ConfigError(self.source, "keepers.idle_move", f"{n} finite numbers >= 0", v.shape)
        if not self.max_idle_move > 0:
            raise ConfigError(self.source, "keepers.max_idle_move", "a number > 0 (inf: never stops)",
                              self.max_idle_move)
        if self.active_from is not None:
            v = np.asarray(self.active_from, dtype=np.float64)
            if v.shape != (n,) or np.any(np.isnan(v)) or np.any(v == np.inf):
                raise ConfigError(self.source, "keepers.active_from", f"{n} times (Unix s, -inf: from the start)",
                                  v.shape)
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


__all__ = ["HISTORY_COLUMNS", "KeeperBook", "KeeperFit", "KeeperRule", "fit_keepers", "operations"]
