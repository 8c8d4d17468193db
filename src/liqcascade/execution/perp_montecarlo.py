"""Perp Monte Carlo on any executor: chunks of mark paths, each a pure function of (scenario,
candidate, root seed, path indexes), stored as Parquet parts as they land, resumable.

The lending Monte Carlo's shape (:mod:`liqcascade.execution.montecarlo`), for a perp scenario
(``[perps]``): a :class:`PerpSpec` is the scenario as data that travels to any worker (the
validated config, the directory its files are relative to, and for a calibration one candidate
value); a :class:`PerpChunk` is paths ``start <= i < stop`` of a root seed; :func:`run_perp_chunk`
gives one row per path, the summary of :func:`~liqcascade.execution.perps.run_perp_scenario` on
the path's marks after ``path``, ``chunk``, ``seed`` (and ``value`` for a candidate). Path ``i``
is :func:`~liqcascade.scenarios.perp_paths.bootstrap_path` of the root seed and ``i``, so the
numbers depend on neither the chunking nor the executor (serial, local processes, Dask); with
``own_path`` the chunk's one path is the scenario's own. Per process the scenario is built once
(book, venue, path) and cached by the hash of its config.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqcascade.errors import LiqcascadeError
from liqcascade.execution.montecarlo import ChunkFailed, run_chunks

__all__ = ["LEAD_COLUMNS", "PerpChunk", "PerpSpec", "perp_chunks", "run_perp_chunk", "run_perp_chunks"]

LEAD_COLUMNS = ("path", "chunk", "seed")
"""The leading columns of a perp ``paths`` table; the summary columns of a perp run follow."""
_TIME_COLUMNS = ("first_liquidation_minute", "peak_minute")
"""Summary columns that are times: always UTC timestamps (NaT when nothing was liquidated), so
every part of a table has one schema."""
CACHE_SIZE = 4


@dataclasses.dataclass(frozen=True)
class PerpSpec:
    """A perp scenario as data: its validated config (JSON-able), the directory its relative
    paths are relative to, the name errors use, and optionally one calibration candidate
    ``(param, value)`` applied to it (:func:`~liqcascade.execution.perp_calibrate.apply_perp_candidate`)."""

    config: Mapping[str, Any]
    base_dir: str
    source: str = "<python>"
    candidate: tuple[str, float] | None = None

    @classmethod
    def of(cls, ps, candidate: tuple[str, float] | None = None) -> "PerpSpec":
        """The spec of a built :class:`~liqcascade.io.perp_scenario.PerpScenario`."""
        return cls(ps.config.model_dump(mode="json"), str(Path(ps.base_dir).resolve()), ps.source, candidate)

    def with_candidate(self, param: str, value: float) -> "PerpSpec":
        return dataclasses.replace(self, candidate=(param, float(value)))

    @property
    def key(self) -> str:
        """Hash of the config and base directory (not the candidate): the per-process cache key."""
        from liqcascade.io.store import canonical_json

        ident = {"config": dict(self.config), "base_dir": self.base_dir}
        return hashlib.sha256(canonical_json(ident).encode("utf-8")).hexdigest()

    def build(self):
        from liqcascade.io.perp_scenario import build_perp_scenario, parse_perp_scenario

        return build_perp_scenario(parse_perp_scenario(dict(self.config), self.source), self.base_dir, self.source)


_CACHE: OrderedDict[str, Any] = OrderedDict()
_LOCK = threading.Lock()


def remember(spec: PerpSpec, ps) -> None:
    """Put an already built scenario in this process's cache (the driver built it to check
    the input; a serial run then reuses it)."""
    with _LOCK:
        _CACHE[spec.key] = ps
        _CACHE.move_to_end(spec.key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)


def built(spec: PerpSpec):
    """The built scenario of ``spec`` (without its candidate), at most once per process."""
    with _LOCK:
        hit = _CACHE.get(spec.key)
        if hit is not None:
            _CACHE.move_to_end(spec.key)
            return hit
    ps = spec.build()
    remember(spec, ps)
    return ps


@dataclasses.dataclass(frozen=True)
class PerpChunk:
    """Paths ``start <= i < stop`` of root seed ``seed`` of ``spec`` (the unit an executor runs);
    ``own_path``: one path, the scenario's own (``start = 0, stop = 1``)."""

    spec: PerpSpec
    seed: int
    index: int
    start: int
    stop: int
    own_path: bool = False


def perp_chunks(spec: PerpSpec, seed: int, n_paths: int, chunk_size: int) -> list[PerpChunk]:
    """Paths ``0 .. n_paths-1`` cut into consecutive chunks of ``chunk_size`` (the last shorter)."""
    return [PerpChunk(spec, seed, c, lo, min(lo + chunk_size, n_paths))
            for c, lo in enumerate(range(0, n_paths, chunk_size))]


def evaluate_perp_paths(chunk: PerpChunk) -> pd.DataFrame:
    """One summary row per path of ``chunk`` (module docstring). A pure function of the chunk."""
    from liqcascade.execution.perps import run_perp_scenario
    from liqcascade.scenarios.perp_paths import bootstrap_path

    ps = built(chunk.spec)
    if chunk.spec.candidate is not None:
        from liqcascade.execution.perp_calibrate import apply_perp_candidate

        ps = apply_perp_candidate(ps, *chunk.spec.candidate)
    rows = []
    for i in range(chunk.start, chunk.stop):
        marks = ps.marks if chunk.own_path else bootstrap_path(ps.marks, chunk.seed, i)
        rows.append(run_perp_scenario(dataclasses.replace(ps, marks=marks)).table("summary"))
    df = pd.concat(rows, ignore_index=True)
    for c in _TIME_COLUMNS:
        df[c] = pd.to_datetime(df[c], utc=True).astype("datetime64[ms, UTC]")
    n = len(df)
    lead = {"path": np.arange(chunk.start, chunk.stop, dtype=np.int64), "chunk": np.full(n, chunk.index, np.int64),
            "seed": np.full(n, chunk.seed, np.int64)}
    if chunk.spec.candidate is not None:
        lead["value"] = np.full(n, chunk.spec.candidate[1])
    return pd.concat([pd.DataFrame(lead), df], axis=1)


def run_perp_chunk(chunk: PerpChunk) -> pd.DataFrame:
    """:func:`evaluate_perp_paths` (module-level, so every executor can ship it)."""
    try:
        return evaluate_perp_paths(chunk)
    except LiqcascadeError as e:  # our errors carry structured fields that do not unpickle
        raise ChunkFailed(f"chunk {chunk.index} (paths {chunk.start}..{chunk.stop - 1}): {e}") from None


def run_perp_chunks(todo: list[PerpChunk], executor, on_result: Callable[[PerpChunk, pd.DataFrame], None]) -> None:
    """Run ``todo`` on ``executor``; ``on_result(chunk, rows)`` in this process as each lands
    (an interrupt terminates the executor first: :func:`~liqcascade.execution.montecarlo.run_chunks`)."""
    run_chunks(todo, executor, on_result, fn=run_perp_chunk)


# ---------------------------------------------------------------------- the run
KIND = "perps_montecarlo"
PATHS_TABLE = "paths"


def perp_montecarlo(scenario, paths: int, seed: int = 0, store=None, levels=(0.95, 0.99), recompute: bool = False,
                    progress=None, executor="serial", workers: int | None = None,
                    chunk_size: int | None = None):
    """The perp scenario on ``paths`` resampled mark paths (module docstring), the same book,
    fund and venue on each. Tables ``paths`` (one row per path) and ``risk``
    (:func:`~liqcascade.risk.perps.perp_risk_table`); stored as kind ``perps_montecarlo``.

    ``executor``: ``serial`` (default: in this process), ``local``, ``dask``, ``dask://HOST:PORT``
    or an open :class:`~liqcascade.execution.Executor` (used, not closed); ``workers`` defaults
    to all cores. ``chunk_size``: paths per chunk (default: about 100 chunks, 1 to 50 paths
    each), which changes where paths run, never their numbers. With a store each chunk lands as
    a part of ``paths`` as it finishes, and the same call after an interruption runs only the
    chunks that had not landed. ``progress(done, total)`` counts chunks. Every argument is
    checked before any work or write."""
    from liqcascade import __version__
    from liqcascade.engine.result import Result
    from liqcascade.execution.api import _count, _existing, _resumed_size, default_chunk_size
    from liqcascade.execution.executors import Executor, parse_executor
    from liqcascade.execution.runs import hashed
    from liqcascade.io.perp_scenario import PerpScenario, load_perp_scenario
    from liqcascade.io.store import run_id as _run_id
    from liqcascade.risk.perps import perp_risk_table

    ps = scenario if isinstance(scenario, PerpScenario) else load_perp_scenario(scenario)
    n = _count(paths, "--paths", "paths")
    seed = _count(seed, "--seed", "seed", lo=0)
    size = None if chunk_size is None else _count(chunk_size, "--chunk-size", "chunk_size")
    if not isinstance(executor, Executor):
        parse_executor(executor)
    levels = tuple(float(x) for x in levels)
    perp_risk_table(pd.DataFrame({c: [0.0] for c in ("fund_start_usd", "fund_min_usd", "adl_usd",
                                                        "written_off_usd")}), levels)  # checks the levels
    cfg = ps.resolved()
    # "draw": path i is drawn from (seed, i) alone; runs stored before it drew from one stream
    rid = _run_id({"kind": KIND, "config": hashed(cfg, ()), "paths": n, "seed": seed, "levels": list(levels),
                   "draw": "per-path"}, __version__)
    found = _existing(store)
    if found is not None and found.has(rid):
        if not recompute:
            return Result(KIND, {t: found.load(rid, t) for t in found.tables(rid)}, {}, rid)
        store = None  # the same numbers again, computed here and not stored over the finished run
    info = None if found is None or store is None else found.info(rid)
    if info is not None:
        size = _resumed_size(rid, info["meta"], size)
    size = size or default_chunk_size(n)
    spec = PerpSpec.of(ps)
    remember(spec, ps)
    meta = {"source": ps.source, "paths": n, "seed": seed, "chunk_size": size}
    table = _run(store, rid, cfg, perp_chunks(spec, seed, n, size), (executor, workers), progress, meta)
    res = Result(KIND, {PATHS_TABLE: table, "risk": perp_risk_table(table, levels)}, cfg)
    if store is None:
        return res.with_run_id(rid)
    st = found if found is not None else _store(store)
    st.finish(rid, {"risk": res["risk"]})
    return res.with_run_id(rid)


def _store(store):
    from liqcascade.io.store import ResultsStore

    return store if isinstance(store, ResultsStore) else ResultsStore(Path(store))


def _run(store, rid: str, cfg: dict, todo: list[PerpChunk], where, progress, meta: dict) -> pd.DataFrame:
    """Run the chunks not stored yet on the executor ``where = (spelling or executor, workers)``;
    the whole ``paths`` table, ordered by path."""
    import contextlib

    from liqcascade.execution.executors import Executor, open_executor

    executor, workers = where
    st = None if store is None else _store(store)
    got: dict[int, pd.DataFrame] = {}
    done: set[int] = set()
    if st is not None:
        st.begin(rid, KIND, cfg, meta)
        done = set(st.parts(rid, PATHS_TABLE))
    total = len(todo)
    count = [len(done)]
    if progress is not None:
        progress(count[0], total)

    def land(chunk: PerpChunk, df: pd.DataFrame) -> None:
        if st is not None:
            st.save_part(rid, PATHS_TABLE, chunk.index, df)
        else:
            got[chunk.index] = df
        count[0] += 1
        if progress is not None:
            progress(count[0], total)

    left = [c for c in todo if c.index not in done]
    if left:
        given = isinstance(executor, Executor)
        with contextlib.nullcontext(executor) if given else open_executor(executor, workers) as ex:
            run_perp_chunks(left, ex, land)
    if st is None:
        return pd.concat([got[c.index] for c in todo], ignore_index=True)
    return st.load_parts(rid, PATHS_TABLE)
