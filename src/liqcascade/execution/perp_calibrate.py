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
(:func:`~liqcascade.scenarios.perp_paths.bootstrap_path`: path ``i`` from ``(seed, i)`` alone).
Each candidate's paths run in chunks on an executor
(:mod:`liqcascade.execution.perp_montecarlo`; the grid's candidates all at once), with the same
numbers on every executor and chunking; with a store every chunk lands as a part of
``candidate_paths`` and an interrupted calibration resumes.
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
from liqcascade.io.store import ResultsStore, StoreError, run_id as _run_id

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


PATHS_TABLE = "candidate_paths"
_PATH_KEEP = ("path", "chunk", "seed", "value", "adl_usd", "fund_start_usd", "fund_min_usd", "written_off_usd",
              "liquidated_usd", "low_mark")
"""The columns of ``candidate_paths``: per candidate value and path, what the metrics read."""


class _Evaluator:
    """Evaluates candidate values (a batch at a time) on the shared paths, on an executor.

    Each candidate's paths are cut into the same chunks; chunk ``c`` of the candidate evaluated
    ``step``-th is part ``step * chunks_per_candidate + c`` of ``candidate_paths``, stored as it
    lands when there is a store. Parts an interrupted run of the same calibration stored are
    read, not recomputed: the search is deterministic, so a rerun asks for the same candidates
    in the same order."""

    def __init__(self, spec, c: PerpCalibration, chunks: list, executor, progress=None, store=None,
                 rid: str = "") -> None:
        self.spec, self.c, self.chunks, self.ex, self.progress = spec, c, chunks, executor, progress
        self.st, self.rid = store, rid
        self.rows: list[dict[str, Any]] = []
        self.path_frames: list[pd.DataFrame] = []
        self.landed = self._landed() if store is not None else {}

    def _landed(self) -> dict[int, pd.DataFrame]:
        """The parts an earlier, interrupted run stored: {part: rows}."""
        ids = self.st.parts(self.rid, PATHS_TABLE)
        whole, out, at = (self.st.load_parts(self.rid, PATHS_TABLE) if ids else None), {}, 0
        for part in ids:
            ch = self.chunks[part % len(self.chunks)]
            out[part] = whole.iloc[at: at + ch.stop - ch.start].reset_index(drop=True)
            at += ch.stop - ch.start
        return out

    def batch(self, values: list[float], stage: str) -> list[float]:
        from liqcascade.execution.perp_montecarlo import run_perp_chunks

        m, first = len(self.chunks), len(self.rows)
        got: dict[int, pd.DataFrame] = {}
        todo, part_of = [], {}
        for k, v in enumerate(values):
            spec = self.spec.with_candidate(self.c.param, v)
            for ch in self.chunks:
                part = (first + k) * m + ch.index
                if part in self.landed:
                    got[part] = self.landed.pop(part)
                    if not (got[part]["value"] == float(v)).all() or got[part]["path"].tolist() != list(
                            range(ch.start, ch.stop)):
                        raise StoreError(f"run {self.rid!r}: part {part} of {PATHS_TABLE} is not paths {ch.start}.."
                                         f"{ch.stop - 1} of value {float(v)!r}, which the search asks for; the stored "
                                         "calibration is inconsistent (use another store)")
                else:
                    todo.append(dataclasses.replace(ch, spec=spec))
                    part_of[(float(v), ch.index)] = part

        def land(ch, df: pd.DataFrame) -> None:
            part = part_of[(ch.spec.candidate[1], ch.index)]
            got[part] = df[list(_PATH_KEEP)].reset_index(drop=True)
            if self.st is not None:
                self.st.save_part(self.rid, PATHS_TABLE, part, got[part])

        if todo:
            run_perp_chunks(todo, self.ex, land)
        return [self._row(pd.concat([got[(first + k) * m + j] for j in range(m)], ignore_index=True), v, stage)
                for k, v in enumerate(values)]

    def _row(self, s: pd.DataFrame, value: float, stage: str) -> float:
        est = _metric(s, self.c)
        self.path_frames.append(s)
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
    ok = [e <= c.budget for e in ev.batch([float(v) for v in order], "grid")]  # the grid at once: in parallel
    if not ok[0]:
        return math.nan, f"no value in [{c.lo:g}, {c.hi:g}] keeps the metric within budget"
    k = next((j for j in range(len(ok)) if not ok[j]), len(ok)) - 1
    if k == len(ok) - 1:
        return float(order[-1]), "the whole range is within budget (widen --range)"
    good, bad = float(order[k]), float(order[k + 1])
    while abs(bad - good) > c.tol:
        mid = 0.5 * (good + bad)
        if ev.batch([mid], "bisect")[0] <= c.budget:
            good = mid
        else:
            bad = mid
    return good, "found"


def perp_calibrate(scenario: str | Path | PerpScenario, param: str, budget: float, metric: str = "p_adl",
                   confidence: float = 0.99, paths: int | None = None, seed: int = 0,
                   value_range: tuple[float, float] | None = None, grid: int = 5, tol: float | None = None,
                   store: ResultsStore | str | Path | None = None, recompute: bool = False, progress=None,
                   executor="serial", workers: int | None = None, chunk_size: int | None = None) -> Result:
    """The loosest ``param`` (module docstring) whose ``metric`` stays ``<= budget``.

    Tables ``candidates`` (value, estimate, within_budget, stage, step, adl_paths,
    mean_written_off_usd), ``summary`` (one row: param, metric, confidence, budget, chosen —
    NaN when no value is within budget — status, monotone, range, paths, seed, evaluations) and
    ``candidate_paths`` (per candidate and path: the columns the metrics read). Candidates run
    in chunks of paths on ``executor`` (``serial``, ``local``, ``dask``, ``dask://HOST:PORT`` or
    an open executor; the grid's candidates all at once), with the same numbers on each; with a
    store each chunk lands as a part of ``candidate_paths`` as it finishes and an interrupted
    calibration resumes. Every argument is checked before any run; stored as kind
    ``perps_calibrate``."""
    from liqcascade.execution.executors import Executor, parse_executor
    from liqcascade.execution.runs import hashed, stored

    c = _check(param, metric, budget, confidence, value_range, grid, tol, paths, seed)
    ps = scenario if isinstance(scenario, PerpScenario) else load_perp_scenario(scenario)
    for v in (c.lo, c.hi):  # a bad end of the range fails here, before any run
        apply_perp_candidate(ps, c.param, v)
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral)
                                   or chunk_size < 1):
        raise ConfigError("--chunk-size", "chunk_size", "an integer >= 1", chunk_size)
    if not isinstance(executor, Executor):
        parse_executor(executor)
    cfg = ps.resolved()
    # "draw": resampled path i is drawn from (seed, i) alone; runs stored before drew from one stream
    ident = {"kind": KIND, "config": hashed(cfg, ()), **dataclasses.asdict(c), "draw": "per-path"}
    rid = _run_id(ident, __version__)
    if not recompute and (found := stored(store, rid, KIND)) is not None:
        return found
    return _calibrate(ps, c, cfg, rid, None if recompute and _finished(store, rid) else store,
                      (executor, workers, chunk_size), progress)


def _finished(store, rid: str) -> bool:
    """Whether ``store`` (which reading never creates) holds the finished run ``rid``."""
    from liqcascade.execution.api import _existing

    st = _existing(store)
    return st is not None and st.has(rid)


def _calibrate(ps: PerpScenario, c: PerpCalibration, cfg: dict, rid: str, store, where, progress) -> Result:
    """Search on the executor ``where = (executor, workers, chunk_size)``, landing chunks in
    ``store`` (None: nothing stored), and finish the run."""
    import contextlib

    from liqcascade.execution.api import _existing, _resumed_size
    from liqcascade.execution.calibrate import default_chunk_size
    from liqcascade.execution.executors import Executor, open_executor
    from liqcascade.execution.perp_montecarlo import PerpChunk, PerpSpec, perp_chunks, remember

    executor, workers, size = where
    n = 1 if c.paths is None else c.paths
    st = None if store is None else _existing(store) or ResultsStore(Path(store))
    info = None if st is None else st.info(rid)
    if info is not None:
        size = _resumed_size(rid, info["meta"], size)
    size = size or default_chunk_size(n)
    spec = PerpSpec.of(ps)
    remember(spec, ps)
    chunks = [PerpChunk(spec, c.seed, 0, 0, 1, own_path=True)] if c.paths is None else perp_chunks(spec, c.seed, n, size)
    meta = {"source": ps.source, "param": c.param, "metric": c.metric}
    if st is not None:
        st.begin(rid, KIND, cfg, {**meta, "paths": n, "chunk_size": size})
    with contextlib.nullcontext(executor) if isinstance(executor, Executor) else open_executor(executor, workers) as ex:
        ev = _Evaluator(spec, c, chunks, ex, progress, st, rid)
        chosen, status = _search(ev)
    res = Result(KIND, _tables(ev, c, n, chosen, status), cfg)
    if st is None:
        return res.with_run_id(rid)
    st.finish(rid, {k: v for k, v in res.tables.items() if k != PATHS_TABLE}, {"chosen": chosen})
    return res.with_run_id(rid)


def _tables(ev: _Evaluator, c: PerpCalibration, n: int, chosen: float, status: str) -> dict[str, pd.DataFrame]:
    cand = pd.DataFrame(ev.rows)
    # the metric should not fall as the value loosens, up to 0.1 % of the budget (or 1e-9 for a zero budget)
    steps = np.diff(cand.sort_values("value")["estimate"].to_numpy()) * (1.0 if LOOSER_IS_LARGER[c.param] else -1.0)
    mono = bool(np.all(steps >= -max(1e-3 * c.budget, 1e-9)))
    if not mono:
        status += "; the explored curve is not monotone in the assumed direction: check the candidates table"
    summary = pd.DataFrame([{"param": c.param, "metric": c.metric, "confidence": c.confidence, "budget": c.budget,
                             "chosen": chosen, "status": status, "monotone": mono, "range_lo": c.lo,
                             "range_hi": c.hi, "tol": c.tol, "paths": n, "seed": c.seed,
                             "own_path": c.paths is None, "evaluations": len(cand)}])
    return {"candidates": cand, "summary": summary, PATHS_TABLE: pd.concat(ev.path_frames, ignore_index=True)}
