"""Keeper-managed owners (``[simulation.keepers]``, :class:`~liqcascade.model.keepers.KeeperBook`):
bots that read the OSM's *next* price and repay before it becomes the price the protocol reads.

At each block ``b >= 1``, after the recorded actions (and the modelled reactions, if any),
each keeper-managed account with debt is read at the lower of the oracle's price of the
previous block and the OSM's announced next price (``nxt``; ``peep`` in osm.sol), per asset.
Below its ``trigger_hf`` there, its bot does what a DeFi Saver "repay" does in one
transaction: withdraw collateral ``w`` (the largest collateral row), sell it at that price
and repay the proceeds on the largest debt row, bringing HF to ``target_hf``. With HF =
``a c / D`` (``a``: the HF weight of a collateral token, read off the protocol's own HF) the
amount solves ``a (c - w) / (D - w P) = target``: ``w = (target D - a c) / (target P - a)``
(``w < c`` when the collateral is worth more than the debt; otherwise no sale restores it and the
bot does nothing).
The repayment is capped at ``max_repay`` tokens (what the owner's recorded flows show it moved
at once; a capped repay withdraws the collateral it sold), and a bot repays at most once per
announced price (OSM hop): after a repay the price it reads does not move until the next poke. Both legs go through the
owners' clamps (:func:`.owners.apply_action`): the repayment first, then the withdrawal,
checked safe at the protocol's current price. Without an OSM the announced price is the
current one (the ``io`` layer refuses keepers on other oracles). An owner with an
``active_from`` time acts only in blocks that start at or after it (its record qualified it
as a bot then, :mod:`liqcascade.model.keepers`).

A bot that stops leaves no record, only silence: an owner whose oracle price has moved more
than ``max_idle_move`` (the sum of absolute log changes of its assets' oracle prices, the
largest over the assets) since its owner's last recorded action counts as stopped and does
nothing until its owner acts again (``idle_move``: the movement already seen at the start;
the run's recorded actions reset it, the bot's own repays do not: they are the replay's, not
the record's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.dynamic.owners import REPAY, WITHDRAW, OwnerState, apply_action
from liqcascade.errors import ConfigError
from liqcascade.model.keepers import KeeperBook


@dataclass
class KeeperState:
    """What the keepers' step keeps through a run (working account indexes and their bands)."""

    w: IntArray
    trigger: FloatArray
    target: FloatArray
    cap: FloatArray
    acted: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Per owner, the OSM hop (``zzz``) of its last repay (-1: none)."""
    active_from: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    """Per owner, the block start time (Unix s) from which its bot acts."""
    repays: int = 0
    capped: int = 0
    repaid: dict[int, float] = field(default_factory=dict)
    withdrawn: dict[int, float] = field(default_factory=dict)
    assets: tuple[str, ...] = ()
    idle0: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    """Per owner, the oracle's movement since its owner's last recorded action at its last reset."""
    since: FloatArray = field(default_factory=lambda: np.empty((0, 0), dtype=np.float64))
    """Per owner and asset, the cumulative movement ``moved`` at its last reset."""
    moved: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    """Per asset, the oracle's cumulative movement since the run's start."""
    last_px: FloatArray | None = None
    max_idle: float = np.inf
    stopped: int = 0
    """Blocks x owners in which a bot below its trigger did nothing because it counted as stopped."""

    def facts(self) -> dict[str, object]:
        """The summary's keeper columns: repays, how many hit the cap, tokens moved per asset."""
        out: dict[str, object] = {"managed_accounts": int(self.w.size), "managed_repays": self.repays,
                                  "managed_repays_capped": self.capped}
        if np.isfinite(self.max_idle):  # only runs whose bots may stop have the column
            out["managed_stopped"] = self.stopped
        for name, d in (("repaid", self.repaid), ("withdrawn", self.withdrawn)):
            for i, v in sorted(d.items()):
                out[f"managed_{name}_{self.assets[i]}"] = float(v)
        return out


def keeper_state(model, book, keepers: KeeperBook) -> KeeperState:
    """Resolve ``keepers``' accounts against the sorted book (``book.perm``: working -> original)."""
    ids = np.asarray(model.book.account_ids).astype(str)
    pos = {a: i for i, a in enumerate(ids.tolist())}
    names = np.asarray(keepers.account).astype(str)
    missing = [a for a in names.tolist() if a not in pos]
    if missing:
        raise ConfigError(keepers.source, "keepers.account", "accounts of the book or of the owners' actions",
                          missing[0])
    inv = np.empty_like(book.perm)
    inv[book.perm] = np.arange(book.perm.shape[0])
    w = inv[np.array([pos[a] for a in names.tolist()], dtype=np.int64)] if names.size else np.empty(0, np.int64)
    f64 = lambda x: np.asarray(x, dtype=np.float64)  # noqa: E731
    since = np.full(w.shape[0], -np.inf) if keepers.active_from is None else f64(keepers.active_from)
    idle = np.zeros(w.shape[0]) if keepers.idle_move is None else np.array(keepers.idle_move, dtype=np.float64)
    k = len(model.assets)
    return KeeperState(w, f64(keepers.trigger_hf), f64(keepers.target_hf), f64(keepers.max_repay),
                       np.full(w.shape[0], -1, dtype=np.int64), since, assets=tuple(model.assets), idle0=idle,
                       since=np.zeros((w.shape[0], k)), moved=np.zeros(k), max_idle=float(keepers.max_idle_move))


def _row(arrays, prices: FloatArray, w: int, on_debt: bool) -> int:
    """Working row of account ``w``'s largest collateral (or debt) by value; -1 if none."""
    lo, hi = int(arrays.offsets[w]), int(arrays.offsets[w + 1])
    bal = (arrays.debt if on_debt else arrays.coll)[lo:hi] * prices[arrays.asset[lo:hi]]
    if hi == lo or not np.any(bal > 0):
        return -1
    return lo + int(np.argmax(bal))


def announced(st) -> FloatArray:
    """What a bot reads before block ``b``: per asset the lower of the protocol's price and the
    OSM's next price (the current one without an OSM)."""
    nxt = getattr(st.ostate, "nxt", None)
    return st.o_prev if nxt is None else np.minimum(st.o_prev, np.asarray(nxt, dtype=np.float64))


def _idle(ks: KeeperState, ow: OwnerState, prices: FloatArray | None) -> FloatArray:
    """Per owner, the oracle's movement since its owner's last recorded action (module
    docstring), after this block's recorded actions reset the owners they touched
    (``prices`` None: block 0, no oracle price before it, only the resets)."""
    if prices is not None:
        px = np.asarray(prices, dtype=np.float64)
        if ks.last_px is not None:
            ok = (px > 0) & (ks.last_px > 0)
            ks.moved[ok] += np.abs(np.log(px[ok] / ks.last_px[ok]))
        ks.last_px = px.copy()
    if ow.touched.size:
        hit = np.isin(ks.w, ow.touched)
        ks.idle0[hit] = 0.0
        ks.since[hit] = ks.moved
    return ks.idle0 + (ks.moved[None, :] - ks.since).max(axis=1, initial=0.0)


def apply_keepers(run, st, b: int) -> None:
    """The block's keeper repays (module docstring); a no-op at block 0."""
    ow: OwnerState = st.owners
    ks: KeeperState = ow.keepers
    if ks.w.size == 0:
        return
    idle = _idle(ks, ow, st.o_prev if b > 0 else None)  # block 0's recorded actions reset too
    if b == 0:
        return
    seen = announced(st)
    rules, arrays = run.model.rules, st.arrays
    hv = rules.health(arrays, seen, ks.w)
    hop = int(getattr(st.ostate, "zzz", -2))  # one repay per announced price (-2: no OSM, no limit)
    live = ks.active_from <= float(run.times[b])
    want = live & (hv.debt_usd > 0) & (hv.hf < ks.trigger) & ((ks.acted != hop) | (hop == -2))
    awake = idle <= ks.max_idle
    ks.stopped += int(np.count_nonzero(want & ~awake))
    act = np.flatnonzero(want & awake)
    calls = st.tallies.acct_calls
    touched = []
    for k in act.tolist():
        w = int(ks.w[k])
        rc, rd = _row(arrays, seen, w, on_debt=False), _row(arrays, seen, w, on_debt=True)
        if rc < 0 or rd < 0:
            continue
        c, debt, h, tgt = float(arrays.coll[rc]), float(hv.debt_usd[k]), float(hv.hf[k]), float(ks.target[k])
        p, pd_ = float(seen[arrays.asset[rc]]), float(seen[arrays.asset[rd]])
        a = h * debt / c  # HF weight of one collateral token, times the debt
        if tgt * p <= a:
            continue  # selling collateral cannot raise this account's HF (weight above its price)
        sell = (tgt * debt - a * c) / (tgt * p - a)
        if sell >= c:
            continue  # the debt is worth the collateral or more: no sale of it restores the vault
        repay = sell * p / pd_
        if repay > ks.cap[k]:
            repay, sell = float(ks.cap[k]), float(ks.cap[k]) * pd_ / p
            ks.capped += 1
        liquidated = bool(calls[w] > 0)
        _, repaid, _ = apply_action(rules, arrays, st.o_prev, ow, REPAY, w, rd, repay, liquidated)
        _, taken, _ = apply_action(rules, arrays, st.o_prev, ow, WITHDRAW, w, rc, sell * repaid / repay, liquidated)
        ks.repays += 1
        ks.acted[k] = hop
        for d, r, v in ((ks.repaid, rd, repaid), (ks.withdrawn, rc, taken)):
            i = int(arrays.asset[r])
            d[i] = d.get(i, 0.0) + v
        touched.append(w)
    if touched:
        st.q[np.asarray(touched, dtype=np.int64)] = 0.0  # no bound holds for an account its owner changed
        ow.rescan = True


__all__ = ["KeeperState", "announced", "apply_keepers", "keeper_state"]
