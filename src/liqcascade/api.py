"""The library calls behind the command line (and any other face).

Each function takes a scenario (path or built :class:`~liqcascade.io.scenario.Scenario`),
runs it, and stores the result under its run id (hash of the resolved config, the run
kind and its arguments, and the package version). Running the same thing again finds
the stored run instead of recomputing, unless ``recompute`` is set.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.engine.run import cascade_curve, parse_shock_range, run_static
from liqcascade.io import scenario as _scenario
from liqcascade.io.store import ResultsStore, run_id as _run_id

DEFAULT_STORE = Path("liqcascade-results")


def default_scenario_path() -> Path:
    """The embedded default scenario (real Aave v3 Ethereum parameters, synthetic book)."""
    return Path(str(resources.files("liqcascade") / "data" / "scenarios" / "default.toml"))


def load_scenario(scenario: str | Path | _scenario.Scenario) -> _scenario.Scenario:
    if isinstance(scenario, _scenario.Scenario):
        return scenario
    return _scenario.load(scenario)


def _stored(store: Path | ResultsStore | None, rid: str, kind: str) -> Result | None:
    """The stored run ``rid``, if the store exists and has it (never creates the store)."""
    if store is None:
        return None
    if not isinstance(store, ResultsStore):
        if not (Path(store) / "catalog.duckdb").is_file():
            return None
        store = ResultsStore(Path(store))
    if not store.has(rid):
        return None
    tables = {name: store.load(rid, name) for name in store.tables(rid)}
    return Result(kind, tables, {}, rid)


def _save(store: Path | ResultsStore | None, rid: str, kind: str, cfg: dict, res: Result, meta: dict) -> None:
    if store is None:
        return
    st = store if isinstance(store, ResultsStore) else ResultsStore(Path(store))
    st.save(rid, kind, cfg, dict(res.tables), meta)


# Fields that name or describe a scenario but do not change any number it produces.
_COSMETIC = ("name", "description")


def _hashed(cfg: dict, drop: tuple[str, ...]) -> dict:
    return {k: v for k, v in cfg.items() if k not in _COSMETIC + drop}


def run(
    scenario: str | Path | _scenario.Scenario,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    shocks: Mapping[str, float] | None = None,
    recompute: bool = False,
) -> Result:
    """One static cascade for the scenario's shocks (or ``shocks``, replacing them)."""
    sc = load_scenario(scenario)
    shocks = dict(sc.config.shock if shocks is None else shocks)
    sc.model.shock_vector(shocks, "--shock" if shocks is not sc.config.shock else sc.source)  # validate first
    shocks = {a: float(v) for a, v in shocks.items() if float(v) != 0.0}
    cfg = sc.resolved()
    cfg["shock"] = shocks
    rid = _run_id({"kind": "static", "config": _hashed(cfg, ("curve",))}, __version__)
    if not recompute and (found := _stored(store, rid, "static")) is not None:
        return found
    res = run_static(sc.model, shocks, sc.settings, cfg)
    _save(store, rid, "static", cfg, res, {"source": sc.source})
    return res.with_run_id(rid)


def curve(
    scenario: str | Path | _scenario.Scenario,
    asset: str | None = None,
    shocks: str | Sequence[float] | None = None,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    recompute: bool = False,
    impact: bool | None = None,
    co_move: Sequence[str] | None = None,
) -> Result:
    """The cascade curve of ``asset`` over ``shocks`` ("start:stop:step" or a list).

    Defaults come from the scenario's ``[curve]`` table. ``impact=False`` gives the
    no-feedback curve (prices stay at the shocked level). ``co_move`` assets take the
    same shock as ``asset`` at every point (default: the ``[curve]`` table's list when
    ``asset`` is its asset, else none).
    """
    sc = load_scenario(scenario)
    if asset is None or shocks is None:
        if sc.config.curve is None:
            from liqcascade.errors import ConfigError

            raise ConfigError(sc.source, "curve", "a [curve] table, or --asset and --shocks on the command line")
        asset = asset or sc.config.curve.asset
        shocks = shocks if shocks is not None else sc.config.curve.shocks
    grid = parse_shock_range(shocks) if isinstance(shocks, str) else np.asarray(shocks, dtype=np.float64)
    settings = sc.settings
    if impact is not None and impact != settings.impact:
        from dataclasses import replace

        settings = replace(settings, impact=impact)
    cfg = sc.resolved()
    cfg["engine"]["impact"] = settings.impact
    if co_move is None:
        co_move = list(sc.config.curve.co_move) if sc.config.curve is not None and sc.config.curve.asset == asset else []
    co_move = [a for a in co_move if a != asset]
    hashed = _hashed(cfg, ("curve", "shock"))
    rid = _run_id(
        {"kind": "curve", "config": hashed, "asset": asset, "shocks": grid.tolist(), "co_move": co_move}, __version__
    )
    if not recompute and (found := _stored(store, rid, "curve")) is not None:
        return found
    res = cascade_curve(sc.model, asset, grid, settings, co_move, cfg)
    _save(store, rid, "curve", cfg, res, {"source": sc.source, "asset": asset})
    return res.with_run_id(rid)


def simulate(
    scenario: str | Path | _scenario.Scenario,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    recompute: bool = False,
    progress=None,
) -> Result:
    """The scenario's block-by-block simulation (its ``[simulation]`` table).

    Tables: ``steps`` (per block and asset), ``events`` (per liquidated account and block),
    ``summary``, ``assets``. ``progress(done, total)`` is called after each block.
    """
    from liqcascade.engine.dynamic import simulate as _simulate

    sc = load_scenario(scenario)
    path, oracle, settings, oracle_input, venue_depth = _scenario.simulation_parts(sc)
    cfg = sc.resolved()
    rid = _run_id({"kind": "simulation", "config": _hashed(cfg, ("curve",))}, __version__)
    if not recompute and (found := _stored(store, rid, "simulation")) is not None:
        return found
    res = _simulate(sc.model, path, oracle, settings, progress, cfg, oracle_input, venue_depth)
    _save(store, rid, "simulation", cfg, res, {"source": sc.source})
    return res.with_run_id(rid)
