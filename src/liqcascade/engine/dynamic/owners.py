"""Owners' actions between blocks, and debt that grows with a fee accumulator.

A book that moves in time: before each block's oracle step the owners' recorded actions
of that block are applied (open, deposit, withdraw, borrow, repay, close), and each debt
asset with an accumulator (Maker's ``rate``) grows by ``rate[b] / rate[b - 1]``.

Policy when an action meets the *simulated* position (which the simulation may already
have liquidated where the real one was not, or the other way round): the action is
**clamped** to what the position allows and the difference is recorded in the
``conflicts`` table (block, account, action, asked, applied, reason):

- ``withdraw`` and ``repay`` take at most the balance there is (``exceeds balance``, or
  ``liquidated`` when the simulation has liquidated the account);
- ``withdraw`` and ``borrow`` go only as far as the account stays at HF >= 1 at the
  oracle's prices before the block (the protocol refuses an unsafe frob: ``unsafe``);
- ``borrow`` leaving a positive debt below the asset's ``dust`` is not applied, and a
  ``repay`` leaving a positive debt below it repays it all
  (``dust``: the protocol refuses a dusty remainder, so the real repayment closed the debt
  and the remainder is the simulated debt's error, e.g. a fee accumulator's);
- ``deposit``, ``open`` and ``close`` always apply (``close`` repays what debt and
  withdraws what collateral the simulated account still has).

New accounts: every (account, asset) pair an action names gets a row in the book before
the run, with zero balances (:func:`extend_model`), so the state never grows in the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np
import pandas as pd

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError
from liqcascade.model.book import PositionBook

ACTIONS = ("open", "deposit", "withdraw", "borrow", "repay", "close")
OPEN, DEPOSIT, WITHDRAW, BORROW, REPAY, CLOSE = range(6)
CONFLICT_COLUMNS = ["block", "time", "account_id", "action", "asset", "asked", "applied", "reason"]
_BISECT = 50  # halvings of the safe amount: 2**-50 of the asked amount


@dataclass(frozen=True)
class OwnerActions:
    """Owners' actions of one run, in application order: ``block`` (the block before whose
    oracle step each applies), ``account`` (labels as text), ``action`` (index into
    :data:`ACTIONS`), ``asset`` (symbol; '' for open and close), ``amount`` (tokens)."""

    block: IntArray
    account: np.ndarray
    action: IntArray
    asset: np.ndarray
    amount: FloatArray
    source: str = "<events>"
    dust: Mapping[str, float] = field(default_factory=dict)
    """Debt asset -> the protocol's least debt (Maker's ``dust``): a repayment leaving a
    positive debt below it repays the rest too (the protocol would have refused the
    recorded one otherwise: the remainder is an artefact of the simulated debt)."""

    def __post_init__(self) -> None:
        n = self.block.shape[0]
        if not all(x.shape == (n,) for x in (self.account, self.action, self.asset, self.amount)):
            raise ConfigError(self.source, "events", "one block, account, action, asset and amount per action")
        if n and (np.any(np.diff(self.block) < 0) or self.block[0] < 0):
            raise ConfigError(self.source, "events.block", "block indexes >= 0 in application order")
        if n and (self.action.min() < 0 or self.action.max() >= len(ACTIONS)):
            raise ConfigError(self.source, "events.action", f"indexes into {list(ACTIONS)}")


@dataclass(frozen=True)
class DebtAccrual:
    """A debt asset's accumulator per block (Maker's ``rate``): its debt is multiplied by
    ``rate[b] / rate[b - 1]`` at the start of block ``b`` (block 0's book is at ``rate[0]``)."""

    asset: str
    rate: FloatArray


def extend_model(model, actions: OwnerActions):
    """``model`` with a zero row for every (account, asset) an action names that the book
    lacks; account labels become text when rows are added. The same model when none is."""
    book: PositionBook = model.book
    ids = np.asarray(book.account_ids).astype(str)
    have = set(zip(ids[book.account].tolist(), np.asarray(book.assets, dtype=object)[book.asset].tolist()))
    named = {a for a in actions.account.tolist()}
    pairs = {(a, s) for a, s in zip(actions.account.tolist(), actions.asset.tolist()) if s}
    new_pairs = sorted(p for p in pairs if p not in have)
    new_accts = sorted(named - set(ids.tolist()) - {a for a, _ in new_pairs})
    if not new_pairs and not new_accts:
        return model
    # an account named only by open/close still needs a row: its first asset's, empty
    new_pairs += [(a, book.assets[0]) for a in new_accts]
    labels = np.concatenate([ids[book.account], np.array([a for a, _ in new_pairs], dtype=object)]).astype(str)
    idx = np.concatenate([book.asset, [book.assets.index(s) for _, s in new_pairs]]).astype(np.int64)
    zeros = np.zeros(len(new_pairs))
    em = {str(k): int(e) for k, e in zip(ids.tolist(), book.emode.tolist()) if e}
    ext = PositionBook.from_rows(labels, idx, np.concatenate([book.collateral, zeros]),
                                 np.concatenate([book.debt, zeros]), book.assets, em or None, actions.source)
    return replace(model, book=ext)


@dataclass
class OwnerState:
    """What the owners' step keeps through a run."""

    bounds: IntArray
    """Per block ``b``: actions ``bounds[b]:bounds[b+1]`` apply before it."""
    acct: IntArray
    """Working account index of each action."""
    row: IntArray
    """Working row of each action's (account, asset); -1 for open and close."""
    actions: OwnerActions
    rates: dict[int, FloatArray]
    """Asset index -> accumulator per block."""
    debt_rows: dict[int, IntArray]
    """Asset index -> the working rows of that asset (accrual multiplies their debt)."""
    dust: FloatArray
    """Per asset, the least debt a repayment may leave (0: no rule)."""
    coll_in: FloatArray
    """Collateral owners added, net, per asset (tokens)."""
    debt_in: FloatArray
    """Debt owners added, net, per asset (tokens)."""
    accrued: FloatArray
    """Debt the accumulators added, per asset (tokens)."""
    applied: int = 0
    conflicts: list[dict] = field(default_factory=list)
    react: object | None = None
    """Modelled owners' reactions (:class:`~.behaviour.ReactState`), when the run has them."""
    opening: object | None = None
    """New accounts during the run (:class:`~.openings.OpenState`), when the run has them."""
    keepers: object | None = None
    """Keeper-managed owners (:class:`~.keepers.KeeperState`), when the run has them."""
    touched: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Accounts this block's actions changed (their HF bounds are reset)."""
    rescan: bool = False
    """The book changed this block: the candidates are recomputed over every account."""


def owner_state(model, book, times: IntArray, actions: OwnerActions | None,
                accrual: tuple[DebtAccrual, ...]) -> OwnerState:
    """Resolve the actions against the sorted book (``book.perm``: working -> original)."""
    acts = actions if actions is not None else OwnerActions(*(np.empty(0, dtype=t) for t in (np.int64, object, np.int64)),
                                                            np.empty(0, dtype=object), np.empty(0))
    nb, k = times.shape[0], len(model.assets)
    arrays = book.base
    inv = np.empty_like(book.perm)
    inv[book.perm] = np.arange(book.perm.shape[0])
    ids = np.asarray(model.book.account_ids).astype(str)
    pos = {a: i for i, a in enumerate(ids.tolist())}
    acct = inv[np.array([pos[a] for a in acts.account.tolist()], dtype=np.int64)] if len(acts.block) else \
        np.empty(0, dtype=np.int64)
    row = np.full(acct.shape[0], -1, dtype=np.int64)
    for j, (w, s) in enumerate(zip(acct.tolist(), acts.asset.tolist())):
        if s:
            lo, hi = arrays.offsets[w], arrays.offsets[w + 1]
            row[j] = lo + int(np.flatnonzero(arrays.asset[lo:hi] == model.assets.index(s))[0])
    rates, rows = {}, {}
    for acc in accrual:
        if acc.asset not in model.assets:
            raise ConfigError("<accrual>", "accrual.asset", f"an asset of the market {list(model.assets)}", acc.asset)
        r = np.asarray(acc.rate, dtype=np.float64)
        if r.shape != (nb,) or not np.all(np.isfinite(r)) or np.any(r <= 0):
            raise ConfigError("<accrual>", f"accrual.{acc.asset}", f"{nb} finite accumulator values > 0", r.shape)
        i = model.assets.index(acc.asset)
        rates[i], rows[i] = r, np.flatnonzero(arrays.asset == i)
    dust = np.zeros(k)
    for a, v in acts.dust.items():
        if a not in model.assets or not (v >= 0 and math.isfinite(v)):
            raise ConfigError(acts.source, f"events.dust.{a}", f"an amount >= 0 of a market asset {list(model.assets)}", v)
        dust[model.assets.index(a)] = v
    return OwnerState(np.searchsorted(acts.block, np.arange(nb + 1), side="left"), acct, row, acts, rates, rows,
                      dust, np.zeros(k), np.zeros(k), np.zeros(k))


def accrue(ow: OwnerState, arrays, b: int) -> float:
    """Grow each accruing asset's debt to block ``b``'s rate; return the largest factor."""
    grow = 1.0
    for i, r in ow.rates.items():
        if b == 0 or r[b] == r[b - 1]:
            continue
        f = float(r[b] / r[b - 1])
        rows = ow.debt_rows[i]
        before = float(arrays.debt[rows].sum())
        arrays.debt[rows] *= f
        ow.accrued[i] += float(arrays.debt[rows].sum()) - before
        grow = max(grow, f, 1.0 / f)
    return grow


def _safe_amount(rules, arrays, prices: FloatArray, w: int, row: int, amount: float, on_debt: bool) -> float:
    """The largest part of ``amount`` (a withdrawal, or a borrow when ``on_debt``) that leaves
    account ``w`` at HF >= 1 at ``prices``, on the protocol's own health: the root of the
    room ``debt * (HF - 1)`` (linear in the amount where HF is a weighted sum), checked, and
    bisection where the check fails."""
    acc = np.array([w], dtype=np.int64)
    target = arrays.debt if on_debt else arrays.coll
    sign = 1.0 if on_debt else -1.0
    base = float(target[row])

    def room(x: float) -> float:
        target[row] = base + sign * x
        v = rules.health(arrays, prices, acc)
        return math.inf if v.debt_usd[0] <= 0.0 else float(v.debt_usd[0] * (v.hf[0] - 1.0))

    try:
        g1 = room(amount)
        if g1 >= 0.0:
            return amount
        g0 = room(0.0)
        if not g0 > 0.0:
            return 0.0
        x = amount * g0 / (g0 - g1) if math.isfinite(g0) else 0.0
        lo, hi = 0.0, amount
        if 0.0 < x < amount:
            x *= 1.0 - 1e-12  # below the root, so float rounding cannot leave HF < 1
            if room(x) >= 0.0:
                return x
            hi = x
        for _ in range(_BISECT):
            mid = 0.5 * (lo + hi)
            if room(mid) >= 0.0:
                lo = mid
            else:
                hi = mid
        return lo
    finally:
        target[row] = base


def _apply_one(rules, arrays, prices, ow: OwnerState, j: int, liquidated: bool) -> tuple[float, float, str]:
    """Apply action ``j``; return (asked, applied, reason of the clamp or '')."""
    a, w, row, amt = int(ow.actions.action[j]), int(ow.acct[j]), int(ow.row[j]), float(ow.actions.amount[j])
    return apply_action(rules, arrays, prices, ow, a, w, row, amt, liquidated)


def apply_action(rules, arrays, prices, ow: OwnerState, a: int, w: int, row: int, amt: float,
                 liquidated: bool) -> tuple[float, float, str]:
    """Apply action ``a`` (index into :data:`ACTIONS`) of ``amt`` tokens to working account
    ``w``'s row ``row`` under the clamping policy; return (asked, applied, reason or '')."""
    if a == OPEN:
        return 0.0, 0.0, ""
    if a == CLOSE:
        lo, hi = arrays.offsets[w], arrays.offsets[w + 1]
        np.subtract.at(ow.coll_in, arrays.asset[lo:hi], arrays.coll[lo:hi])
        np.subtract.at(ow.debt_in, arrays.asset[lo:hi], arrays.debt[lo:hi])
        arrays.coll[lo:hi] = 0.0
        arrays.debt[lo:hi] = 0.0
        return 0.0, 0.0, ""
    asset = int(arrays.asset[row])
    if a == DEPOSIT:
        arrays.coll[row] += amt
        ow.coll_in[asset] += amt
        return amt, amt, ""
    on_debt = a in (BORROW, REPAY)
    bal = arrays.debt if on_debt else arrays.coll
    applied, reason = amt, ""
    if a in (WITHDRAW, REPAY) and amt > bal[row]:
        applied, reason = float(bal[row]), "liquidated" if liquidated else "exceeds balance"
    if a == REPAY and 0.0 < bal[row] - applied < ow.dust[asset]:
        applied, reason = float(bal[row]), "dust"
    if a == BORROW and 0.0 < bal[row] + applied < ow.dust[asset]:
        applied, reason = 0.0, "dust"  # the protocol refuses a debt below the dust
    if a in (WITHDRAW, BORROW):
        safe = _safe_amount(rules, arrays, prices, w, row, applied, on_debt)
        if safe < applied:
            applied, reason = safe, "liquidated" if liquidated else "unsafe"
    delta = applied if a in (BORROW,) else -applied
    bal[row] = max(bal[row] + delta, 0.0)
    (ow.debt_in if on_debt else ow.coll_in)[asset] += delta
    return amt, applied, reason


def apply_owner_actions(run, st, b: int) -> None:
    """Step 0 of a block: the accumulators grow, then the block's owners' actions apply at the
    oracle's prices of the previous block (clamped; see the module docstring)."""
    ow: OwnerState = st.owners
    grow = accrue(ow, st.arrays, b)
    ow.rescan = grow != 1.0
    if grow != 1.0:
        st.cum_bound *= grow  # every HF may have fallen by up to this factor
    lo, hi = int(ow.bounds[b]), int(ow.bounds[b + 1])
    if lo == hi:
        ow.touched = np.empty(0, dtype=np.int64)
        return
    prices = st.o_prev if b > 0 else np.asarray(run.oracle.read(st.ostate), dtype=np.float64)
    rules, calls = run.model.rules, st.tallies.acct_calls
    for j in range(lo, hi):
        asked, applied, reason = _apply_one(rules, st.arrays, prices, ow, j, bool(calls[ow.acct[j]] > 0))
        ow.applied += 1
        if reason:
            ow.conflicts.append({"block": b, "time": int(run.times[b]), "j": j, "asked": asked, "applied": applied,
                                 "reason": reason})
    ow.touched = np.unique(ow.acct[lo:hi])
    st.q[ow.touched] = 0.0  # no bound holds for an account its owner changed
    ow.rescan = True


def conflicts_table(run, ow: OwnerState) -> pd.DataFrame:
    """One row per clamped action (columns :data:`CONFLICT_COLUMNS`)."""
    if not ow.conflicts:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("asked", "applied") else "object")
                             for c in CONFLICT_COLUMNS})
    df = pd.DataFrame(ow.conflicts)
    j = df.pop("j").to_numpy()
    df["account_id"] = ow.actions.account[j]
    df["action"] = np.asarray(ACTIONS, dtype=object)[ow.actions.action[j]]
    df["asset"] = ow.actions.asset[j]
    return df[CONFLICT_COLUMNS]


def owner_facts(ow: OwnerState, model) -> dict[str, object]:
    """The summary's owners' columns."""
    facts: dict[str, object] = {"owner_actions_applied": ow.applied, "owner_conflicts": len(ow.conflicts)}
    for i in ow.rates:
        facts[f"debt_accrued_{model.assets[i]}"] = float(ow.accrued[i])
    if ow.react is not None:
        facts.update(ow.react.facts())
    if ow.opening is not None:
        facts.update(ow.opening.facts())
    if ow.keepers is not None:
        facts.update(ow.keepers.facts())
    return facts


def check_owner_inputs(actions: OwnerActions | None, n_blocks: int) -> None:
    """Every action's block lies on the path."""
    if actions is not None and len(actions.block) and actions.block[-1] >= n_blocks:
        raise ConfigError(actions.source, "events.block", f"block indexes below the path's {n_blocks} blocks",
                          int(actions.block[-1]))


__all__ = ["ACTIONS", "DebtAccrual", "OwnerActions", "OwnerState", "apply_action", "apply_owner_actions", "conflicts_table",
           "extend_model", "owner_state"]
