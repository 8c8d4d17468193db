"""Runs of a scenario, stored under their run ids: the work behind :mod:`liqcascade.api`.

Each function takes a scenario (path or built :class:`~liqcascade.io.scenario.Scenario`, or a
system scenario), runs it, and stores the result under its run id (hash of the resolved
config, the run kind and its arguments, and the package version). Running the same thing
again finds the stored run instead of recomputing, unless ``recompute`` is set. Sweeps,
calibrations and the Maker replay (this layer) build on these; the faces call them through
:mod:`liqcascade.api`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.engine.run import cascade_curve, parse_shock_range, run_static
from liqcascade.io import scenario as _scenario
from liqcascade.io.store import ResultsStore, is_store, run_id as _run_id

DEFAULT_STORE = Path("liqcascade-results")


def default_scenario_path() -> Path:
    """The embedded default scenario (real Aave v3 Ethereum parameters, synthetic book)."""
    return Path(str(resources.files("liqcascade") / "data" / "scenarios" / "default.toml"))


def load_scenario(scenario: str | Path | _scenario.Scenario) -> _scenario.Scenario:
    if isinstance(scenario, _scenario.Scenario):
        return scenario
    return _scenario.load(scenario)


def stored(store: Path | ResultsStore | None, rid: str, kind: str, with_config: bool = False) -> Result | None:
    """The stored run ``rid``, if the store exists and has it (never creates the store);
    ``with_config``: with the config it was saved with."""
    if store is None:
        return None
    if not isinstance(store, ResultsStore):
        if not is_store(store):
            return None
        store = ResultsStore(Path(store), create=False)
    if not store.has(rid):
        return None
    tables = {name: store.load(rid, name) for name in store.tables(rid)}
    return Result(kind, tables, store.meta(rid)["config"] if with_config else {}, rid)


def save(store: Path | ResultsStore | None, rid: str, kind: str, cfg: dict, res: Result, meta: dict) -> None:
    if store is None:
        return
    st = store if isinstance(store, ResultsStore) else ResultsStore(Path(store))
    st.save(rid, kind, cfg, dict(res.tables), meta)


# Fields that name or describe a scenario but do not change any number it produces.
_COSMETIC = ("name", "description")


def hashed(cfg: dict, drop: tuple[str, ...]) -> dict:
    return {k: v for k, v in cfg.items() if k not in _COSMETIC + drop}


def run(
    scenario: str | Path | _scenario.Scenario,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    shocks: Mapping[str, float] | None = None,
    recompute: bool = False,
) -> Result:
    """One static cascade for the scenario's shocks (or ``shocks``, replacing them).
    A system scenario (``[[markets]]``) runs :func:`system_run`; a perp scenario (``[perps]``)
    runs :func:`liqcascade.execution.perps.perp_run` (no shocks: its path moves the mark)."""
    if is_system(scenario):
        return system_run(scenario, store, shocks, recompute)
    if is_perp(scenario):
        from liqcascade.errors import ConfigError
        from liqcascade.execution.perps import perp_run

        if shocks:
            raise ConfigError("--shock", "shock", "no shocks for a perp scenario (its [perps.path] moves the mark)")
        return perp_run(scenario, store, recompute)
    sc = load_scenario(scenario)
    shocks = dict(sc.config.shock if shocks is None else shocks)
    sc.model.shock_vector(shocks, "--shock" if shocks is not sc.config.shock else sc.source)  # validate first
    shocks = {a: float(v) for a, v in shocks.items() if float(v) != 0.0}
    cfg = sc.resolved()
    cfg["shock"] = shocks
    rid = _run_id({"kind": "static", "config": hashed(cfg, ("curve",))}, __version__)
    if not recompute and (found := stored(store, rid, "static")) is not None:
        return found
    res = run_static(sc.model, shocks, sc.settings, cfg)
    save(store, rid, "static", cfg, res, {"source": sc.source})
    return res.with_run_id(rid)


def curve(
    scenario: str | Path | _scenario.Scenario,
    asset: str | None = None,
    shocks: str | Sequence[float] | None = None,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    recompute: bool = False,
    impact: bool | None = None,
    co_move: Sequence[str] | None = None,
    progress=None,
    alone: bool = True,
) -> Result:
    """The cascade curve of ``asset`` over ``shocks`` ("start:stop:step" or a list).

    Defaults come from the scenario's ``[curve]`` table. ``impact=False`` gives the
    no-feedback curve (prices stay at the shocked level). ``co_move`` assets take the
    same shock as ``asset`` at every point (default: the ``[curve]`` table's list when
    ``asset`` is its asset, else none). ``progress(done, total)`` counts shocks. A system
    scenario runs :func:`system_curve`.
    """
    if is_system(scenario):
        return system_curve(scenario, asset, shocks, store, recompute, impact, co_move, progress, alone)
    if not alone:
        from liqcascade.errors import ConfigError

        raise ConfigError("--no-alone", "alone", "a system scenario ([[markets]]): one market has no other market to "
                          "be run without", str(scenario))
    sc = load_scenario(scenario)
    asset, grid, co_move = curve_arguments(sc, asset, shocks, co_move)
    settings = sc.settings
    if impact is not None and impact != settings.impact:
        from dataclasses import replace

        settings = replace(settings, impact=impact)
    cfg = sc.resolved()
    cfg["engine"]["impact"] = settings.impact
    key = hashed(cfg, ("curve", "shock"))
    rid = _run_id(
        {"kind": "curve", "config": key, "asset": asset, "shocks": grid.tolist(), "co_move": co_move}, __version__
    )
    if not recompute and (found := stored(store, rid, "curve")) is not None:
        return found
    res = cascade_curve(sc.model, asset, grid, settings, co_move, cfg, progress)
    save(store, rid, "curve", cfg, res, {"source": sc.source, "asset": asset})
    return res.with_run_id(rid)


def simulate(
    scenario: str | Path | _scenario.Scenario,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    recompute: bool = False,
    progress=None,
) -> Result:
    """The scenario's block-by-block simulation (its ``[simulation]`` table).

    Tables: ``steps`` (per block and asset), ``events`` (per liquidated account and block),
    ``summary``, ``assets``. ``progress(done, total)`` is called after each block. A system
    scenario runs :func:`system_simulate`.
    """
    from liqcascade.engine.dynamic import simulate as _simulate

    if is_system(scenario):
        return system_simulate(scenario, store, recompute, progress)
    sc = load_scenario(scenario)
    path, oracle, settings, oracle_input, venue_depth = _scenario.simulation_parts(sc)
    behaviour = _scenario.behaviour_inputs(sc)  # its errors before any stored result is returned
    keepers = _scenario.keeper_inputs(sc)
    cfg = sc.resolved()
    rid = _run_id({"kind": "simulation", "config": hashed(cfg, ("curve",))}, __version__)
    # with its config: what is printed with the result (impact_on_path) reads it
    if not recompute and (found := stored(store, rid, "simulation", with_config=True)) is not None:
        return found
    actions, accrual = _scenario.owner_inputs(sc, path)
    res = _simulate(sc.model, path, oracle, settings, progress, cfg, oracle_input, venue_depth,
                    owner_actions=actions, accrual=accrual, impact_baseline=_scenario.impact_baseline(sc, path),
                    behaviour=behaviour, keepers=keepers)
    save(store, rid, "simulation", cfg, res, {"source": sc.source})
    return res.with_run_id(rid)


COMPARE_PROTOCOLS = ("aave_v3", "compound_v3", "maker", "liquity_v1")


def compare(
    scenario: str | Path | _scenario.Scenario,
    protocols: Sequence[str] = COMPARE_PROTOCOLS,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    recompute: bool = False,
    dynamic: bool = False,
    progress=None,
) -> Result:
    """The scenario's book, venues and shock under each protocol's liquidation rules.

    Only ``market.protocol`` changes between the runs: the same book, parameters (read in
    each protocol's meaning, see its table in the scenario reference) and crash. Tables:
    ``comparison`` (one row per protocol: accounts liquidated, collateral seized, debt
    repaid, the shocked asset's final drop and amplification, bad debt; with ``dynamic``
    also the block-by-block run of the ``[simulation]`` table: lowest market price,
    bad debt, what the protocol still holds at the end) and ``assets`` (per protocol and
    asset, static run). Aave v3 runs the scenario's version, or 3.3-3.4 when it names none.
    ``progress(done, total)`` counts runs (a static and, with ``dynamic``, a simulation per
    protocol); within a simulation ``done`` grows by the share of its blocks run.
    """
    from liqcascade.errors import ConfigError
    from liqcascade.protocols.registry import names

    sc = load_scenario(scenario)
    unknown = [p for p in protocols if p not in names()]
    if unknown or not protocols:
        raise ConfigError(sc.source, "--protocols", f"protocols among {list(names())}", unknown or list(protocols))
    if not sc.config.shock:
        raise ConfigError(sc.source, "shock", "a [shock] table: the crash every protocol meets")
    cfg = sc.resolved()
    rid = _run_id({"kind": "compare", "config": hashed(cfg, ("curve",)), "protocols": list(protocols),
                   "dynamic": dynamic}, __version__)
    if not recompute and (found := stored(store, rid, "compare")) is not None:
        return found
    driver = max(sc.config.shock, key=lambda a: sc.config.shock[a])
    rows, asset_frames = [], []
    per = 2 if dynamic else 1
    total = per * len(protocols)
    for k, proto in enumerate(protocols):
        if progress is not None:
            progress(per * k, total)
        version = (sc.config.market.version or "3.3-3.4") if proto == "aave_v3" else None
        market = sc.config.market.model_copy(update={"protocol": proto, "version": version})
        sp = _scenario.build(sc.config.model_copy(update={"market": market}), sc.base_dir, sc.source)
        res = run_static(sp.model, dict(sc.config.shock), sp.settings, cfg)
        row = {"protocol": proto, **_compare_static(res, driver)}
        if dynamic:
            # the simulation advances the count by the share of its blocks run
            at = per * k + 1
            blocks = None if progress is None else (lambda b, nb, at=at: progress(at + b / nb, total))
            row.update(_compare_dynamic(sp, cfg, driver, blocks))
        rows.append(row)
        asset_frames.append(res["assets"].assign(protocol=proto))
    if progress is not None:
        progress(total, total)
    tables = {"comparison": pd.DataFrame(rows), "assets": pd.concat(asset_frames, ignore_index=True)}
    out = Result("compare", tables, cfg)
    save(store, rid, "compare", cfg, out, {"source": sc.source, "protocols": list(protocols)})
    return out.with_run_id(rid)


def _compare_static(res: Result, driver: str) -> dict[str, object]:
    """One protocol's row of ``compare`` from its static run (``driver``: the most-shocked asset)."""
    s = res["summary"].iloc[0]
    a = res["assets"].set_index("asset")
    return {
        "accounts_liquidated": int(s["accounts_liquidated"]),
        "collateral_seized_usd": float(s["collateral_seized_usd"]),
        "debt_repaid_usd": float(s["debt_repaid_usd"]),
        "driver": driver,
        "initial_drop": float(a.loc[driver, "initial_drop"]),
        "final_drop": float(a.loc[driver, "final_drop"]),
        "amplification": float(a.loc[driver, "amplification"]),
        "bad_debt_usd": float(s["bad_debt_usd"]),
        "insolvent_shortfall_usd": float(s["insolvent_shortfall_usd"]),
        # Liquity: debt the Stability Pool could not absorb, spread over the other troves
        "redistributed_debt_usd": float(s.get("redistributed_debt_usd", 0.0)),
    }


def _compare_dynamic(sp, cfg: dict, driver: str, blocks) -> dict[str, object]:
    """The ``sim_*`` columns of one protocol's ``compare`` row: its block-by-block run."""
    from liqcascade.engine.dynamic import simulate as _simulate

    path, oracle, settings, oracle_input, venue_depth = _scenario.simulation_parts(sp)
    d = _simulate(sp.model, path, oracle, settings, blocks, cfg, oracle_input, venue_depth)
    ds = d["summary"].iloc[0]
    da = d["assets"].set_index("asset")
    return {
        "sim_accounts_liquidated": int(ds["accounts_liquidated"]),
        "sim_market_min_drop": float(1.0 - da.loc[driver, "market_min"] / da.loc[driver, "price_start"])
        if driver in da.index else float("nan"),
        "sim_bad_debt_usd": float(ds["bad_debt_usd"]),
        "sim_protocol_holdings_usd": float(ds.get("protocol_holdings_usd", 0.0)),
        "sim_shortfall_end_usd": float(ds["shortfall_end_usd"]),
    }


# ----------------------------------------------------------------- systems of markets (issue 11)
def is_perp(scenario) -> bool:
    """True for a perp scenario: a built one, or a TOML file with a ``[perps]`` table."""
    from liqcascade.io.perp_scenario import PerpScenario, is_perp_file

    return isinstance(scenario, PerpScenario) or (isinstance(scenario, (str, Path)) and is_perp_file(scenario))


def is_system(scenario) -> bool:
    """True for a system scenario: a built one, or a TOML file with ``[[markets]]``."""
    from liqcascade.io.system import SystemScenario, is_system_file

    return isinstance(scenario, SystemScenario) or (
        isinstance(scenario, (str, Path)) and is_system_file(scenario)
    )


def _lending_only(ss, command: str) -> None:
    from liqcascade.io.system import lending_only

    lending_only(ss, command)


def load_system(scenario):
    """A built :class:`~liqcascade.io.system.SystemScenario` from a path (or as given)."""
    from liqcascade.io.system import SystemScenario, load_system as _load

    return scenario if isinstance(scenario, SystemScenario) else _load(scenario)


def _system_shocks(ss, shocks: Mapping[str, float] | None) -> dict[str, float]:
    given = dict(ss.config.shock if shocks is None else shocks)
    ss.model.shock_vector(given, ss.source if shocks is None else "--shock")  # validate first
    return {a: float(v) for a, v in given.items() if float(v) != 0.0}


def system_run(
    scenario, store: ResultsStore | str | Path | None = DEFAULT_STORE, shocks: Mapping[str, float] | None = None,
    recompute: bool = False,
) -> Result:
    """The static cascade of a system of markets, each market also alone (tables:
    see :mod:`liqcascade.engine.system_run`)."""
    from liqcascade.engine.system_run import run_system

    ss = load_system(scenario)
    _lending_only(ss, "run")
    shocks = _system_shocks(ss, shocks)
    cfg = ss.resolved()
    cfg["shock"] = shocks
    rid = _run_id({"kind": "system", "config": hashed(cfg, ("curve",))}, __version__)
    if not recompute and (found := stored(store, rid, "system")) is not None:
        return found
    res = run_system(ss.model, shocks, ss.settings, ss.market_settings, cfg)
    save(store, rid, "system", cfg, res, {"source": ss.source})
    return res.with_run_id(rid)


def curve_arguments(sc, asset: str | None, shocks, co_move: Sequence[str] | None) -> tuple[str, np.ndarray, list[str]]:
    """A curve's asset, shock grid and co-moving assets: as given, else from the scenario's
    ``[curve]`` table (its co-moving assets only when the asset is its asset)."""
    cur = sc.config.curve
    if asset is None or shocks is None:
        if cur is None:
            from liqcascade.errors import ConfigError

            raise ConfigError(sc.source, "curve", "a [curve] table, or --asset and --shocks on the command line")
        asset = asset or cur.asset
        shocks = shocks if shocks is not None else cur.shocks
    grid = parse_shock_range(shocks) if isinstance(shocks, str) else np.asarray(shocks, dtype=np.float64)
    if co_move is None:
        co_move = list(cur.co_move) if cur is not None and cur.asset == asset else []
    return asset, grid, [a for a in co_move if a != asset]


def system_curve(
    scenario, asset: str | None = None, shocks: str | Sequence[float] | None = None,
    store: ResultsStore | str | Path | None = DEFAULT_STORE, recompute: bool = False, impact: bool | None = None,
    co_move: Sequence[str] | None = None, progress=None, alone: bool = True,
) -> Result:
    """The contagion curve of a system: per shock, the system beside its markets alone
    (``alone=False``: the system only, one cascade per shock). ``progress(done, total)``
    counts shocks."""
    from dataclasses import replace

    from liqcascade.engine.system_run import system_curve as _curve
    from liqcascade.errors import ConfigError

    ss = load_system(scenario)
    _lending_only(ss, "curve")
    asset, grid, co_move = curve_arguments(ss, asset, shocks, co_move)
    if asset not in ss.model.assets:
        raise ConfigError("--asset", "asset", f"an asset of the system {list(ss.model.assets)}", asset)
    for a in co_move:
        if a not in ss.model.assets:
            raise ConfigError("--co-move", "co_move", f"assets of the system {list(ss.model.assets)}", a)
    settings = ss.settings if impact is None else replace(ss.settings, impact=impact)
    own = {n: replace(s, impact=settings.impact) for n, s in ss.market_settings.items()}
    cfg = ss.resolved()
    cfg["engine"]["impact"] = settings.impact
    rid = _run_id({"kind": "system_curve", "config": hashed(cfg, ("curve", "shock")), "asset": asset,
                   "shocks": grid.tolist(), "co_move": co_move, "alone": alone}, __version__)
    if not recompute and (found := stored(store, rid, "curve")) is not None:
        return found
    res = _curve(ss.model, asset, grid, settings, own, tuple(co_move), cfg, progress, alone)
    save(store, rid, "curve", cfg, res, {"source": ss.source, "asset": asset, "system": True})
    return res.with_run_id(rid)


def system_simulate(
    scenario, store: ResultsStore | str | Path | None = DEFAULT_STORE, recompute: bool = False, progress=None,
    alone: bool = True,
) -> Result:
    """A system of markets block by block (its ``[simulation]`` table), each market also
    alone along the same path (tables: see :mod:`liqcascade.engine.system_dynamic_run`).
    ``progress(done, total)`` counts blocks over the system's run and the markets' alone."""
    from liqcascade.engine.system_dynamic_run import run_system_simulation
    from liqcascade.io.system import system_market_sims, system_simulation_parts

    ss = load_system(scenario)
    if ss.perps:  # perp markets beside the lending markets (docs/perps.md, "Perps and lending")
        from liqcascade.execution.system_perps import system_perps_simulate

        return system_perps_simulate(ss, store, recompute, progress, alone)
    path, oracle, settings = system_simulation_parts(ss)
    per_market = system_market_sims(ss)
    cfg = ss.resolved()
    rid = _run_id({"kind": "system_simulation", "config": hashed(cfg, ("curve",)), "alone": alone}, __version__)
    if not recompute and (found := stored(store, rid, "system_simulation")) is not None:
        return found
    res = run_system_simulation(ss.model, path, oracle, settings, cfg, progress, alone, per_market)
    save(store, rid, "system_simulation", cfg, res, {"source": ss.source})
    return res.with_run_id(rid)


def network(
    scenario, store: ResultsStore | str | Path | None = DEFAULT_STORE, shocks: Mapping[str, float] | None = None,
    recompute: bool = False,
) -> Result:
    """The exposure network and the contagion matrix of a system at its shock.

    Tables: the system run's (``summary``, ``markets``, ``assets``, ``market_assets``,
    ``rounds``) and ``contagion`` (leave-one-out, per source and target market),
    ``importance`` (ranking), ``propagation`` (per round and market), ``network_nodes`` and
    ``network_edges``. :func:`liqcascade.risk.contagion.exposure_graph` gives the networkx graph.
    """
    from liqcascade.engine.system import SystemCascade
    from liqcascade.engine.system_run import run_system
    from liqcascade.risk import contagion

    ss = load_system(scenario)
    _lending_only(ss, "network")
    shocks = _system_shocks(ss, shocks)
    cfg = ss.resolved()
    cfg["shock"] = shocks
    rid = _run_id({"kind": "network", "config": hashed(cfg, ("curve",))}, __version__)
    if not recompute and (found := stored(store, rid, "network")) is not None:
        return found
    run = run_system(ss.model, shocks, ss.settings, ss.market_settings, cfg)
    solver = SystemCascade(ss.model, ss.settings, ss.market_settings)
    matrix = contagion.leave_one_out(solver, shocks)
    tables = {name: run[name] for name in ("summary", "markets", "assets", "market_assets", "rounds", "stablecoins",
                                           "owners") if name in run.tables}
    tables["contagion"] = matrix
    tables["importance"] = contagion.importance(matrix, ss.model.names)
    tables["propagation"] = contagion.propagation(run["rounds"])
    tables.update(contagion.graph_tables(contagion.exposure_graph(solver, run)))
    res = Result("network", tables, cfg)
    save(store, rid, "network", cfg, res, {"source": ss.source})
    return res.with_run_id(rid)
