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
import pandas as pd

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


def _stored(store: Path | ResultsStore | None, rid: str, kind: str, with_config: bool = False) -> Result | None:
    """The stored run ``rid``, if the store exists and has it (never creates the store);
    ``with_config``: with the config it was saved with."""
    if store is None:
        return None
    if not isinstance(store, ResultsStore):
        if not (Path(store) / "catalog.duckdb").is_file():
            return None
        store = ResultsStore(Path(store))
    if not store.has(rid):
        return None
    tables = {name: store.load(rid, name) for name in store.tables(rid)}
    return Result(kind, tables, store.meta(rid)["config"] if with_config else {}, rid)


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
    progress=None,
) -> Result:
    """The cascade curve of ``asset`` over ``shocks`` ("start:stop:step" or a list).

    Defaults come from the scenario's ``[curve]`` table. ``impact=False`` gives the
    no-feedback curve (prices stay at the shocked level). ``co_move`` assets take the
    same shock as ``asset`` at every point (default: the ``[curve]`` table's list when
    ``asset`` is its asset, else none). ``progress(done, total)`` counts shocks.
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
    res = cascade_curve(sc.model, asset, grid, settings, co_move, cfg, progress)
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
    from liqcascade.engine.dynamic import simulate as _simulate
    from liqcascade.errors import ConfigError
    from liqcascade.io.config import PROTOCOLS

    sc = load_scenario(scenario)
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown or not protocols:
        raise ConfigError(sc.source, "--protocols", f"protocols among {list(PROTOCOLS)}", unknown or list(protocols))
    if not sc.config.shock:
        raise ConfigError(sc.source, "shock", "a [shock] table: the crash every protocol meets")
    cfg = sc.resolved()
    rid = _run_id({"kind": "compare", "config": _hashed(cfg, ("curve",)), "protocols": list(protocols),
                   "dynamic": dynamic}, __version__)
    if not recompute and (found := _stored(store, rid, "compare")) is not None:
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
        s = res["summary"].iloc[0]
        a = res["assets"].set_index("asset")
        row = {
            "protocol": proto,
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
        if dynamic:
            path, oracle, settings, oracle_input, venue_depth = _scenario.simulation_parts(sp)
            # the simulation advances the count by the share of its blocks run
            at = per * k + 1
            blocks = None if progress is None else (lambda b, nb, at=at: progress(at + b / nb, total))
            d = _simulate(sp.model, path, oracle, settings, blocks, cfg, oracle_input, venue_depth)
            ds = d["summary"].iloc[0]
            da = d["assets"].set_index("asset")
            row.update({
                "sim_accounts_liquidated": int(ds["accounts_liquidated"]),
                "sim_market_min_drop": float(1.0 - da.loc[driver, "market_min"] / da.loc[driver, "price_start"])
                if driver in da.index else float("nan"),
                "sim_bad_debt_usd": float(ds["bad_debt_usd"]),
                "sim_protocol_holdings_usd": float(ds.get("protocol_holdings_usd", 0.0)),
                "sim_shortfall_end_usd": float(ds["shortfall_end_usd"]),
            })
        rows.append(row)
        asset_frames.append(res["assets"].assign(protocol=proto))
    if progress is not None:
        progress(total, total)
    tables = {"comparison": pd.DataFrame(rows), "assets": pd.concat(asset_frames, ignore_index=True)}
    out = Result("compare", tables, cfg)
    _save(store, rid, "compare", cfg, out, {"source": sc.source, "protocols": list(protocols)})
    return out.with_run_id(rid)


# ----------------------------------------------------------------- calibration and sweeps (issue 5)
def calibrate(scenario, param: str, asset: str, budget: float, **kw) -> Result:
    """The parameter value that keeps a risk metric within ``budget``: see
    :func:`liqcascade.calibrate.calibrate` (the keyword arguments are its)."""
    from liqcascade.calibrate import calibrate as _calibrate

    return _calibrate(scenario, param, asset, budget, **kw)


def liquidity_cap(scenario, asset: str, blocks: int = 1, share: float = 1.0,
                  store: ResultsStore | str | Path | None = DEFAULT_STORE) -> Result:
    """The liquidity-based supply cap rule: see :func:`liqcascade.calibrate.liquidity_cap`."""
    from liqcascade.calibrate import liquidity_cap as _cap

    return _cap(scenario, asset, blocks, share, store)


def sweep(scenario, factors, kind: str = "static", **kw) -> Result:
    """A full factorial over dotted config fields: see :func:`liqcascade.sweep.sweep`."""
    from liqcascade.sweep import sweep as _sweep

    return _sweep(scenario, factors, kind, **kw)
