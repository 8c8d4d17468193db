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
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

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

    @classmethod
    def of(cls, sc) -> "ScenarioSpec":
        """The spec of a built :class:`~liqcascade.io.scenario.Scenario`."""
        return cls(sc.config.model_dump(mode="json"), str(Path(sc.base_dir).resolve()), sc.source)

    @property
    def key(self) -> str:
        """Hash of the config and base directory: the per-process cache key."""
        from liqcascade.io.store import canonical_json

        text = canonical_json({"config": dict(self.config), "base_dir": self.base_dir})
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def build(self):
        from liqcascade.io.config import parse_scenario
        from liqcascade.io.scenario import build

        return build(parse_scenario(dict(self.config), self.source), self.base_dir, self.source)


def _scenario_behaviour(sc):
    from liqcascade.io.scenario import behaviour_inputs

    return behaviour_inputs(sc)


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

        cfg, source = sc.config, sc.source
        mc = cfg.montecarlo
        if mc is None:
            raise ConfigError(source, "montecarlo", "a [montecarlo] table (how paths are drawn) for `liqcascade montecarlo`")
        if cfg.simulation is None:
            raise ConfigError(source, "simulation", "a [simulation] table (oracle, liquidators, dynamics, drive) "
                              "for `liqcascade montecarlo`")
        pm = mc.path_model(sc.base_dir, source)
        oracle, settings, driven = _engine_parts(sc, pm)
        headline = mc.headline if mc.headline is not None else pm.assets[0]
        if headline not in pm.assets:
            raise ConfigError(source, "montecarlo.headline", f"a path asset among {list(pm.assets)}", headline)
        first = {a: next(m for m, src in driven.items() if src == a) for a in pm.assets}
        return cls(sc, pm, oracle, settings, SortedBook.of(sc.model), headline, first[headline], first,
                   _scenario_behaviour(sc))

    def evaluate(self, seed: int, index: int) -> dict[str, Any]:
        """The row of path ``index`` of root seed ``seed`` (module docstring)."""
        from liqcascade.engine.dynamic import drive_path, simulate

        sc = self.scenario
        model = sc.model
        raw = self.paths.path(seed, index)
        path = drive_path(raw, sc.config.simulation.drive, model.assets, np.asarray(model.prices), sc.source)
        res = simulate(model, path, self.oracle, self.settings, sorted_book=self.book, behaviour=self.behaviour,
                       behaviour_stream=index)
        s = res.summary
        ref = res.table("assets").set_index("asset")
        steps = res.table("steps")
        per_block = steps[steps["asset"] == steps["asset"].iloc[0]]
        liq_blocks = per_block["block"].to_numpy()[per_block["accounts_liquidated"].to_numpy() > 0]
        end = per_block.iloc[-1]
        bs = float(raw.block_seconds)
        if liq_blocks.size == 0:
            clear = 0.0
        elif int(end["left_over_capacity"]) == 0 and int(end["waiting_latency"]) == 0:
            clear = float(liq_blocks[-1] - liq_blocks[0] + 1) * bs
        else:
            clear = math.nan
        j = raw.index(self.headline)
        exo_drop = 1.0 - float(raw.prices[-1, j] / raw.prices[0, j])
        m = self.headline_market
        final_drop = 1.0 - float(ref.at[m, "reference_end"]) / float(model.prices[model.assets.index(m)])
        bad = float(s["bad_debt_usd"])
        row: dict[str, Any] = {
            "path": index, "seed": seed,
            "bad_debt_usd": bad,
            "bad_debt_written_off_usd": float(s["bad_debt_written_off_usd"]),
            "collateral_seized_usd": float(s["collateral_seized_usd"]),
            "debt_repaid_usd": float(s["debt_repaid_usd"]),
            "liquidator_proceeds_usd": float(s["liquidator_proceeds_usd"]),
            "accounts_liquidated": int(s["accounts_liquidated"]),
            "liquidation_calls": int(s["liquidation_calls"]),
            "exogenous_drop": exo_drop,
            "final_drop": final_drop,
            "amplification": final_drop / exo_drop if exo_drop > 0.0 else math.nan,
            "time_to_clear_s": clear,
            "unprofitable_end": int(end["left_unprofitable"]),
            "cleared": bool(s["cleared"]),
            "insolvent": bad > 0.0,
        }
        for k, a in enumerate(raw.assets):
            m_a = self.first_driven[a]
            p0 = float(model.prices[model.assets.index(m_a)])
            row[f"exo_return_{a}"] = float(raw.prices[-1, k] / raw.prices[0, k]) - 1.0
            row[f"exo_min_{a}"] = float(raw.prices[:, k].min() / raw.prices[0, k])
            row[f"ref_min_{a}"] = float(ref.at[m_a, "reference_min"]) / p0
        for name, b in zip(_depeg_columns(self.paths), raw.meta["depeg_blocks"]):
            row[name] = int(b)
        return row


def _depeg_columns(pm) -> list[str]:
    names = [d.asset for d in pm.depeg]
    return [f"depeg_block_{a}" if names.count(a) == 1 else f"depeg_block_{a}_{k}" for k, a in enumerate(names)]


def _engine_parts(sc, pm):
    """Oracle, settings and the drive map of the scenario's ``[simulation]`` table, for paths of
    ``pm``'s assets: :func:`~liqcascade.io.scenario.simulation_parts` on a two-block, zero-volatility
    GBM over those assets (so the drive, oracle and liquidator keys are checked exactly as
    ``liqcascade simulate`` checks them)."""
    from liqcascade.io.scenario import simulation_parts

    sim = sc.config.simulation
    probe = sim.model_copy(update={
        "path": "gbm", "vol": {a: 0.0 for a in pm.assets}, "corr": None, "drift": 0.0, "seed": 0,
        "blocks": 2, "block_seconds": pm.block_seconds,
    })
    probe_sc = dataclasses.replace(sc, config=sc.config.model_copy(update={"simulation": probe}))
    path, oracle, settings, oracle_input, venue_depth = simulation_parts(probe_sc)
    if oracle_input is not None or venue_depth is not None:  # pragma: no cover - simulation_parts refuses both
        raise ConfigError(sc.source, "simulation", "no replay-only oracle source or pool depth for Monte Carlo")
    return oracle, settings, dict(path.meta["driven"])


_CACHE: OrderedDict[str, Prepared] = OrderedDict()
_LOCK = threading.Lock()


def prepared(spec: ScenarioSpec) -> Prepared:
    """The prepared scenario of ``spec``, built at most once per process (LRU of :data:`CACHE_SIZE`)."""
    key = spec.key
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        prep = Prepared.of(spec.build())
    remember(spec, prep)
    return prep


def remember(spec: ScenarioSpec, prep: Prepared) -> None:
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


def run_chunks(todo: Sequence[Chunk], executor, on_result: Callable[[Chunk, pd.DataFrame], None]) -> None:
    """Run ``todo`` on ``executor``; ``on_result(chunk, rows)`` in this process as each lands.

    On an interrupt (Ctrl-C: ``KeyboardInterrupt``, wherever it lands, also inside
    ``on_result``) the executor is terminated before it propagates: running chunks are
    abandoned, not awaited (the store keeps every chunk that landed; a rerun resumes)."""
    results = executor.map_unordered(run_chunk, todo)
    try:
        for i, df in results:
            on_result(todo[i], df)
    except BaseException as e:
        if not isinstance(e, Exception):
            executor.terminate()
        raise
    finally:
        results.close()
