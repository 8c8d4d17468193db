"""``montecarlo(...)``: the library call behind ``liqcascade montecarlo``.

A run is identified by the hash of what determines its paths: the scenario's resolved config
(without its name, description, ``[shock]``, ``[curve]``, the single-path fields of
``[simulation]`` and ``[montecarlo].reserves_usd``), the number of paths, the root seed and the
package version. The chunk size and the executor are not part of it: they change where and in
which pieces the paths are computed, never the numbers.

With a store, the run is registered when it starts (config, chunk size and chunk count), each
chunk lands as a Parquet part of the ``paths`` table as soon as it is done, and the ``risk``
table (:func:`liqcascade.risk.risk_table`) is added when all have landed. Starting the same run
again finds it: finished, it is loaded; interrupted, only the chunks that have not landed run.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.errors import ConfigError
from liqcascade.execution import montecarlo as mc
from liqcascade.execution.executors import Executor, open_executor, parse_executor
from liqcascade.execution.progress import callback
from liqcascade.io.config import file_digest, resolve_path
from liqcascade.io.store import ResultsStore, StoreError, is_store, run_id as _run_id

DEFAULT_STORE = Path("liqcascade-results")
LEVELS = (0.95, 0.99, 0.999)
KIND = "montecarlo"
PARTED = ("paths", "market_paths")
"""Tables stored chunk by chunk (``market_paths``: a system's, one row per path and market)."""
RISK_TABLES = ("risk", "market_risk", "contagion_risk")

# [simulation] fields that shape the single path of `liqcascade simulate` and that Monte Carlo
# does not read (its paths come from [montecarlo]); they stay out of the run id.
_SINGLE_PATH_FIELDS = ("path", "candles", "fill", "blocks", "block_seconds", "duration_blocks", "vol", "corr",
                       "drift", "seed", "replay", "leg", "pool_depth_scale", "start", "end")


def default_chunk_size(n_paths: int) -> int:
    """About 100 chunks, 1 to 50 paths each: a function of the path count only (never of the
    machine), so a restart on another machine cuts the run the same way."""
    return min(50, max(1, math.ceil(n_paths / 100)))


def montecarlo(
    scenario,
    paths: int,
    executor: str | Executor = "local",
    workers: int | None = None,
    chunk_size: int | None = None,
    seed: int | None = None,
    reserves_usd: float | None = None,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    progress: Callable[[int, int], None] | bool | None = None,
    levels: tuple[float, ...] = LEVELS,
    confidence: float = 0.95,
    alone: bool = False,
) -> Result:
    """Run ``paths`` Monte Carlo paths of ``scenario`` (a TOML path or a built scenario).

    ``executor``: ``serial``, ``local`` (processes, default), ``dask`` (a local cluster) or
    ``dask://HOST:PORT``, or an open :class:`~liqcascade.execution.Executor` (used, not
    closed); ``workers`` defaults to all cores. ``seed`` and ``reserves_usd``
    default to the ``[montecarlo]`` table's. ``progress(done, total)`` is called with chunk
    counts (first with the chunks already stored); ``progress=True`` draws a bar on stderr (a
    widget in a notebook; :mod:`liqcascade.execution.progress`). Returns a result with the tables ``paths``
    (one row per path, see :mod:`liqcascade.execution.montecarlo`) and ``risk``; a system scenario
    (``[[markets]]``) also ``market_paths`` (per path and market, stored chunk by chunk like
    ``paths``) and ``market_risk`` (each market's risk table, with a ``market`` column). With
    ``alone`` (a system's only; one more simulation per market and path) every path also runs
    each market alone: ``alone_*`` and ``contagion_*`` (together - alone) columns in ``paths``
    and ``market_paths``, and the ``contagion_risk`` table (the risk of each market's and the
    system's ``contagion_bad_debt_usd``).

    Every argument and the scenario are checked before any work or any write.
    """
    from liqcascade.execution.runs import is_system, load_scenario, load_system

    sc = load_system(scenario) if is_system(scenario) else load_scenario(scenario)
    n = _count(paths, "--paths", "paths")
    size = None if chunk_size is None else _count(chunk_size, "--chunk-size", "chunk_size")
    if not isinstance(alone, bool):
        raise ConfigError("--alone", "alone", "true or false", alone)
    prep = mc.prepare(sc, alone)
    spec = mc.ScenarioSpec.of(sc, alone)
    seed = sc.config.montecarlo.seed if seed is None else _count(seed, "--seed", "seed", lo=0)
    reserves = sc.config.montecarlo.reserves_usd if reserves_usd is None else _reserves(reserves_usd)
    if not isinstance(executor, Executor):
        parse_executor(executor)
    report, bar = callback(progress, "montecarlo", "chunks", resumable=True)
    ident = {"kind": KIND, "config": hashed_config(sc), "paths": n, "seed": seed}
    if alone:  # (not in the identity of the runs without it, whose ids stay as they were)
        ident["alone"] = True
    rid = _run_id(ident, __version__)
    risk_args = {"levels": list(levels), "confidence": confidence, "reserves_usd": reserves, "seed": seed}
    _risk(pd.DataFrame({"bad_debt_usd": [0.0], "amplification": [1.0]}), risk_args)  # checks levels, confidence

    found = _existing(store)
    if found is not None and found.has(rid):
        return _finished(found, rid, risk_args)
    info = None if found is None else found.info(rid)
    if info is not None:
        size = _resumed_size(rid, info["meta"], size)
    size = size or default_chunk_size(n)
    todo = mc.chunks(spec, seed, n, size)
    mc.remember(spec, prep)
    t0 = time.perf_counter()
    given = isinstance(executor, Executor)
    with contextlib.nullcontext(executor) if given else open_executor(executor, workers) as ex, \
            contextlib.nullcontext() if bar is None else bar:
        st = None if store is None else store if isinstance(store, ResultsStore) else ResultsStore(Path(store))
        meta = {"source": sc.source, "paths": n, "seed": seed, "chunk_size": size, "chunks": len(todo)}
        tables = _run(st, rid, sc, todo, ex, report, meta)
    tables.update(_risk_tables(tables, risk_args))
    computed = {k: v for k, v in tables.items() if k in RISK_TABLES}
    if st is None:
        return Result(KIND, tables, {"paths": n, "seed": seed})
    try:
        st.finish(rid, computed, {"risk": risk_args, "wall_s_last": time.perf_counter() - t0})
    except StoreError:
        if not st.has(rid):
            raise
        return _finished(st, rid, risk_args)  # the same run, started twice, finished first elsewhere
    return Result(KIND, tables, {"paths": n, "seed": seed}, rid)


def hashed_config(sc) -> dict[str, Any]:
    """The part of the resolved config that decides the paths' numbers (module docstring);
    ``[montecarlo].returns`` files are replaced by their content hash."""
    cfg = sc.resolved()
    for k in ("name", "description", "curve", "shock"):
        cfg.pop(k, None)
    cfg["simulation"] = {k: v for k, v in cfg["simulation"].items() if k not in _SINGLE_PATH_FIELDS}
    m = {k: v for k, v in cfg["montecarlo"].items() if k not in ("seed", "reserves_usd")}
    m["returns"] = {a: ref if ref.startswith("builtin:") else
                    f"sha256:{file_digest(resolve_path(ref, sc.base_dir, sc.source, f'montecarlo.returns.{a}'))}"
                    for a, ref in m["returns"].items()}
    cfg["montecarlo"] = m
    return cfg


def _count(x: Any, flag: str, key: str, lo: int = 1) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < lo:
        raise ConfigError(flag, key, f"an integer >= {lo}", x)
    return x


def _reserves(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not (math.isfinite(x) and x >= 0):
        raise ConfigError("--reserves", "reserves_usd", "a finite amount of USD >= 0", x)
    return float(x)


def _existing(store) -> ResultsStore | None:
    """The store if it exists already (reading never creates one: no write on bad input)."""
    if store is None or isinstance(store, ResultsStore):
        return store
    root = Path(store)
    return ResultsStore(root) if is_store(root) else None


def _resumed_size(rid: str, meta: dict, size: int | None) -> int:
    stored = int(meta["chunk_size"])
    if size is not None and size != stored:
        raise ConfigError("--chunk-size", "chunk_size",
                          f"{stored}, the chunk size run {rid} was started with (or leave it out to resume)", size)
    return stored


def _run(st: ResultsStore | None, rid: str, sc, todo: list, ex, progress, meta: dict) -> dict[str, pd.DataFrame]:
    """Run the chunks not stored yet; the whole ``paths`` table (and for a system
    ``market_paths``), ordered by path."""
    total = len(todo)
    system = mc.is_system(sc)
    if st is None:
        got: dict[int, pd.DataFrame] = {}
        _report(progress, 0, total)
        mc.run_chunks(todo, ex, lambda c, df: (got.__setitem__(c.index, df), _report(progress, len(got), total)))
        df = pd.concat([got[c.index] for c in todo], ignore_index=True)
        return dict(zip(PARTED, mc.split_system_rows(df))) if system else {"paths": df}
    st.begin(rid, KIND, hashed_config(sc), meta)
    done = set(st.parts(rid, "paths"))
    count = [len(done)]
    _report(progress, count[0], total)

    def land(chunk, df) -> None:
        if system:  # market_paths first: a chunk is done when its part of paths has landed
            paths, markets = mc.split_system_rows(df)
            st.save_part(rid, "market_paths", chunk.index, markets)
            st.save_part(rid, "paths", chunk.index, paths)
        else:
            st.save_part(rid, "paths", chunk.index, df)
        count[0] += 1
        _report(progress, count[0], total)

    mc.run_chunks([c for c in todo if c.index not in done], ex, land)
    landed = st.parts(rid, "paths")
    if landed != list(range(total)):  # pragma: no cover - every chunk above either landed or raised
        raise ConfigError(str(st.root), "paths", f"all {total} chunks stored", f"{len(landed)} stored")
    return {t: st.load_parts(rid, t) for t in (PARTED if system else PARTED[:1])}


def _report(progress, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _risk(paths: pd.DataFrame, args: dict) -> pd.DataFrame:
    """The risk table; the amplification's rows over the paths where it is defined (the
    headline asset fell), every other metric over all paths."""
    from liqcascade.risk import risk_table

    kw = dict(levels=tuple(args["levels"]), confidence=args["confidence"], reserves_usd=args["reserves_usd"],
              seed=args["seed"])
    table = risk_table(paths.drop(columns="amplification"), **kw)
    fell = paths[paths["amplification"].notna()]
    if len(fell):
        amp = risk_table(fell[["bad_debt_usd", "amplification"]], **kw)
        table = pd.concat([table, amp[amp["metric"] == "amplification"]], ignore_index=True)
    return table


def _risk_tables(tables: dict[str, pd.DataFrame], args: dict) -> dict[str, pd.DataFrame]:
    """``risk`` of the ``paths`` table and, for a system, ``market_risk``: the risk table of each
    market's own paths (its bad debt, liquidations, time to clear; no amplification, a
    property of the shared prices), with a leading ``market`` column."""
    out = {"risk": _risk(tables["paths"], args)}
    if "market_paths" in tables:
        mp = tables["market_paths"]
        frames = []
        for n in mp["market"].unique():
            # NaN amplification on every path: _risk leaves it out (it needs a fall of a shared price)
            own = mp[mp["market"] == n].drop(columns="market").assign(amplification=math.nan)
            frames.append(_risk(own, args).assign(market=n))
        df = pd.concat(frames, ignore_index=True)
        out["market_risk"] = df[["market"] + [c for c in df.columns if c != "market"]]
        if "contagion_bad_debt_usd" in mp.columns:
            out["contagion_risk"] = _contagion_risk(tables["paths"], mp, args)
    return out


def _contagion_risk(paths: pd.DataFrame, mp: pd.DataFrame, args: dict) -> pd.DataFrame:
    """The risk rows of the bad debt the other markets' presence added on each path
    (``contagion_bad_debt_usd``, together - alone, which may be negative; its ``p_insolvent``
    row is P(contagion > 0)), for the system (``market`` = ``system``) and each market."""
    def rows(frame: pd.DataFrame, who: str) -> pd.DataFrame:
        own = pd.DataFrame({"bad_debt_usd": frame["contagion_bad_debt_usd"].to_numpy(), "amplification": math.nan})
        r = _risk(own, {**args, "reserves_usd": None})
        return r.assign(metric="contagion_bad_debt_usd", market=who)

    frames = [rows(paths, "system")] + [rows(mp[mp["market"] == n], n) for n in mp["market"].unique()]
    df = pd.concat(frames, ignore_index=True)
    return df[["market"] + [c for c in df.columns if c != "market"]]


def _finished(st: ResultsStore, rid: str, risk_args: dict) -> Result:
    """A finished run from the store; its risk tables recomputed (not stored) when asked with
    other levels, confidence or reserves than they were stored with."""
    have = st.tables(rid)
    tables = {t: st.load(rid, t) for t in PARTED if t in have}
    stored = st.meta(rid)["meta"].get("risk")
    if stored == risk_args:
        tables.update({t: st.load(rid, t) for t in RISK_TABLES if t in have})
    else:
        tables.update(_risk_tables(tables, risk_args))
    return Result(KIND, tables, {"paths": len(tables["paths"]), "seed": risk_args["seed"]}, rid)


def risk_table_from_store(store: Any, run_id: str, **kw: Any) -> pd.DataFrame:
    """:func:`liqcascade.risk.risk_table` of the ``paths`` table of the stored run ``run_id``.

    ``store`` is a :class:`~liqcascade.io.store.ResultsStore` or the root directory of one
    (which must exist: reading never creates a store). ``kw`` go to :func:`liqcascade.risk.risk_table`.
    """
    if not isinstance(store, ResultsStore):
        root = Path(store)
        if not is_store(root):
            raise ConfigError(str(root), "store",
                              "an existing results store directory (holding store.json, or catalog.duckdb if older)")
        store = ResultsStore(root, create=False)
    from liqcascade.risk import risk_table

    return risk_table(store.load(run_id, "paths"), source=str(store.path(run_id, "paths")), **kw)
