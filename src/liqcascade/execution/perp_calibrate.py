"""Perp margin calibration: the loosest maintenance scale, maximum leverage or open-interest
cap of a perp scenario that keeps a risk metric over mark paths within a budget (issue 13 item 7).

How a candidate acts on the scenario (:func:`apply_perp_candidate`)
-------------------------------------------------------------------
The scenario is built once; a candidate changes the engine or the book, never the paths, the
venue or the fund:

- ``maintenance_scale`` ``s``: every tier's maintenance rate times ``s`` (Binance-like and
  Hyperliquid tiers: ``mmr · s``, so the requirement ``N · mmr − deduction`` is ``s`` times
  the scenario's, the deduction being derived from the rates; dYdX: each tier's maintenance
  fraction times ``s``). A scaled rate above 1 is refused (``--range``).
- ``max_leverage`` ``L``: every account whose notional exceeds ``L`` times its equity at the
  first mark has its collateral raised to ``notional / L`` (as the synthetic book tops up to
  the initial margin); the others are unchanged.
- ``oi_cap`` ``k``: every position's size and every account's collateral times ``k``, so each
  side's open interest is ``k`` times the scenario's and every account's leverage unchanged.

Metrics over the paths (:data:`PERP_CAL_METRICS`, columns of the perp run's summary):
``fund_var`` the VaR at ``confidence`` of the fund's depletion ``fund_start − fund_min``;
``socialised_var`` that of ``written_off_usd``; ``p_adl`` the share of paths with
``adl_usd > 0``. Looser values (a smaller scale, a larger leverage or cap) are assumed to give
a larger metric; the search (grid from the safe end, then bisection, as
:mod:`liqcascade.execution.calibrate`) returns the loosest value within budget, and the
summary's ``monotone`` says whether the explored curve agrees. Every candidate runs on the same
paths: the scenario's own path (``paths=None``) or ``paths`` resampled from it with ``seed``
(:func:`~liqcascade.scenarios.perp_paths.bootstrap_marks`), drawn once.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.errors import ConfigError
from liqcascade.io.perp_scenario import PerpScenario, load_perp_scenario
from liqcascade.io.store import ResultsStore, run_id as _run_id

__all__ = ["KIND", "PERP_CAL_METRICS", "PERP_PARAMS", "apply_perp_candidate", "perp_calibrate"]

KIND = "perps_calibrate"
PERP_PARAMS = ("maintenance_scale", "max_leverage", "oi_cap")
PERP_CAL_METRICS = ("fund_var", "p_adl", "socialised_var")
LOOSER_IS_LARGER = {"maintenance_scale": False, "max_leverage": True, "oi_cap": True}
"""Whether a looser (riskier) value is a larger one: the answer is then the largest within budget."""
DEFAULT_RANGES = {"maintenance_scale": (0.5, 2.0), "max_leverage": (2.0, 100.0), "oi_cap": (0.25, 4.0)}


@dataclasses.dataclass(frozen=True)
class PerpCalibration:
    """The checked arguments of one calibration."""

    param: str
    metric: str
    budget: float
    confidence: float
    lo: float
    hi: float
    grid: int
    tol: float
    paths: int | None
    seed: int


# ------------------------------------------------------------------------------ candidates
def _scaled_tiers(engine, s: float, source: str):
    from liqcascade.protocols.perps_tiers import MarginTiers, TierTable

    tiers = engine.settings.tiers
    new = {}
    for name, t in tiers.tiers.items():
        if float(np.max(t.maintenance_rate)) * s > 1.0:
            raise ConfigError("--range", "range", f"a maintenance scale keeping every rate ≤ 1 (tier table {name!r} "
                              f"of {source} has rates up to {float(np.max(t.maintenance_rate)):g})", s)
        new[name] = MarginTiers.build(t.floor, t.max_leverage, t.maintenance_rate * s, source, f"tiers.{name}")
    settings = dataclasses.replace(engine.settings, tiers=TierTable(new, tiers.source))
    return dataclasses.replace(engine, settings=settings)


def _scaled_dydx(engine, s: float):
    from liqcascade.protocols.dydx_v4.rules import DydxV4Rules

    def scaled(t):
        if t.maintenance_fraction * s > 1.0:
            raise ConfigError("--range", "range", "a maintenance scale keeping every dYdX maintenance fraction ≤ 1", s)
        return dataclasses.replace(t, maintenance_fraction=t.maintenance_fraction * s)

    return DydxV4Rules({m: scaled(t) for m, t in engine.tiers.items()}, scaled(engine.default_tier),
                       engine.max_liquidation_fee, engine.bankruptcy_adjustment, engine.spread_to_mmr)


def _topped_up(ps: PerpScenario, lev: float):
    book = dataclasses.replace(ps.book, collateral=ps.book.collateral.copy())
    state = ps.engine.margin(book, ps.marks[:1], None)
    need = state.notional / lev  # the equity that brings the account's leverage down to lev
    short = np.flatnonzero(state.notional > lev * state.equity)
    book.collateral[short] += need[short] - state.equity[short]
    return book


def apply_perp_candidate(ps: PerpScenario, param: str, value: float) -> PerpScenario:
    """``ps`` with ``param`` at ``value`` (module docstring); ``ps`` is left as it was."""
    if param == "maintenance_scale":
        from liqcascade.protocols.dydx_v4.rules import DydxV4Rules

        eng = _scaled_dydx(ps.engine, value) if isinstance(ps.engine, DydxV4Rules) else _scaled_tiers(
            ps.engine, value, ps.source)
        return dataclasses.replace(ps, engine=eng)
    if param == "max_leverage":
        return dataclasses.replace(ps, book=_topped_up(ps, value))
    book = dataclasses.replace(ps.book, size=ps.book.size * value, collateral=ps.book.collateral * value)
    return dataclasses.replace(ps, book=book)


# ------------------------------------------------------------------------------ checks
def _number(x: Any, flag: str, expected: str, ok) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(float(x)) or not ok(float(x)):
        raise ConfigError(flag, flag.lstrip("-").replace("-", "_"), expected, x)
    return float(x)


def _check(param, metric, budget, confidence, value_range, grid, tol, paths, seed) -> PerpCalibration:
    if param not in PERP_PARAMS:
        raise ConfigError("--param", "param", f"one of {list(PERP_PARAMS)} for a perp scenario", param)
    if metric not in PERP_CAL_METRICS:
        raise ConfigError("--metric", "metric", f"one of {list(PERP_CAL_METRICS)} for a perp scenario", metric)
    budget = _number(budget, "--budget", "a finite budget ≥ 0", lambda b: b >= 0)
    confidence = _number(confidence, "--confidence", "a number strictly between 0 and 1 (e.g. 0.99)",
                         lambda c: 0 < c < 1)
    lo, hi = DEFAULT_RANGES[param] if value_range is None else value_range
    lo = _number(lo, "--range", "LO:HI with 0 < LO < HI", lambda v: v > 0)
    hi = _number(hi, "--range", "LO:HI with 0 < LO < HI", lambda v: v > lo)
    if param == "max_leverage" and lo < 1:
        raise ConfigError("--range", "range", "leverages ≥ 1", lo)
    if isinstance(grid, bool) or not isinstance(grid, numbers.Integral) or grid < 2:
        raise ConfigError("--grid", "grid", "an integer >= 2", grid)
    tol = (hi - lo) / 512 if tol is None else _number(tol, "--tol", "a tolerance > 0", lambda t: t > 0)
    if paths is not None and (isinstance(paths, bool) or not isinstance(paths, numbers.Integral) or paths < 1):
        raise ConfigError("--paths", "paths", "an integer >= 1", paths)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError("--seed", "seed", "an integer", seed)
    return PerpCalibration(param, metric, budget, confidence, lo, hi, int(grid), tol, paths, int(seed))


# ------------------------------------------------------------------------------ evaluation
def _metric(summaries: pd.DataFrame, c: PerpCalibration) -> float:
    from liqcascade.risk.metrics import value_at_risk

    if c.metric == "p_adl":
        return float(np.mean(summaries["adl_usd"].to_numpy() > 0.0))
    if c.metric == "fund_var":
        x = np.maximum(summaries["fund_start_usd"].to_numpy() - summaries["fund_min_usd"].to_numpy(), 0.0)
    else:
        x = summaries["written_off_usd"].to_numpy()
    return float(value_at_risk(x, c.confidence))


class _Evaluator:
    """Runs candidates on the shared paths and keeps one row per candidate."""

    def __init__(self, ps: PerpScenario, c: PerpCalibration, marks: np.ndarray, progress=None) -> None:
        self.ps, self.c, self.marks, self.progress = ps, c, marks, progress
        self.rows: list[dict[str, Any]] = []

    def __call__(self, value: float, stage: str) -> float:
        from liqcascade.execution.perps import run_perp_scenario

        cand = apply_perp_candidate(self.ps, self.c.param, value)
        rows = [run_perp_scenario(dataclasses.replace(cand, marks=m)).table("summary") for m in self.marks]
        s = pd.concat(rows, ignore_index=True)
        est = _metric(s, self.c)
        self.rows.append({"value": value, "estimate": est, "within_budget": est <= self.c.budget, "stage": stage,
                          "step": len(self.rows), "adl_paths": int(np.count_nonzero(s["adl_usd"] > 0)),
                          "mean_written_off_usd": float(s["written_off_usd"].mean())})
        if self.progress is not None:
            self.progress(len(self.rows), None)
        return est


def _search(ev: _Evaluator) -> tuple[float, str]:
    """The loosest value within budget: the grid from the safe end, then bisection."""
    c = ev.c
    grid = np.linspace(c.lo, c.hi, c.grid)
    order = grid if LOOSER_IS_LARGER[c.param] else grid[::-1]
    ok = [ev(float(v), "grid") <= c.budget for v in order]
    if not ok[0]:
        return math.nan, f"no value in [{c.lo:g}, {c.hi:g}] keeps the metric within budget"
    k = next((j for j in range(len(ok)) if not ok[j]), len(ok)) - 1
    if k == len(ok) - 1:
        return float(order[-1]), "the whole range is within budget (widen --range)"
    good, bad = float(order[k]), float(order[k + 1])
    while abs(bad - good) > c.tol:
        mid = 0.5 * (good + bad)
        if ev(mid, "bisect") <= c.budget:
            good = mid
        else:
            bad = mid
    return good, "found"


def perp_calibrate(scenario: str | Path | PerpScenario, param: str, budget: float, metric: str = "p_adl",
                   confidence: float = 0.99, paths: int | None = None, seed: int = 0,
                   value_range: tuple[float, float] | None = None, grid: int = 5, tol: float | None = None,
                   store: ResultsStore | str | Path | None = None, recompute: bool = False, progress=None) -> Result:
    """The loosest ``param`` (module docstring) whose ``metric`` stays ``<= budget``.

    Tables ``candidates`` (value, estimate, within_budget, stage, step, adl_paths,
    mean_written_off_usd) and ``summary`` (one row: param, metric, confidence, budget, chosen —
    NaN when no value is within budget — status, monotone, range, paths, seed, evaluations).
    Every argument is checked before any run; stored as kind ``perps_calibrate``."""
    from liqcascade.execution.runs import hashed, save, stored
    from liqcascade.scenarios.perp_paths import bootstrap_marks

    c = _check(param, metric, budget, confidence, value_range, grid, tol, paths, seed)
    ps = scenario if isinstance(scenario, PerpScenario) else load_perp_scenario(scenario)
    for v in (c.lo, c.hi):  # a bad end of the range fails here, before any run
        apply_perp_candidate(ps, c.param, v)
    cfg = ps.resolved()
    ident = {"kind": KIND, "config": hashed(cfg, ()), **dataclasses.asdict(c)}
    rid = _run_id(ident, __version__)
    if not recompute and (found := stored(store, rid, KIND)) is not None:
        return found
    marks = ps.marks[None, :] if c.paths is None else bootstrap_marks(ps.marks, c.paths, c.seed)
    ev = _Evaluator(ps, c, marks, progress)
    chosen, status = _search(ev)
    cand = pd.DataFrame(ev.rows)
    # the metric should not fall as the value loosens, up to 0.1 % of the budget (or 1e-9 for a zero budget)
    steps = np.diff(cand.sort_values("value")["estimate"].to_numpy()) * (1.0 if LOOSER_IS_LARGER[c.param] else -1.0)
    mono = bool(np.all(steps >= -max(1e-3 * c.budget, 1e-9)))
    if not mono:
        status += "; the explored curve is not monotone in the assumed direction: check the candidates table"
    summary = pd.DataFrame([{"param": c.param, "metric": c.metric, "confidence": c.confidence, "budget": c.budget,
                             "chosen": chosen, "status": status, "monotone": mono, "range_lo": c.lo,
                             "range_hi": c.hi, "tol": c.tol, "paths": marks.shape[0], "seed": c.seed,
                             "own_path": c.paths is None, "evaluations": len(cand)}])
    res = Result(KIND, {"candidates": cand, "summary": summary}, cfg)
    save(store, rid, KIND, cfg, res, {"source": ps.source, "param": c.param, "metric": c.metric, "chosen": chosen})
    return res.with_run_id(rid) if store is not None else res
