"""Parameter calibration: the highest liquidation threshold (lowest bonus, largest cap or debt
ceiling) of one asset that keeps a risk metric within a budget, and the liquidity-based cap rule.

How a candidate value acts on the scenario (:func:`apply_candidate`)
--------------------------------------------------------------------
The scenario is built once; a candidate changes one asset's parameter and, where needed, the
book, never the prices, venues or paths:

- ``liquidation_threshold``: the asset's own threshold (Aave e-mode categories keep theirs;
  the LTV is lowered to the threshold when it would exceed it). ``book="health"`` (default):
  borrowers keep their health factor, i.e. they use the borrowing power a higher threshold
  gives: each account's debt is scaled by ``HF_new / HF_old`` (its health under the candidate
  and under the scenario's parameters, same amounts and prices); ``book="fixed"``: amounts
  stay as they are and only who is liquidatable, and when, changes.
- ``liquidation_bonus``: the asset's bonus; the book is unchanged (the bonus does not enter
  the health factor).
- ``supply_cap`` (tokens), ``borrow_cap`` (tokens), ``debt_ceiling`` (USD of debt owed by the
  accounts that hold the asset as collateral, Aave's isolation-mode ceiling, Maker's ``line``):
  the engines do not enforce caps, so a cap is read as *filled*: every account that supplies
  (borrows; holds as collateral) the asset is scaled as a whole — all its collateral and debt
  rows by ``cap / current total`` — so the total equals the cap and every health factor is
  unchanged. Caps below the current total shrink those accounts, caps above grow them.

Search (:func:`calibrate`)
--------------------------
The metric is assumed monotone in the parameter: non-decreasing for the threshold and the
caps (answer: the largest value within budget), non-increasing for the bonus (the smallest).
A grid of ``grid`` values over the range is evaluated first (all at once, so an executor runs
them in parallel); walking from the safe end, the last grid value within budget and the next
one bracket the answer, which bisection narrows to ``tol``. Every candidate is evaluated on
the *same* Monte Carlo paths (common random numbers: root seed and path indexes are shared,
and the paths depend only on ``[montecarlo]``), so the explored curve is smooth in the
parameter and the search does not chase noise. ``kind="static"`` evaluates the scenario's
``[shock]`` with the static cascade instead (deterministic; the interval is the point).

Systems
-------
On a system scenario (``[[markets]]``) ``market`` names the market whose parameter moves: the
candidate is applied to that market as above (:func:`apply_candidate`) and the system rebuilt
around it; every candidate runs the whole system (the static system cascade, or the system's
Monte Carlo on the shared paths). The loss is the system's total over its markets, or one
market's (``budget_market``).

Liquidity rule (:func:`liquidity_cap`)
--------------------------------------
The largest supply cap ``S`` (tokens) whose liquidation — a share ``share`` of it, sold in
equal parts over ``blocks`` blocks into the scenario's venues for the asset, which refill
between blocks — stays profitable for a liquidator::

    slippage(q) = 1 - proceeds(q) / (q * p)          (average execution shortfall of a sale of q)
    S = blocks / share * max{q : slippage(q) <= bonus * (1 - protocol_fee)}

``p`` is the venues' mid price, ``proceeds`` their quote for ``q`` tokens routed across them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.errors import ConfigError
from liqcascade.execution import montecarlo as mc
from liqcascade.io.store import ResultsStore, StoreError, run_id as _run_id

DEFAULT_STORE = Path("liqcascade-results")
KIND = "calibration"
PARAMS = ("liquidation_threshold", "liquidation_bonus", "supply_cap", "borrow_cap", "debt_ceiling")
"""Parameters :func:`calibrate` can search."""
METRICS = ("var", "cvar", "mean")
"""Statistics of the loss over paths: value at risk, expected shortfall (CVaR), mean."""
LOSSES = ("bad_debt_usd", "collateral_seized_usd", "debt_repaid_usd", "accounts_liquidated")
"""Per-path columns a calibration can budget (``collateral_seized_usd`` + ``var``: liquidations at risk)."""
BOOKS = ("health", "fixed")
KINDS = ("montecarlo", "static")
INCREASING = {"liquidation_threshold": True, "liquidation_bonus": False, "supply_cap": True, "borrow_cap": True,
              "debt_ceiling": True}
"""Whether the metric is assumed to grow with the parameter (answer: the largest value within budget)."""

ARG = "<arguments>"
CHUNKS_PER_CANDIDATE = 25
"""About this many chunks per candidate by default (each is a stored part that costs a few catalog
writes; a grid batch has ``grid`` times as many for the executor to spread)."""


def default_chunk_size(n_paths: int) -> int:
    """Paths per chunk when none is given: about :data:`CHUNKS_PER_CANDIDATE` chunks, 1 to 50 paths each."""
    return min(50, max(1, math.ceil(n_paths / CHUNKS_PER_CANDIDATE)))


# ------------------------------------------------------------------------------ checks
def _finite(x: Any, flag: str, key: str, expected: str, lo: float | None = None, strict: bool = True) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(float(x)):
        raise ConfigError(flag, key, expected, x)
    x = float(x)
    if lo is not None and (x <= lo if strict else x < lo):
        raise ConfigError(flag, key, expected, x)
    return x


def _fraction(x: Any, flag: str, key: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0.0 < float(x) < 1.0:
        raise ConfigError(flag, key, "a number strictly between 0 and 1 (e.g. 0.99)", x)
    return float(x)


def _choice(x: Any, options: Sequence[str], flag: str, key: str) -> str:
    if x not in options:
        raise ConfigError(flag, key, f"one of {list(options)}", x)
    return x


def _int(x: Any, flag: str, key: str, lo: int) -> int:
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or int(x) < lo:
        raise ConfigError(flag, key, f"an integer >= {lo}", x)
    return int(x)


def _asset(sc, asset: Any) -> int:
    assets = sc.model.assets
    if asset not in assets:
        raise ConfigError("--asset", "asset", f"an asset of the scenario's market {list(assets)}", asset)
    return assets.index(asset)


# ------------------------------------------------------------------------------ candidates
@dataclasses.dataclass(frozen=True)
class Candidate:
    """One value of one asset's parameter, and how the book follows it (module docstring)."""

    param: str
    asset: str
    value: float
    book: str = "health"
    market: str | None = None
    """The market of a system scenario whose parameter it is (None: a single-market scenario)."""


def current_value(sc, param: str, asset: str) -> float:
    """The scenario's value of ``param`` for ``asset`` (a cap or ceiling: the book's current total)."""
    i = _asset(sc, asset)
    if param in ("liquidation_threshold", "liquidation_bonus"):
        return float(getattr(sc.model.rules.params, param)[i])
    return _totals(sc.model.book, sc.model.prices, i)[param][1]


def _totals(book, prices, i: int) -> dict[str, tuple[np.ndarray, float]]:
    """Per cap kind: (mask of the accounts it scales, current total it is compared with)."""
    on = book.asset == i
    has_coll = np.zeros(book.n_accounts, dtype=bool)
    has_coll[book.account[on & (book.collateral > 0)]] = True
    has_debt = np.zeros(book.n_accounts, dtype=bool)
    has_debt[book.account[on & (book.debt > 0)]] = True
    ceiling = float((book.debt * np.asarray(prices)[book.asset])[has_coll[book.account]].sum())
    return {
        "supply_cap": (has_coll, float(book.collateral[on].sum())),
        "borrow_cap": (has_debt, float(book.debt[on].sum())),
        "debt_ceiling": (has_coll, ceiling),
    }


def target(sc, market: str | None):
    """The built single-market scenario whose parameters a calibration moves: ``sc`` itself, or
    the market ``market`` of a system scenario (required there, refused for a single market)."""
    if not mc.is_system(sc):
        if market is not None:
            raise ConfigError("--market", "market", "no market for a single-market scenario (--market picks one "
                              "market of a system scenario, [[markets]])", market)
        return sc
    names = list(sc.markets)
    if market not in sc.markets:
        raise ConfigError("--market", "market", f"the market of the system whose parameter moves, one of {names}",
                          market)
    return sc.markets[market]


def apply_candidate(sc, cand: Candidate):
    """The scenario ``sc`` with ``cand`` applied (module docstring): a new built scenario. For a
    system, the candidate's market is changed as a single-market scenario would be and the
    system rebuilt around it (the other markets, prices and venues as they were)."""
    if mc.is_system(sc):
        return _apply_to_system(sc, cand)
    return _apply(sc, cand)


def _apply_to_system(ss, cand: Candidate):
    own = _apply(target(ss, cand.market), dataclasses.replace(cand, market=None))
    i = list(ss.markets).index(cand.market)
    entries = list(ss.config.markets)
    entries[i] = entries[i].model_copy(update={"overrides": own.config.market.overrides})
    markets = {**ss.markets, cand.market: own}
    model = dataclasses.replace(ss.model, markets={n: m.model for n, m in markets.items()})
    return dataclasses.replace(ss, config=ss.config.model_copy(update={"markets": entries}), markets=markets,
                               model=model)


def _apply(sc, cand: Candidate):
    from liqcascade.io import scenario as S
    from liqcascade.io.config import parse_scenario

    i = _asset(sc, cand.asset)
    base_params = sc.model.rules.params
    data = sc.config.model_dump(mode="json")
    ov = dict(data["market"].get("overrides") or {})
    mine = {k: v for k, v in dict(ov.get(cand.asset) or {}).items() if v is not None}
    v = float(cand.value)
    if cand.param == "liquidation_threshold":
        mine["liquidation_threshold"] = v
        mine["ltv"] = min(float(base_params.ltv[i]), v)
    elif cand.param == "liquidation_bonus":
        mine["liquidation_bonus"] = v
    elif cand.param in ("supply_cap", "borrow_cap"):
        mine[cand.param] = v if v > 0 else None  # a zero cap is recorded in the book only
    ov[cand.asset] = mine
    data["market"]["overrides"] = ov
    key = f"market.overrides.{cand.asset}.{cand.param}"
    try:
        cfg = parse_scenario(data, sc.source)
        params = S.risk_params(cfg, sc.snapshot, sc.source)
    except ConfigError as e:
        raise ConfigError(sc.source, key, f"a value the market accepts ({e.expected})", v) from None
    book = sc.model.book
    if cand.param in ("supply_cap", "borrow_cap", "debt_ceiling"):
        mask, total = _totals(book, sc.model.prices, i)[cand.param]
        if not total > 0:
            raise ConfigError(sc.source, "--param", f"a {cand.param} on an asset the book holds on that side "
                              f"(no account's {cand.param.replace('_', ' ')} involves {cand.asset})", cand.param)
        k = np.where(mask[book.account], v / total, 1.0)
        book = book.with_amounts(book.collateral * k, book.debt * k)
    elif cand.param == "liquidation_threshold" and cand.book == "health":
        book = _keep_health(sc, params, book)
    rules = S.liquidation_rules(cfg, params, book, sc.source)
    model = dataclasses.replace(sc.model, book=book, rules=rules)
    return dataclasses.replace(sc, config=cfg, model=model)


def _keep_health(sc, params, book):
    """``book`` with each account's debt scaled so its health under ``params`` equals its
    health under the scenario's parameters (same amounts, reference prices)."""
    from liqcascade.io import scenario as S

    probe = S.liquidation_rules(sc.config, params, book, sc.source)
    p = np.asarray(sc.model.prices, dtype=np.float64)
    old = sc.model.rules.health(sc.model.rules.prepare(book), p).hf
    new = probe.health(probe.prepare(book), p).hf
    dv = book.debt_value(p)
    ok = (dv > 0) & np.isfinite(old) & np.isfinite(new) & (old > 0) & (old < 1e300) & (new < 1e300)
    r = np.where(ok, np.divide(new, old, out=np.ones_like(new), where=ok), 1.0)
    return book.with_amounts(book.collateral.copy(), book.debt * r[book.account])


# per-process cache of the base scenario a candidate is applied to (workers build it once)
_BASE: dict[str, Any] = {}
_BASE_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class CandidateSpec(mc.ScenarioSpec):
    """A :class:`~liqcascade.execution.montecarlo.ScenarioSpec` whose scenario is the base
    scenario with a :class:`Candidate` applied; it travels to any worker like its parent."""

    candidate: Candidate | None = None

    @property
    def key(self) -> str:
        import hashlib

        c = self.candidate
        tail = "" if c is None else f"|{c.param}|{c.asset}|{c.value!r}|{c.book}" + (
            "" if c.market is None else f"|{c.market}")
        return hashlib.sha256((super().key + tail).encode("utf-8")).hexdigest()

    def build(self):
        base_key = mc.ScenarioSpec.key.fget(self)
        with _BASE_LOCK:
            base = _BASE.get(base_key)
        if base is None:
            base = mc.ScenarioSpec.build(self)
            with _BASE_LOCK:
                _BASE.clear()
                _BASE[base_key] = base
        return base if self.candidate is None else apply_candidate(base, self.candidate)


# ------------------------------------------------------------------------------ metric
def metric_estimate(losses: Any, metric: str, level: float, interval: float = 0.95, seed: int = 0
                    ) -> tuple[float, float, float]:
    """(estimate, lo, hi) of ``metric`` (var, cvar, mean) of ``losses`` at ``level``, with its
    ``interval`` confidence interval (order statistics, percentile bootstrap, normal)."""
    from liqcascade import risk

    x = np.asarray(losses, dtype=np.float64)
    if metric == "var":
        lo, hi = risk.var_interval(x, level, interval)
        return risk.value_at_risk(x, level), float(lo), float(hi)
    if metric == "cvar":
        lo, hi = risk.es_interval(x, level, interval, seed=seed)
        return risk.expected_shortfall(x, level), float(lo), float(hi)
    est = risk.mean_interval(x, interval)
    return float(est.estimate), float(est.lo), float(est.hi)


# ------------------------------------------------------------------------------ the search
@dataclasses.dataclass
class _Setup:
    sc: Any
    param: str
    asset: str
    budget: float
    level: float
    metric: str
    loss: str
    kind: str
    book: str
    lo: float
    hi: float
    grid: int
    tol: float
    interval: float
    paths: int
    seed: int
    chunk_size: int
    market: str | None = None
    """A system's market whose parameter moves."""
    budget_market: str | None = None
    """A system's market whose loss the budget is on (None: the system's total)."""

    @property
    def target(self):
        """The (single-market) scenario whose parameter moves."""
        return target(self.sc, self.market)


def default_range(sc, param: str, asset: str) -> tuple[float, float]:
    """The range searched when none is given: threshold from 0.2 below the current one to
    ``1 / (1 + bonus)`` (Aave's LT x LB <= 100 % bound); bonus from 0 to ``min(0.25, 1/LT - 1)``;
    caps and the ceiling from 0 to four times the book's current total."""
    i = _asset(sc, asset)
    p = sc.model.rules.params
    if param == "liquidation_threshold":
        top = 1.0 / (1.0 + float(p.liquidation_bonus[i]))
        return max(0.01, min(float(p.liquidation_threshold[i]), top) - 0.2), top
    if param == "liquidation_bonus":
        lt = float(p.liquidation_threshold[i])
        return 0.0, min(0.25, 1.0 / lt - 1.0) if lt > 0 else 0.25
    return 0.0, 4.0 * current_value(sc, param, asset)


def _allowed(sc, param: str, asset: str) -> str:
    """The bounds a value of ``param`` must keep, in words (for the --range message)."""
    i = _asset(sc, asset)
    p = sc.model.rules.params
    if param == "liquidation_threshold":
        lb = float(p.liquidation_bonus[i])
        return f"0 to {1.0 / (1.0 + lb):.6g} (threshold x (1 + bonus) <= 1 with the bonus {lb:g})"
    if param == "liquidation_bonus":
        lt = float(p.liquidation_threshold[i])
        top = f"{1.0 / lt - 1.0:.6g}" if lt > 0 else "any"
        return f"0 to {top} (threshold x (1 + bonus) <= 1 with the threshold {lt:g})"
    return "0 or more"


def _setup(scenario, param, asset, budget, confidence, metric, loss, kind, book, value_range, grid, tol, interval,
           paths, seed, chunk_size, market=None, budget_market=None) -> _Setup:
    from liqcascade.execution.runs import is_system, load_scenario, load_system

    param = _choice(param, PARAMS, "--param", "param")
    metric = {"es": "cvar"}.get(metric, metric)
    metric = _choice(metric, METRICS, "--metric", "metric")
    loss = _choice(loss, LOSSES, "--loss", "loss")
    kind = _choice(kind, KINDS, "--kind", "kind")
    book = _choice(book, BOOKS, "--book", "book")
    budget = _finite(budget, "--budget", "budget", "a finite budget > 0 (in the loss's unit, USD for bad debt)", 0.0)
    level = _fraction(confidence, "--confidence", "confidence")
    interval = _fraction(interval, "--interval", "interval")
    grid = _int(grid, "--grid", "grid", 3)
    paths = _int(paths, "--paths", "paths", 1)
    sc = load_system(scenario) if is_system(scenario) else load_scenario(scenario)
    own = target(sc, market)
    if budget_market is not None and (not mc.is_system(sc) or budget_market not in sc.markets):
        raise ConfigError("--budget-market", "budget_market", "a market of a system scenario whose loss the budget is "
                          f"on ({list(sc.markets) if mc.is_system(sc) else 'this scenario has one market'})",
                          budget_market)
    _asset(own, asset)
    if kind == "static" and not sc.config.shock:
        raise ConfigError(sc.source, "shock", "a [shock] table for --kind static")
    if kind == "montecarlo":
        mc.prepare(sc)  # [montecarlo] and [simulation] present and valid
        seed = sc.config.montecarlo.seed if seed is None else _int(seed, "--seed", "seed", 0)
    else:
        seed = 0
    if value_range is None:
        lo, hi = default_range(own, param, asset)
    else:
        if isinstance(value_range, str) or len(value_range) != 2:
            raise ConfigError("--range", "range", "two numbers LO:HI", value_range)
        lo = _finite(value_range[0], "--range", "range", "a finite number >= 0 (LO of LO:HI)", 0.0, strict=False)
        hi = _finite(value_range[1], "--range", "range", f"a finite number > LO ({lo}) (HI of LO:HI)", lo)
    if not hi > lo:
        raise ConfigError("--range", "range", f"LO < HI for {param} of {asset}", (lo, hi))
    tol = (hi - lo) / 512.0 if tol is None else _finite(tol, "--tol", "tol", "a finite tolerance > 0", 0.0)
    size = chunk_size if chunk_size is not None else None
    if size is not None:
        size = _int(size, "--chunk-size", "chunk_size", 1)
    else:
        size = default_chunk_size(paths)
    # both ends must be values the market accepts (LT x (1 + LB) <= 1 and so on): checked now
    for end, v in (("LO", lo), ("HI", hi)):
        try:
            apply_candidate(sc, Candidate(param, asset, v, book, market))
        except ConfigError as e:
            if value_range is None:
                raise
            why = e.expected.removeprefix("a value the market accepts (").removesuffix(")")
            raise ConfigError("--range", "range", f"LO:HI inside the values {param} of {asset} may take, "
                              f"{_allowed(own, param, asset)}; {end} = {v:g} is outside ({why})",
                              f"{lo:g}:{hi:g}") from None
    return _Setup(sc, param, asset, budget, level, metric, loss, kind, book, lo, hi, grid, float(tol), interval,
                  paths, int(seed), size, market, budget_market)


def _identity(s: _Setup) -> dict[str, Any]:
    if s.kind == "montecarlo":
        from liqcascade.execution.api import hashed_config

        cfg = hashed_config(s.sc)
    else:
        cfg = {k: v for k, v in s.sc.resolved().items() if k not in ("name", "description", "curve", "simulation",
                                                                      "montecarlo")}
    ident = {"kind": KIND, "config": cfg, "param": s.param, "asset": s.asset, "budget": s.budget,
             "confidence": s.level, "metric": s.metric, "loss": s.loss, "calibrate_kind": s.kind, "book": s.book,
             "range": [s.lo, s.hi], "grid": s.grid, "tol": s.tol, "interval": s.interval,
             "paths": s.paths if s.kind == "montecarlo" else None, "seed": s.seed}
    if s.market is not None:  # a system's (single-market identities stay as they were)
        ident.update({"market": s.market, "budget_market": s.budget_market})
    return ident


PATHS_TABLE = "candidate_paths"


class _Evaluator:
    """Evaluates candidate values (a batch at a time) on the shared paths.

    With a store (Monte Carlo), chunk ``c`` of the candidate evaluated ``step``-th lands at once
    as part ``step * chunks_per_candidate + c`` of the calibration's ``candidate_paths`` table;
    parts already landed (an interrupted run of the same calibration) are read, not recomputed.
    The search is deterministic, so a rerun asks for the same candidates in the same order."""

    def __init__(self, s: _Setup, executor, progress, store: ResultsStore | None = None, rid: str = "",
                 chunk_progress=None) -> None:
        self.s, self.ex, self.progress, self.chunk_progress = s, executor, progress, chunk_progress
        self.spec = mc.ScenarioSpec.of(s.sc)
        self.rows: list[dict[str, Any]] = []
        self.path_frames: list[pd.DataFrame] = []
        self.done = 0
        self.st, self.rid = store, rid
        self.bounds = [(c.start, c.stop) for c in mc.chunks(self.spec, s.seed, s.paths, s.chunk_size)]
        self.landed = self._landed() if store is not None else {}

    def _landed(self) -> dict[int, pd.DataFrame]:
        """The parts an earlier, interrupted run stored: {part: rows}."""
        ids = self.st.parts(self.rid, PATHS_TABLE)
        if not ids:
            return {}
        whole, out, at = self.st.load_parts(self.rid, PATHS_TABLE), {}, 0
        for part in ids:
            lo, hi = self.bounds[part % len(self.bounds)]
            df = whole.iloc[at: at + hi - lo].reset_index(drop=True)
            at += hi - lo
            if df["path"].tolist() != list(range(lo, hi)):
                raise StoreError(f"run {self.rid!r}: part {part} of {PATHS_TABLE} does not hold paths {lo}..{hi - 1}; "
                                 "the stored calibration is inconsistent (use another store)")
            out[part] = df
        return out

    def batch(self, values: Sequence[float], stage: str) -> list[float]:
        s = self.s
        if s.kind == "static":
            outs = [self._static(v) for v in values]
        else:
            outs = self._montecarlo(values)
        ests = []
        for v, losses in zip(values, outs):
            if s.kind == "static":  # one deterministic outcome: the estimate is exact
                est = lo = hi = float(losses[0])
            else:
                est, lo, hi = metric_estimate(losses, s.metric, s.level, s.interval, s.seed)
            self.rows.append({"value": float(v), "estimate": est, "lo": lo, "hi": hi, "within_budget": est <= s.budget,
                              "stage": stage, "step": len(self.rows), "metric": f"{s.metric}_{s.loss}",
                              "n_paths": int(np.size(losses))})
            ests.append(est)
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, None)
        return ests

    def _static(self, v: float) -> np.ndarray:
        from liqcascade.engine.run import run_static

        s = self.s
        sc2 = apply_candidate(s.sc, Candidate(s.param, s.asset, v, s.book, s.market))
        if s.market is None:
            res = run_static(sc2.model, dict(s.sc.config.shock), sc2.settings)
            return np.array([float(res.summary[s.loss])])
        from liqcascade.engine.system import SystemCascade

        solver = SystemCascade(sc2.model, sc2.settings, sc2.market_settings)
        out = solver.run(dict(s.sc.config.shock))
        names = [s.budget_market] if s.budget_market is not None else list(sc2.model.names)
        return np.array([float(sum(solver.totals(n, out.markets[n])[s.loss] for n in names))])

    def _montecarlo(self, values: Sequence[float]) -> list[np.ndarray]:
        s, m, first = self.s, len(self.bounds), len(self.rows)  # the batch's first candidate's step
        specs = [CandidateSpec(self.spec.config, self.spec.base_dir, self.spec.source, self.spec.system,
                               candidate=Candidate(s.param, s.asset, float(v), s.book, s.market)) for v in values]
        todo: list[mc.Chunk] = []
        part_of: dict[int, int] = {}
        got: dict[int, pd.DataFrame] = {}
        for k, (sp, v) in enumerate(zip(specs, values)):
            for c in mc.chunks(sp, s.seed, s.paths, s.chunk_size):
                part = (first + k) * m + c.index
                if part in self.landed:
                    df = self.landed.pop(part)
                    if not (df["value"] == float(v)).all():
                        raise StoreError(f"run {self.rid!r}: part {part} of {PATHS_TABLE} is of value "
                                         f"{df['value'].iloc[0]!r}, the search asks {float(v)!r} (use another store)")
                    got[part] = df
                else:
                    todo.append(c)
                    part_of[id(c)] = part

        total = len(got) + len(todo)
        if self.chunk_progress is not None:
            self.chunk_progress(len(got), total)

        def land(c: mc.Chunk, df: pd.DataFrame) -> None:
            part = part_of[id(c)]
            if s.budget_market is not None:  # the budget is on one market's losses: those are the loss columns
                df = df.assign(**{k: df[mc.market_column(s.budget_market, k)] for k in LOSSES})
            keep = ["path", "seed"] + list(LOSSES) + [x for x in df.columns if x.startswith("exo_")]
            got[part] = df[keep].assign(value=float(c.spec.candidate.value)).reset_index(drop=True)
            if self.st is not None:
                self.st.save_part(self.rid, PATHS_TABLE, part, got[part])
            if self.chunk_progress is not None:
                self.chunk_progress(len(got), total)

        mc.run_chunks(todo, self.ex, land)
        outs = []
        for k in range(len(values)):
            df = pd.concat([got[(first + k) * m + c] for c in range(m)], ignore_index=True)
            df = df.sort_values("path", kind="stable").reset_index(drop=True)
            self.path_frames.append(df)
            outs.append(df[s.loss].to_numpy(np.float64))
        return outs


def _search(ev: _Evaluator) -> tuple[float, str]:
    """The chosen value and a status (module docstring: grid, then bisection)."""
    s = ev.s
    up = INCREASING[s.param]
    grid = np.linspace(s.lo, s.hi, s.grid)
    order = grid if up else grid[::-1]  # from the safe end
    ests = ev.batch(list(order), "grid")
    ok = [e <= s.budget for e in ests]
    if not ok[0]:
        return math.nan, f"no value in [{s.lo:g}, {s.hi:g}] keeps the metric within budget"
    k = next((j for j in range(len(ok)) if not ok[j]), len(ok)) - 1
    if k == len(ok) - 1:
        return float(order[-1]), "the whole range is within budget (widen --range)"
    good, bad = float(order[k]), float(order[k + 1])
    while abs(bad - good) > s.tol:
        mid = 0.5 * (good + bad)
        (e,) = ev.batch([mid], "bisect")
        if e <= s.budget:
            good = mid
        else:
            bad = mid
    return good, "found"


def calibrate(
    scenario,
    param: str,
    asset: str,
    budget: float,
    confidence: float = 0.99,
    metric: str = "var",
    loss: str = "bad_debt_usd",
    kind: str = "montecarlo",
    paths: int = 1000,
    seed: int | None = None,
    executor: str = "local",
    workers: int | None = None,
    chunk_size: int | None = None,
    value_range: tuple[float, float] | None = None,
    grid: int = 9,
    tol: float | None = None,
    book: str = "health",
    interval: float = 0.95,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    progress: Callable[[int, int | None], None] | None = None,
    recompute: bool = False,
    chunk_progress: Callable[[int, int], None] | None = None,
    market: str | None = None,
    budget_market: str | None = None,
) -> Result:
    """Search ``param`` of ``asset`` for the extreme value (module docstring) whose ``metric``
    (var, cvar, mean) of ``loss`` at level ``confidence`` stays ``<= budget``.

    Tables: ``candidates`` (every value explored: estimate and its ``interval`` confidence
    interval, within_budget, stage grid/bisect, step), ``summary`` (one row: param, asset,
    metric, budget, chosen — NaN when no value in the range is within budget — status,
    monotone, ...), and for Monte Carlo ``candidate_paths`` (per value and path: the losses and
    the exogenous returns, identical across values by construction). Every argument is checked
    before any work; a stored identical calibration is loaded instead of rerun. With a store, a
    Monte Carlo calibration's chunks land as parts of ``candidate_paths`` as they finish, and the
    same call after an interruption runs only the chunks that had not landed (``chunk_size``:
    leave it out or give the first run's). ``progress(done, None)`` counts candidates;
    ``chunk_progress(done, total)`` the chunks of each batch of Monte Carlo candidates.

    A system scenario (``[[markets]]``): ``market`` names the market whose parameter moves
    (the others keep theirs); the loss is the system's total over its markets, or the market
    ``budget_market``'s own; every candidate runs the whole system (Monte Carlo: block by
    block on the shared venues). The summary's ``market`` and ``budget_on`` say which.
    """
    from liqcascade.execution.executors import open_executor, parse_executor

    s = _setup(scenario, param, asset, budget, confidence, metric, loss, kind, book, value_range, grid, tol, interval,
               paths, seed, chunk_size, market, budget_market)
    if kind == "montecarlo":
        parse_executor(executor)
    ident = _identity(s)
    rid = _run_id(ident, __version__)
    found = _found(store, rid)
    if found is not None and not recompute:
        return found
    t0 = time.perf_counter()
    parted = None  # the store the Monte Carlo chunks land in as they finish (resumable)
    meta = {"source": s.sc.source, "param": s.param, "asset": s.asset, "budget": s.budget,
            "metric": f"{s.metric}_{s.loss}"}
    if kind == "montecarlo":
        with open_executor(executor, workers) as ex:
            if store is not None and found is None:
                parted = store if isinstance(store, ResultsStore) else ResultsStore(Path(store))
                s.chunk_size = _resumed_chunk_size(parted, rid, chunk_size, s.chunk_size)
                parted.begin(rid, KIND, ident, {**meta, "paths": s.paths, "chunk_size": s.chunk_size})
            ev = _Evaluator(s, ex, progress, parted, rid, chunk_progress)
            chosen, status = _search(ev)
    else:
        ev = _Evaluator(s, None, progress)
        chosen, status = _search(ev)
    tables = _tables(s, ev, chosen, status, time.perf_counter() - t0)
    res = Result(KIND, tables, ident)
    if store is None:
        return res
    _save(store, parted, rid, res, {**meta, "chosen": chosen})
    return res.with_run_id(rid)


def _save(store, parted: ResultsStore | None, rid: str, res: Result, meta: dict) -> None:
    """Store the calibration: when its candidate paths landed in parts (``parted``), add the
    other tables and mark the run finished; otherwise save it whole."""
    if parted is not None:
        parted.finish(rid, {k: v for k, v in res.tables.items() if k != PATHS_TABLE}, {"chosen": meta["chosen"]})
        return
    st = store if isinstance(store, ResultsStore) else ResultsStore(Path(store))
    st.save(rid, KIND, res.config, res.tables, meta)


def _tables(s, ev: "_Evaluator", chosen: float, status: str, wall: float) -> dict[str, pd.DataFrame]:
    """The calibration's tables: every candidate, the one-row summary, and for Monte Carlo
    each candidate's paths."""
    cand = pd.DataFrame(ev.rows)
    # monotone in the assumed direction, up to 0.1 % of the budget (steps that small do not move the answer)
    steps = np.diff(cand.sort_values("value")["estimate"].to_numpy()) * (1.0 if INCREASING[s.param] else -1.0)
    mono = bool(np.all(steps >= -1e-3 * s.budget))
    if not mono:
        status += "; the explored curve is not monotone in the assumed direction: check the candidates table"
    summary = pd.DataFrame([{
        "param": s.param, "asset": s.asset, "metric": f"{s.metric}_{s.loss}", "statistic": s.metric, "loss": s.loss,
        "confidence": s.level, "budget": s.budget, "chosen": chosen, "status": status, "monotone": mono,
        "current": current_value(s.target, s.param, s.asset), "range_lo": s.lo, "range_hi": s.hi, "tol": s.tol,
        "kind": s.kind, "book": s.book, "paths": s.paths if s.kind == "montecarlo" else 1, "seed": s.seed,
        "evaluations": len(cand), "wall_s": wall, "interval": s.interval,
    }])
    if s.market is not None:
        summary.insert(2, "market", s.market)
        summary.insert(3, "budget_on", s.budget_market or "system")
    tables = {"candidates": cand, "summary": summary}
    if ev.path_frames:
        tables["candidate_paths"] = pd.concat(ev.path_frames, ignore_index=True)
    return tables


def _resumed_chunk_size(st: ResultsStore, rid: str, given: int | None, size: int) -> int:
    """The chunk size of an interrupted run of this calibration (its parts are cut by it), else ``size``."""
    info = st.info(rid)
    if info is None:
        return size
    stored = int(info["meta"]["chunk_size"])
    if given is not None and given != stored:
        raise ConfigError("--chunk-size", "chunk_size", f"{stored}, the chunk size the interrupted calibration {rid} "
                          "was started with (or leave it out to resume)", given)
    return stored


def _found(store, rid: str) -> Result | None:
    from liqcascade.execution.runs import stored

    return stored(store, rid, KIND, with_config=True)


# ------------------------------------------------------------------------------ liquidity rule
def slippage(venue, q: float) -> float:
    """Average execution shortfall of selling ``q`` tokens into ``venue`` (0 = at the mid price)."""
    if q <= 0:
        return 0.0
    p = venue.mid_price()
    got = float(venue.quote_sell(q))
    if not math.isfinite(got):
        return 1.0
    return min(1.0, max(0.0, 1.0 - got / (q * p)))


def max_sale(venue, limit: float, rel_tol: float = 1e-9) -> float:
    """Largest ``q`` (tokens) with :func:`slippage` ``<= limit`` (bisection; slippage grows with q)."""
    if limit <= 0:
        return 0.0
    p = venue.mid_price()
    hi = 1.0 / p  # one USD
    while slippage(venue, hi) <= limit:
        hi *= 2.0
        if hi * p > 1e15:  # a venue that never slips that much within a quadrillion USD
            return math.inf
    lo = 0.0
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        if slippage(venue, mid) <= limit:
            lo = mid
        else:
            hi = mid
    return lo


def liquidity_cap(scenario, asset: str, blocks: int = 1, share: float = 1.0,
                  store: ResultsStore | str | Path | None = DEFAULT_STORE, points: int = 41) -> Result:
    """The liquidity-based supply cap of ``asset`` (module docstring): tables ``summary`` (cap in
    tokens and USD, the liquidator's bonus, the per-block sale) and ``candidates`` (slippage of
    the per-block sale against the cap over 0..2 x the cap: the curve for the report)."""
    from liqcascade.execution.runs import is_system, load_scenario

    if is_system(scenario):
        raise ConfigError("--method", "method", "search for a system scenario ([[markets]]): the liquidity rule "
                          "prices one market's sale alone, a system's markets sell into shared venues together",
                          "liquidity")
    blocks = _int(blocks, "--blocks", "blocks", 1)
    if isinstance(share, bool) or not isinstance(share, numbers.Real) or not 0.0 < float(share) <= 1.0:
        raise ConfigError("--share", "share", "a share of the cap in (0, 1]", share)
    share = float(share)
    sc = load_scenario(scenario)
    i = _asset(sc, asset)
    venue = sc.model.venues.get(asset)
    if venue is None:
        raise ConfigError(sc.source, "venues", f"a venue selling {asset} (the liquidity rule prices the sale there)",
                          sorted(sc.model.venues))
    prm = sc.model.rules.params
    bonus = float(prm.liquidation_bonus[i]) * (1.0 - float(prm.protocol_fee[i]))
    if not bonus > 0:
        raise ConfigError(sc.source, f"market.overrides.{asset}.liquidation_bonus", "a bonus > 0 (with none, no "
                          "liquidation is profitable after any slippage)", float(prm.liquidation_bonus[i]))
    ident = {"kind": KIND, "rule": "liquidity", "config": {k: v for k, v in sc.resolved().items()
                                                              if k in ("market", "prices", "venues", "positions")},
             "asset": asset, "blocks": blocks, "share": share, "points": points}
    rid = _run_id(ident, __version__)
    found = _found(store, rid)
    if found is not None:
        return found
    q = max_sale(venue, bonus)
    cap = blocks * q / share
    p = float(venue.mid_price())
    top = 2.0 * cap if math.isfinite(cap) and cap > 0 else 1.0
    caps = np.linspace(0.0, top, points)
    slips = [slippage(venue, c * share / blocks) for c in caps]
    cand = pd.DataFrame({"value": caps, "estimate": slips, "lo": slips, "hi": slips,
                         "within_budget": [x <= bonus for x in slips], "stage": "grid", "step": np.arange(points),
                         "metric": "slippage", "per_block_tokens": caps * share / blocks})
    summary = pd.DataFrame([{
        "param": "supply_cap", "asset": asset, "metric": "slippage", "method": "liquidity", "budget": bonus,
        "chosen": cap, "chosen_usd": cap * p, "price": p, "blocks": blocks, "share": share,
        "per_block_tokens": q, "liquidation_bonus": float(prm.liquidation_bonus[i]),
        "protocol_fee": float(prm.protocol_fee[i]), "current_supply": current_value(sc, "supply_cap", asset),
        "status": "found" if math.isfinite(cap) else "the venues never slip by the bonus",
    }])
    tables = {"candidates": cand, "summary": summary}
    res = Result(KIND, tables, ident)
    if store is None:
        return res
    st = store if isinstance(store, ResultsStore) else ResultsStore(Path(store))
    st.save(rid, KIND, ident, tables, {"source": sc.source, "param": "supply_cap", "asset": asset,
                                       "metric": "slippage", "budget": bonus, "chosen": cap})
    return res.with_run_id(rid)


__all__ = [
    "BOOKS", "Candidate", "CandidateSpec", "INCREASING", "KINDS", "LOSSES", "METRICS", "PARAMS", "apply_candidate",
    "calibrate", "current_value", "default_chunk_size", "default_range", "liquidity_cap", "max_sale", "metric_estimate", "slippage",
]
