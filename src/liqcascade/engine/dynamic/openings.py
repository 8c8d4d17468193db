"""New accounts during a run (``[simulation.behaviour]`` with ``open_pair``): owners who open
positions, fitted to the first draws of MakerDAO ETH-B vaults (docs/behaviour.md).

The process (:class:`~liqcascade.model.behaviour.OpenParams`) is drawn **before** the run, on
the scenario's exogenous path: per block ``b >= 1`` a Poisson number of openings with mean
``per_account_day * scale * N0 * dt_b / 86400 * exp(return_slope * r_b)``, where ``N0`` is the
accounts owing at the start, ``dt_b`` the block's seconds and ``r_b`` the collateral's path log
return from 24 hours before block ``b - 1`` to block ``b - 1`` (what owners have seen; before
the path starts the price is its first, so the first day's returns start from 0), clipped to
the returns the slope was fitted on. Each opening draws its HF and its size (times ``D0``, the
book's mean debt per owing account at the model's prices) from the fitted quantiles.

Drawing first lets the book keep its shape: every opening gets a reserved account (a
collateral and a debt row, zero) before the run, so the engine's arrays and kernels never
grow in the loop. At its block, after the recorded actions and the reactions, the account
deposits the collateral that puts it at its HF at the oracle's prices of the previous block
(what the protocol checks; HF is linear in collateral for every weighted-sum rule) and
draws its debt, through the owners'-actions machinery (the same clamps and conservation
tallies). From then on it is an ordinary account.

Randomness: a generator from ``SeedSequence(seed, spawn_key=(stream, 1))`` (the reactions'
stream is ``(stream,)``): the same seed and stream, the same openings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.dynamic.owners import BORROW, DEPOSIT, OwnerState, apply_action
from liqcascade.errors import ConfigError
from liqcascade.model.behaviour import OpenParams, draw_quantiles
from liqcascade.model.book import PositionBook

DAY = 86400
LABEL = "opened-"
"""Account ids of the reserved accounts: ``opened-0``, ``opened-1``, ... in opening order."""


@dataclass(frozen=True)
class OpenPlan:
    """The run's openings, in order: ``block`` (non-decreasing), ``hf`` (at opening), ``debt_usd``."""

    block: IntArray
    hf: FloatArray
    debt_usd: FloatArray
    pair: tuple[str, str]


@dataclass
class OpenState:
    """What the openings keep through a run: the plan and the working rows of each account."""

    plan: OpenPlan
    bounds: IntArray
    """Openings ``bounds[b]:bounds[b+1]`` happen before block ``b``'s oracle step."""
    acct: IntArray
    coll_row: IntArray
    debt_row: IntArray
    opened: int = 0
    collateral: float = 0.0
    debt: float = 0.0
    refused: int = 0
    """Openings whose draw the clamps cut (a dust rule): the account keeps what was applied."""
    assets: tuple[str, str] = ("", "")

    def facts(self) -> dict[str, object]:
        """The summary's opening columns."""
        c, d = self.assets
        return {"accounts_opened": self.opened, f"opened_collateral_{c}": self.collateral,
                f"opened_debt_{d}": self.debt, "openings_clamped": self.refused}


def _book_scale(model) -> tuple[int, float]:
    """(accounts owing at the start, their mean debt in USD at the model's prices)."""
    book: PositionBook = model.book
    p = np.asarray(model.prices, dtype=np.float64)
    debt = np.bincount(book.account, weights=book.debt * p[book.asset], minlength=book.n_accounts)
    owing = debt > 0
    n = int(owing.sum())
    return n, float(debt[owing].sum() / n) if n else 0.0


def trailing_returns(times: IntArray, price: FloatArray) -> FloatArray:
    """Per block ``b``, the log return of ``price`` from 24 hours before block ``b - 1`` to
    block ``b - 1`` (0 at block 0); before the path starts the price is its first."""
    t = np.asarray(times, dtype=np.float64)
    p = np.asarray(price, dtype=np.float64)
    past = np.interp(t - DAY, t, p)  # np.interp holds the first value before the start
    r = np.log(p / past)
    return np.concatenate([[0.0], r[:-1]])


def opening_means(params: OpenParams, model, path) -> FloatArray:
    """The Poisson mean of openings per block of ``path`` (module docstring)."""
    n0, _ = _book_scale(model)
    times = np.asarray(path.times)
    coll = params.pair[0] if params.pair else ""
    if coll in path.assets:
        r = trailing_returns(times, np.asarray(path.prices)[:, list(path.assets).index(coll)])
    else:
        r = np.zeros(times.shape[0])  # the collateral's price is constant on this path
    dt = np.concatenate([[0.0], np.diff(times.astype(np.float64))])
    return params.per_account_day * params.scale * n0 * dt / DAY * np.exp(params.return_slope * np.clip(
        r, *params.return_range))


def plan_openings(params: OpenParams, model, path, seed: int, stream: int = 0) -> OpenPlan:
    """Draw the run's openings on ``path`` (module docstring)."""
    coll, debt = params.pair  # type: ignore[misc]
    _, d0 = _book_scale(model)
    lam = opening_means(params, model, path)
    nb = lam.shape[0]
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(stream), 1)))
    counts = rng.poisson(lam)
    block = np.repeat(np.arange(nb, dtype=np.int64), counts)
    u = rng.random((block.shape[0], 2))
    hf = draw_quantiles(params.hf_quantiles, u[:, 0])
    size = draw_quantiles(params.size_quantiles, u[:, 1]) * d0
    return OpenPlan(block, hf, size, (coll, debt))


def reserve_accounts(model, plan: OpenPlan):
    """``model`` with one empty account per planned opening (a collateral and a debt row);
    account labels become text. The same model when none is planned."""
    k = plan.block.shape[0]
    if k == 0:
        return model
    book: PositionBook = model.book
    for a in plan.pair:
        if a not in book.assets:
            raise ConfigError("<behaviour>", "simulation.behaviour.open_pair", f"assets of the market {list(book.assets)}",
                              a)
    ids = np.asarray(book.account_ids).astype(str)
    if any(x.startswith(LABEL) for x in ids.tolist()):
        raise ConfigError("<behaviour>", "positions", f"no account id starting '{LABEL}' (new accounts are named so)")
    new = np.repeat(np.array([f"{LABEL}{i}" for i in range(k)], dtype=object), 2)
    idx = np.tile([book.assets.index(plan.pair[0]), book.assets.index(plan.pair[1])], k)
    zeros = np.zeros(2 * k)
    labels = np.concatenate([ids[book.account], new]).astype(str)
    em = {str(a): int(e) for a, e in zip(ids.tolist(), book.emode.tolist()) if e}
    ext = PositionBook.from_rows(labels, np.concatenate([book.asset, idx]).astype(np.int64),
                                 np.concatenate([book.collateral, zeros]), np.concatenate([book.debt, zeros]),
                                 book.assets, em or None, "<openings>")
    return replace(model, book=ext)


def open_state(model, run_book, plan: OpenPlan, n_blocks: int) -> OpenState:
    """Resolve the reserved accounts against the sorted book (``perm``: working -> original)."""
    arrays = run_book.base
    inv = np.empty_like(run_book.perm)
    inv[run_book.perm] = np.arange(run_book.perm.shape[0])
    ids = np.asarray(model.book.account_ids).astype(str)
    pos = {a: i for i, a in enumerate(ids.tolist())}
    k = plan.block.shape[0]
    acct = inv[np.array([pos[f"{LABEL}{i}"] for i in range(k)], dtype=np.int64)] if k else np.empty(0, np.int64)
    ci, di = model.assets.index(plan.pair[0]), model.assets.index(plan.pair[1])
    coll_row, debt_row = np.empty(k, dtype=np.int64), np.empty(k, dtype=np.int64)
    for j, w in enumerate(acct.tolist()):
        lo, hi = int(arrays.offsets[w]), int(arrays.offsets[w + 1])
        a = arrays.asset[lo:hi]
        coll_row[j] = lo + int(np.flatnonzero(a == ci)[0])
        debt_row[j] = lo + int(np.flatnonzero(a == di)[0])
    bounds = np.searchsorted(plan.block, np.arange(n_blocks + 1), side="left")
    return OpenState(plan, bounds, acct, coll_row, debt_row, assets=plan.pair)


def _collateral_for(rules, arrays, prices: FloatArray, w: IntArray, crow: IntArray, drow: IntArray,
                    debt: FloatArray, hf: FloatArray) -> FloatArray:
    """Collateral tokens putting each empty account ``w[i]`` owing ``debt[i]`` at ``hf[i]``:
    with one token of collateral the protocol's health gives ``h1``, and HF is linear in the
    collateral through zero, so ``hf / h1`` tokens (one pass; the rows are distinct)."""
    arrays.coll[crow] = 1.0
    arrays.debt[drow] = debt
    try:
        h1 = rules.health(arrays, prices, w).hf
    finally:
        arrays.coll[crow] = 0.0
        arrays.debt[drow] = 0.0
    return np.where(h1 > 0, hf / np.where(h1 > 0, h1, 1.0), 0.0)


def apply_openings(run, st, b: int) -> None:
    """Block ``b``'s openings (module docstring); nothing when none is planned."""
    ow: OwnerState = st.owners
    os_: OpenState = ow.opening
    lo, hi = int(os_.bounds[b]), int(os_.bounds[b + 1])
    if lo == hi:
        return
    prices = st.o_prev if b > 0 else np.asarray(run.oracle.read(st.ostate), dtype=np.float64)
    rules, arrays = run.model.rules, st.arrays
    w, crow, drow = os_.acct[lo:hi], os_.coll_row[lo:hi], os_.debt_row[lo:hi]
    debt = os_.plan.debt_usd[lo:hi] / prices[arrays.asset[drow]]
    coll = _collateral_for(rules, arrays, prices, w, crow, drow, debt, os_.plan.hf[lo:hi])
    for j in range(hi - lo):
        a, r_c, r_d = int(w[j]), int(crow[j]), int(drow[j])
        _, c_in, _ = apply_action(rules, arrays, prices, ow, DEPOSIT, a, r_c, float(coll[j]), False)
        _, d_in, why = apply_action(rules, arrays, prices, ow, BORROW, a, r_d, float(debt[j]), False)
        os_.collateral += c_in
        os_.debt += d_in
        os_.refused += bool(why)
        os_.opened += 1
    st.q[w] = 0.0  # no bound holds for a new account
    ow.rescan = True


def check_opening_pair(params: OpenParams, assets: tuple[str, ...], source: str, key: str) -> None:
    """The pair names two assets of the market (a ConfigError naming ``key`` otherwise)."""
    if params.pair is None or any(a not in assets for a in params.pair):
        raise ConfigError(source, key, f"[collateral, debt]: two assets of the market {list(assets)}", params.pair)


__all__ = ["LABEL", "OpenPlan", "OpenState", "apply_openings", "check_opening_pair", "opening_means", "open_state",
           "plan_openings", "reserve_accounts", "trailing_returns"]
