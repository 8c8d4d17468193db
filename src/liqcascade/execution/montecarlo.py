"""The Monte Carlo runner: a pure "evaluate scenario X over paths i..j with root seed s", and
chunks of it run by any executor into the results store, resumable.

:func:`evaluate_paths` is the unit every Monte Carlo feature builds on (a run, a sweep, a
calibration with common random numbers): a pure function of (scenario config, root seed, path
indexes). Each path is drawn by the scenario's :class:`~liqcascade.scenarios.montecarlo.PathModel`
from ``SeedSequence(seed, spawn_key=(i,))``, moved onto the market assets by
``[simulation].drive`` and run through :func:`~liqcascade.engine.dynamic.simulate` with the
``[simulation]`` oracle, liquidators and dynamics. Results do not depend on chunking, executor
or process.

Per process the scenario is built once (book, venues, the health-sorted book) and cached by the
hash of its config (:func:`prepared`), so a worker pays the setup once, not per path.

One row per path (:data:`PATH_COLUMNS`, then per path asset ``A``: ``exo_return_A`` (end-of-path
exogenous return), ``exo_min_A`` (lowest exogenous price, start = 1), ``ref_min_A`` (lowest
reference price of the first market asset ``A`` drives, permanent impact included, start = 1);
and per depeg ``depeg_block_A`` (block of the break, -1 if none)). The amplification compares
the headline path asset ``H`` (``[montecarlo].headline``, default the first) and the first
market asset ``M`` it drives, at the end of the path::

    exogenous_drop = 1 - S_H(T) / S_H(0)                      (the path alone)
    final_drop     = 1 - ref_M(T) / ref_M(0)                 (ref = path x permanent impact)
    amplification  = final_drop / exogenous_drop   if exogenous_drop > 0, else NaN

so 1 means the liquidations left no permanent mark on the price and 1.2 that they added a fifth
to the fall. It is noisy when the exogenous drop is small (a ratio of small numbers).

Time to clear is the span of the liquidations, once nothing a liquidator would take is left::

    time_to_clear_s = (last liquidation block - first liquidation block + 1) x block_seconds
                      if at the last block no eligible account waits for capacity or latency
                      NaN ("never": the queue was still draining at the path's end) otherwise
                      0 when nothing was liquidated

Accounts left eligible only because no liquidator profits from them (dust under
``min_profit_usd``) do not keep it open: no one will ever take them, so waiting longer
clears nothing; ``unprofitable_end`` counts them. ``cleared`` is the engine's stricter flag
(no eligible account at all at the end).

A system scenario (``[[markets]]``, :class:`SystemPrepared`) runs each path through the
block-by-block system (:func:`~liqcascade.engine.system_dynamic.simulate_system`: one path over
the system's assets, the shared venues, one liquidator population), all markets together. Its
row has the same columns, the totals summed over the markets (``cleared``: every market cleared;
``time_to_clear_s``: from the first liquidation in any market to the last, NaN while any
market's queue still drains; the prices are shared, so the drops are the system's), plus each
market's :data:`MARKET_PATH_COLUMNS` under :func:`market_column` names, which the driver splits
into the ``market_paths`` table (:func:`split_system_rows`). A one-market system gives the
single-market row bit for bit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from liqcascade.errors import ConfigError, LiqcascadeError

PATH_COLUMNS = (
    "path", "chunk", "seed",
    "bad_debt_usd", "bad_debt_written_off_usd", "collateral_seized_usd", "debt_repaid_usd",
    "liquidator_proceeds_usd", "accounts_liquidated", "liquidation_calls",
    "exogenous_drop", "final_drop", "amplification", "time_to_clear_s", "unprofitable_end", "cleared", "insolvent",
)
"""The leading columns of a ``paths`` table, in order (module docstring for the rest)."""

CACHE_SIZE = 4
"""Prepared scenarios kept per process (a calibration walks through several configs)."""


class ChunkFailed(LiqcascadeError):
    """A chunk raised in a worker; the message carries the original error (picklable)."""


@dataclasses.dataclass(frozen=True)
class ScenarioSpec:
    """A scenario as data that travels to any worker: the validated config as a JSON-able dict,
    the directory its relative paths are relative to, and the name errors use."""

    config: Mapping[str, Any]
    base_dir: str
    source: str = "<python>"
    system: bool = False
    """A system scenario (``[[markets]]``, :mod:`liqcascade.io.system`)."""
    alone: bool = False
    """A system: every path also runs each market alone (:class:`SystemPrepared`)."""

    @classmethod
    def of(cls, sc, alone: bool = False) -> "ScenarioSpec":
        """The spec of a built :class:`~liqcascade.io.scenario.Scenario` or
        :class:`~liqcascade.io.system.SystemScenario`."""
        return cls(sc.config.model_dump(mode="json"), str(Path(sc.base_dir).resolve()), sc.source, is_system(sc),
                   alone)

    @property
    def key(self) -> str:
        """Hash of the config and base directory (and ``alone`` when set): the per-process cache key."""
        from liqcascade.io.store import canonical_json

        ident = {"config": dict(self.config), "base_dir": self.base_dir}
        if self.alone:
            ident["alone"] = True
        return hashlib.sha256(canonical_json(ident).encode("utf-8")).hexdigest()

    def build(self):
        if self.system:
            from liqcascade.io.system import build_system, parse_system

            return build_system(parse_system(dict(self.config), self.source), self.base_dir, self.source)
        from liqcascade.io.config import parse_scenario
        from liqcascade.io.scenario import build

        return build(parse_scenario(dict(self.config), self.source), self.base_dir, self.source)


def _scenario_behaviour(sc):
    from liqcascade.io.scenario import behaviour_inputs

    sim = sc.config.simulation
    if sim is not None and sim.keepers is not None:
        # the bots are fitted to one window's owners; Monte Carlo paths have no such history
        raise ConfigError(sc.source, "simulation.keepers", "no keepers table in a Monte Carlo scenario", "a table")
    return behaviour_inputs(sc)


def is_system(sc) -> bool:
    """Whether ``sc`` is a built system scenario."""
    from liqcascade.io.system import SystemScenario

    return isinstance(sc, SystemScenario)


def prepare(sc, alone: bool = False) -> "Prepared | SystemPrepared":
    """:meth:`Prepared.of` a scenario, :meth:`SystemPrepared.of` a system scenario (``alone``:
    each market also alone on every path, a system's only)."""
    if is_system(sc):
        from liqcascade.io.system import lending_only

        lending_only(sc, "montecarlo")
        return SystemPrepared.of(sc, alone)
    if alone:
        raise ConfigError("--alone", "alone", "a system scenario ([[markets]]): one market has no other market to be "
                          "run without", sc.source)
    return Prepared.of(sc)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A scenario ready to evaluate paths: built once per process (:func:`prepared`)."""

    scenario: Any
    paths: Any  # PathModel
    oracle: Any
    settings: Any  # SimSettings
    book: Any  # SortedBook
    headline: str
    headline_market: str
    first_driven: Mapping[str, str]
    behaviour: Any = None  # BehaviourParams: owners who react; path i draws stream i of its seed

    @classmethod
    def of(cls, sc) -> "Prepared":
        """Check and prepare a built scenario (every config error here, before any work)."""
        from liqcascade.engine.static import SortedBook

        pm = _path_model(sc)
        oracle, settings, driven = _engine_parts(sc, pm)
        headline, first = _headline(sc, pm, driven)
        return cls(sc, pm, oracle, settings, SortedBook.of(sc.model), headline, first[headline], first,
                   _scenario_behaviour(sc))

    def evaluate(self, seed: int, index: int) -> dict[str, Any]:
        """The row of path ``index`` of root seed ``seed`` (module docstring)."""
        from liqcascade.engine.dynamic import drive_path
        from liqcascade.engine.dynamic.loop import SimInputs, simulate_state

        sc = self.scenario
        model = sc.model
        raw = self.paths.path(seed, index)
        path = drive_path(raw, sc.config.simulation.drive, model.assets, np.asarray(model.prices), sc.source)
        # the state, not the tables: the row's numbers are read where the tables would copy them from
        inputs = SimInputs(self.settings, sorted_book=self.book, behaviour=self.behaviour, behaviour_stream=index,
                           trades=False, shortfall=False)
        fin = simulate_state(model, path, self.oracle, inputs)
        out = _state_outcome(fin)
        row: dict[str, Any] = {"path": index, "seed": seed, **out.row,
                               "time_to_clear_s": _clear_time(out.liq_blocks, out.open, float(raw.block_seconds))}
        refs = _reference_prices(fin, model.assets)
        row.update(_price_columns(raw, self, model.assets, np.asarray(model.prices), refs))
        return row


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """One market's totals on one path, and what its time to clear is made of."""

    row: dict[str, Any]
    liq_blocks: np.ndarray
    """Blocks in which it liquidated at least one account."""
    open: bool
    """At the last block an eligible account still waited for capacity or latency."""


_SUMMED = ("bad_debt_usd", "bad_debt_written_off_usd", "collateral_seized_usd", "debt_repaid_usd",
           "liquidator_proceeds_usd")
_COUNTED = ("accounts_liquidated", "liquidation_calls")


def _outcome(res) -> _Outcome:
    """A simulation's totals (its ``summary``) and its last block's queue (``steps``)."""
    s = res.summary
    steps = res.table("steps")
    per_block = steps[steps["asset"] == steps["asset"].iloc[0]]
    liq_blocks = per_block["block"].to_numpy()[per_block["accounts_liquidated"].to_numpy() > 0]
    end = per_block.iloc[-1]
    bad = float(s["bad_debt_usd"])
    row: dict[str, Any] = {k: float(s[k]) for k in _SUMMED}
    row.update({k: int(s[k]) for k in _COUNTED})
    row.update({"unprofitable_end": int(end["left_unprofitable"]), "cleared": bool(s["cleared"]),
                "insolvent": bad > 0.0})
    return _Outcome(row, liq_blocks, int(end["left_over_capacity"]) != 0 or int(end["waiting_latency"]) != 0)


def _state_outcome(fin) -> _Outcome:
    """:func:`_outcome` of the tables ``fin`` (a finished run's :class:`~.loop.Finished`) would
    give: the summary's totals and the ``steps`` table's per-block counts, read from the state."""
    from liqcascade.engine.dynamic.results import cleared, totals_row

    run, st = fin.run, fin.state
    rec = st.records
    s = totals_row(run, st)
    liq_blocks = np.arange(run.n_blocks)[rec.liquidated > 0]
    bad = float(s["bad_debt_usd"])
    row: dict[str, Any] = {k: float(s[k]) for k in _SUMMED}
    row.update({k: int(s[k]) for k in _COUNTED})
    row.update({"unprofitable_end": int(rec.unprofitable[-1]), "cleared": cleared(run, st), "insolvent": bad > 0.0})
    return _Outcome(row, liq_blocks, int(rec.over_capacity[-1]) != 0 or int(rec.waiting[-1]) != 0)


class RefPrices(NamedTuple):
    """An asset's reference price: its lowest over the path and its last (the ``assets`` table's
    ``reference_min`` and ``reference_end``)."""

    min: float
    end: float


def _reference_prices(fin, assets: Sequence[str]) -> dict[str, RefPrices]:
    """:class:`RefPrices` of every asset from a finished run's records (no table built)."""
    ref = fin.state.records.reference
    lows, ends = ref.min(axis=0).tolist(), ref[-1].tolist()
    return {a: RefPrices(lo, end) for a, lo, end in zip(assets, lows, ends)}


def _table_prices(table: pd.DataFrame, asset: str) -> RefPrices:
    """:class:`RefPrices` of ``asset`` from an ``assets`` table indexed by asset."""
    return RefPrices(float(table.at[asset, "reference_min"]), float(table.at[asset, "reference_end"]))


def _clear_time(liq_blocks: np.ndarray, still_open: bool, block_seconds: float) -> float:
    """Time to clear (module docstring): the span of the liquidations, NaN when the queue was
    still draining at the end, 0 when nothing was liquidated."""
    if liq_blocks.size == 0:
        return 0.0
    if still_open:
        return math.nan
    return float(liq_blocks.max() - liq_blocks.min() + 1) * block_seconds


def _price_columns(raw, prep, assets: Sequence[str], prices: np.ndarray, ref_of: Mapping[str, RefPrices]
                   ) -> dict[str, Any]:
    """The drops, amplification and per path asset columns (module docstring); ``ref_of[a]``
    holds the reference prices of asset ``a``."""
    j = raw.index(prep.headline)
    exo_drop = 1.0 - float(raw.prices[-1, j] / raw.prices[0, j])
    m = prep.headline_market
    final_drop = 1.0 - ref_of[m].end / float(prices[list(assets).index(m)])
    row: dict[str, Any] = {"exogenous_drop": exo_drop, "final_drop": final_drop,
                           "amplification": final_drop / exo_drop if exo_drop > 0.0 else math.nan}
    for k, a in enumerate(raw.assets):
        m_a = prep.first_driven[a]
        p0 = float(prices[list(assets).index(m_a)])
        row[f"exo_return_{a}"] = float(raw.prices[-1, k] / raw.prices[0, k]) - 1.0
        row[f"exo_min_{a}"] = float(raw.prices[:, k].min() / raw.prices[0, k])
        row[f"ref_min_{a}"] = ref_of[m_a].min / p0
    for name, b in zip(_depeg_columns(prep.paths), raw.meta["depeg_blocks"]):
        row[name] = int(b)
    return row


MARKET_PATH_COLUMNS = (
    "bad_debt_usd", "bad_debt_written_off_usd", "collateral_seized_usd", "debt_repaid_usd", "liquidator_proceeds_usd",
    "accounts_liquidated", "liquidation_calls", "time_to_clear_s", "unprofitable_end", "cleared", "insolvent",
)
"""Per market and path (a system's ``market_paths`` table, after ``path``, ``chunk``, ``seed``, ``market``)."""

ALONE_COLUMNS = ("bad_debt_usd", "collateral_seized_usd", "debt_repaid_usd", "accounts_liquidated", "liquidation_calls")
"""Compared together vs alone when a system's Monte Carlo runs each market alone too
(``alone_<k>``, ``contagion_<k>`` in ``paths`` and ``market_paths``)."""

_MARKET_PREFIX = "market:"


def market_column(market: str, column: str) -> str:
    """The column of a system chunk's rows that holds ``column`` of ``market`` (split into the
    ``market_paths`` table by :func:`split_system_rows`)."""
    return f"{_MARKET_PREFIX}{market}:{column}"


@dataclasses.dataclass(frozen=True)
class SystemPrepared:
    """A system scenario ready to evaluate paths: each path runs the system block by block
    (:func:`~liqcascade.engine.system_dynamic.simulate_system`) with the ``[simulation]``
    oracle, liquidators and dynamics, all markets together on the shared venues."""

    scenario: Any  # SystemScenario
    paths: Any  # PathModel
    oracle: Any
    settings: Any  # SimSettings
    books: Mapping[str, Any]  # SortedBook by market
    headline: str
    headline_market: str
    first_driven: Mapping[str, str]
    holder: Mapping[str, str]
    """System asset -> the first market that has it (whose ``assets`` table reads its reference price:
    the shared venues give every market the same)."""
    alone: bool = False
    """Also run every market alone on each path (fresh copies of the shared venues, the same
    path, oracle and liquidators): ``alone_*`` and ``contagion_*`` = together - alone."""
    per_market: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Markets' own oracles and dedicated liquidators (``[markets.simulation]``), by name."""

    @classmethod
    def of(cls, ss, alone: bool = False) -> "SystemPrepared":
        """Check and prepare a built system scenario (every config error here, before any work)."""
        from liqcascade.engine.static import SortedBook
        from liqcascade.io.system import system_market_sims

        pm = _path_model(ss)
        oracle, settings, driven = _system_engine_parts(ss, pm)
        headline, first = _headline(ss, pm, driven)
        system = ss.model
        holder = {}
        for n, m in system.markets.items():
            for a in m.assets:
                holder.setdefault(a, n)
        books = {n: SortedBook.of(m) for n, m in system.markets.items()}
        return cls(ss, pm, oracle, settings, books, headline, first[headline], first, holder, alone,
                   system_market_sims(ss))

    def evaluate(self, seed: int, index: int) -> dict[str, Any]:
        """The row of path ``index``: the system's columns (totals over the markets, as one
        market's in :class:`Prepared`) and each market's :data:`MARKET_PATH_COLUMNS` under
        :func:`market_column` names."""
        from liqcascade.engine.dynamic import drive_path
        from liqcascade.engine.system_dynamic import simulate_system

        ss = self.scenario
        system = ss.model
        prices = np.asarray(system.prices)
        raw = self.paths.path(seed, index)
        path = drive_path(raw, ss.config.simulation.drive, system.assets, prices, ss.source)
        results = simulate_system(system, path, self.oracle, self.settings, None, None, self.books, self.per_market,
                                  behaviour_stream=index)
        bs = float(raw.block_seconds)
        outs = {n: _outcome(results[n]) for n in system.names}
        row: dict[str, Any] = {"path": index, "seed": seed}
        # the system's totals: sums over the markets (for one market, that market's own numbers)
        for k in _SUMMED + _COUNTED + ("unprofitable_end",):
            row[k] = sum(o.row[k] for o in outs.values())
        row["cleared"] = all(o.row["cleared"] for o in outs.values())
        row["insolvent"] = row["bad_debt_usd"] > 0.0
        blocks = np.concatenate([o.liq_blocks for o in outs.values()])
        row["time_to_clear_s"] = _clear_time(blocks, any(o.open for o in outs.values()), bs)
        tables = {n: results[n].table("assets").set_index("asset") for n in system.names}
        # the assets _price_columns reads: the headline's and each path asset's first driven one
        read = {self.headline_market, *(self.first_driven[a] for a in raw.assets)}
        row.update(_price_columns(raw, self, system.assets, prices,
                                  {a: _table_prices(tables[self.holder[a]], a) for a in read}))
        for n, o in outs.items():
            mine = {**o.row, "time_to_clear_s": _clear_time(o.liq_blocks, o.open, bs)}
            row.update({market_column(n, k): mine[k] for k in MARKET_PATH_COLUMNS})
        if self.alone:
            row.update(self._alone(path, outs))
        return row

    def _alone(self, path, outs: Mapping[str, "_Outcome"]) -> dict[str, Any]:
        """Each market alone along ``path``: its :data:`ALONE_COLUMNS` alone and the contagion
        (together - alone), and the system's sums of both."""
        from liqcascade.engine.system_dynamic import simulate_system

        system = self.scenario.model
        out: dict[str, Any] = {}
        total = dict.fromkeys(ALONE_COLUMNS, 0)
        for n in system.names:
            alone = _outcome(simulate_system(system, path, self.oracle, self.settings, [n], None, self.books,
                                             self.per_market)[n]).row
            for k in ALONE_COLUMNS:
                out[market_column(n, f"alone_{k}")] = alone[k]
                out[market_column(n, f"contagion_{k}")] = outs[n].row[k] - alone[k]
                total[k] += alone[k]
        for k in ALONE_COLUMNS:
            out[f"alone_{k}"] = total[k]
            out[f"contagion_{k}"] = sum(o.row[k] for o in outs.values()) - total[k]
        return out


def split_system_rows(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A system chunk's rows as (``paths``: the system's columns, ``market_paths``: one row per
    path and market, in market order within each path)."""
    own = [c for c in df.columns if not c.startswith(_MARKET_PREFIX)]
    cols: dict[str, list[str]] = {}  # market -> its columns, in order
    for c in df.columns:
        if c.startswith(_MARKET_PREFIX):
            n, _, col = c[len(_MARKET_PREFIX):].rpartition(":")
            cols.setdefault(n, []).append(col)
    frames = []
    for k, (n, names) in enumerate(cols.items()):
        f = df[["path", "chunk", "seed"]].copy()
        f.insert(3, "market", n)
        for col in names:
            f[col] = df[market_column(n, col)].to_numpy()
        frames.append(f.assign(_order=k))
    long = pd.concat(frames, ignore_index=True).sort_values(["path", "_order"], kind="stable")
    return df[own].reset_index(drop=True), long.drop(columns="_order").reset_index(drop=True)


def _path_model(sc):
    """The checked path model of a scenario's ``[montecarlo]`` table (and a ``[simulation]`` table present)."""
    cfg, source = sc.config, sc.source
    mc = cfg.montecarlo
    if mc is None:
        raise ConfigError(source, "montecarlo",
                          "a [montecarlo] table (how paths are drawn) for `liqcascade montecarlo`")
    if cfg.simulation is None:
        raise ConfigError(source, "simulation", "a [simulation] table (oracle, liquidators, dynamics, drive) "
                          "for `liqcascade montecarlo`")
    return mc.path_model(sc.base_dir, source)


def _headline(sc, pm, driven: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The headline path asset, and the first market asset each path asset drives."""
    mc = sc.config.montecarlo
    headline = mc.headline if mc.headline is not None else pm.assets[0]
    if headline not in pm.assets:
        raise ConfigError(sc.source, "montecarlo.headline", f"a path asset among {list(pm.assets)}", headline)
    return headline, {a: next(m for m, src in driven.items() if src == a) for a in pm.assets}


def _probe(sim, pm):
    """A ``[simulation]`` table turned into a two-block, zero-volatility GBM over ``pm``'s assets:
    building its path checks the drive, oracle and liquidator keys as ``liqcascade simulate`` does."""
    return sim.model_copy(update={
        "path": "gbm", "vol": {a: 0.0 for a in pm.assets}, "corr": None, "drift": 0.0, "seed": 0,
        "blocks": 2, "block_seconds": pm.block_seconds,
    })


def _system_engine_parts(ss, pm):
    """Oracle, settings and drive map of a system's ``[simulation]`` table (as :func:`_engine_parts`)."""
    from liqcascade.io.system import system_simulation_parts

    probe = _probe(ss.config.simulation, pm)
    path, oracle, settings = system_simulation_parts(
        dataclasses.replace(ss, config=ss.config.model_copy(update={"simulation": probe})))
    return oracle, settings, dict(path.meta["driven"])


def _depeg_columns(pm) -> list[str]:
    names = [d.asset for d in pm.depeg]
    return [f"depeg_block_{a}" if names.count(a) == 1 else f"depeg_block_{a}_{k}" for k, a in enumerate(names)]


def _engine_parts(sc, pm):
    """Oracle, settings and the drive map of the scenario's ``[simulation]`` table, for paths of
    ``pm``'s assets: :func:`~liqcascade.io.scenario.simulation_parts` on a two-block, zero-volatility
    GBM over those assets (so the drive, oracle and liquidator keys are checked exactly as
    ``liqcascade simulate`` checks them)."""
    from liqcascade.io.scenario import simulation_parts

    probe = _probe(sc.config.simulation, pm)
    probe_sc = dataclasses.replace(sc, config=sc.config.model_copy(update={"simulation": probe}))
    path, oracle, settings, oracle_input, venue_depth = simulation_parts(probe_sc)
    if oracle_input is not None or venue_depth is not None:  # pragma: no cover - simulation_parts refuses both
        raise ConfigError(sc.source, "simulation", "no replay-only oracle source or pool depth for Monte Carlo")
    return oracle, settings, dict(path.meta["driven"])


_CACHE: OrderedDict[str, Prepared] = OrderedDict()
_LOCK = threading.Lock()


def prepared(spec: ScenarioSpec) -> "Prepared | SystemPrepared":
    """The prepared scenario of ``spec``, built at most once per process (LRU of :data:`CACHE_SIZE`)."""
    key = spec.key
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        prep = prepare(spec.build(), spec.alone)
    remember(spec, prep)
    return prep


def remember(spec: ScenarioSpec, prep: "Prepared | SystemPrepared") -> None:
    """Put an already prepared scenario in this process's cache (the driver prepared it to
    check the input; a serial run then reuses it)."""
    with _LOCK:
        _CACHE[spec.key] = prep
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)


def evaluate_paths(spec: ScenarioSpec, seed: int, start: int, stop: int, chunk: int = -1) -> pd.DataFrame:
    """One row per path ``start <= i < stop`` of root seed ``seed`` (module docstring); ``chunk``
    is only recorded. A pure function of its arguments."""
    prep = prepared(spec)
    rows = [prep.evaluate(seed, i) for i in range(start, stop)]
    df = pd.DataFrame(rows)
    df.insert(1, "chunk", np.full(len(df), chunk, dtype=np.int64))
    extra = [c for c in df.columns if c not in PATH_COLUMNS]
    return df[list(PATH_COLUMNS) + extra].astype({"path": np.int64, "seed": np.int64})


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Paths ``start <= i < stop`` of root seed ``seed`` of ``spec``: the unit an executor runs."""

    spec: ScenarioSpec
    seed: int
    index: int
    start: int
    stop: int


def run_chunk(chunk: Chunk) -> pd.DataFrame:
    """:func:`evaluate_paths` of one chunk (module-level, so every executor can ship it)."""
    try:
        return evaluate_paths(chunk.spec, chunk.seed, chunk.start, chunk.stop, chunk.index)
    except LiqcascadeError as e:  # our errors carry structured fields that do not unpickle
        raise ChunkFailed(f"chunk {chunk.index} (paths {chunk.start}..{chunk.stop - 1}): {e}") from None


def chunks(spec: ScenarioSpec, seed: int, n_paths: int, chunk_size: int) -> list[Chunk]:
    """Paths ``0 .. n_paths-1`` cut into consecutive chunks of ``chunk_size`` (the last shorter)."""
    return [Chunk(spec, seed, c, lo, min(lo + chunk_size, n_paths))
            for c, lo in enumerate(range(0, n_paths, chunk_size))]


def run_chunks(todo: Sequence[Chunk], executor, on_result: Callable[[Chunk, pd.DataFrame], None],
               fn: Callable = run_chunk) -> None:
    """Run ``fn`` (a module-level function, so it pickles) over ``todo`` on ``executor``;
    ``on_result(chunk, rows)`` in this process as each lands.

    On an interrupt (Ctrl-C: ``KeyboardInterrupt``, wherever it lands, also inside
    ``on_result``) the executor is terminated before it propagates: running chunks are
    abandoned, not awaited (the store keeps every chunk that landed; a rerun resumes)."""
    results = executor.map_unordered(fn, todo)
    try:
        for i, df in results:
            on_result(todo[i], df)
    except BaseException as e:
        if not isinstance(e, Exception):
            executor.terminate()
        raise
    finally:
        results.close()
