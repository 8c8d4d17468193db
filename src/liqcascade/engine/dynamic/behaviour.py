"""Owners who react (``[simulation.behaviour]``): modelled actions between blocks, applied
through the owners'-actions machinery (:func:`.owners.apply_action`: the same clamps,
conflicts and conservation tallies as recorded actions).

At each block ``b >= 1``, after the recorded actions and the fee accrual, every account with
debt is read at the oracle's prices of the previous block (what its owner sees): its distance
``d = HF - 1`` gives, from :class:`~liqcascade.model.behaviour.BehaviourParams`, the
probability ``p`` that its owner **protects** within the block (``1 - (1 - p_hour) **
(seconds / 3600)``) and the probability ``q`` that it **levers**. One uniform draw ``u`` per
account and block decides: ``u < p`` protects (when HF < ``restore_hf``), ``u >= 1 - q``
levers (when HF > ``lever_hf``). A second draw picks, for a protection, a repayment (with
probability ``repay_share``: the account's largest debt row, by value) or a top-up (its
largest collateral row). Amounts bring HF to ``restore_hf`` (protect) or ``lever_hf``
(lever: a draw on the largest debt row), solved on the protocol's own health: HF is
linear in a row's collateral, and 1 / HF in a row's debt, for every weighted-sum rule
(Aave's and Maker's); the applied amount goes through the usual clamps.

Randomness: a generator per run from ``SeedSequence(seed, spawn_key=(stream,))``: the same
seed and stream give the same numbers, and Monte Carlo paths (``stream`` = path index) get
independent streams. Both draws are taken for every account at every block whatever the
probabilities, so runs that differ only in the probabilities share their random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.engine.dynamic.owners import BORROW, DEPOSIT, REPAY, OwnerState, apply_action
from liqcascade.model.behaviour import BehaviourParams

_MARGIN = 1e-9


@dataclass
class ReactState:
    """What the reactions keep through a run."""

    params: BehaviourParams
    rng: np.random.Generator
    protects: int = 0
    levers: int = 0
    deposited: dict[int, float] = field(default_factory=dict)
    repaid: dict[int, float] = field(default_factory=dict)
    drawn: dict[int, float] = field(default_factory=dict)
    assets: tuple[str, ...] = ()

    def facts(self) -> dict[str, object]:
        """The summary's reaction columns: counts, and tokens per asset moved."""
        out: dict[str, object] = {"owner_protects": self.protects, "owner_levers": self.levers}
        for name, d in (("deposited", self.deposited), ("repaid", self.repaid), ("drawn", self.drawn)):
            for i, v in sorted(d.items()):
                out[f"owner_{name}_{self.assets[i]}"] = float(v)
        return out


def react_state(params: BehaviourParams, assets: tuple[str, ...], stream: int = 0) -> ReactState:
    """A run's reaction state: its own generator (module docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(params.seed), spawn_key=(int(stream),)))
    return ReactState(params, rng, assets=tuple(assets))


def _largest(arrays, prices: FloatArray, w: int, on_debt: bool) -> int:
    """Working row of account ``w``'s largest collateral (or debt) by value; -1 if none."""
    lo, hi = int(arrays.offsets[w]), int(arrays.offsets[w + 1])
    bal = (arrays.debt if on_debt else arrays.coll)[lo:hi] * prices[arrays.asset[lo:hi]]
    if hi == lo or not np.any(bal > 0):
        return -1
    return lo + int(np.argmax(bal))


def _deposit_for(rules, arrays, prices: FloatArray, w: int, row: int, hf0: float, target: float) -> float:
    """Tokens of ``row``'s collateral bringing account ``w`` from ``hf0`` to ``target`` (HF linear
    in the row's collateral: the slope is read off the protocol's health with the row doubled)."""
    acc = np.array([w], dtype=np.int64)
    base = float(arrays.coll[row])
    step = base if base > 0 else 1.0
    arrays.coll[row] = base + step
    try:
        hf1 = float(rules.health(arrays, prices, acc).hf[0])
    finally:
        arrays.coll[row] = base
    slope = (hf1 - hf0) / step
    return (target - hf0) / slope if slope > 0 else 0.0


def _debt_change_for(arrays, prices: FloatArray, row: int, debt_usd: float, hf0: float, target: float) -> float:
    """Tokens of ``row``'s debt to repay (> 0) or draw (< 0) for HF ``hf0 -> target`` where
    HF = adjusted collateral / debt: the debt must become ``debt_usd * hf0 / target``."""
    return debt_usd * (1.0 - hf0 / target) / float(prices[arrays.asset[row]])


def apply_reactions(run, st, b: int) -> None:
    """The block's modelled reactions (module docstring); a no-op at block 0."""
    ow: OwnerState = st.owners
    rs: ReactState = ow.react
    if b == 0:
        return
    p = rs.params
    n = run.model.book.n_accounts
    u, v = rs.rng.random(n), rs.rng.random(n)
    prices = st.o_prev
    rules, arrays = run.model.rules, st.arrays
    hv = rules.health(arrays, prices, np.arange(n, dtype=np.int64))
    debt = hv.debt_usd > 0
    pp, pl = p.per_block(hv.hf - 1.0, float(run.times[b] - run.times[b - 1]))
    # a relative margin: an account this model restored sits at the target up to rounding
    protect = debt & (u < pp) & (hv.hf < p.restore_hf * (1.0 - _MARGIN))
    lever = debt & ~protect & (u >= 1.0 - pl) & (hv.hf > p.lever_hf * (1.0 + _MARGIN))
    who = np.flatnonzero(protect | lever)
    if who.size == 0:
        return
    calls = st.tallies.acct_calls
    for w in who.tolist():
        hf0, d_usd = float(hv.hf[w]), float(hv.debt_usd[w])
        if protect[w]:
            repay = bool(v[w] < p.repay_share)
            row = _largest(arrays, prices, w, on_debt=repay)
            if row < 0:
                continue
            amt = _debt_change_for(arrays, prices, row, d_usd, hf0, p.restore_hf) if repay else \
                _deposit_for(rules, arrays, prices, w, row, hf0, p.restore_hf)
            action, tally = (REPAY, rs.repaid) if repay else (DEPOSIT, rs.deposited)
            rs.protects += 1
        else:
            row = _largest(arrays, prices, w, on_debt=True)
            if row < 0:
                continue
            amt = -_debt_change_for(arrays, prices, row, d_usd, hf0, p.lever_hf)
            action, tally = BORROW, rs.drawn
            rs.levers += 1
        if not amt > 0:
            continue
        _, applied, _ = apply_action(rules, arrays, prices, ow, action, w, row, float(amt), bool(calls[w] > 0))
        a = int(arrays.asset[row])
        tally[a] = tally.get(a, 0.0) + applied
    st.q[who] = 0.0  # no bound holds for an account its owner changed
    ow.rescan = True


__all__ = ["ReactState", "apply_reactions", "react_state"]
