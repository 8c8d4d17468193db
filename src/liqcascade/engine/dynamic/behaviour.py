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

With return slopes (:attr:`~liqcascade.model.behaviour.BehaviourParams.reacts_to_return`), an
account's probabilities also depend on its collateral's market log return over the 24 hours
before the previous block (the path's prices, :func:`.openings.trailing_returns`; the
collateral-value-weighted mean over its collateral rows, at the previous block's oracle prices).

Randomness: a generator per run from ``SeedSequence(seed, spawn_key=(stream,))``: the same
seed and stream give the same numbers, and Monte Carlo paths (``stream`` = path index) get
independent streams. Both draws are taken for every account at every block whatever the
probabilities, so runs that differ only in the probabilities share their random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.dynamic.openings import trailing_returns
from liqcascade.engine.dynamic.owners import BORROW, DEPOSIT, REPAY, OwnerState, apply_action, apply_owner_actions
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
    returns: FloatArray | None = None
    """Per block and market asset, the trailing 24-hour log return (None: not needed)."""

    def facts(self) -> dict[str, object]:
        """The summary's reaction columns: counts, and tokens per asset moved."""
        out: dict[str, object] = {"owner_protects": self.protects, "owner_levers": self.levers}
        for name, d in (("deposited", self.deposited), ("repaid", self.repaid), ("drawn", self.drawn)):
            for i, v in sorted(d.items()):
                out[f"owner_{name}_{self.assets[i]}"] = float(v)
        return out


def react_state(params: BehaviourParams, assets: tuple[str, ...], stream: int = 0, run=None) -> ReactState:
    """A run's reaction state: its own generator, and with return slopes the trailing
    returns of ``run``'s path per block and asset (module docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(params.seed), spawn_key=(int(stream),)))
    returns = None
    if params.reacts_to_return and run is not None:
        returns = asset_returns(run, len(assets))
    return ReactState(params, rng, assets=tuple(assets), returns=returns)


def asset_returns(run, n_assets: int) -> FloatArray:
    """(blocks, assets) trailing 24-hour log returns of the path's prices (0 for an asset the
    path does not move)."""
    times = np.asarray(run.times)
    out = np.zeros((times.shape[0], n_assets))
    prices = np.asarray(run.path.prices, dtype=np.float64)
    for j, a in enumerate(np.asarray(run.path_cols).tolist()):
        out[:, a] = trailing_returns(times, prices[:, j])
    return out


def _account_returns(arrays, prices: FloatArray, r_asset: FloatArray, n: int) -> FloatArray:
    """Per account, the collateral-value-weighted mean of its assets' returns (0 without collateral)."""
    acct = np.repeat(np.arange(n, dtype=np.int64), np.diff(np.asarray(arrays.offsets))[:n])
    rows = acct.shape[0]
    value = arrays.coll[:rows] * prices[arrays.asset[:rows]]
    w = np.bincount(acct, weights=value, minlength=n)
    wr = np.bincount(acct, weights=value * r_asset[arrays.asset[:rows]], minlength=n)
    return np.divide(wr, w, out=np.zeros(n), where=w > 0)


def _largest(arrays, prices: FloatArray, w: int, on_debt: bool) -> int:
    """Working row of account ``w``'s largest collateral (or debt) by value; -1 if none."""
    lo, hi = int(arrays.offsets[w]), int(arrays.offsets[w + 1])
    bal = (arrays.debt if on_debt else arrays.coll)[lo:hi] * prices[arrays.asset[lo:hi]]
    if hi == lo or not np.any(bal > 0):
        return -1
    return lo + int(np.argmax(bal))


def _deposits_for(rules, arrays, prices: FloatArray, w: IntArray, rows: IntArray, hf0: FloatArray,
                  target: float) -> FloatArray:
    """Tokens of each ``rows[i]``'s collateral bringing account ``w[i]`` from ``hf0[i]`` to
    ``target``: HF is linear in a row's collateral, so the slope is read off the protocol's
    health with each row doubled (one pass for every account; their rows are distinct)."""
    base = arrays.coll[rows].copy()
    step = np.where(base > 0, base, 1.0)
    arrays.coll[rows] = base + step
    try:
        hf1 = rules.health(arrays, prices, w).hf
    finally:
        arrays.coll[rows] = base
    slope = (hf1 - hf0) / step
    return np.where(slope > 0, (target - hf0) / np.where(slope > 0, slope, 1.0), 0.0)


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
    r = None if rs.returns is None else _account_returns(arrays, prices, rs.returns[b], n)
    pp, pl = p.per_block(hv.hf - 1.0, float(run.times[b] - run.times[b - 1]), r)
    # a relative margin: an account this model restored sits at the target up to rounding
    protect = debt & (u < pp) & (hv.hf < p.restore_hf * (1.0 - _MARGIN))
    lever = debt & ~protect & (u >= 1.0 - pl) & (hv.hf > p.lever_hf * (1.0 + _MARGIN))
    who = np.flatnonzero(protect | lever)
    if who.size == 0:
        return
    repay = protect & (v < p.repay_share)
    row = np.array([_largest(arrays, prices, w, on_debt=bool(repay[w] or lever[w])) for w in who.tolist()], dtype=np.int64)
    ok = row >= 0
    who, row = who[ok], row[ok]
    amount = np.empty(who.shape[0])
    on_coll = protect[who] & ~repay[who]
    if on_coll.any():
        amount[on_coll] = _deposits_for(rules, arrays, prices, who[on_coll], row[on_coll], hv.hf[who[on_coll]],
                                        p.restore_hf)
    # a repayment or draw moves the debt to debt_usd * hf0 / target (HF = adjusted collateral / debt)
    target = np.where(lever[who], p.lever_hf, p.restore_hf)
    on_debt = ~on_coll
    change = hv.debt_usd[who] * (1.0 - hv.hf[who] / target) / prices[arrays.asset[row]]
    amount[on_debt] = np.abs(change[on_debt])  # a repayment (> 0 change) or a draw (< 0)
    rs.protects += int(protect[who].sum())
    rs.levers += int(lever[who].sum())
    calls = st.tallies.acct_calls
    for w, r, amt, coll_side in zip(who.tolist(), row.tolist(), amount.tolist(), on_coll.tolist()):
        if not amt > 0:
            continue
        action, tally = (DEPOSIT, rs.deposited) if coll_side else (REPAY, rs.repaid) if protect[w] else (BORROW, rs.drawn)
        _, applied, _ = apply_action(rules, arrays, prices, ow, action, w, r, float(amt), bool(calls[w] > 0))
        a = int(arrays.asset[r])
        tally[a] = tally.get(a, 0.0) + applied
    st.q[who] = 0.0  # no bound holds for an account its owner changed
    ow.rescan = True


def between_blocks(run, st, b: int) -> None:
    """The owners' steps before block ``b``'s prices move, in order: recorded actions and fee
    accrual, modelled reactions, new accounts, keeper-managed owners acting on the OSM's next
    price (each a no-op when the run lacks it). The single-market loop and the system's call
    this one function."""
    from liqcascade.engine.dynamic.keepers import apply_keepers
    from liqcascade.engine.dynamic.openings import apply_openings

    ow: OwnerState = st.owners
    if ow is None:
        return
    apply_owner_actions(run, st, b)
    if ow.react is not None:
        apply_reactions(run, st, b)
    if ow.opening is not None:
        apply_openings(run, st, b)
    if ow.keepers is not None:
        apply_keepers(run, st, b)


__all__ = ["ReactState", "apply_reactions", "asset_returns", "between_blocks", "react_state"]
