"""The stored runs one report (or one dashboard page) draws on.

A report is about one run, the *target*. Its cascade curve with and without feedback, its
liquidation walls and a simulation of the same market are other runs, its *companions*:
runs in the same store whose config describes the same market (protocol, parameters, book,
prices, venues, liquidators, engine) whatever their shock, curve, simulation settings or
the engine's ``impact`` switch. Companions are found by comparing stored configs only, so a
report of a run id reads nothing but the store.

:func:`complete` adds the companions that are missing by running them (static run, curve
with and without feedback, walls) from a scenario; :func:`prepare` does it for a scenario
file and returns the static run's id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from liqcascade.errors import LiqcascadeError
from liqcascade.io.store import ResultsStore, canonical_json

# Config keys that do not change which market is described (see the module docstring).
_NOT_MARKET = ("name", "description", "curve", "shock", "simulation")


def market_key(config: dict[str, Any]) -> str:
    """Canonical JSON of the part of a run's config that names its market (an unset
    section, ``null``, counts as absent, so a config field added later changes no key)."""
    d = {k: v for k, v in config.items() if k not in _NOT_MARKET and v is not None}
    if isinstance(d.get("engine"), dict):
        d["engine"] = {k: v for k, v in d["engine"].items() if k != "impact"}
    return canonical_json(d)


@dataclass(frozen=True)
class RunInfo:
    """One stored run as the catalog describes it."""

    run_id: str
    kind: str
    created_at: str
    version: str
    config: dict[str, Any]
    meta: dict[str, Any]

    @property
    def impact(self) -> bool:
        """The engine's feedback switch (True unless the config turned it off)."""
        return bool(self.config.get("engine", {}).get("impact", True))

    @property
    def asset(self) -> str | None:
        """The asset a curve or walls run sweeps (from its meta)."""
        return self.meta.get("asset")


def runs(store: ResultsStore) -> list[RunInfo]:
    """Every finished run in the store, oldest first."""
    df = store.list_runs()
    return [
        RunInfo(r.run_id, r.kind, str(r.created_at), r.version, _json(r.config), _json(r.meta))
        for r in df.itertuples(index=False)
    ]


def _json(text: str) -> dict[str, Any]:
    try:
        out = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


@dataclass
class Bundle:
    """The target run and its companions, with the tables read so far."""

    store: ResultsStore
    target: RunInfo
    curve: RunInfo | None = None
    """The cascade curve with feedback (venues on)."""
    curve_flat: RunInfo | None = None
    """The same curve with no feedback (``engine.impact = false``)."""
    walls: RunInfo | None = None
    simulation: RunInfo | None = None
    _tables: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _frames: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)

    def tables(self, run: RunInfo) -> list[str]:
        if run.run_id not in self._tables:
            self._tables[run.run_id] = self.store.tables(run.run_id)
        return self._tables[run.run_id]

    def has(self, run: RunInfo | None, table: str) -> bool:
        return run is not None and table in self.tables(run)

    def load(self, run: RunInfo, table: str) -> pd.DataFrame:
        key = (run.run_id, table)
        if key not in self._frames:
            self._frames[key] = self.store.load(run.run_id, table)
        return self._frames[key]

    def members(self) -> list[RunInfo]:
        """The target, then each companion once."""
        out: list[RunInfo] = []
        for r in (self.target, self.curve, self.curve_flat, self.walls, self.simulation):
            if r is not None and r.run_id not in {x.run_id for x in out}:
                out.append(r)
        return out


def find(store: ResultsStore, run_id: str) -> Bundle:
    """The bundle of ``run_id`` (raises :class:`~liqcascade.io.store.UnknownRunError`)."""
    store.meta(run_id)  # the store's own check: a clear error for an unknown or malformed id
    every = runs(store)
    target = next(r for r in every if r.run_id == run_id)
    key = market_key(target.config)
    same = [r for r in every if r.run_id != run_id and market_key(r.config) == key]
    b = Bundle(store, target)
    curves = [r for r in same if r.kind == "curve"] + ([target] if target.kind == "curve" else [])
    asset = _preferred_asset(target, curves)
    b.curve = _latest([c for c in curves if c.impact], asset)
    b.curve_flat = _latest([c for c in curves if not c.impact], asset)
    b.walls = target if target.kind == "walls" else _latest([r for r in same if r.kind == "walls"], asset)
    if target.kind != "simulation":
        b.simulation = _latest([r for r in same if r.kind == "simulation"], None)
    return b


def _preferred_asset(target: RunInfo, curves: list[RunInfo]) -> str | None:
    if target.kind in ("curve", "walls"):
        return target.asset
    cur = target.config.get("curve")
    if isinstance(cur, dict) and cur.get("asset"):
        return cur["asset"]
    return curves[-1].asset if curves else None


def _latest(candidates: list[RunInfo], asset: str | None) -> RunInfo | None:
    """The newest run of ``asset`` (any asset when ``asset`` is None)."""
    match = [r for r in candidates if asset is None or r.asset == asset]
    return max(match, key=lambda r: (r.created_at, r.run_id)) if match else None


# ---------------------------------------------------------------- running companions
def complete(store: ResultsStore, scenario) -> list[str]:
    """Run (or find stored) the scenario's curve with and without feedback and its walls.

    The curve's asset, grid and co-moving assets come from the scenario's ``[curve]`` table;
    without one, the most-shocked asset of ``[shock]`` over 0-60 % with the assets shocked
    by the same amount. Returns the run ids.
    """
    from liqcascade import api

    if api.is_system(scenario):  # a system's report: its contagion curve (no walls for systems yet)
        ss = api.load_system(scenario)
        asset, shocks, co_move = _curve_defaults(ss)
        return [str(api.curve(ss, asset, shocks, store=store, co_move=co_move).run_id)]
    sc = api.load_scenario(scenario)
    asset, shocks, co_move = _curve_defaults(sc)
    ids = [
        api.curve(sc, asset, shocks, store=store, co_move=co_move, impact=True).run_id,
        api.curve(sc, asset, shocks, store=store, co_move=co_move, impact=False).run_id,
        api.walls(sc, store, asset, _walls_grid(shocks), co_move).run_id,
    ]
    return [str(i) for i in ids]


DEFAULT_CURVE_SHOCKS = "0:0.6:0.02"


def _curve_defaults(sc) -> tuple[str, str, list[str]]:
    from liqcascade.errors import ConfigError

    cur = sc.config.curve
    if cur is not None:
        return cur.asset, cur.shocks, list(cur.co_move)
    shocks = {a: v for a, v in sc.config.shock.items() if v > 0}
    if not shocks:
        raise ConfigError(sc.source, "curve", "a [curve] table, or a [shock] table with a positive drop")
    top = max(shocks.values())
    tied = [a for a, v in shocks.items() if v == top]
    return tied[0], DEFAULT_CURVE_SHOCKS, tied[1:]


def _walls_grid(shocks: str):
    from liqcascade.engine.run import parse_shock_range
    from liqcascade.api import default_walls_grid as default_grid

    return default_grid(parse_shock_range(shocks))


def prepare(store: ResultsStore, scenario: str | Path, simulate: bool = False) -> str:
    """Run what a scenario's report shows into the store: the static run of its shocks, the
    curve with and without feedback, the walls, and (``simulate``) its simulation. Returns
    the static run's id."""
    from liqcascade import api

    if api.is_perp(scenario):  # a perp run stores every table its report shows
        return str(api.run(scenario, store).run_id)
    if api.is_system(scenario):  # the network run holds the system run's tables too
        ss = api.load_system(scenario)
        rid = api.network(ss, store).run_id
        complete(store, ss)
        return str(rid)
    sc = api.load_scenario(scenario)
    rid = api.run(sc, store).run_id
    complete(store, sc)
    if simulate:
        api.simulate(sc, store)
    return str(rid)


def complete_from_source(store: ResultsStore, run_id: str) -> tuple[list[str], str | None]:
    """Fill in a stored run's missing companions from the scenario file it was run from.

    Returns (run ids computed or found, None) or ([], why not): the source is gone, does
    not load, or no longer describes the same market.
    """
    from liqcascade import api

    meta = store.meta(run_id)
    source = meta["meta"].get("source")
    if not source or not Path(source).is_file():
        return [], f"its scenario file {source!r} is not there"
    if api.is_perp(source):  # a perp run has no companion runs
        return [], None
    try:
        sc = api.load_system(source) if api.is_system(source) else api.load_scenario(source)
        if market_key(sc.resolved()) != market_key(meta["config"]):
            return [], f"{source} has changed since the run"
        return complete(store, sc), None
    except LiqcascadeError as e:
        return [], str(e)
